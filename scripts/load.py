#!/usr/bin/env python3
"""Bounded load generator for the post service's local stack (loopback only, stdlib only).

Sends a mix of writes (POST /v1/posts) and reads (GET /v1/users/{uid}/posts?limit=10, page 1)
from worker threads, each holding one persistent http.client connection (10 s timeout per
request). Users are ids "load-<run tag>-NNN", the tag random per run so runs never share users.
At the end it prints a Markdown table (per-operation counts, status codes, errors, req/s,
p50/p90/p99/max latency in ms) and a one-line JSON summary, then a read-after-write check: for 5
users of the run it reads every page (following next_cursor) and checks that each post_id answered
201 for that user appears exactly once and that the ids are strictly decreasing.

Limits: --requests <= 20000, --concurrency <= 64, --duration <= 300 s; the API URL's host must be
127.0.0.1, ::1 or localhost (otherwise exit 2). Exit 1 on any 5xx, connection error or timeout,
or a failed check; 0 otherwise.

Example:
    python3 scripts/load.py --requests 2000 --concurrency 8 --read-ratio 0.8 --users 50
"""
import argparse, http.client, json, random, secrets, string, sys, threading, time
from collections import Counter
from urllib.parse import quote, urlsplit

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
TIMEOUT_S = 10.0
OPS = ("write", "read")


def parse_args():
    p = argparse.ArgumentParser(description="Bounded loopback load generator for the post service.")
    p.add_argument("--endpoints", default=".local/endpoints.env", help="file with API_URL=... (default %(default)s)")
    p.add_argument("--api-url", help="API base URL (overrides --endpoints)")
    p.add_argument("--requests", type=int, default=2000, help="total requests (max 20000)")
    p.add_argument("--concurrency", type=int, default=8, help="worker threads (max 64)")
    p.add_argument("--duration", type=float, default=60.0, help="stop after this many seconds (max 300)")
    p.add_argument("--read-ratio", type=float, default=0.8, help="fraction of requests that are reads")
    p.add_argument("--users", type=int, default=50, help="distinct user ids of this run")
    a = p.parse_args()
    for name, lo, hi in (("requests", 1, 20000), ("concurrency", 1, 64), ("duration", 0.1, 300), ("users", 1, 100000)):
        if not lo <= getattr(a, name) <= hi:
            p.error(f"--{name} must be in {lo}..{hi}")
    if not 0.0 <= a.read_ratio <= 1.0:
        p.error("--read-ratio must be in 0..1")
    return a


def api_url(a):
    if a.api_url:
        return a.api_url
    try:
        with open(a.endpoints) as f:
            for line in f:
                k, sep, v = line.strip().partition("=")
                if sep and k == "API_URL":
                    return v.strip().strip('"')
    except OSError as e:
        sys.exit(f"load.py: cannot read {a.endpoints}: {e}")
    sys.exit(f"load.py: no API_URL in {a.endpoints}")


class Client:
    """One persistent connection; reconnects after an error or a server-side close."""

    def __init__(self, u):
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(u.hostname, u.port, timeout=TIMEOUT_S)
        self.prefix = u.path.rstrip("/")

    def request(self, method, path, body=None):
        """Returns (status, body bytes); raises OSError/HTTPException on connection errors."""
        headers = {"Accept": "application/json"}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, self.prefix + path, body=body, headers=headers)
            resp = self.conn.getresponse()
            return resp.status, resp.read()
        except Exception:
            self.conn.close()  # the next request opens a fresh connection
            raise


def pct(sorted_ms, q):
    if not sorted_ms:
        return None
    return round(sorted_ms[min(len(sorted_ms) - 1, max(0, int(q * len(sorted_ms) + 0.999999) - 1))], 1)


