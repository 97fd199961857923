#!/usr/bin/env python3
"""Runs the project's benchmarks one after another and writes one Markdown report
(docs/bench-report.md): each figure beside its baseline measured in the same run, the machine,
the date, the commit and the exact command of every row. `make bench` runs it.

usage: bench_report.py [--only guid,og,drain,load] [--out PATH] [--save DIR] [--replay DIR]

  guid   cargo bench --locked -p snowflake --bench generator: the generator against the
         reference's approach (sequence reset on every call), in one criterion run.
  og     bench/og_compare.sh: opengraph::extract against BeautifulSoup (html.parser, lxml) on
         the same pages, in one run.
  drain  cargo run --release --locked -p integration --bin drain_bench: queue-drain's batch path
         against one PutItem per message, same table, one run. Needs the bench stack.
  load   scripts/load.py twice with the same workers and requests: the posts mix (writes with a
         token, reads), then --mode floor (GET /v1/guid/1, no backend work). Needs the bench stack.

drain and load use the local bench stack (`scripts/stack.py up --instance bench`, endpoints in
.local/bench/endpoints.env): the template's defaults, no fault proxy, and not the stack `make
test` disturbs. If it answers it is used and left running; if it is down this script starts it
and stops it again at the end; if its emulator is up but the API does not answer (someone
deploying it), the run fails rather than deploy on top.

Settings (environment): BENCH_LOAD_REQUESTS (default 2000), BENCH_LOAD_WORKERS (32),
BENCH_DRAIN_MESSAGES (2000), BENCH_DRAIN_ROUNDS (3), BENCH_TIMEOUT_S (per command, 3600);
CARGO_TARGET_DIR defaults to ~/.cache/post-service/target, as in the Makefile.

Any benchmark that fails, or whose output cannot be parsed, stops the run with exit 1 and no
report is written: a figure in the report is always one this run measured. The benchmarks'
progress (their stderr, and their stdout as it comes) goes to this script's stderr.

--save DIR keeps each command's stdout (DIR/<bench>.out; load: load-posts.out, load-floor.out).
--replay DIR parses such saved outputs instead of running anything (to check the parsing); the
report then says it is a replay and goes to --out, or to stdout without --out.

Standard library only; run it with the project venv (.venv/bin/python).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from stack import INSTANCES  # scripts/stack.py, beside this file: where each local stack lives

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
BENCHES = ("guid", "og", "drain", "load")
INSTANCE = "bench"  # scripts/stack.py's instance for benchmarks
TEST_STATE = INSTANCES[INSTANCE]["state"]
TEST_ENDPOINTS = TEST_STATE / "endpoints.env"
TEST_EMULATOR = f"http://127.0.0.1:{INSTANCES[INSTANCE]['port']}"
GUID_CAP = 4_096_000  # ids/s: 4,096 ids per millisecond, the id layout's limit
GUID_IDS = ("system_clock_100k_ids", "uncapped_clock_100k_ids", "reference_sequence_reset_100k_calls")


class BenchError(Exception):
    """A benchmark failed or printed something this script cannot read: no report."""


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def env_int(name, default, lo, hi):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise SystemExit(f"bench_report.py: {name}={raw!r} is not an integer")
    if not lo <= v <= hi:
        raise SystemExit(f"bench_report.py: {name}={v} must be in {lo}..{hi}")
    return v


def shell(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def read_env_file(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, sep, v = line.partition("=")
        if sep:
            out[k.strip()] = v.strip().strip('"')
    return out


def num(text):
    """'36,426' -> 36426.0; raises BenchError on anything else."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise BenchError(f"not a number: {text!r}") from None


