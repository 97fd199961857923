#!/usr/bin/env bash
# Installs what the local stack and the tests need, skipping what is already there:
#   .venv      the pinned emulator (MiniStack), awscli, cfn-lint, cargo-lambda (requirements-dev.txt)
#   .venv-sam  the AWS SAM CLI (requirements-sam.txt; its boto3 pin clashes with the emulator's)
#   .venv-fuzz schemathesis, for the API fuzzing in `make test` (requirements-fuzz.txt)
#   redis-server from Debian's packages
# Safe to re-run: a venv is rebuilt only when its requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*"; }

venv() { # venv <dir> <requirements file>
  local dir=$1 req=$2 stamp
  stamp=$(sha256sum "$req" | cut -c1-16)
  if [[ -x $dir/bin/python && -f $dir/.stamp && $(cat "$dir/.stamp") == "$stamp" ]]; then
    return
  fi
  say "installing $req into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$stamp" > "$dir/.stamp"
}

venv .venv requirements-dev.txt
venv .venv-sam requirements-sam.txt
venv .venv-fuzz requirements-fuzz.txt

if ! command -v redis-server >/dev/null 2>&1; then
  say "installing redis-server (apt)"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q redis-server >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q redis-server >/dev/null
  }
  # The package may start a system instance on :6379; ours run on their own ports.
fi

for tool in cargo rustfmt cargo-clippy; do
  command -v "$tool" >/dev/null 2>&1 || { say "missing $tool: install the Rust toolchain (rustup) first"; exit 1; }
done
