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
cargo test --release --locked -p integration -- --test-threads "${TEST_THREADS:-4}"
# The API against openapi.yaml, fuzzed (bounded: scripts/api_fuzz.py), then no panic in any log.
.venv-fuzz/bin/python scripts/api_fuzz.py --instance test
