# cnnviz: `make run` starts the app, `make test` runs every test (browser tests included).
# Both create .venv and install requirements.txt on first use (again only when it changes).

PYTHON ?= python3
PORT ?= 8501
ADDRESS ?= 127.0.0.1
PYTEST_ARGS ?=

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test chromium nginx postgresql bench clean distclean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -r requirements.txt
	touch $@

run: $(STAMP)
	PORT=$(PORT) ADDRESS=$(ADDRESS) PYTHON=$(PY) scripts/serve

# Debian packages the tests use for real: chromium (browser tests), nginx (the classroom proxy),
# postgresql (the class board).
chromium:
	@scripts/install-debian chromium chromium

nginx:
	@scripts/install-debian nginx-light nginx

# PostgreSQL for the class board's tests (they start their own server with initdb and pg_ctl).
postgresql:
	@scripts/install-debian postgresql pg_ctlcluster

# In CI (CI=true) the slow lane runs too: every one-click experiment once at its default size (about 3 minutes).
test: $(STAMP) chromium nginx postgresql
	CNNVIZ_SLOW_TESTS=$${CNNVIZ_SLOW_TESTS:-$${CI:+1}} $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@set -e; for f in bench/*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks in bench/"; exit 1; }; \
		echo "== $$f"; $(PY) "$$f"; \
	done

clean:
	rm -rf artifacts .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