def main():
    a = parse_args()
    url = api_url(a)
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or u.hostname not in LOOPBACK:
        print(f"load.py: refusing to run: API URL {url!r} is not on loopback "
              f"(host {u.hostname!r}, allowed: {', '.join(sorted(LOOPBACK))})", file=sys.stderr)
        sys.exit(2)
    tag = secrets.token_hex(4)
    users = [f"load-{tag}-{i:03d}" for i in range(a.users)]
    n_reads = round(a.requests * a.read_ratio)
    plan = ["read"] * n_reads + ["write"] * (a.requests - n_reads)
    random.shuffle(plan)

    lock = threading.Lock()
    next_ticket = [0]
    lat = {op: [] for op in OPS}
    status = {op: Counter() for op in OPS}
    errors = {op: Counter() for op in OPS}
    written = {uid: [] for uid in users}  # post ids answered 201, per user
    bad_writes = [0]  # 201 whose body did not echo the user or carry a post_id
    start = time.perf_counter()
    deadline = start + a.duration

    def worker(seed):
        rng = random.Random(seed)
        cli = Client(u)
        while True:
            with lock:
                i = next_ticket[0]
                if i >= len(plan) or time.perf_counter() >= deadline:
                    break
                next_ticket[0] += 1
            op, uid = plan[i], rng.choice(users)
            if op == "write":
                text = "".join(rng.choices(string.ascii_letters + " ", k=rng.randint(10, 200)))
                method, path, body = "POST", "/v1/posts", {"user_id": uid, "contents": f"load {i}: {text}"}
            else:
                method, path, body = "GET", f"/v1/users/{quote(uid)}/posts?limit=10", None
            t0 = time.perf_counter()
            try:
                code, data = cli.request(method, path, body)
            except Exception as e:  # connection errors and timeouts
                with lock:
                    errors[op][type(e).__name__] += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            pid = None
            if op == "write" and code == 201:
                try:
                    post = json.loads(data)
                    pid = post["post_id"] if post.get("user_id") == uid else None
                except (ValueError, KeyError, AttributeError):
                    pass
            with lock:
                lat[op].append(ms)
                status[op][code] += 1
                if op == "write" and code == 201:
                    if pid is None:
                        bad_writes[0] += 1
                    else:
                        written[uid].append(pid)
        cli.conn.close()

    threads = [threading.Thread(target=worker, args=(secrets.randbits(64),)) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    stopped_by = "requests" if next_ticket[0] >= len(plan) else "duration"

    # Read-after-write check: 5 users of the run, preferring those with 201 writes.
    with_posts = [x for x in users if written[x]]
    random.shuffle(with_posts)
    chosen = (with_posts + [x for x in users if not written[x]])[:5]
    check_ok, check_lines, cli = True, [], Client(u)
    for uid in chosen:
        ids, cursor, problem = [], None, None
        for _ in range(1000):  # page bound: 100,000 posts
            q = f"/v1/users/{quote(uid)}/posts?limit=100" + (f"&cursor={cursor}" if cursor else "")
            try:
                code, data = cli.request("GET", q)
            except Exception as e:
                problem = f"connection error {type(e).__name__}"
                break
            if code != 200:
                problem = f"status {code}"
                break
            page = json.loads(data)
            ids += [p["post_id"] for p in page["posts"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        else:
            problem = "more than 1000 pages"
        counts = Counter(ids)
        missing = [p for p in written[uid] if p not in counts]
        dup = [p for p in written[uid] if counts[p] > 1]
        decreasing = all(int(x) > int(y) for x, y in zip(ids, ids[1:]))
        extra = len(set(ids) - set(written[uid]))
        ok = problem is None and not missing and not dup and decreasing
        check_ok &= ok
        check_lines.append(f"  {uid}: {'ok' if ok else 'FAIL'}: {len(written[uid])} written (201), {len(ids)} listed, "
                           f"missing {len(missing)}, duplicated {len(dup)}, strictly decreasing {decreasing}, "
                           f"not ours {extra}" + (f", {problem}" if problem else ""))
    cli.conn.close()

    summary = {"run_tag": tag, "api_url": url, "concurrency": a.concurrency, "requests_planned": a.requests,
               "stopped_by": stopped_by, "elapsed_s": round(elapsed, 3), "ops": {}}
    rows = []
    for op in OPS + ("all",):
        ms = sorted(lat[op]) if op != "all" else sorted(lat["write"] + lat["read"])
        st = status[op] if op != "all" else status["write"] + status["read"]
        er = errors[op] if op != "all" else errors["write"] + errors["read"]
        n = sum(st.values()) + sum(er.values())
        s = {"requests": n, "responses": len(ms), "errors": sum(er.values()), "rps": round(n / elapsed, 1),
             "status": {str(k): v for k, v in sorted(st.items())}, "error_kinds": dict(er),
             "p50_ms": pct(ms, .5), "p90_ms": pct(ms, .9), "p99_ms": pct(ms, .99),
             "max_ms": round(ms[-1], 1) if ms else None}
        summary["ops"][op] = s
        codes = " ".join(f"{k}:{v}" for k, v in s["status"].items()) or "-"
        rows.append(f"| {op} | {n} | {codes} | {s['errors']} | {s['rps']} | {s['p50_ms']} | {s['p90_ms']} "
                    f"| {s['p99_ms']} | {s['max_ms']} |")
    n5xx = sum(v for op in OPS for k, v in status[op].items() if k >= 500)
    nerr = sum(sum(errors[op].values()) for op in OPS)
    summary.update({"5xx": n5xx, "connection_errors": nerr, "bad_201_bodies": bad_writes[0],
                    "read_after_write_ok": check_ok, "checked_users": len(chosen)})
    ok = n5xx == 0 and nerr == 0 and check_ok and bad_writes[0] == 0
    summary["ok"] = ok

    print(f"load run {tag}: {a.concurrency} workers, {a.users} users, read ratio {a.read_ratio}, "
          f"{summary['ops']['all']['requests']}/{a.requests} requests in {elapsed:.2f} s (stopped by {stopped_by})\n")
    print("| op | requests | status codes | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nread-after-write check ({len(chosen)} users): {'PASS' if check_ok else 'FAIL'}")
    print("\n".join(check_lines))
    print(json.dumps(summary, separators=(",", ":")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