# ---------------------------------------------------------------- running commands
class Runner:
    """Runs a command from the repository root, its stderr straight to ours and its stdout
    echoed to our stderr line by line as well as captured. Or, in replay, reads the stdout a
    previous run saved."""

    def __init__(self, save_dir=None, replay_dir=None, timeout_s=3600):
        self.save_dir = Path(save_dir) if save_dir else None
        self.replay_dir = Path(replay_dir) if replay_dir else None
        self.timeout_s = timeout_s
        self.current = None
        if self.save_dir:
            self.save_dir.mkdir(parents=True, exist_ok=True)

    def run(self, name, cmd, env=None):
        """stdout of `cmd` (a list); BenchError unless it exits 0."""
        if self.replay_dir:
            path = self.replay_dir / f"{name}.out"
            try:
                return path.read_text()
            except OSError as e:
                raise BenchError(f"{name}: replay: cannot read {path}: {e}") from None
        log(f"{name}: {shell(cmd)}")
        t0 = time.monotonic()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                                bufsize=1, start_new_session=True)
        self.current = proc
        timed_out = []

        def kill():
            timed_out.append(True)
            self.kill_current()

        timer = threading.Timer(self.timeout_s, kill)
        timer.start()
        lines = []
        try:
            for line in proc.stdout:
                lines.append(line)
                sys.stderr.write(line)
                sys.stderr.flush()
            rc = proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM: the child runs in a session of its own
            self.kill_current()
            raise
        finally:
            timer.cancel()
            self.current = None
        out = "".join(lines)
        if self.save_dir:
            (self.save_dir / f"{name}.out").write_text(out)
        if timed_out:
            raise BenchError(f"{name}: `{shell(cmd)}` did not finish in {self.timeout_s} s (killed)")
        if rc != 0:
            raise BenchError(f"{name}: `{shell(cmd)}` exited {rc}")
        log(f"{name}: done in {time.monotonic() - t0:.0f} s")
        return out

    def kill_current(self):
        proc = self.current
        if proc and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------- parsers
THRPT_UNITS = {"elem/s": 1.0, "Kelem/s": 1e3, "Melem/s": 1e6, "Gelem/s": 1e9}


def criterion_stdout(stdout, full_id):
    """(low, estimate, high) elements/s from criterion's text output for `full_id`."""
    m = re.search(rf"(?m)^{re.escape(full_id)}\s+time:\s+\[[^\]]*\]\s*\n\s*thrpt:\s+\[([^\]]+)\]", stdout)
    if not m:
        raise BenchError(f"guid: no `thrpt:` line for {full_id} in criterion's output")
    parts = m.group(1).split()
    if len(parts) != 6 or any(parts[i] not in THRPT_UNITS for i in (1, 3, 5)):
        raise BenchError(f"guid: cannot read the throughput of {full_id}: [{m.group(1)}]")
    try:
        return tuple(num(parts[i]) * THRPT_UNITS[parts[i + 1]] for i in (0, 2, 4))
    except BenchError as e:
        raise BenchError(f"guid: {full_id}: {e}") from None


def criterion_json(base, full_id, since):
    """(low, estimate, high) elements/s from criterion's estimates of this run (files written
    after `since`); None when they are missing or older (then the text output is used)."""
    d = base / full_id / "new"
    try:
        est_path, bench_path = d / "estimates.json", d / "benchmark.json"
        if est_path.stat().st_mtime < since or bench_path.stat().st_mtime < since:
            return None
        est = json.loads(est_path.read_text())
        elements = json.loads(bench_path.read_text())["throughput"]["Elements"]
        # criterion reports the slope when it has one (linear sampling), else the mean.
        e = est.get("slope") or est["mean"]
        ns = (e["confidence_interval"]["upper_bound"], e["point_estimate"], e["confidence_interval"]["lower_bound"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(x, (int, float)) and x > 0 for x in ns) or not elements:
        raise BenchError(f"guid: unusable estimates in {d}")
    return tuple(elements / (x / 1e9) for x in ns)


def parse_guid(stdout, criterion_dir=None, since=None):
    m = re.search(r"reference approach: (\d+) distinct ids in (\d+) calls", stdout)
    if not m:
        raise BenchError("guid: no `reference approach: N distinct ids in M calls` line in the bench's output")
    distinct, calls = int(m.group(1)), int(m.group(2))
    r = {"distinct": distinct, "calls": calls, "source": "criterion's text output"}
    for key in GUID_IDS:
        full = f"snowflake/{key}"
        v = criterion_json(criterion_dir, full, since) if criterion_dir else None
        if v is not None:
            r["source"] = f"criterion estimates ({criterion_dir}/snowflake/*/new/estimates.json)"
        else:
            v = criterion_stdout(stdout, full)
        if not (v[0] <= v[1] <= v[2]) or v[1] <= 0:
            raise BenchError(f"guid: inconsistent interval for {full}: {v}")
        r[key] = v
    return r


def parse_og(stdout):
    m = re.search(r"Page set: (\d+) pages, ([\d.]+) MB", stdout)
    if not m:
        raise BenchError("og: no `Page set: N pages, X MB` line in og_compare.sh's output")
    rows = {}
    for line in stdout.splitlines():
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) == 4 and re.fullmatch(r"[\d,.]+", c[1] or "x"):
            rows[c[0]] = {"pages_per_s": num(c[1]), "mb_per_s": num(c[2]), "ratio": num(c[3])}
    rust = next((v for k, v in rows.items() if k.startswith("opengraph")), None)
    hp = rows.get("BeautifulSoup html.parser")
    lx = rows.get("BeautifulSoup lxml")
    if not (rust and hp and lx):
        raise BenchError(f"og: expected rows opengraph, BeautifulSoup html.parser and lxml; got {sorted(rows)}")
    table = "\n".join(line for line in stdout.splitlines() if line.startswith("|"))
    return {"pages": int(m.group(1)), "mb": float(m.group(2)), "rust": rust, "html.parser": hp, "lxml": lx,
            "table": table}


