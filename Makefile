# Barometer: every step of the pipeline is a target. `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
BAROMETER := $(BIN)/barometer
export BAROMETER_HOME ?= .barometer
DEMO_ACCOUNTS ?= 2000
PORT ?=
KEYS_FILE := $(BAROMETER_HOME)/api-keys
DATA_DIR ?= $(BAROMETER_HOME)/sample
BENCH_ACCOUNTS ?= 50000
TARGETS := churn deal_win
ENGINE ?= duckdb
UV_VERSION := 0.13.9

.PHONY: help setup demo demo-key data ingest features train evaluate promote retrain explain score monitor attrition serve \
	test lint bench bench-ingest bench-features bench-train bench-explain bench-score bench-serve bench-dashboard bench-monitor \
	fuzz faults soak audit lock clean ingest-lake test-spark test-model-env bench-spark bench-startup

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	@echo "==> setup 1/3: virtualenv $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> setup 2/3: uv $(UV_VERSION)"
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@echo "==> setup 3/3: the locked dependencies (requirements.lock), then Barometer itself"
	@# Bytecode is compiled once here: where Python may not write it (PYTHONDONTWRITEBYTECODE,
	@# a read-only install) every command would otherwise compile every module it imports again.
	$(BIN)/uv pip install --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 barometer data features training explain serving >/dev/null
	@# PySpark ships as a source distribution: uv builds it (1.3 GB with its unpacked wheel) and
	@# keeps every earlier build in its cache, so repeated installs on one machine fill the disk.
	@# Pruning drops the builds nothing refers to any more.
	$(BIN)/uv cache prune --quiet
	touch $@

setup: $(VENV)/.installed ## Create the virtualenv and install the locked dependencies

data: setup ## Simulate a CRM export (DEMO_ACCOUNTS accounts) into DATA_DIR
	$(BAROMETER) simulate --out $(DATA_DIR) --accounts $(DEMO_ACCOUNTS) --seed 7

ingest: setup ## Validate and load DATA_DIR into the workspace warehouse
	$(BAROMETER) ingest $(DATA_DIR)

ingest-lake: setup ## Validate the lake's contract tables on Spark (BAROMETER_LAKE; see README)
	$(BAROMETER) ingest-lake

features: setup ## Build point-in-time features and labels for every cutoff (ENGINE=spark: on the lake)
	$(BAROMETER) features --engine $(ENGINE)

train: setup ## Train both models (churn, deal_win) with their experiments/ configs (ENGINE=spark: a lake sample)
	@status=0; for t in $(TARGETS); do $(BAROMETER) train --target $$t --engine $(ENGINE) || status=1; done; exit $$status

evaluate: setup ## Evaluate the latest candidates: backtest, calibration, lift, baselines
	@for t in $(TARGETS); do $(BAROMETER) evaluate --target $$t || exit 1; done

promote: setup ## Promote each candidate to champion if it beats the current one
	@for t in $(TARGETS); do $(BAROMETER) promote --target $$t || exit 1; done

retrain: features train evaluate promote ## features → train → evaluate → promote, both targets

explain: setup ## Write the HTML explanation reports (drivers, rep profiles, contribution)
	@for t in $(TARGETS); do $(BAROMETER) explain --target $$t || exit 1; done

score: setup ## Score every active account and open deal as of the day after the data's last event (ENGINE=spark: the lake's latest cutoff, spark_udf)
	@for t in $(TARGETS); do $(BAROMETER) score --target $$t --engine $(ENGINE) || exit 1; done

monitor: setup ## Feature and score drift, realised performance and the retrain signal of each champion
	@for t in $(TARGETS); do $(BAROMETER) monitor --target $$t || exit 1; done

attrition: setup ## Rep attrition (managers only): train, promote, score; too few departures is said, not a model
	@if $(BAROMETER) train --target rep_attrition; then \
		$(BAROMETER) promote --target rep_attrition && $(BAROMETER) score --target rep_attrition; \
	else echo "rep_attrition: no model; managers see the reason above"; fi

serve: setup ## Serve the API and dashboard on 127.0.0.1:8000, or PORT (keys: BAROMETER_API_KEYS or the demo key file)
	@if [ -z "$${BAROMETER_API_KEYS}$${BAROMETER_API_KEYS_FILE}" ] && [ -f $(KEYS_FILE) ]; then \
		export BAROMETER_API_KEYS_FILE=$(KEYS_FILE); fi; $(BAROMETER) serve $(if $(PORT),--port $(PORT))

demo-key: setup ## Write a demo admin key to $(BAROMETER_HOME)/api-keys (once) and print it
	@mkdir -p $(BAROMETER_HOME)
	@test -s $(KEYS_FILE) || { umask 077; $(BAROMETER) serve --demo-key > $(KEYS_FILE); }
	@echo "Demo API key (role:key): $$(cat $(KEYS_FILE))"

