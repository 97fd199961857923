# The two commands: `make dev` (the whole system, in the foreground) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One target dir outside the clone, shared by every build, test and bench (and by CI runs).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/post-service/target
export SAM_CLI_TELEMETRY := 0
PY := .venv/bin/python
CARGO := cargo
RELEASE := --release --locked

.PHONY: help bootstrap build dev up down status logs token test lint fmt-check clippy template-lint deps-check unit fuzz api-fuzz integration chaos figures bench bench-guid bench-og sam-build clean

help:
	@echo "make dev          install what is missing, start emulator + Redis, build, deploy, follow logs (Ctrl-C stops)"
	@echo "make up / down    the same stack, detached / stopped (endpoints in .local/endpoints.env)"
	@echo "make test         fmt, clippy, template lint, unit tests, fuzz targets, integration tests + API fuzzing on a stack of their own"
	@echo "make chaos        writes under a random schedule of faults for CHAOS_SECONDS (300), then reconciliation (test stack)"
	@echo "make bench        every benchmark beside its same-run baseline -> docs/bench-report.md (on a stack of its own)"
	@echo "make status|logs  what is running / follow the logs"
	@echo "make token U=alice  a bearer token for writes on the dev stack (signs alice up on first use)"

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	$(CARGO) build $(RELEASE) --workspace

dev: bootstrap
	$(PY) scripts/stack.py dev

up: bootstrap
	$(PY) scripts/stack.py up

down:
	@if [ -x $(PY) ]; then for i in dev test bench; do $(PY) scripts/stack.py down --instance $$i; done; fi

status:
	@for i in dev test bench; do $(PY) scripts/stack.py status --instance $$i; done

logs:
	$(PY) scripts/stack.py logs

U ?= $(USER)
token:
	@$(PY) scripts/signin.py $(or $(U),dev)

test: bootstrap lint unit fuzz integration

lint: fmt-check clippy template-lint deps-check

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

template-lint: bootstrap
	.venv/bin/cfn-lint template.yaml
	.venv-sam/bin/sam validate --lint --region us-east-1

# Domain crates never depend on the AWS SDK, Redis or the Lambda runtime.
deps-check:
	@for c in domain snowflake; do \
	  if $(CARGO) tree -p $$c -e normal --prefix none | grep -E '^(aws-|redis|lambda)'; then \
	    echo "$$c depends on an adapter crate"; exit 1; fi; done

unit:
	$(CARGO) test $(RELEASE) --workspace --exclude integration

# The fuzz targets (proptest over arbitrary input: the preview extractor, the SQS message
# decoder), with many more cases than `unit` runs; bounded by FUZZ_CASES and a timeout.
FUZZ_CASES ?= 200000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) timeout 900 $(CARGO) test $(RELEASE) -p domain -p opengraph fuzz_

# The HTTP API against openapi.yaml (schemathesis) on the running test stack (`make test` runs it
# after the integration tests); loopback only, at most 5 minutes.
api-fuzz: bootstrap
	.venv-fuzz/bin/python scripts/api_fuzz.py --instance test

integration: bootstrap
	scripts/integration.sh

# The chaos run alone (tests/tests/chaos.rs), longer than the 60 s form `make test` runs:
# loopback only, bounded by CHAOS_SECONDS; CHAOS_SEED repeats a schedule.
CHAOS_SECONDS ?= 300
chaos: bootstrap
	CHAOS_SECONDS=$(CHAOS_SECONDS) ONLY_TEST=chaos scripts/integration.sh

# Every benchmark beside its same-run baseline -> docs/bench-report.md (scripts/bench_report.py):
# guid generator, preview extraction, drain throughput, HTTP load (the last two on a stack of
# their own, the `bench` instance: started if down, and stopped again). BENCH_ONLY=guid,og runs a subset; BENCH_LOAD_REQUESTS (2000),
# BENCH_LOAD_WORKERS (32), BENCH_DRAIN_MESSAGES (2000), BENCH_DRAIN_ROUNDS (3) from the environment.
bench: bootstrap
	$(PY) scripts/bench_report.py $(if $(BENCH_ONLY),--only $(BENCH_ONLY))
	$(PY) scripts/figures.py

# docs/figures.md again from docs/bench-report.md and the last make test's fault figures.
figures:
	$(PY) scripts/figures.py

bench-guid:
	$(CARGO) bench --locked -p snowflake --bench generator

# opengraph::extract against the reference's BeautifulSoup parse, same pages, one run.
bench-og:
	bench/og_compare.sh

# What `sam build` does on a machine with cargo-lambda (cross-compiles with zig).
sam-build: bootstrap
	# SAM runs cargo-lambda inside functions/<name> and collects its output from the in-tree target dir.
	env -u CARGO_TARGET_DIR PATH="$(CURDIR)/.venv/bin:$$PATH" .venv-sam/bin/sam build --beta-features

clean: down
	rm -rf .local .aws-sam