def parse_drain(stdout, rounds):
    header = "| round | messages | queue-drain batches (posts/s) | one PutItem each (posts/s) | ratio |"
    if header not in stdout:
        raise BenchError("drain: drain_bench's table header is missing from its output")
    rows = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"\| (\d+|median) \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+)x \|", line.strip())
        if m:
            rows[m.group(1)] = {"messages": int(m.group(2)), "batch": int(m.group(3)), "single": int(m.group(4)),
                                "ratio": float(m.group(5))}
    if "median" not in rows:
        raise BenchError("drain: no median row in drain_bench's output")
    got = len(rows) - 1
    if rounds is not None and got != rounds:
        raise BenchError(f"drain: {got} round rows, expected {rounds}")
    if rows["median"]["single"] <= 0 or rows["median"]["batch"] <= 0:
        raise BenchError("drain: a zero rate in the median row")
    table = "\n".join(line for line in stdout.splitlines() if line.startswith("|"))
    return {"median": rows["median"], "rounds": got, "table": table}


def parse_load(stdout, mode):
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("{"):
        raise BenchError(f"load ({mode}): the last line of load.py's output is not its JSON summary")
    try:
        s = json.loads(lines[-1])
        ops = s["ops"]
        for op in ops.values():
            for k in ("rps", "p50_ms", "p99_ms", "requests"):
                if not isinstance(op[k], (int, float)):
                    raise ValueError(f"{k} is {op[k]!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BenchError(f"load ({mode}): cannot read load.py's JSON summary: {e}") from None
    if s.get("mode") != mode:
        raise BenchError(f"load: expected a {mode} run, the summary says {s.get('mode')!r} (an older load.py?)")
    if s.get("ok") is not True:
        raise BenchError(f"load ({mode}): load.py's summary says ok={s.get('ok')!r}")
    if s.get("stopped_by") != "requests":
        raise BenchError(f"load ({mode}): stopped by {s.get('stopped_by')!r} before all requests were sent")
    want = ("write", "read", "all") if mode == "posts" else ("floor", "all")
    if any(k not in ops for k in want):
        raise BenchError(f"load ({mode}): the summary lacks ops {want}")
    body = stdout[: stdout.rindex(lines[-1])].rstrip()
    return {"summary": s, "text": body}


# ---------------------------------------------------------------- the bench stack
def api_answers(api_url):
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/v1/guid/1", timeout=10) as r:
            return r.status == 200
    except Exception:
        return False


def emulator_answers():
    try:
        with urllib.request.urlopen(f"{TEST_EMULATOR}/_ministack/health", timeout=3) as r:
            return r.status == 200
    except Exception:
        return False


class TestStack:
    """The bench stack for drain and load: used as found if it answers, else started (and then
    stopped by stop())."""

    def __init__(self, runner):
        self.runner = runner
        self.started = False
        self.env = None

    def ensure(self):
        if self.env is not None:
            return self.env
        if self.runner.replay_dir:
            self.env = {}
            return self.env
        if TEST_ENDPOINTS.exists() and api_answers(read_env_file(TEST_ENDPOINTS).get("API_URL", "")):
            log(f"bench stack answers ({TEST_ENDPOINTS.relative_to(ROOT)}); using it, leaving it running")
        elif emulator_answers():
            # Someone else's stack, being deployed or torn down: a second
            # `up` on top of it could break both.
            raise BenchError(f"the bench emulator ({TEST_EMULATOR}) is up but the stack's API does not answer (someone "
                             "deploying it?); retry later, or stop it: "
                             ".venv/bin/python scripts/stack.py down --instance bench")
        else:
            log("bench stack down; starting it (and stopping it at the end)")
            self.started = True
            try:
                subprocess.run([str(PY), "scripts/stack.py", "up", "--instance", INSTANCE], cwd=ROOT, check=True,
                               stdout=sys.stderr)
            except subprocess.CalledProcessError as e:
                raise BenchError(f"`scripts/stack.py up --instance {INSTANCE}` exited {e.returncode}") from None
            if not TEST_ENDPOINTS.exists():
                raise BenchError(f"the bench stack is up but {TEST_ENDPOINTS} is missing")
            if not api_answers(read_env_file(TEST_ENDPOINTS).get("API_URL", "")):
                raise BenchError("the bench stack was deployed but GET /v1/guid/1 does not answer 200")
        self.env = read_env_file(TEST_ENDPOINTS)
        return self.env

    def stop(self):
        if self.started:
            log("stopping the bench stack this script started")
            subprocess.run([str(PY), "scripts/stack.py", "down", "--instance", INSTANCE], cwd=ROOT, stdout=sys.stderr)
            self.started = False


# ---------------------------------------------------------------- the machine
def cmd_out(cmd):
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("model name", "Hardware", "cpu model"):
                cpu = v.strip()
                break
    except OSError:
        pass
    nproc = cmd_out(["nproc"]) or str(len(os.sched_getaffinity(0)))
    # Read-only git: no optional locks, so the index is never refreshed or rewritten.
    genv = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, env=genv, capture_output=True, text=True,
                                timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, env=genv, capture_output=True, text=True, timeout=60).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "", []
    try:
        from importlib.metadata import version
        ministack = version("ministack")
    except Exception:
        ministack = ""
    return {"nproc": nproc, "cpu": cpu or "(no model name in /proc/cpuinfo)",
            "rustc": cmd_out(["rustc", "--version"]) or "(rustc not found)",
            "cargo": cmd_out(["cargo", "--version"]), "python": platform.python_version(),
            "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
            "commit": commit or "(unknown)", "dirty": [d[3:] for d in dirty], "ministack": ministack}