DEMO_STEPS := data ingest features train promote explain score attrition monitor demo-key

demo: setup ## Install, then run the whole pipeline end to end on simulated data
	@start=$$(date +%s); n=0; total=$(words $(DEMO_STEPS)); \
	for step in $(DEMO_STEPS); do n=$$((n + 1)); \
		printf '\n==> demo %d/%d: make %s (%ds so far)\n' $$n $$total $$step $$(( $$(date +%s) - start )); \
		$(MAKE) --no-print-directory $$step || exit 1; \
	done; printf '\n==> demo: pipeline done in %ds\n' $$(( $$(date +%s) - start ))
	@echo "Demo done. Workspace: $(BAROMETER_HOME)"
	@echo "  Reports: $(BAROMETER_HOME)/artifacts/   MLflow: $(BIN)/mlflow ui --backend-store-uri sqlite:///$(BAROMETER_HOME)/mlflow.db"
	@echo "  Sign in to the dashboard with the key after 'admin:' once it says it is serving."
	@$(MAKE) --no-print-directory serve

test: setup ## Run the test suite (what CI runs; installs Debian's Chromium for the browser tests if missing)
	tests/dashboard/ensure_chromium.sh
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-spark: setup ## Every Spark test, with the slow local-cluster ones (lake round trip, scoring UDF)
	$(BIN)/python -m pytest -q -n 0 -m spark tests

test-model-env: setup ## Serve the logged model from a fresh virtualenv of its own requirements (slow)
	$(BIN)/python -m pytest -q -n 0 -m slow tests/training/test_model_env.py

lint: setup ## Ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: bench-ingest bench-features bench-train bench-explain bench-score bench-serve bench-dashboard bench-monitor bench-spark bench-startup ## Run every benchmark

bench-ingest: setup ## Ingest the 50k-account simulation; compare with DuckDB's bare read_csv
	$(BIN)/python -m benchmarks.ingest --accounts $(BENCH_ACCOUNTS)

bench-features: setup ## Whole registry on 50k accounts × 24 cutoffs vs pandas and featuretools
	$(BIN)/python -m benchmarks.features --accounts $(BENCH_ACCOUNTS)

bench-train: setup ## Train on 1.2M rows; compare with scikit-learn's HistGradientBoosting
	$(BIN)/python -m benchmarks.train --accounts $(BENCH_ACCOUNTS)

bench-explain: setup ## Batch SHAP rows/s, single-row latency, full vs incremental rescoring
	$(BIN)/python -m benchmarks.explain --accounts $(BENCH_ACCOUNTS)

bench-score: setup ## barometer score end to end: a day incremental vs full (BAROMETER_HOME), SMALL_HOME's wall time
	$(BIN)/python -m benchmarks.score $(if $(SMALL_HOME),--small-home $(SMALL_HOME))

bench-serve: setup ## Loopback load on one uvicorn worker vs a bare FastAPI baseline
	$(BIN)/python -m benchmarks.serve --accounts $(BENCH_ACCOUNTS)

bench-spark: setup ## Spark local[2] vs DuckDB at ~1M and ~10M activities; 1B cluster model
	$(BIN)/python -m benchmarks.spark --accounts 5000 50000

bench-monitor: setup ## barometer monitor on 50k accounts x 74 features vs a textbook drift computation
	$(BIN)/python -m benchmarks.monitor --accounts $(BENCH_ACCOUNTS)

bench-dashboard: setup ## Server time of every dashboard page and role on 50k scored accounts
	$(BIN)/python -m benchmarks.dashboard --accounts $(BENCH_ACCOUNTS)

bench-startup: setup ## Each barometer command's start-up (imports, heavy libraries) on a small workspace vs a bare interpreter
	$(BIN)/python -m benchmarks.startup

fuzz: setup ## Longer property + schemathesis run (BAROMETER_FUZZ_EXAMPLES, default 200)
	BAROMETER_FUZZ_EXAMPLES=$${BAROMETER_FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -q -s -m "" \
		tests/reliability/test_ingest_fuzz.py tests/reliability/test_api_fuzz.py tests/reliability/test_security.py

faults: setup ## kill -9 at random points, concurrent commands, disk full (slow; not in make test)
	$(BIN)/python -m pytest -q -s -m slow tests/reliability

soak: setup ## SOAK_MINUTES (default 10) at 500 req/s on one worker, with a promotion mid-run
	$(BIN)/python -m benchmarks.soak --minutes $${SOAK_MINUTES:-10}

audit: setup ## pip-audit the locked dependencies (needs PyPI/OSV vulnerability data; --strict)
	$(BIN)/pip-audit -r requirements.lock --no-deps --disable-pip --strict

lock: setup ## Re-resolve requirements.lock from pyproject.toml (needs network)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: ## Remove the workspace (keeps the virtualenv)
	rm -rf $(BAROMETER_HOME)
