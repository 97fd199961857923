"""Reading the benchmarks' output for scripts/bench_report.py: criterion's lines and JSON
(guid), the extraction comparison (og), drain_bench's and load.py's summaries. Each parser
raises BenchError on anything it cannot read, so a report never shows a figure it guessed."""
import json
import re

GUID_IDS = ("system_clock_100k_ids", "uncapped_clock_100k_ids", "reference_sequence_reset_100k_calls")


class BenchError(Exception):
    """A benchmark failed or printed something this script cannot read: no report."""


def num(text):
    """'36,426' -> 36426.0; raises BenchError on anything else."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise BenchError(f"not a number: {text!r}") from None


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
