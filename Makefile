# Developer and CI entry points. `make serve` and `make test` are all a new machine needs
# (python3.11+ with venv, and make); the first run builds .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; the install re-runs only when pyproject.toml is newer.
STAMP := $(VENV)/.installed
# pytest's own exit status, for .ci/run: make itself can only exit 0 or 2.
PYTEST_STATUS := $(VENV)/.pytest-status
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.PHONY: help venv serve test lint bench bench-quick bench-costs

help:
	@echo "make serve        run the service (embedded PostgreSQL unless PQASSO_DATABASE_URL is set)"
	@echo "make test         run the test suite (PYTEST_ARGS='...' to pass options)"
	@echo "make lint         ruff check"
	@echo "make bench        benchmarks; make bench-quick for a short run"
	@echo "make bench-costs  where one writer's command goes, next to a raw INSERT (~35 s)"
	@echo "make venv         create .venv and install the project with its dev extras"

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than 3.11; run: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

serve: venv
	$(BIN)/pqasso serve

test: venv
	@rm -f $(PYTEST_STATUS)
	$(BIN)/pytest -q $(PYTEST_ARGS); status=$$?; echo $$status > $(PYTEST_STATUS); exit $$status

lint: venv
	$(BIN)/ruff check .

bench: venv
	$(BIN)/python -m benchmarks.run

bench-quick: venv
	$(BIN)/python -m benchmarks.run --quick

bench-costs: venv
	$(BIN)/python -m benchmarks.append_costs
