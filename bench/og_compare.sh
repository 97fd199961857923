#!/usr/bin/env bash
# Times opengraph::extract (criterion, crates/opengraph/benches/extract.rs) and the
# BeautifulSoup reference (bench/og_bs4.py, html.parser and lxml backends) on the same page
# set, and prints a Markdown table with pages/s, MB/s and the Rust/Python ratio.
#
# Page set: every *.html of crates/opengraph/tests/fixtures and crates/opengraph/benches/pages,
# or of $OG_BENCH_DIR when set. The Python deps (bench/requirements.txt) live in .venv-bench.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

pages="$(mktemp -d)"
trap 'rm -rf "$pages"' EXIT
if [[ -n "${OG_BENCH_DIR:-}" ]]; then
  cp "$OG_BENCH_DIR"/*.html "$pages"/
else
  cp crates/opengraph/tests/fixtures/*.html crates/opengraph/benches/pages/*.html "$pages"/
fi

if [[ ! -x .venv-bench/bin/python ]]; then
  python3 -m venv .venv-bench
fi
.venv-bench/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt

OG_BENCH_DIR="$pages" cargo bench -p opengraph --bench extract -- --noplot extract/page_set >&2
estimates="$CARGO_TARGET_DIR/criterion/extract/page_set/new/estimates.json"
python_json="$(.venv-bench/bin/python bench/og_bs4.py "$pages")"

.venv-bench/bin/python - "$pages" "$estimates" "$python_json" <<'PY'
import json, pathlib, sys
pages_dir, estimates, py = sys.argv[1], sys.argv[2], sys.argv[3]
files = sorted(pathlib.Path(pages_dir).glob("*.html"))
n, size = len(files), sum(f.stat().st_size for f in files)
secs = json.load(open(estimates))["mean"]["point_estimate"] / 1e9
rust = {"pages_per_s": n / secs, "mb_per_s": size / secs / 1e6}
rows = [("opengraph (Rust, lol_html)", rust)]
rows += [(f"BeautifulSoup {r['backend']}", r) for r in map(json.loads, py.splitlines())]
base = {name: r["pages_per_s"] for name, r in rows}
print(f"Page set: {n} pages, {size / 1e6:.3f} MB\n")
print("| extractor | pages/s | MB/s | Rust is x times faster |")
print("|---|---:|---:|---:|")
for name, r in rows:
    ratio = rust["pages_per_s"] / r["pages_per_s"]
    print(f"| {name} | {r['pages_per_s']:,.0f} | {r['mb_per_s']:,.2f} | {ratio:,.1f} |")
PY
