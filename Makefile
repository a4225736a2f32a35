# Barometer: every step of the pipeline is a target. `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
BAROMETER := $(BIN)/barometer
export BAROMETER_HOME ?= .barometer
DEMO_ACCOUNTS ?= 2000
DATA_DIR ?= $(BAROMETER_HOME)/sample
BENCH_ACCOUNTS ?= 50000
UV_VERSION := 0.13.9

.PHONY: help setup demo data ingest test lint bench bench-ingest clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

setup: $(VENV)/.installed ## Create the virtualenv and install the locked dependencies

data: setup ## Simulate a CRM export (DEMO_ACCOUNTS accounts) into DATA_DIR
	$(BAROMETER) simulate --out $(DATA_DIR) --accounts $(DEMO_ACCOUNTS) --seed 7

ingest: setup ## Validate and load DATA_DIR into the workspace warehouse
	$(BAROMETER) ingest $(DATA_DIR)

demo: data ingest ## Install, then run the whole pipeline end to end on simulated data
	@echo "Demo done. Workspace: $(BAROMETER_HOME) (warehouse: $(BAROMETER_HOME)/warehouse.duckdb)"

test: setup ## Run the test suite
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: setup ## Ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: bench-ingest ## Run every benchmark

bench-ingest: setup ## Ingest the 50k-account simulation; compare with DuckDB's bare read_csv
	$(BIN)/python -m benchmarks.ingest --accounts $(BENCH_ACCOUNTS)

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network)
	$(BIN)/pip install --quiet uv && $(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: ## Remove the workspace (keeps the virtualenv)
	rm -rf $(BAROMETER_HOME)
