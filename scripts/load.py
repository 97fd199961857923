#!/usr/bin/env python3
"""Bounded load generator for the post service's local stack (loopback only, stdlib only).

Two modes, with the same workers and request count, so that one can stand beside the other:

  --mode posts (default): a mix of writes (POST /v1/posts) and reads
      (GET /v1/users/{sub}/posts?limit=10, page 1). Writes need a signed-in caller: before the
      timed phase each simulated user "load-<run tag>-NNN" (the tag random per run, so runs
      never share users) is signed up and gets an access token from scripts/signin.py, run as
      --token-workers subprocesses with the project venv, each for a share of the users, against
      the user pool of --instance. The author of a post is the token's subject (`sub`): writes send
      `Authorization: Bearer <token>` and no user_id; reads and the read-after-write check use
      the sub.
  --mode floor: only GET /v1/guid/1 (the guid decode route: a pure function of the path, with no
      table, cache, queue or token). This measures what the platform (API Gateway + Lambda,
      locally the emulator) costs per request when the backend does no work: the floor beneath
      the posts figures.

Each worker thread holds one persistent http.client connection (10 s timeout per request). At
the end it prints a Markdown table (per-operation counts, status codes, errors, req/s,
p50/p90/p99/max latency in ms). In posts mode it then runs a read-after-write check: for 5 users
of the run it reads every page (following next_cursor) and checks that each post_id answered 201
for that user appears exactly once and that the ids are strictly decreasing. The last line is a
one-line JSON summary.

Limits: --requests <= 20000, --concurrency <= 64, --duration <= 300 s, --users <= 500 (one
sign-up each), --token-workers <= 8; the API URL's host must be 127.0.0.1, ::1 or localhost
(otherwise exit 2). Exit 1 on any 5xx, connection error or timeout, any other unexpected status
(a write that is not 201, a read or floor request that is not 200), a token that could not be
obtained, or a failed check; exit 0 otherwise.

Examples:
    .venv/bin/python scripts/load.py --requests 2000 --concurrency 8 --read-ratio 0.8 --users 50
    .venv/bin/python scripts/load.py --instance bench --requests 2000 --concurrency 32
    .venv/bin/python scripts/load.py --instance bench --requests 2000 --concurrency 32 --mode floor
"""
import argparse, http.client, json, os, random, secrets, string, subprocess, sys, threading, time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

from instances import INSTANCES, read_endpoints  # scripts/instances.py: where each local stack lives

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
TIMEOUT_S = 10.0
TOKEN_SCRIPT = "signin.py"  # scripts/signin.py USER... --instance I --json: one JSON line a user
TOKEN_TIMEOUT_S, TOKEN_TIMEOUT_PER_USER_S = 60.0, 5.0  # per signin.py process
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENDPOINTS = {name: str(cfg["state"] / "endpoints.env") for name, cfg in INSTANCES.items()}
MODE_OPS = {"posts": ("write", "read"), "floor": ("floor",)}
EXPECTED = {"write": 201, "read": 200, "floor": 200}
FLOOR_PATH = "/v1/guid/1"  # the guid decode route: a pure function of the path


