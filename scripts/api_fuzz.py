#!/usr/bin/env python3
"""Fuzzes the deployed local API from openapi.yaml with schemathesis, then looks for panics.

usage: api_fuzz.py [--instance test|dev] [--endpoints FILE] [--max-examples N] [--workers 1|2]
                   [--time-limit SECONDS] [--seed N] [--user NAME]

Reads API_URL (and the emulator's address, region and log groups) from the stack's endpoints
file (default .local/test/endpoints.env), signs a user in with scripts/signin.py, and runs
schemathesis against API_URL with that bearer token on every request, checking that no answer
is a 5xx and that every status, content type, header and body is the one openapi.yaml documents.
Then it reads every function's log group since the run started and fails on any panic.

Exit 0 only when schemathesis found no failure and the logs hold no panic. Loopback only: an
API_URL or emulator address on any other host is refused, and every link the stack would fetch
(scrap's `url`, a post's `url`) is pointed at a small site this script serves on loopback. The
whole run is bounded by --time-limit (at most 300 s); a run cut short by it fails. Reports
(report.json, events.ndjson with every request and answer) go to `fuzz/` beside the endpoints
file.

    .venv-fuzz/bin/python scripts/api_fuzz.py                 # against the `make test` stack
    .venv-fuzz/bin/python scripts/api_fuzz.py --instance dev  # against `make up`

Runs on the interpreter of .venv-fuzz (requirements-fuzz.txt: schemathesis, botocore), which
`make bootstrap` installs.
"""
import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

# The scripts beside this file: where each local stack lives, and the hooks module.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_fuzz_hooks  # noqa: E402
from api_fuzz_hooks import SITE_ENV, serve_site  # noqa: E402
from instances import INSTANCES, read_endpoints as read_endpoints_file  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
STATES = {name: cfg["state"] for name, cfg in INSTANCES.items()}
LOOPBACK = {"127.0.0.1", "localhost"}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
# No stateful phase: the document declares no links, and inferred ones would only re-run the
# same operations with more requests.
PHASES = "examples,coverage,fuzzing"
MAX_SECONDS = 300
# Kept back from the schemathesis budget for the log scan that follows it.
LOG_SCAN_RESERVE_S = 20
# Function output reaches the emulator's log groups shortly after the answer.
LOG_SETTLE_S = 3
# Above the functions' 10 s timeout: slower than that is the gateway or emulator misbehaving.
MAX_RESPONSE_S = 12
REQUEST_TIMEOUT_S = 15


# ---------------------------------------------------------------- the run
def die(message):
    print(f"api_fuzz: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def read_endpoints(path):
    if not path.exists():
        die(f"{path} does not exist: start the stack first (`make up`, or the test stack of `make test`)")
    return read_endpoints_file(path)


def require_loopback(name, url):
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
        die(f"{name}={url!r} is not on loopback (127.0.0.1 or localhost): refusing to fuzz it")
    return url.rstrip("/")


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())


