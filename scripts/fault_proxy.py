#!/usr/bin/env python3
"""Fault-injecting HTTP proxy for DynamoDB calls made against the local emulator.

Point AWS_ENDPOINT_URL_DYNAMODB of the Lambda function processes at it: every request goes on to
the emulator (MiniStack) unchanged, headers (Host too, so SigV4 stays valid) and body byte for
byte, but a share of DynamoDB requests (`X-Amz-Target: DynamoDB_20120810.*`) gets a fault instead:

  throttle     400 ProvisionedThroughputExceededException (the SDKs classify it as throttling)
  error500     500 InternalServerError
  slow         forwarded, but answered only after --slow-ms milliseconds
  lost_answer  forwarded (the upstream acts on it), then answered 500 instead of its answer:
               SQS accepted the message, but the sender hears a failure
  lost_timeout forwarded, then no answer: the connection is held --hang-ms milliseconds (beyond
               the client's timeout) and closed
  unprocessed  BatchWriteItem only: a random proper subset of its items is withheld from the
               emulator and returned in UnprocessedItems; a one-item batch passes through

Faults are drawn from random.Random(--seed): a sequential client sees the same faults each run.
Control endpoints (answered here, never forwarded):
  GET /_fault/stats    counts: requests, forwarded, faults by kind and by operation
  GET|POST /_fault/config  e.g. {"throttle": 0.3, "slow_ms": 500, "hang_ms": 3000, "only_target": ["PutItem"],
                       "seed": 7}; omitted keys keep their value; answers the settings
  POST /_fault/reset   zeroes the stats

Example:
  python3 scripts/fault_proxy.py --listen 127.0.0.1:0 --upstream http://127.0.0.1:4599 \\
      --seed 1 --throttle 0.2 --error500 0.1 --slow 0.1 --slow-ms 2000 --unprocessed 0.2 \\
      --only-target BatchWriteItem,PutItem    # prints "listening 127.0.0.1:<port>" on stdout
"""
import argparse, binascii, http.client, json, random, signal, sys, threading, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

KINDS = ("throttle", "error500", "slow", "lost_answer", "lost_timeout", "unprocessed")
BATCH_ONLY = ("unprocessed",)
PREFIX = "DynamoDB_20120810."
# SQS's JSON protocol names its operations the same way (`AmazonSQS.SendMessage`).
PREFIXES = (PREFIX, "AmazonSQS.")
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
ERRORS = {"throttle": (400, b"ProvisionedThroughputExceededException",
                       b"Rate of requests exceeds the allowed throughput."),
          "error500": (500, b"InternalServerError", b"Internal server error")}


class State:
    def __init__(self, seed):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.rates = dict.fromkeys(KINDS, 0.0)
        self.slow_ms, self.hang_ms, self.only = 2000, 3000, set()
        self.reset()

    def reset(self):
        self.stats = {"requests": 0, "forwarded": 0, "passed_through_non_dynamodb": 0,
                      "upstream_errors": 0, "unprocessed_items": 0, "faults": dict.fromkeys(KINDS, 0),
                      "faults_by_operation": {}, "by_operation": {}}

    def configure(self, cfg):
        rates = {k: float(cfg.get(k, v)) for k, v in self.rates.items()}
        if any(not 0 <= r <= 1 for r in rates.values()) or sum(rates.values()) > 1 + 1e-9:
            raise ValueError("each rate must be in [0, 1] and their sum at most 1")
        self.rates = rates
        if "slow_ms" in cfg:
            self.slow_ms = max(0, int(cfg["slow_ms"]))
        if "hang_ms" in cfg:
            self.hang_ms = max(0, int(cfg["hang_ms"]))
        if "only_target" in cfg:
            only = cfg["only_target"] or []
            only = only.split(",") if isinstance(only, str) else only  # list or "A,B"
            self.only = {t.strip().split(".", 1)[-1] for t in only if t.strip()}
        if "seed" in cfg:
            self.rng.seed(cfg["seed"])

    def pick(self, op):  # counts the request, returns its fault or None
        with self.lock:
            s = self.stats
            s["requests"] += 1
            if op is None:
                s["passed_through_non_dynamodb"] += 1
                return None
            s["by_operation"][op] = s["by_operation"].get(op, 0) + 1
            if self.only and op not in self.only:
                return None
            r, acc = self.rng.random(), 0.0
            for kind in KINDS if op == "BatchWriteItem" else [k for k in KINDS if k not in BATCH_ONLY]:
                acc += self.rates[kind]
                if r < acc:
                    return kind
            return None

    def count(self, op, kind, items=0):
        with self.lock:
            self.stats["faults"][kind] += 1
            per = self.stats["faults_by_operation"].setdefault(op, {})
            per[kind] = per.get(kind, 0) + 1
            self.stats["unprocessed_items"] += items
        print(f"fault {kind} {op}" + (f" ({items} items withheld)" if items else ""), file=sys.stderr, flush=True)

    def bump(self, key):
        with self.lock:
            self.stats[key] += 1