# ---------------------------------------------------------------- the benchmarks
def fmt_rate(x, unit):
    if x >= 1e6:
        return f"{x / 1e6:,.3f} M {unit}"
    return f"{x:,.0f} {unit}"


def bench_guid(runner, target_dir):
    cmd = ["cargo", "bench", "--locked", "-p", "snowflake", "--bench", "generator"]
    since = time.time() - 1
    out = runner.run("guid", cmd)
    crit = None if runner.replay_dir else Path(os.environ.get("CRITERION_HOME") or Path(target_dir) / "criterion")
    r = parse_guid(out, crit, since)
    cap_lo, cap, cap_hi = r["system_clock_100k_ids"]
    un_lo, un, un_hi = r["uncapped_clock_100k_ids"]
    ref_lo, ref, ref_hi = r["reference_sequence_reset_100k_calls"]
    # The reference hands out one distinct id per millisecond its calls span: distinct ids per
    # second ~ calls/s x distinct/calls (its 1,000,000 calls run at the rate measured above).
    if not (r["calls"] > 0 and r["distinct"] > 0):
        raise BenchError(f"guid: the reference line says {r['distinct']} distinct in {r['calls']} calls")
    ref_distinct = ref * r["distinct"] / r["calls"]
    command = shell(cmd)
    rows = [
        ("guid: ids/s of one generator, system clock",
         f"**{cap / 1e6:.3f} M ids/s** ({cap_lo / 1e6:.3f}-{cap_hi / 1e6:.3f}): "
         f"**{cap / GUID_CAP:.2f} of the 4.096 M/s cap** of the id layout",
         f"reference approach (sequence reset every call): {ref / 1e6:.1f} M calls/s, but "
         f"{r['distinct']:,} distinct ids in {r['calls']:,} calls (~{ref_distinct:,.0f} distinct ids/s, derived)",
         f"{cap / ref_distinct:,.0f}x the distinct ids/s", command),
        ("guid: cost of an id, clock never repeats a ms",
         f"{un / 1e6:.1f} M ids/s ({un_lo / 1e6:.1f}-{un_hi / 1e6:.1f}), {1e9 / un:.1f} ns/id",
         f"reference approach: {ref / 1e6:.1f} M calls/s ({ref_lo / 1e6:.1f}-{ref_hi / 1e6:.1f}), "
         f"{1e9 / ref:.1f} ns/call",
         f"{un / ref:.2f}x the calls/s", command),
    ]
    detail = (f"Command: `{command}` (criterion, `crates/snowflake/benches/generator.rs`; 30 samples of 100,000 "
              f"ids each). Figures read from {r['source']}; intervals are criterion's 95% confidence "
              f"intervals. The cap is 4,096 ids per millisecond = 4.096 M ids/s; the reference's distinct ids/s "
              f"is its calls/s times its distinct/calls ratio.\n\nCriterion's output:\n\n```text\n"
              + out.strip() + "\n```")
    return rows, detail


