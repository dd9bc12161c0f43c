# Two commands for a fresh machine (see README):
#   make dashboard   install, build the demo warehouse if there is none, start the dashboard
#   make test        install what tests need (Debian's chromium included) and run every test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= data/warehouse.duckdb
PORT ?= 8501

.PHONY: dashboard test install install-test browser bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt

# Browser tests drive Debian's Chromium through Playwright; Playwright never downloads a browser here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

dashboard: install
	@test -f $(DB) || $(BIN)/python -m analytics --db $(DB) demo
	ANALYTICS_DB=$(DB) $(BIN)/streamlit run dashboard.py --server.port $(PORT)

test: install-test browser
	$(BIN)/python -m pytest


bench: install
	$(BIN)/python -m bench
