# The README's two commands: `make run` (the demo world on http://127.0.0.1:8000) and
# `make test` (lint, migrations check, the whole suite). Both set up .venv first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever the project's dependency list changes.
INSTALLED := $(VENV)/.installed

export DJANGO_INSECURE_DEV_KEY ?= 1

.PHONY: run test lint install browser bench-tools bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	touch $@

install: $(INSTALLED)

# Browser tests drive Debian's chromium; Playwright's own browser download can't work here.
browser:
	@sh scripts/install_debian_package.sh chromium

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: $(INSTALLED) browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

run: $(INSTALLED)
	$(BIN)/python -m demo.serve

# The load item drives the server with Debian's wrk; without it, a Python loader.
bench-tools:
	@sh scripts/install_debian_package.sh wrk || echo "no wrk: the load item uses its Python loader"

bench: $(INSTALLED) bench-tools
	$(BIN)/python -m benchmarks.run

bench-quick: $(INSTALLED) bench-tools
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf var/ .pytest_cache .ruff_cache
