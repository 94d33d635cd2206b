PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv pulumi test check demo emulator bench e2e interruptions clean

# `make pulumi` builds the CLI into a cache folder (outside the repository) and every target below finds it there,
# unless a supported Pulumi is installed: then PATH stays as it is, and the installed one is used.
export PATH := $(or $(shell tools/pulumi-cli/build.sh --path),$(PATH))
# No plugin downloads (none can succeed offline, and each try costs seconds), no update check.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export PULUMI_SKIP_UPDATE_CHECK := true

# uv installs the pinned requirements (pip put 63 s of a fresh clone's `make test` into this, uv 17 s with its
# cache cold); it runs as `python -m uv`, which finds its binary wherever pip put it (a virtualenv that sees
# another's packages gets no .venv/bin/uv). The program's own requirements are compiled to bytecode as they
# install: every `pulumi` command's Python processes import them. The development tools compile on first use.
UV_VERSION := 0.13.9
UV := $(BIN)/python -m uv pip install --quiet --python $(BIN)/python
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) --compile-bytecode -r requirements.txt
	$(UV) -r requirements-dev.txt
	$(UV) --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## make pulumi: build the pulumi CLI from its Go modules into a cache folder, unless a supported one is on PATH
pulumi:
	tools/pulumi-cli/build.sh

## make test: create .venv if needed, install everything, run the whole test suite on one worker more than
## there are cores (a real-CLI test spends part of its time waiting on the emulator and on timeouts);
## TEST_WORKERS=0 runs it in one process. The contract check of every exchange covers all workers either way.
## Each worker starts on its share of the collection and takes over half of a busier one's queue when it runs
## out (worksteal: measured faster here than handing tests out one by one, long ones first).
## Bytecode is written (to the gitignored __pycache__/) even where PYTHONDONTWRITEBYTECODE is set, as on many CI
## images: otherwise each of the thousands of Python processes the suite starts compiles the project again.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
test: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

## make check: lint, format check, type check, and actionlint (with shellcheck) on .github/
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	tools/actionlint/build.sh >/dev/null
	"$$(tools/actionlint/build.sh --bin-dir)/actionlint" -shellcheck $(BIN)/shellcheck

## make demo: start the local Segment emulator and run the dev stack against it
demo: $(STAMP)
	$(BIN)/flex-demo

## make emulator: a local Segment API that keeps its state across restarts, on a fixed port, until Ctrl-C
EMULATOR_PORT ?= 8765
EMULATOR_STATE ?= .emulator-state.json
EMULATOR_URL = http://127.0.0.1:$(EMULATOR_PORT)
emulator: $(STAMP)
	@echo "A local Segment API at $(EMULATOR_URL), its state kept in $(EMULATOR_STATE) (Ctrl-C stops it; the next start resumes)."
	@echo "Deploy on it:  .venv/bin/flex-demo --endpoint $(EMULATOR_URL)   (or pulumi up with SEGMENT_API_URL=$(EMULATOR_URL))"
	@echo "Point tools at it:  export SEGMENT_API_TOKEN=emulator-token, then --endpoint $(EMULATOR_URL) (README: Trying the tools)"
	$(BIN)/segment-emulator --port $(EMULATOR_PORT) --state $(EMULATOR_STATE)

## make e2e: only the real-engine tests; without the CLI (`make pulumi`) each fails, saying why: never green with none run
e2e: $(STAMP)
	REQUIRE_PULUMI_CLI=1 $(BIN)/python -m pytest -m e2e

## make interruptions: the interruption tests at every kill position of an up from empty (long: the nightly run);
## `make e2e` runs the same tests at a sample of positions (the first create of each kind Segment keeps no key unique for)
interruptions: $(STAMP)
	REQUIRE_PULUMI_CLI=1 INTERRUPTION_POSITIONS=all $(BIN)/python -m pytest tests/interruptions

## make bench: API-call and wall-time budgets (prints figures)
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