def split_batch(body, rng, lock):
    """Withhold a random proper subset of a BatchWriteItem: (new body, withheld, count) or None."""
    try:
        req = json.loads(body)
        items = [(t, i) for t, reqs in req["RequestItems"].items() for i in range(len(reqs))]
        if len(items) < 2:  # one item: real DynamoDB throttles rather than splits
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    with lock:
        chosen = set(rng.sample(items, rng.randint(1, len(items) - 1)))
    keep, withheld = {}, {}
    for table, reqs in req["RequestItems"].items():
        for i, r in enumerate(reqs):
            (withheld if (table, i) in chosen else keep).setdefault(table, []).append(r)
    req["RequestItems"] = keep
    return json.dumps(req).encode(), withheld, len(chosen)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300  # idle keep-alive connections from clients are closed after this

    def log_message(self, *args):  # no access log
        pass

    def finish(self):
        super().finish()
        if getattr(self, "upstream", None):
            self.upstream.close()

    def reply(self, status, body, headers=(), reason=None):
        self.send_response_only(status, reason)
        for k, v in headers:
            self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_error(self, kind):
        status, code, message = ERRORS[kind]
        data = b'{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"%s"}' % (code, message)
        self.reply(status, data, [  # x-amzn-ErrorType is what the Rust SDK reads first
            ("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", str(uuid.uuid4())),
            ("x-amzn-ErrorType", code.decode()), ("x-amz-crc32", str(binascii.crc32(data))),
            ("Date", self.date_time_string())])

    def reply_json(self, status, obj):
        self.reply(status, json.dumps(obj).encode(), [("Content-Type", "application/json")])

    def control(self, body):
        st = self.server.state
        path = self.path.split("?")[0]
        try:
            if path == "/_fault/stats" and self.command == "GET":
                with st.lock:
                    return self.reply_json(200, json.loads(json.dumps(st.stats)))
            if path == "/_fault/config" and self.command in ("GET", "POST"):
                if self.command == "POST":
                    with st.lock:
                        st.configure(json.loads(body or b"{}"))
                return self.reply_json(200, {**st.rates, "slow_ms": st.slow_ms, "hang_ms": st.hang_ms,
                                             "only_target": sorted(st.only)})
            if path == "/_fault/reset" and self.command == "POST":
                with st.lock:
                    st.reset()
                return self.reply_json(200, {"reset": True})
            self.reply_json(404, {"error": "unknown control endpoint"})
        except (ValueError, TypeError, AttributeError) as e:
            self.reply_json(400, {"error": str(e)})

    def forward(self, body, body_changed):
        """Send the request upstream as received; return (status, reason, headers, body)."""
        for attempt in (0, 1):
            conn, fresh = getattr(self, "upstream", None), not getattr(self, "upstream", None)
            if fresh:
                conn = self.upstream = http.client.HTTPConnection(*self.server.upstream, timeout=60)
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in HOP and not (body_changed and k.lower() == "content-length"):
                        conn.putheader(k, v)
                if body_changed:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()  # http.client undoes chunked transfer coding
                if resp.will_close:
                    conn.close()
                    self.upstream = None
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.HTTPException, OSError) as e:
                conn.close()
                self.upstream = None
                stale = isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
                if fresh or attempt or not stale:  # only a stale keep-alive connection is retried
                    raise

    def handle_any(self):
        st = self.server.state
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():  # SDKs send Content-Length
            self.close_connection = True
            return self.reply_json(411, {"error": "chunked request bodies are not supported"})
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/_fault/"):
            return self.control(body)
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".", 1)[1] if target.startswith(PREFIXES) else None
        kind = st.pick(op)
        if kind in ERRORS:
            st.count(op, kind)
            return self.reply_error(kind)
        withheld = None
        if kind == "unprocessed" and (split := split_batch(body, st.rng, st.lock)):
            body, withheld, n = split
            st.count(op, kind, n)
        try:
            status, reason, headers, data = self.forward(body, bool(withheld))
        except (http.client.HTTPException, OSError) as e:
            st.bump("upstream_errors")
            return self.reply_json(502, {"error": f"upstream: {e}"})
        st.bump("forwarded")
        if kind == "lost_answer":  # the upstream took the request; its answer never arrives
            st.count(op, kind)
            return self.reply_error("error500")
        if kind == "lost_timeout":
            st.count(op, kind)
            threading.Event().wait(st.hang_ms / 1000)
            self.close_connection = True
            return
        if withheld and status == 200:
            out = json.loads(data)
            for table, reqs in withheld.items():
                out.setdefault("UnprocessedItems", {}).setdefault(table, []).extend(reqs)
            data = json.dumps(out, separators=(",", ":")).encode()
            headers = [(k, str(binascii.crc32(data)) if k.lower() == "x-amz-crc32" else v) for k, v in headers]
        if kind == "slow":
            st.count(op, kind)
            threading.Event().wait(st.slow_ms / 1000)
        drop = HOP if self.command == "HEAD" else HOP | {"content-length"}
        self.reply(status, data, [(k, v) for k, v in headers if k.lower() not in drop], reason)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", default="127.0.0.1:0", help="127.0.0.1:<port>; port 0 picks one")
    p.add_argument("--upstream", default="http://127.0.0.1:4599")
    p.add_argument("--seed", type=int, default=0)
    for kind in KINDS:
        p.add_argument("--" + kind, type=float, default=0.0, help=f"share of requests: {kind}")
    p.add_argument("--slow-ms", type=int, default=2000)
    p.add_argument("--hang-ms", type=int, default=3000)
    p.add_argument("--only-target", default="", help="e.g. BatchWriteItem,PutItem")
    a = p.parse_args()
    host, _, port = a.listen.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        p.error("--listen must be 127.0.0.1:<port>; the proxy binds loopback only")
    up, state = urlsplit(a.upstream), State(a.seed)
    if up.scheme != "http" or not up.hostname:
        p.error("--upstream must be http://host:port")
    try:
        state.configure({**{k: getattr(a, k) for k in KINDS}, "slow_ms": a.slow_ms, "hang_ms": a.hang_ms,
                         "only_target": a.only_target})
    except ValueError as e:
        p.error(str(e))
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    server.state, server.upstream = state, (up.hostname, up.port or 80)
    for sig in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: a background job starts with it ignored
        signal.signal(sig, signal.default_int_handler)
    print(f"listening 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    print("fault proxy stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