def bench_og(runner):
    cmd = ["bench/og_compare.sh"]
    out = runner.run("og", cmd)
    r = parse_og(out)
    rust, hp, lx = r["rust"], r["html.parser"], r["lxml"]
    fig = (f"opengraph::extract (Rust, whole document): **{rust['pages_per_s']:,.0f} pages/s**, "
           f"{rust['mb_per_s']:,.2f} MB/s ({r['pages']} pages, {r['mb']:.3f} MB)")
    rows = [
        ("og: preview extraction", fig,
         f"BeautifulSoup `html.parser`, six og: tags (the reference's parse): {hp['pages_per_s']:,.0f} pages/s, "
         f"{hp['mb_per_s']:,.2f} MB/s", f"**{hp['ratio']:,.1f}x** faster", "bench/og_compare.sh"),
        ("og: preview extraction", fig,
         f"BeautifulSoup `lxml`, same six tags: {lx['pages_per_s']:,.0f} pages/s, {lx['mb_per_s']:,.2f} MB/s",
         f"{lx['ratio']:,.1f}x faster", "bench/og_compare.sh"),
    ]
    detail = ("Command: `bench/og_compare.sh` (criterion on `crates/opengraph/benches/extract.rs`, then "
              "`bench/og_bs4.py` over the same page set, in one run; the Rust figure is criterion's mean).\n\n"
              + f"Page set: {r['pages']} pages, {r['mb']:.3f} MB\n\n" + r["table"])
    return rows, detail


def bench_drain(runner, stack):
    n = env_int("BENCH_DRAIN_MESSAGES", 2000, 100, 20000)
    rounds = env_int("BENCH_DRAIN_ROUNDS", 3, 1, 10)
    cmd = ["cargo", "run", "--release", "--locked", "-p", "integration", "--bin", "drain_bench", "--", str(n),
           str(rounds)]
    env = {**os.environ, **stack.ensure()}
    out = runner.run("drain", cmd, env)
    r = parse_drain(out, None if runner.replay_dir else rounds)
    m = r["median"]
    if runner.replay_dir:  # the command as the output reports it
        cmd = cmd[:-2] + [str(m["messages"]), str(r["rounds"])]
    elif m["messages"] != n:
        raise BenchError(f"drain: asked for {n} messages a round, drain_bench says {m['messages']}")
    command = f"set -a; . .local/{INSTANCE}/endpoints.env; set +a; {shell(cmd)}"
    rows = [("drain: posts persisted per second",
             f"queue-drain batch path (BatchWriteItem, 25 at a time): **{m['batch']:,} posts/s** "
             f"(median of {r['rounds']} rounds of {m['messages']:,})",
             f"one PutItem per message, same table: {m['single']:,} posts/s",
             f"**{m['ratio']:.1f}x**", command)]
    detail = (f"Command: `{command}` (`tests/src/bin/drain_bench.rs`; each round writes fresh posts both ways "
              "on the same table of the bench stack's emulator).\n\n" + r["table"])
    return rows, detail


