# The README's two commands: `make run` (the demo world on http://127.0.0.1:8000) and
# `make test` (lint, migrations check, the whole suite). Both set up .venv first, with
# only the extra they need (scripts/install.sh: uv, a stamp per extra).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL := PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/install.sh
STEP := sh scripts/step.sh
# pytest-xdist workers: one per core, each with its own test database. (pytest 9 drops
# xdist_group's grouping, so expensive test worlds are shared through files instead:
# see tests/demo/conftest.py.)
PYTEST_WORKERS ?= auto

export DJANGO_INSECURE_DEV_KEY ?= 1
# Python keeps the bytecode it compiles (as it does by default): where the environment
# sets PYTHONDONTWRITEBYTECODE, every process (the sync, each gunicorn worker, each test
# subprocess) would compile mlflow, Django and the catalogue again. The install does not
# precompile site-packages (scripts/install.sh says why).
export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test lint install install-demo install-test install-bench browser screenshots \
	bench-tools bench bench-quick runtime-check clean

install-demo:
	@$(INSTALL) demo

install-test:
	@$(INSTALL) test

install-bench:
	@$(INSTALL) bench

# Everything: the demo, the tests and the benchmark's tools.
install: install-bench

# Browser tests drive Debian's chromium; Playwright's own browser download can't work here.
browser:
	@sh scripts/install_debian_package.sh chromium

lint: install-test
	@$(STEP) "ruff check" $(BIN)/ruff check .
	@$(STEP) "ruff format --check" $(BIN)/ruff format --check .
	@$(STEP) "makemigrations --check" $(BIN)/python manage.py makemigrations --check --dry-run

test: install-test browser lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# docs/screenshots/: desktop (1280 px) and phone (390 px) shots of the main pages, written
# afresh by the layout tests' own run over the demo world (tests/browser/test_layout.py).
screenshots: install-test browser
	CATALOG_WRITE_SCREENSHOTS=1 $(BIN)/pytest -p no:cacheprovider tests/browser/test_layout.py \
		-k test_every_page_holds_its_layout

run: install-demo
	@$(BIN)/python -m demo.serve

# The README's deploying steps on the runtime install alone (a fresh venv under var/):
# migrate, sync over HTTP and from a sqlite tracking store, gunicorn, the main pages.
runtime-check: install-test
	$(BIN)/python scripts/runtime_check.py

# The load item drives the server with Debian's wrk; without it, a Python loader.
bench-tools:
	@sh scripts/install_debian_package.sh wrk || echo "no wrk: the load item uses its Python loader"

bench: install-bench bench-tools
	$(BIN)/python -m benchmarks.run

bench-quick: install-bench bench-tools
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf var/ .pytest_cache .ruff_cache
