# The two commands of the README: `make run` and `make test`.

# omgw runs on Python 3.11, 3.12 and 3.13. Unless PYTHON is given, .venv is made with the
# newest of them found on PATH: python3.13, python3.12, python3.11, then python3 if it is one
# of those versions. A name that is there but does not run (a pyenv shim for a version not
# selected) is passed over.
PYTHONS   := python3.13 python3.12 python3.11 python3
SUPPORTED := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
VERSION   := import sys; print("%d.%d" % sys.version_info[:2])
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for p in $(PYTHONS); do $$p -c '$(SUPPORTED)' >/dev/null 2>&1 && { echo $$p; break; }; done)
endif
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8080
## the simulated warehouse and event subscriber of make run, beside the gateway
SIMULATOR_PORT  ?= $(shell expr $(PORT) + 1)
SUBSCRIBER_PORT ?= $(shell expr $(PORT) + 2)

.PHONY: run demo test lint bench bench-smoke screenshots wsdl clean

$(STAMP): setup.cfg pyproject.toml
	@if [ -z '$(PYTHON)' ]; then \
	  echo 'omgw needs Python 3.11, 3.12 or 3.13: looked on PATH for $(PYTHONS), and none' \
	    'runs as one of them. Install one, or set PYTHON=/path/to/python3.13.' >&2; exit 1; fi
	@$(PYTHON) -c '$(SUPPORTED)' 2>/dev/null || { \
	  echo "omgw needs Python 3.11, 3.12 or 3.13; PYTHON=$(PYTHON) is" \
	    "$$($(PYTHON) -c '$(VERSION)' 2>/dev/null || echo 'not a Python that runs here')." >&2; \
	  exit 1; }
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c '$(VERSION)')" != "$$($(PYTHON) -c '$(VERSION)')" ]; \
	  then echo "$(VENV) has Python $$($(BIN)/python -c '$(VERSION)'): made anew"; rm -rf $(VENV); fi
	@echo "$(VENV) with $(PYTHON), Python $$($(PYTHON) -c '$(VERSION)')"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,test]'
	touch $(STAMP)

## Set up, initialise the embedded default (SQLite, local key file), apply the sample setup,
## serve with an outbox worker, and run the simulated warehouse (WMS01) and event subscriber
## beside it, on PORT + 1 and PORT + 2 (serve points the sample's connectors at them).
run: $(STAMP)
	$(BIN)/omgw init --sample
	$(BIN)/omgw apply -f gateway/setup/sample.toml
	$(BIN)/omgw serve --host $(HOST) --port $(PORT) --simulate \
	  --simulator-port $(SIMULATOR_PORT) --subscriber-port $(SUBSCRIBER_PORT)

## The whole flow on this machine: orders in, two simulated warehouses, every order closed.
ORDERS ?= 20
## the demo's own home: an exported OMGW_HOME (an operator's real one) is not used
DEMO_HOME ?= .omgw-demo
demo: $(STAMP)
	env -u OMGW_DATABASE_URL -u OMGW_WALLET_KEY OMGW_HOME=$(DEMO_HOME) \
	  $(BIN)/omgw demo --orders $(ORDERS)

## Set up and run the whole test suite (lint, types, import contracts, tests), in
## TEST_WORKERS processes: many tests wait on servers, subprocesses and timeouts, so more
## processes than cores pays, up to 3 on 2 cores (the README's figures); TEST_WORKERS=0
## runs them all in this one. A module whose tests share a costly fixture (an installed
## wheel, a server) stays on one worker (xdist_group), and so do the browser tests: one
## headless Chromium at a time (tests/browser, skipped where Debian's chromium and
## chromium-driver are absent). The benchmarks' smoke tests are a step of their own:
## bench-smoke.
TEST_WORKERS ?= 3
TEST_PATHS   := tests/unit tests/functional tests/contract tests/exceptions tests/browser
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(TEST_PATHS)

## Each benchmark section run once on tiny loads (tests/bench), so none can rot; CI runs it
## after make test. Each starts servers of its own: two at a time keeps them off each other.
bench-smoke: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests/bench

## Refresh the README's pictures: the browser tests save docs/screenshots/<name>.png where
## they call screenshot(name). One process, one Chromium; fails where Chromium is absent.
screenshots: $(STAMP)
	OMGW_SCREENSHOTS=1 OMGW_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -p no:xdist tests/browser

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
