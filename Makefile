# Linger. `make run` starts the server with the demo shop; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run test unit lint widget bench browser-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-deps: pyproject.toml | $(PY)
	$(PIP) -e .
	@touch $@

$(VENV)/.test-deps: pyproject.toml | $(PY)
	$(PIP) -e '.[test]'
	@touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(PY) -m server run

# axe-core for the accessibility tests, pinned in widget/package-lock.json
AXE := widget/node_modules/axe-core/axe.min.js
$(AXE): widget/package-lock.json
	@if command -v npm >/dev/null; then cd widget && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "!!! npm is missing: the accessibility tests (axe-core) will be skipped"; fi

test: $(VENV)/.test-deps browser-deps $(AXE) lint
	$(PY) -m pytest

unit: $(VENV)/.test-deps
	$(PY) -m pytest tests/unit

lint: $(VENV)/.test-deps
	$(PY) -m ruff check server tests
	$(PY) -m mypy server/core

# Debian's Chromium for the browser tests (never a downloaded browser build).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "!!! /usr/bin/chromium is missing and we are not root: BROWSER TESTS WILL BE SKIPPED"; \
	    echo "!!! install it with: sudo apt-get install chromium"; \
	  fi; \
	fi

# Rebuild static/widget.js from widget/src (needs Node; the built file is committed).
widget:
	cd widget && npm ci --no-audit --no-fund && node build.mjs

bench: $(VENV)/.test-deps
	$(PY) tests/bench/shoppers.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