def sign_in(user, instance, endpoints, deadline):
    """(access_token, sub) from scripts/signin.py, pointed at the same stack as the endpoints file."""
    script = ROOT / "scripts" / "signin.py"
    if not script.exists():
        die(f"{script} is missing: it signs the fuzzing user in")
    python = ROOT / ".venv" / "bin" / "python"
    env = dict(os.environ)
    # signin.py prefers these to its own idea of the endpoints file, so a --endpoints file wins.
    for key, source in [("USER_POOL_ID", "OUTPUT_USER_POOL_ID"), ("USER_POOL_CLIENT_ID", "OUTPUT_USER_POOL_CLIENT_ID"),
                        ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"), ("AWS_REGION", "AWS_REGION")]:
        if endpoints.get(source):
            env[key] = endpoints[source]
    cmd = [str(python if python.exists() else sys.executable), str(script), user, "--instance", instance, "--json"]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=min(60, deadline.left()))
    except subprocess.TimeoutExpired:
        die("scripts/signin.py did not answer in time")
    if out.returncode != 0:
        die(f"scripts/signin.py failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    try:
        data = json.loads(out.stdout)
        return data["access_token"], data["sub"]
    except (ValueError, KeyError, TypeError):
        die(f"scripts/signin.py printed no JSON with access_token and sub: {out.stdout[:200]!r}")


def toml_string(value):
    # A JSON string of these ASCII values is a valid TOML basic string.
    return json.dumps(str(value), ensure_ascii=True)


def write_config(directory, token, sub):
    """schemathesis.toml: the bearer token on every request (kept out of the process list), and
    the signed-in user's id offered for the author fields. Without it nearly every generated
    author differs from the token's subject, so the writes would all be 403s and the reads would
    list nobody's posts: the 201 and 200 bodies would hardly be checked. Offered with a
    probability, so the 403 answers are fuzzed too."""
    me = toml_string(sub)
    text = f"""headers = {{ Authorization = {toml_string("Bearer " + token)} }}
hooks = {toml_string(Path(api_fuzz_hooks.__file__).resolve())}

[dictionaries.me]
values = [{me}]

# A link's page failing is a 502 (or 504) the document promises, schema-checked as any answer;
# a 5xx the gateway makes instead (a crashed function) fails that schema check.
[[operations]]
include-operation-id = ["previewLink", "previewLinkCompat"]
checks = {{ not_a_server_error = {{ expected-statuses = ["2xx", "3xx", "4xx", "502", "504"] }} }}

[[operations]]
include-operation-id = "writePost"
parameters = {{ "body.user_id" = {{ dictionary = "me", probability = 0.7 }} }}

[[operations]]
include-operation-id = "writePostCompat"
parameters = {{ "path.uid" = {{ dictionary = "me", probability = 0.7 }} }}

[[operations]]
include-operation-id = "listPosts"
parameters = {{ "path.user_id" = {{ dictionary = "me", probability = 0.7 }} }}

[[operations]]
include-operation-id = "listPostsCompat"
parameters = {{ "path.uid" = {{ dictionary = "me", probability = 0.7 }} }}
"""
    path = directory / "schemathesis.toml"
    path.touch(mode=0o600)
    path.write_text(text)
    return path


def run_schemathesis(config, api_url, site, args, report, seconds):
    """Runs `st run`; its exit code, or None when the time bound cut it short."""
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run", str(SPEC),
        "--url", api_url,
        "--checks", ",".join(CHECKS),
        "--phases", PHASES,
        "--max-examples", str(args.max_examples),
        "--workers", str(args.workers),
        "--request-timeout", str(REQUEST_TIMEOUT_S),
        "--max-response-time", str(MAX_RESPONSE_S),
        "--generation-database", "none",
        # JSON for the summary below; NDJSON keeps every request and answer for a post-mortem.
        "--report", "json,ndjson", "--report-json-path", str(report),
        "--report-ndjson-path", str(report.with_name("events.ndjson")),
    ]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    env = {**os.environ, SITE_ENV: site}
    # Its own process group, so a cut-short run takes its workers with it; inside the throwaway
    # folder, where Hypothesis and schemathesis leave their caches.
    proc = subprocess.Popen(cmd, cwd=config.parent, env=env, start_new_session=True)
    try:
        code = proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        # SIGINT first: schemathesis stops cleanly and still writes its report.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        code = None
    return code


def summarize(report):
    """(operations tested, test cases generated, unique failures, errors) from the JSON report."""
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        return 0, 0, 0, 1
    cases = data.get("test_cases") or {}
    errors = sum(e.get("count", 0) for e in data.get("errors") or [])
    return (data.get("operations") or {}).get("tested", 0), cases.get("generated", 0), \
        cases.get("unique_failures", 0), errors


