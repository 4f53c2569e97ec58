# The README's two commands: `make run` (the demo world on http://127.0.0.1:8000) and
# `make test` (lint, migrations check, the whole suite). Both set up .venv first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever the project's dependency list changes.
INSTALLED := $(VENV)/.installed

export DJANGO_INSECURE_DEV_KEY ?= 1

.PHONY: run test lint install browser bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	touch $@

install: $(INSTALLED)

# Browser tests drive Debian's chromium; Playwright's own browser download can't work here.
browser:
	@command -v chromium >/dev/null 2>&1 || sh scripts/install_chromium.sh

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

test: $(INSTALLED) browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

run: $(INSTALLED)
	$(BIN)/python -m demo.serve

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.run

bench-quick: $(INSTALLED)
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf var/ .pytest_cache .ruff_cache
