"""The benchmark report's page for scripts/bench_report.py: the machine and commit it ran on,
and the markdown (figures beside their same-run baselines, the commands that measured them)."""
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shell(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


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