def panics(endpoints, since_ms, deadline):
    """Every log message since `since_ms` in the stack's function log groups that reports a panic."""
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    groups = sorted(v for k, v in endpoints.items() if k.startswith("OUTPUT_") and k.endswith("_LOG_GROUP_NAME") and v)
    if not groups:
        die("the endpoints file names no OUTPUT_*_LOG_GROUP_NAME: cannot check the logs for panics")
    endpoint = require_loopback("AWS_ENDPOINT_URL", endpoints.get("AWS_ENDPOINT_URL"))
    logs = botocore.session.get_session().create_client(
        "logs", endpoint_url=endpoint, region_name=endpoints.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2}))
    found = []
    for group in groups:
        token, seen_tokens = None, set()
        while deadline.left() > 0:
            kwargs = {"logGroupName": group, "startTime": since_ms}
            if token:
                kwargs["nextToken"] = token
            try:
                page = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                # A function that never ran has no log group yet: nothing to scan.
                break
            except (BotoCoreError, ClientError) as e:
                die(f"cannot read the log group {group}: {e}")
            found += [(group, e.get("message", "")) for e in page.get("events", []) if "panicked" in e.get("message", "")]
            token = page.get("nextToken")
            # Some emulators hand back the token they were given on the last page.
            if not token or token in seen_tokens:
                break
            seen_tokens.add(token)
        else:
            die(f"out of time while reading {group}")
    return groups, found


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instance", choices=sorted(STATES), default="test")
    p.add_argument("--endpoints", type=Path, help="the stack's endpoints file (default: the instance's)")
    p.add_argument("--user", default="fuzz-user", help="the user scripts/signin.py signs in")
    p.add_argument("--max-examples", type=int, default=25, help="generated cases per operation and phase")
    p.add_argument("--workers", type=int, choices=[1, 2], default=2)
    p.add_argument("--time-limit", type=int, default=MAX_SECONDS, help=f"whole-run bound in seconds (<= {MAX_SECONDS})")
    p.add_argument("--seed", type=int, help="schemathesis seed, to replay a run")
    args = p.parse_args()
    if not 1 <= args.max_examples <= 100:
        die("--max-examples must be 1..100")
    if not 60 <= args.time_limit <= MAX_SECONDS:
        die(f"--time-limit must be 60..{MAX_SECONDS} s")
    if importlib.util.find_spec("schemathesis") is None:
        die(f"schemathesis is not installed for {sys.executable}: pip install -r requirements-fuzz.txt")

    deadline = Deadline(args.time_limit)
    started = time.monotonic()
    endpoints_file = args.endpoints or STATES[args.instance] / "endpoints.env"
    endpoints = read_endpoints(endpoints_file)
    api_url = require_loopback("API_URL", endpoints.get("API_URL"))
    require_loopback("AWS_ENDPOINT_URL", endpoints.get("AWS_ENDPOINT_URL"))
    token, sub = sign_in(args.user, args.instance, endpoints, deadline)
    print(f"api_fuzz: {api_url} as {args.user} (sub {sub}), {args.max_examples} examples per operation and phase, "
          f"{args.workers} workers, at most {args.time_limit} s", flush=True)

    # The log scan counts from here; a second of slack for the emulator's clock.
    since_ms = int(time.time() * 1000) - 1000
    work = Path(tempfile.mkdtemp(prefix="api-fuzz-"))
    try:
        config = write_config(work, token, sub)
        report_dir = endpoints_file.parent / "fuzz"
        report_dir.mkdir(parents=True, exist_ok=True)
        report = report_dir / "report.json"
        for stale in (report, report.with_name("events.ndjson")):
            stale.unlink(missing_ok=True)
        budget = deadline.left() - LOG_SCAN_RESERVE_S
        if budget < 10:
            die("no time left for the run after signing in")
        server, site = serve_site()
        try:
            code = run_schemathesis(config, api_url, site, args, report, budget)
        finally:
            server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    time.sleep(min(LOG_SETTLE_S, deadline.left()))
    groups, found = panics(endpoints, since_ms, deadline)
    for group, message in found:
        print(f"api_fuzz: panic in {group}: {message.strip()[:2000]}", flush=True)

    operations, cases, failures, errors = summarize(report)
    seconds = time.monotonic() - started
    problems = []
    if code is None:
        problems.append(f"cut short by the {args.time_limit} s bound (lower --max-examples)")
    elif code != 0 and failures == 0 and errors == 0:
        problems.append(f"schemathesis exited {code} (see above)")
    if failures:
        problems.append(f"{failures} failures")
    if errors:
        problems.append(f"{errors} errors (see above)")
    if found:
        problems.append(f"{len(found)} panics")
    print(f"api_fuzz: operations={operations} examples={cases} failures={failures} errors={errors} "
          f"panics={len(found)} log_groups={len(groups)} seconds={seconds:.1f} reports={report.parent}", flush=True)
    if problems:
        print("api_fuzz: FAILED: " + "; ".join(problems), flush=True)
        return 1
    print("api_fuzz: ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
