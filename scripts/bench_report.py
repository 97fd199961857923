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
import os
import signal
import sys
import time
from pathlib import Path

from bench_parse import BenchError, parse_drain, parse_guid, parse_load, parse_og
from bench_render import machine, render, shell
from bench_run import BENCHES, GUID_CAP, INSTANCE, PY, ROOT, Runner, TestStack, env_int, log

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