def bench_load(runner, stack):
    requests = env_int("BENCH_LOAD_REQUESTS", 2000, 1, 20000)
    workers = env_int("BENCH_LOAD_WORKERS", 32, 1, 64)
    stack.ensure()
    base = [str(PY.relative_to(ROOT)), "scripts/load.py", "--instance", INSTANCE, "--requests", str(requests),
            "--concurrency", str(workers), "--duration", "300"]
    env = dict(os.environ)
    posts_cmd, floor_cmd = base, base + ["--mode", "floor"]
    posts = parse_load(runner.run("load-posts", posts_cmd, env), "posts")
    floor = parse_load(runner.run("load-floor", floor_cmd, env), "floor")
    ps, fs = posts["summary"], floor["summary"]
    pa, fa = ps["ops"]["all"], fs["ops"]["all"]
    w = ps["concurrency"]
    if fs["concurrency"] != w or fs["requests_planned"] != ps["requests_planned"]:
        raise BenchError("load: the posts and floor runs differ in workers or requests")
    if not runner.replay_dir and (w != workers or ps["requests_planned"] != requests):
        raise BenchError(f"load: asked for {requests} requests at {workers} workers, load.py says "
                         f"{ps['requests_planned']} at {w}")
    # The commands as the summaries report them (the same as those run, unless replaying).
    base = base[:4] + ["--requests", str(ps["requests_planned"]), "--concurrency", str(w)] + base[8:]
    posts_cmd, floor_cmd = base, base + ["--mode", "floor"]
    if not (fa["rps"] > 0 and fa["p50_ms"] and fa["p50_ms"] > 0 and pa["rps"] > 0):
        raise BenchError("load: a run with no throughput or no latency")
    if not isinstance(ps.get("read_ratio"), (int, float)):
        raise BenchError("load: the posts summary has no read_ratio")
    both = shell(posts_cmd) + "<br>" + shell(floor_cmd)
    floor_txt = f"GET /v1/guid/1 (no backend work), same {w} workers: "

    def lat(op):
        return f"p50 {op['p50_ms']} ms, p99 {op['p99_ms']} ms"

    rows = [
        ("load: HTTP through the local stack",
         f"posts mix ({ps['read_ratio']:.0%} reads), {w} workers, {pa['requests']:,} requests: "
         f"**{pa['rps']:,.1f} req/s**, {lat(pa)}",
         floor_txt + f"**{fa['rps']:,.1f} req/s**, {lat(fa)}",
         f"{pa['rps'] / fa['rps']:.2f} of the floor's req/s", both),
        ("load: writes (POST /v1/posts, with a token)",
         f"{ps['ops']['write']['requests']:,} writes in the mix, {lat(ps['ops']['write'])}",
         floor_txt + lat(fa),
         f"p50 {ps['ops']['write']['p50_ms'] / fa['p50_ms']:.2f}x the floor's", both),
        ("load: reads (GET /v1/users/{sub}/posts)",
         f"{ps['ops']['read']['requests']:,} reads in the mix, {lat(ps['ops']['read'])}",
         floor_txt + lat(fa),
         f"p50 {ps['ops']['read']['p50_ms'] / fa['p50_ms']:.2f}x the floor's", both),
    ]
    detail = ("The posts mix, then the floor: the same load.py, workers and request count against a route "
              "whose function does no backend work (no table, cache, queue or token), so the difference is "
              "what the posts path adds on this machine and emulator. Tokens are fetched before the timed "
              "phase.\n\n"
              f"Posts mix: `{shell(posts_cmd)}`\n\n" + md_load(posts["text"]) + "\n\n"
              f"Floor: `{shell(floor_cmd)}`\n\n" + md_load(floor["text"]))
    return rows, detail


def md_load(text):
    """load.py's text: the table as Markdown, the rest (run line, check lines) as plain text."""
    out, plain = [], []

    def flush():
        if plain:
            out.append("```text\n" + "\n".join(plain) + "\n```")
            plain.clear()

    table = []
    for line in text.splitlines():
        if line.startswith("|"):
            flush()
            table.append(line)
            continue
        if table:
            out.append("\n".join(table))
            table = []
        if line.strip():
            plain.append(line)
    if table:
        out.append("\n".join(table))
    flush()
    return "\n\n".join(out)


