# WOW AI Hub: `make run` serves the Hub with the example models; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 9090

E2E_VENV ?= .e2e/ls-venv

.PHONY: run test e2e lint format bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	PY=$(PY) PORT=$(PORT) bin/run-hub

test: $(VENV)/.dev
	$(PY) -m pytest

# Real Label Studio in its own virtualenv (about 1 GB, a few minutes the first time).
$(E2E_VENV)/.installed:
	$(PYTHON) -m venv $(E2E_VENV)
	$(E2E_VENV)/bin/pip install --quiet label-studio==1.23.2
	touch $@

e2e: $(VENV)/.dev $(E2E_VENV)/.installed
	@command -v chromium >/dev/null || { echo "make e2e needs Debian's Chromium: apt-get install chromium"; exit 1; }
	LABEL_STUDIO_BIN=$(abspath $(E2E_VENV))/bin/label-studio $(PY) -m pytest tests/e2e -m e2e

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.dev
	$(PY) bench/protocol_latency.py

clean:
	rm -rf $(VENV) data/test.sqlite3*
