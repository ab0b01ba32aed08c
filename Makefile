# The README's commands. Each creates the virtual environment on first use.
STACK ?= dev
PROJECT_DIR ?= .
VENV  ?= .venv
PY    := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: plan test lint bench venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

## plan: evaluate a stack offline under mocks and print what it would create (STACK=dev|staging|prod)
plan: venv
	@$(PY) -m components.plan $(STACK) --project-dir $(PROJECT_DIR)

## test: lint and run the test suite, offline
test: venv lint
	$(PY) -m pytest -n auto

## bench: offline evaluation time and memory for 1, 10 and 50 services
bench: venv
	@$(PY) -m benchmarks.evaluate

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