def parse_args():
    p = argparse.ArgumentParser(description="Bounded loopback load generator for the post service.")
    p.add_argument("--instance", choices=sorted(ENDPOINTS), default="dev",
                   help="which local stack: its endpoints file, and its user pool for tokens (default %(default)s)")
    p.add_argument("--endpoints", help="file with API_URL=... (default: the instance's, e.g. .local/endpoints.env)")
    p.add_argument("--api-url", help="API base URL (overrides --endpoints)")
    p.add_argument("--mode", choices=sorted(MODE_OPS), default="posts",
                   help="posts: writes and reads; floor: GET /v1/guid/1 only, no backend work (default %(default)s)")
    p.add_argument("--requests", type=int, default=2000, help="total requests (max 20000)")
    p.add_argument("--concurrency", type=int, default=8, help="worker threads (max 64)")
    p.add_argument("--duration", type=float, default=60.0, help="stop after this many seconds (max 300)")
    p.add_argument("--read-ratio", type=float, default=0.8, help="posts mode: fraction of requests that are reads")
    p.add_argument("--users", type=int, default=50, help="posts mode: users of this run, one token each (max 500)")
    p.add_argument("--token-workers", type=int, default=4, help="posts mode: signin.py processes, in parallel (max 8)")
    a = p.parse_args()
    for name, lo, hi in (("requests", 1, 20000), ("concurrency", 1, 64), ("duration", 0.1, 300), ("users", 1, 500),
                         ("token_workers", 1, 8)):
        if not lo <= getattr(a, name) <= hi:
            p.error(f"--{name.replace('_', '-')} must be in {lo}..{hi}")
    if not 0.0 <= a.read_ratio <= 1.0:
        p.error("--read-ratio must be in 0..1")
    if a.endpoints is None:
        a.endpoints = os.path.join(ROOT, ENDPOINTS[a.instance])
    return a


def api_url(a):
    if a.api_url:
        return a.api_url
    url = read_endpoints(a.endpoints).get("API_URL")
    if not url:
        sys.exit(f"load.py: no API_URL in {a.endpoints} (is the stack up?)")
    return url


class Client:
    """One persistent connection; reconnects after an error or a server-side close."""

    def __init__(self, u):
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(u.hostname, u.port, timeout=TIMEOUT_S)
        self.prefix = u.path.rstrip("/")

    def request(self, method, path, body=None, token=None):
        """Returns (status, body bytes); raises OSError/HTTPException on connection errors."""
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
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


def fetch_tokens_chunk(users, instance):
    """signin.py's JSON lines ({"user", "sub", "access_token", ...}) for `users`, each signed up on
    first use, from one signin.py process. The child reads its instance's endpoints file itself:
    endpoint and pool settings inherited from the caller's shell (perhaps another stack's) are
    not passed on."""
    venv = os.path.join(ROOT, ".venv", "bin", "python")  # signin.py needs botocore
    python = venv if os.path.exists(venv) else sys.executable
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("AWS_ENDPOINT_URL", "OUTPUT_")) or k in ("USER_POOL_ID", "USER_POOL_CLIENT_ID"))}
    cmd = [python, os.path.join(ROOT, "scripts", TOKEN_SCRIPT), *users, "--instance", instance, "--json"]
    timeout = TOKEN_TIMEOUT_S + TOKEN_TIMEOUT_PER_USER_S * len(users)
    what = f"{TOKEN_SCRIPT} ({len(users)} users from {users[0]})"
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: no answer in {timeout:.0f} s") from None
    if r.returncode != 0:
        raise RuntimeError(f"{what} exited {r.returncode}: {(r.stderr or r.stdout).strip()[-500:]}")
    out = {}
    for line in r.stdout.splitlines():
        try:
            t = json.loads(line)
            if not all(isinstance(t[k], str) and t[k] for k in ("user", "sub", "access_token")):
                raise ValueError("empty user, sub or access_token")
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(f"{what}: unexpected output ({e}): {line.strip()[:200]!r}") from None
        out[t["user"]] = (t["sub"], t["access_token"])
    if set(out) != set(users):
        raise RuntimeError(f"{what}: tokens for {len(out)} of the {len(users)} users asked for")
    return out