# ---------------------------------------------------------------- the report
def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def render(rows, details, ran, skipped, m, started, elapsed, replay):
    lines = ["# Benchmark report", ""]
    if replay:
        lines += [f"> **Replay**: parsed from outputs saved in `{replay}`, not measured by this run. "
                  "The machine and commit below are those of the replay, not of the measurement.", ""]
    dirty = ""
    if m["dirty"]:
        shown = ", ".join(m["dirty"][:15]) + (", ..." if len(m["dirty"]) > 15 else "")
        n = len(m["dirty"])
        dirty = f" plus uncommitted changes to {n} tracked file{'s' if n > 1 else ''} ({shown})"
    lines += [
        f"Written by `{shell(['.venv/bin/python', 'scripts/bench_report.py', *sys.argv[1:]])}` "
        "(what `make bench` runs).",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M:%S UTC')} (the run took {elapsed / 60:.1f} min)",
        f"- commit: `{m['commit']}`{dirty}",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['kernel']}; 1-minute load average "
        f"{m['load_start']:.2f} as the run started, {m['load_end']:.2f} at its end (anything else running "
        "on the machine shares its CPUs with the benchmarks)",
        f"- toolchain: {m['rustc']}; {m['cargo']}; Python {m['python']}"
        + (f"; MiniStack {m['ministack']}" if m["ministack"] else ""),
        f"- CARGO_TARGET_DIR: `{os.environ.get('CARGO_TARGET_DIR')}`",
        f"- ran: {', '.join(ran)}" + (f"; skipped (not run this time): {', '.join(skipped)}" if skipped else ""),
        "",
        "Each baseline was measured by the same command, in the same run, on the same machine as the figure "
        "beside it.",
        "",
        "| benchmark | figure | baseline (same run) | ratio | command |",
        "|---|---|---|---|---|",
    ]
    for name, fig, base, ratio, cmd in rows:
        cmds = "<br>".join(f"`{c}`" for c in cmd.split("<br>"))
        lines.append(f"| {cell(name)} | {cell(fig)} | {cell(base)} | {cell(ratio)} | {cell(cmds)} |")
    if {"drain", "load"} & set(ran):
        lines += ["", "> The drain and load figures were measured on the local emulator (MiniStack) and "
                  "`redis-server` on this machine: they measure this machine plus the emulator, not AWS. "
                  "Most of every latency here is the emulator's own cost per function invocation (the "
                  "load floor row measures it: a function that does no work). Only the ratios to the "
                  "same-run baselines say something about the code, and even those only roughly."]
    titles = {"guid": "guid: the Snowflake generator", "og": "og: preview extraction against BeautifulSoup",
              "drain": "drain: queue-drain batches against one PutItem per message",
              "load": "load: the posts mix against the no-backend floor"}
    for key in ran:
        lines += ["", f"## {titles[key]}", "", details[key]]
    if skipped:
        lines += ["", "## Not run", "", "Skipped this time (`--only`): " + ", ".join(skipped)
                  + ". Their last figures, if any, are in docs/figures.md or an earlier report."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset of " + ",".join(BENCHES))
    p.add_argument("--out", help="report path (default docs/bench-report.md; with --replay: stdout)")
    p.add_argument("--save", metavar="DIR", help="also keep each command's stdout in DIR")
    p.add_argument("--replay", metavar="DIR", help="parse the outputs saved in DIR instead of running anything")
    a = p.parse_args()
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    unknown = [x for x in only if x not in BENCHES]
    if unknown or not only:
        p.error(f"--only takes a subset of {','.join(BENCHES)}; got {a.only!r}")
    ran = [b for b in BENCHES if b in only]  # always in the same order
    skipped = [b for b in BENCHES if b not in only]
    if a.replay and a.save:
        p.error("--replay and --save exclude each other")
    os.environ.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache" / "post-service" / "target"))
    if not PY.exists():
        raise SystemExit(f"bench_report.py: {PY} is missing; run `make bootstrap`")
    out_path = Path(a.out) if a.out else (None if a.replay else ROOT / "docs" / "bench-report.md")

    runner = Runner(a.save, a.replay, env_int("BENCH_TIMEOUT_S", 3600, 60, 6 * 3600))
    stack = TestStack(runner)
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    host = machine()  # the commit as the run starts (someone may commit while it runs)
    host["load_start"] = os.getloadavg()[0]
    rows, details = [], {}

    def interrupted(*_):
        runner.kill_current()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        for key in ran:
            log(f"=== {key} ===")
            if key == "guid":
                r, d = bench_guid(runner, os.environ["CARGO_TARGET_DIR"])
            elif key == "og":
                r, d = bench_og(runner)
            elif key == "drain":
                r, d = bench_drain(runner, stack)
            else:
                r, d = bench_load(runner, stack)
            rows += r
            details[key] = d
    except BenchError as e:
        log(f"FAILED: {e}")
        log("no report written")
        return 1
    except KeyboardInterrupt:
        runner.kill_current()
        log("interrupted; no report written")
        return 130
    finally:
        stack.stop()

    host["load_end"] = os.getloadavg()[0]
    report = render(rows, details, ran, skipped, host, started, time.monotonic() - t0, a.replay)
    if out_path is None:
        sys.stdout.write(report)
        return 0
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(report)
    os.replace(tmp, out_path)
    log(f"report written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
