# Two commands on a fresh machine: `make run` (install + start the app), `make test` (install + run the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test index bench load browser

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(PY) app.py

index: $(VENV)/.installed
	$(PY) -m assistant.index

bench: $(VENV)/.installed
	$(PY) -m assistant.bench

load: $(VENV)/.installed
	$(PY) benchmarks/load.py

# The browser tests drive Debian's chromium; install it when it is missing and we may.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }

test: $(VENV)/.installed browser
	$(PY) -m pytest -q
