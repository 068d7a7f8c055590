# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime

## Install and start Basalt on the embedded default (SQLite, in-process everything) at 127.0.0.1:8000.
run: $(VENV)/.runtime
	$(BIN)/python manage.py serve

# The files tests drive the real tus-js-client under Node (pinned by its package-lock.json).
TUS_JS := tests/files/node/node_modules/.package-lock.json
$(TUS_JS): tests/files/node/package-lock.json
	cd tests/files/node && npm ci --no-audit --no-fund --loglevel=error

# The Parse-face tests drive the real `parse` npm SDK under Node (pinned by its package-lock.json).
PARSE_JS := tests/parse/node/node_modules/.package-lock.json
$(PARSE_JS): tests/parse/node/package-lock.json
	cd tests/parse/node && npm ci --no-audit --no-fund --loglevel=error

## Install what the tests need and run the whole suite (DATABASE_URL/REDIS_URL select PostgreSQL+Redis).
test: $(VENV)/.dev $(TUS_JS) $(PARSE_JS)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
