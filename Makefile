# irisin: `make demo` runs the nightly pipeline on a generated demo study; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-study

export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: demo test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/irisin demo --out $(DEMO)
	$(BIN)/irisin nightly --study $(DEMO)
	$(BIN)/irisin export weekly --study $(DEMO) --out $(DEMO)/exports/weekly.csv
	@echo "demo results: $(DEMO)/store/warehouse.duckdb, $(DEMO)/store/derived/, $(DEMO)/exports/weekly.csv"

# The gates (configured once in pyproject.toml): import contracts, ruff, ruff format, strict mypy.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --cov --cov-report=term

# The quick loop while working: no slow tests, no coverage.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m 'not slow'

clean:
	rm -rf $(DEMO) .pytest_cache