def fetch_tokens(names, instance, workers):
    """{name: (sub, access token)} from `workers` signin.py processes, each signing up a share of
    the users; exits 1 if any fails."""
    t0 = time.perf_counter()
    chunks = [c for c in (names[i::workers] for i in range(workers)) if c]
    print(f"load.py: getting {len(names)} tokens (scripts/{TOKEN_SCRIPT} --instance {instance}, "
          f"{len(chunks)} processes)", file=sys.stderr, flush=True)
    out, failed = {}, []
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        for f in [pool.submit(fetch_tokens_chunk, c, instance) for c in chunks]:
            try:
                out.update(f.result())
            except RuntimeError as e:
                failed.append(str(e))
    if failed:
        print(f"load.py: {len(failed)} of {len(chunks)} {TOKEN_SCRIPT} processes failed; first: {failed[0]}",
              file=sys.stderr)
        sys.exit(1)
    subs = [s for s, _ in out.values()]
    if len(set(subs)) != len(subs):
        print(f"load.py: {TOKEN_SCRIPT} gave two users the same sub", file=sys.stderr)
        sys.exit(1)
    print(f"load.py: {len(out)} tokens in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return out


def main():
    a = parse_args()
    url = api_url(a)
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or u.hostname not in LOOPBACK:
        print(f"load.py: refusing to run: API URL {url!r} is not on loopback "
              f"(host {u.hostname!r}, allowed: {', '.join(sorted(LOOPBACK))})", file=sys.stderr)
        sys.exit(2)
    ops = MODE_OPS[a.mode]
    tag = secrets.token_hex(4)
    if a.mode == "posts":
        tokens = fetch_tokens([f"load-{tag}-{i:03d}" for i in range(a.users)], a.instance, a.token_workers)
        users = sorted(tokens.values())  # (sub, access token)
        n_reads = round(a.requests * a.read_ratio)
        plan = ["read"] * n_reads + ["write"] * (a.requests - n_reads)
        random.shuffle(plan)
    else:
        users = []
        plan = ["floor"] * a.requests

    lock = threading.Lock()
    next_ticket = [0]
    lat = {op: [] for op in ops}
    status = {op: Counter() for op in ops}
    errors = {op: Counter() for op in ops}
    written = {sub: [] for sub, _ in users}  # post ids answered 201, per author (sub)
    bad_writes = [0]  # 201 whose body did not name the token's sub or carry a post_id
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
            op = plan[i]
            sub, token = rng.choice(users) if users else (None, None)
            if op == "write":
                text = "".join(rng.choices(string.ascii_letters + " ", k=rng.randint(10, 200)))
                method, path, body = "POST", "/v1/posts", {"contents": f"load {i}: {text}"}
            elif op == "read":
                method, path, body, token = "GET", f"/v1/users/{quote(sub, safe='')}/posts?limit=10", None, None
            else:
                method, path, body, token = "GET", FLOOR_PATH, None, None
            t0 = time.perf_counter()
            try:
                code, data = cli.request(method, path, body, token)
            except Exception as e:  # connection errors and timeouts
                with lock:
                    errors[op][type(e).__name__] += 1
                continue
            ms = (time.perf_counter() - t0) * 1000
            pid = None
            if op == "write" and code == 201:
                try:
                    post = json.loads(data)
                    pid = post["post_id"] if post.get("user_id") == sub else None
                except (ValueError, KeyError, AttributeError, TypeError):
                    pass
            with lock:
                lat[op].append(ms)
                status[op][code] += 1
                if op == "write" and code == 201:
                    if pid is None:
                        bad_writes[0] += 1
                    else:
                        written[sub].append(pid)
        cli.conn.close()

    threads = [threading.Thread(target=worker, args=(secrets.randbits(64),)) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    stopped_by = "requests" if next_ticket[0] >= len(plan) else "duration"

    # Read-after-write check (posts mode): 5 users of the run, preferring those with 201 writes.
    check_ok, check_lines, chosen = True, [], []
    if a.mode == "posts":
        subs = [sub for sub, _ in users]
        with_posts = [x for x in subs if written[x]]
        random.shuffle(with_posts)
        chosen = (with_posts + [x for x in subs if not written[x]])[:5]
        cli = Client(u)
        for sub in chosen:
            ids, cursor, problem = [], None, None
            for _ in range(1000):  # page bound: 100,000 posts
                q = f"/v1/users/{quote(sub, safe='')}/posts?limit=100" + (f"&cursor={cursor}" if cursor else "")
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
            missing = [p for p in written[sub] if p not in counts]
            dup = [p for p in written[sub] if counts[p] > 1]
            decreasing = all(int(x) > int(y) for x, y in zip(ids, ids[1:]))
            extra = len(set(ids) - set(written[sub]))
            ok = problem is None and not missing and not dup and decreasing
            check_ok &= ok
            check_lines.append(f"  {sub}: {'ok' if ok else 'FAIL'}: {len(written[sub])} written (201), "
                               f"{len(ids)} listed, missing {len(missing)}, duplicated {len(dup)}, "
                               f"strictly decreasing {decreasing}, not ours {extra}"
                               + (f", {problem}" if problem else ""))
        cli.conn.close()

    summary = {"mode": a.mode, "run_tag": tag, "api_url": url, "concurrency": a.concurrency,
               "requests_planned": a.requests, "stopped_by": stopped_by, "elapsed_s": round(elapsed, 3), "ops": {}}
    if a.mode == "posts":
        summary.update({"users": a.users, "read_ratio": a.read_ratio})
    else:
        summary["path"] = FLOOR_PATH
    rows = []
    for op in ops + ("all",):
        keys = ops if op == "all" else (op,)
        ms = sorted(x for k in keys for x in lat[k])
        st = sum((status[k] for k in keys), Counter())
        er = sum((errors[k] for k in keys), Counter())
        n = sum(st.values()) + sum(er.values())
        s = {"requests": n, "responses": len(ms), "errors": sum(er.values()), "rps": round(n / elapsed, 1),
             "status": {str(k): v for k, v in sorted(st.items())}, "error_kinds": dict(er),
             "p50_ms": pct(ms, .5), "p90_ms": pct(ms, .9), "p99_ms": pct(ms, .99),
             "max_ms": round(ms[-1], 1) if ms else None}
        summary["ops"][op] = s
        codes = " ".join(f"{k}:{v}" for k, v in s["status"].items()) or "-"
        rows.append(f"| {op} | {n} | {codes} | {s['errors']} | {s['rps']} | {s['p50_ms']} | {s['p90_ms']} "
                    f"| {s['p99_ms']} | {s['max_ms']} |")
    n5xx = sum(v for op in ops for k, v in status[op].items() if k >= 500)
    unexpected = sum(v for op in ops for k, v in status[op].items() if k != EXPECTED[op] and k < 500)
    nerr = sum(sum(errors[op].values()) for op in ops)
    summary.update({"5xx": n5xx, "unexpected_status": unexpected, "connection_errors": nerr,
                    "bad_201_bodies": bad_writes[0],
                    "read_after_write_ok": check_ok if a.mode == "posts" else None, "checked_users": len(chosen)})
    ok = n5xx == 0 and unexpected == 0 and nerr == 0 and check_ok and bad_writes[0] == 0
    summary["ok"] = ok

    what = (f"{a.users} users, read ratio {a.read_ratio}" if a.mode == "posts"
            else f"GET {FLOOR_PATH} only (no backend work)")
    print(f"load run {tag} ({a.mode}): {a.concurrency} workers, {what}, "
          f"{summary['ops']['all']['requests']}/{a.requests} requests in {elapsed:.2f} s (stopped by {stopped_by})\n")
    print("| op | requests | status codes | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    if unexpected:
        print(f"\n{unexpected} answers with an unexpected status (expected: "
              + ", ".join(f"{op} {EXPECTED[op]}" for op in ops) + ")")
    if a.mode == "posts":
        print(f"\nread-after-write check ({len(chosen)} users): {'PASS' if check_ok else 'FAIL'}")
        print("\n".join(check_lines))
    print(json.dumps(summary, separators=(",", ":")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
