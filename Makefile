# WOW AI Hub: `make run` serves the Hub with the example models; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 9090

E2E_VENV ?= .e2e/ls-venv

.PHONY: run test mutations e2e axe upstream-examples lint format bench bench-tools bench-overhead bench-fanout bench-preannotate bench-preannotate-interactive bench-throughput bench-scaling bench-floors bench-isolation clean

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

# Each promised protection removed in turn must fail its tests (mutations/README.md).
mutations: $(VENV)/.dev
	$(PY) mutations/run.py

# Real Label Studio in its own virtualenv (about 1 GB, a few minutes the first time).
$(E2E_VENV)/.installed:
	$(PYTHON) -m venv $(E2E_VENV)
	$(E2E_VENV)/bin/pip install --quiet label-studio==1.23.2
	touch $@

e2e: $(VENV)/.dev $(E2E_VENV)/.installed
	@command -v chromium >/dev/null || { echo "make e2e needs Debian's Chromium: apt-get install chromium"; exit 1; }
	LABEL_STUDIO_BIN=$(abspath $(E2E_VENV))/bin/label-studio $(PY) -m pytest tests/e2e -m e2e

# axe-core, for the accessibility checks of the admin's browser tests (tests/registry/browser.py).
AXE_CORE_VERSION ?= 4.11.0
AXE_DIR ?= $(HOME)/.cache/wow-ai-hub/axe-core
axe:
	@grep -qs '"version": "$(AXE_CORE_VERSION)"' $(AXE_DIR)/node_modules/axe-core/package.json || \
	  npm install --no-audit --no-fund --prefix $(AXE_DIR) axe-core@$(AXE_CORE_VERSION)

# label-studio-ml-backend's example backends' own tests against the Hub (rename only), from a fetched
# git directory (UPSTREAM_GIT_DIR); what they need beyond the Hub goes into .upstream/venv.
UPSTREAM_GIT_DIR ?= /work/.mirror/HumanSignal+label-studio-ml-backend/repo
upstream-examples: $(VENV)/.dev
	$(PY) -m tests.upstream.run_upstream --mirror "$(UPSTREAM_GIT_DIR)" --install $(UPSTREAM_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) bin/check-module-size

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.dev
	$(PY) bench/protocol_latency.py

# The load generator of benchmarks 1, 3, 4 and 5 (Debian's package).
bench-tools:
	@command -v wrk >/dev/null || apt-get install -y -q wrk

bench-overhead: $(VENV)/.dev bench-tools
	$(PY) bench/overhead.py

bench-fanout: $(VENV)/.dev
	$(PY) bench/fanout.py

bench-isolation: $(VENV)/.dev
	$(PY) bench/isolation.py

# A pre-annotation job beside Label Studio's own Retrieve Predictions, on real Label Studio (make e2e's).
bench-preannotate: $(VENV)/.dev $(E2E_VENV)/.installed
	LABEL_STUDIO_BIN=$(abspath $(E2E_VENV))/bin/label-studio $(PY) bench/preannotate.py

bench-preannotate-interactive: $(VENV)/.dev $(E2E_VENV)/.installed
	LABEL_STUDIO_BIN=$(abspath $(E2E_VENV))/bin/label-studio $(PY) bench/preannotate_interactive.py

PEER_PORT ?= 9190
# Runs the benchmark script $(1) beside the peer served from PEER_SOURCE (bench/peer.py), or alone.
define with_peer
	@if [ -n "$(PEER_SOURCE)" ]; then \
	  $(PY) bench/peer.py --source "$(PEER_SOURCE)" --port $(PEER_PORT) & peer=$$!; \
	  trap 'kill $$peer 2>/dev/null' EXIT; \
	  for i in $$(seq 300); do curl -sf http://127.0.0.1:$(PEER_PORT)/health >/dev/null && break; sleep 1; done; \
	  $(PY) $(1) --peer-url http://127.0.0.1:$(PEER_PORT); \
	else $(PY) $(1); fi
endef

# With PEER_SOURCE (a fetched label-studio-ml-backend's git directory), the peer runs beside the Hub.
bench-throughput: $(VENV)/.dev bench-tools
	$(call with_peer,bench/throughput.py)

bench-scaling: $(VENV)/.dev bench-tools
	$(PY) bench/scaling.py

bench-floors: $(VENV)/.dev bench-tools
	$(call with_peer,bench/floors.py)

clean:
	rm -rf $(VENV) data/test.sqlite3*
