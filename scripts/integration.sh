#!/usr/bin/env bash
# Runs the integration suite against a stack of its own (the `test` instance: emulator :4599,
# Redis :6390-6392), whether or not a `make dev` stack is running, and stops it afterwards.
# With KEEP_STACK=1 the test stack is left up for a rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

cleanup() { [[ ${KEEP_STACK:-0} == 1 ]] || "$PY" scripts/stack.py down --instance test; }
trap cleanup EXIT

"$PY" scripts/stack.py up --instance test
set -a
# shellcheck disable=SC1091
. .local/test/endpoints.env
set +a
if [[ -n ${ONLY_TEST:-} ]]; then  # one test file (make chaos)
  cargo test --release --locked -p integration --test "$ONLY_TEST" -- --nocapture
  exit
fi
# The fault tests, the chaos run and the API fuzzing leave their figures lines here;
# scripts/figures.py turns them into docs/figures.md.
# (absolute: the test binaries run in tests/)
export FAULT_FIGURES="${FAULT_FIGURES:-$PWD/.local/test/fault-figures.txt}"
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
printf '# run: %s, commit %s%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$dirty" > "$FAULT_FIGURES"
# The fault proxy the fault tests rely on, checked first against this stack's emulator (it
# works in a table and a queue of its own, and deletes them).
"$PY" scripts/fault_proxy_check.py --upstream "$AWS_ENDPOINT_URL"
cargo test --release --locked -p integration -- --test-threads "${TEST_THREADS:-4}"
# queue-drain's batch times over the whole run, faults included: what its timeout is sized from.
"$PY" scripts/drain_times.py | tee -a "$FAULT_FIGURES"
# The API against openapi.yaml, fuzzed (bounded: scripts/api_fuzz.py), then no panic in any log.
.venv-fuzz/bin/python scripts/api_fuzz.py --instance test | tee .local/test/api-fuzz.log
grep '^api_fuzz: operations' .local/test/api-fuzz.log >> "$FAULT_FIGURES" || true
"$PY" scripts/figures.py --faults "$FAULT_FIGURES"
