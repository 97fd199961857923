#!/usr/bin/env python3
"""Writes docs/figures.md from what the measuring commands left behind; nothing in it is typed
by hand.

  benchmarks        docs/bench-report.md, written by `make bench` (scripts/bench_report.py)
  faults and chaos  .local/test/fault-figures.txt, written by the last `make test`
                    (scripts/integration.sh: one line per fault test, the chaos run, the API fuzz)
  preview accuracy  docs/og-accuracy.md (a hand run: its pages are not in the repository)

A source that is missing keeps the section the current docs/figures.md has, so `make bench`
alone does not drop the fault figures and a fresh clone's `make test` does not drop the bench.

usage: figures.py [--faults FILE] [--out docs/figures.md]
"""
import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- section: {} -->", "<!-- end: {} -->"

FAULT_COLUMNS = ["attempted", "answered_201", "refused", "requests", "stored", "lost", "duplicated",
                 "phantoms", "mismatched", "answered_twice", "parked", "recovery"]


def section(name, body):
    return f"{BEGIN.format(name)}\n{body.rstrip()}\n{END.format(name)}\n"


def kept(old, name):
    """The section `name` of the current figures.md, or None."""
    m = re.search(re.escape(BEGIN.format(name)) + r"\n(.*?)" + re.escape(END.format(name)), old, re.S)
    return m.group(1) if m else None


def bench(report):
    text = report.read_text()
    lines = text.splitlines()
    meta = [l for l in lines if l.startswith(("- date:", "- commit:", "- machine:"))]
    table, inside = [], False
    for l in lines:
        if l.startswith("| benchmark |"):
            inside = True
        if inside:
            if not l.startswith("|"):
                break
            table.append(l)
    note = next((l for l in lines if l.startswith("> ")), "")
    return ("## Benchmarks\n\nFrom `docs/bench-report.md` (`make bench`; every baseline measured in the same run; "
            "the report has each command's raw output):\n\n" + "\n".join(meta) + "\n\n" + "\n".join(table)
            + ("\n\n" + note if note else "") + "\n")


def parse_fault(line):
    """`fault=name(proof) k=v ...` -> (name, proof, {k: v})."""
    m = re.match(r"fault=([a-z_]+)(?:\((.*?)\))? (.*)$", line)
    if not m:
        return None
    return m.group(1), m.group(2) or "", dict(kv.split("=", 1) for kv in m.group(3).split() if "=" in kv)


def faults(path):
    lines = [l.strip() for l in path.read_text().splitlines() if l.strip()]
    meta = [l[2:] for l in lines if l.startswith("# ")]
    rows, extra = [], []
    for l in lines:
        parsed = parse_fault(l) if l.startswith("fault=") else None
        if parsed:
            name, proof, kv = parsed
            rec = kv.get("recovery", "n/a").replace("p50=", "").replace("p99=", "").replace("max=", "")
            kv["recovery"] = rec.replace(",", " / ")
            rows.append(f"| {name} | {proof.replace(',', ', ')} | " + " | ".join(kv.get(c, "") for c in FAULT_COLUMNS) + " |")
        elif l.startswith(("chaos ", "api_fuzz: operations", "drain_batches: ")):
            extra.append(l)
    head = "| test | proof that the fault happened | " + " | ".join(FAULT_COLUMNS) + " |"
    sep = "|---|---|" + "---:|" * len(FAULT_COLUMNS)
    return ("## Faults and chaos\n\nFrom the last `make test` (`scripts/integration.sh` collects the lines the fault "
            "tests, the chaos run and the API fuzzing print; `FAULT_FIGURES=<file>` names the file):\n\n"
            + "".join(f"- {m}\n" for m in meta) + "\n" + head + "\n" + sep + "\n" + "\n".join(rows) + "\n\n"
            "Every write is one logical post with unique contents; `requests` counts retries too. `lost` = answered "
            "201 but not stored; `duplicated` = stored more than once; `phantoms` = stored but never answered 201 "
            "(or never written); `mismatched` = stored under another id or author than answered; "
            "`answered_twice` = one id answered to two writes; `recovery` = 201 to first seen in the table, "
            "p50 / p99 / max (polled every 500 ms). Counts are taken again once the posts queue and its "
            "dead-letter queue are empty (visible, in flight, delayed).\n\n"
            "```\n" + "\n".join(extra + [l for l in lines if l.startswith("fault=")]) + "\n```\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faults", default=str(ROOT / ".local" / "test" / "fault-figures.txt"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures.md"))
    a = ap.parse_args()
    out = Path(a.out)
    old = out.read_text() if out.exists() else ""
    parts = {}
    report, fault_file, accuracy = ROOT / "docs" / "bench-report.md", Path(a.faults), ROOT / "docs" / "og-accuracy.md"
    parts["bench"] = bench(report) if report.exists() else kept(old, "bench")
    parts["faults"] = faults(fault_file) if fault_file.exists() and fault_file.stat().st_size else kept(old, "faults")
    parts["accuracy"] = ("## Preview accuracy\n\n" + "\n".join(accuracy.read_text().splitlines()[2:]) + "\n"
                         if accuracy.exists() else kept(old, "accuracy"))
    body = ("# Figures\n\nGenerated by `scripts/figures.py` (`make figures`; `make bench` and `make test` run it) "
            "from what the measuring commands wrote; do not edit by hand. Measured on the project's machine "
            "(2 cores, Linux x86-64), on the local emulator where a stack is involved.\n\n")
    for name in ("bench", "faults", "accuracy"):
        if parts[name]:
            body += section(name, parts[name]) + "\n"
    out.write_text(body.rstrip() + "\n")
    print(f"figures: wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
