PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test check demo bench e2e clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## make test: create .venv if needed, install everything, run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## make check: lint, format check and type check
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make demo: start the local Segment emulator and run the dev stack against it
demo: $(STAMP)
	$(BIN)/python -m segment_provider.demo

## make e2e: the end-to-end tests with the real pulumi CLI (each skips, saying why, when pulumi is not on PATH)
e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests/e2e

## make bench: API-call and wall-time budgets (prints figures)
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
