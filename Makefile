# ProductPilot: `make demo` and `make test` are all a newcomer needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install demo test test-scale lint format bench clean up down

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## Seed the embedded store with synthetic data and run every flow on an ephemeral Prefect.
demo: install
	$(BIN)/productpilot demo

## Run the test suite (PostgreSQL tests too when PRODUCTPILOT_TEST_POSTGRES_URL is set), one
## process per core; a file's tests stay together (module fixtures: a stack, a demo run).
test: install
	$(BIN)/pytest -n auto --dist loadfile

## The scale set-up: Prefect on PostgreSQL with Redis messaging, two workers, 200 runs.
test-scale: install
	$(BIN)/pytest -m scale -s

## Local stack: Prefect server + worker + API (logs in $(PRODUCTPILOT_HOME)/stack/logs).
up: install
	$(BIN)/python -m deployments.stack up

down: install
	$(BIN)/python -m deployments.stack down

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Benchmarks print one JSON object per result on stdout.
bench: install
	$(BIN)/python benchmarks/import_events.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/analytics.py
	$(BIN)/python benchmarks/daily_flow.py
	$(BIN)/python benchmarks/nab.py
	$(BIN)/python benchmarks/notify.py
	$(BIN)/python benchmarks/orchestration.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/scheduling.py
	$(BIN)/python benchmarks/estimation.py
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/flags.py
	$(BIN)/python benchmarks/fanout.py

clean:
	rm -rf $(VENV) .productpilot .pytest_cache .ruff_cache benchmarks/.data
