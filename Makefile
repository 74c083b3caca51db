# Two commands on a fresh machine: `make run` (install + start the app), `make test` (install + run the tests).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run sync monitor check test test-fast index tune bench bench-scale load browser nginx systemd postgresql axe screenshots

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(PY) app.py

# Fetch new and changed weeks from the DataTalks.Club website into data/ and rebuild the index;
# a running `make run` serves them without a restart.
sync: $(VENV)/.installed
	$(PY) -m assistant.sync

# The monitoring dashboard over the query log, on 127.0.0.1:7861.
monitor: $(VENV)/.installed
	$(PY) -m assistant.monitor

index: $(VENV)/.installed
	$(PY) -m assistant.index

# The model tuned on the archives' own question-answer pairs (many minutes; docs/tuning.md); a running app swaps it in.
tune: $(VENV)/.installed
	$(PY) -m assistant.index --tune

bench: $(VENV)/.installed
	$(PY) -m assistant.bench --data data --questions eval/dev.jsonl

# The index at 100k, 300k and 1M answers made from the real archive (benchmarks/scale.py; many minutes, ~8 GB).
bench-scale: $(VENV)/.installed
	$(PY) benchmarks/scale.py --index index --questions eval/dev.jsonl

load: $(VENV)/.installed
	$(PY) benchmarks/load.py --api json
	$(PY) benchmarks/load.py --api json --clients 1
	$(PY) benchmarks/load.py --api gradio

# The browser tests drive Debian's chromium; install it when it is missing and we may.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }

# The query-log tests run every case on SQLite and on a real PostgreSQL server they start themselves (initdb and
# pg_ctl in a temporary folder); install Debian's PostgreSQL 15 when it is missing and we may.
postgresql:
	@test -x /usr/lib/postgresql/15/bin/pg_ctl || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }

# tests/test_nginx.py runs deploy/nginx.conf in Debian's nginx (unprivileged, on loopback) with an openssl certificate.
nginx:
	@test -x /usr/sbin/nginx && command -v openssl >/dev/null || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nginx-light openssl; }

# systemd-analyze, which checks the units in deploy/ (it runs without systemd as PID 1, as in a container).
systemd:
	@test -x /usr/bin/systemd-analyze || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq systemd; }

# axe-core, which the browser tests inject to check accessibility; pinned, installed from npm into .cache/.
AXE_VERSION := 4.11.0
AXE := .cache/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE):
	npm install --prefix .cache/axe --no-audit --no-fund --silent axe-core@$(AXE_VERSION)

# The shape first (lint, format, the stages' import order in pyproject.toml), then the tests.
check: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: check browser nginx systemd postgresql $(AXE)
	$(PY) -m pytest -q

# The fast tier: no model load, no browser; well under a minute.
test-fast: check nginx systemd postgresql
	$(PY) -m pytest -q -m "not slow and not browser"

# Refresh the README's images from the browser tests.
screenshots: $(VENV)/.installed browser $(AXE)
	SCREENSHOTS=docs $(PY) -m pytest -q -m browser -k screenshot
