# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run demo test lint bench wsdl clean

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "omgw needs Python 3.11 (spyne 2.14 does not import on 3.12+); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,test]'
	touch $(STAMP)

## Set up, initialise the embedded default (SQLite, local key file), apply the sample setup,
## serve with an outbox worker, and run the simulated warehouse (WMS01) beside it.
run: $(STAMP)
	$(BIN)/omgw init --sample
	$(BIN)/omgw apply -f setup/sample.toml
	$(BIN)/omgw serve --host $(HOST) --port $(PORT) --simulate

## The whole flow on this machine: orders in, two simulated warehouses, every order closed.
ORDERS ?= 20
demo: $(STAMP)
	OMGW_HOME=$${OMGW_HOME:-.omgw-demo} $(BIN)/omgw demo --orders $(ORDERS)

## Set up and run the whole test suite (lint, types, import contracts, tests), in
## TEST_WORKERS processes: most tests wait on servers, subprocesses and timeouts, so
## more processes than cores pays; TEST_WORKERS=0 runs them all in this one.
TEST_WORKERS ?= 4
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Every benchmark beside a same-run baseline: prints the table, writes bench/results.json.
## Starts its servers on 127.0.0.1 (node-soap from npm into a temporary folder, if npm is here).
bench: $(STAMP)
	$(BIN)/python bench/run.py

## Regenerate the published WSDLs under wsdl/ after a deliberate contract change.
wsdl: $(STAMP)
	$(BIN)/omgw wsdl --out wsdl

clean:
	rm -rf $(VENV) .omgw .omgw-demo *.egg-info
