# The README's commands. Each creates the virtual environment on first use.
STACK ?= dev
PROJECT_DIR ?= .
VENV  ?= .venv
PY    := $(VENV)/bin/python
UV    := $(VENV)/bin/uv
PYTHON ?= python3
# Compiled modules are cached between runs (some environments turn that off): each test worker
# and each CLI run imports the AWS SDK again otherwise.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: plan test lint typecheck bench mutants venv semgrep deploy-venv lock clean

venv: $(VENV)/.installed

# The code scan's semgrep, installed from the hash-locked requirements embedded in its buildspec
# (its pins clash with the test tools', so it has a virtual environment of its own). The tests run
# the real semgrep, with the buildspec's rules, on fixtures with planted findings.
SEMGREP_VENV ?= .venv-semgrep
semgrep: $(SEMGREP_VENV)/.installed

$(SEMGREP_VENV)/.installed: buildspecs/scan-code.yml $(UV)
	@test -x $(SEMGREP_VENV)/bin/python || $(PYTHON) -m venv $(SEMGREP_VENV)
	@echo "installing semgrep (the code scan's lock, in buildspecs/scan-code.yml)"
	@sed -n '/--- lock: generated/,/--- end of lock/p' buildspecs/scan-code.yml | sed 's/^ *//' | grep -v '^#' \
		> $(SEMGREP_VENV)/requirements.txt
	@$(UV) pip install --quiet --python $(SEMGREP_VENV)/bin/python --require-hashes --only-binary :all: \
		--requirement $(SEMGREP_VENV)/requirements.txt
	@touch $@

# Two hash-locked sets, installed by uv (a tenth of pip's time): the runtime (`make plan`, `pulumi
# up`) and, on top of it, the test and lint tools (`make test`). uv itself comes from PyPI, by hash.
$(UV): requirements-uv.lock
	@test -x $(PY) || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing uv (requirements-uv.lock)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-uv.lock
	@touch $@

$(VENV)/.runtime: requirements.lock $(UV)
	@echo "installing the runtime dependencies (requirements.lock, $$(grep -c '==' requirements.lock) packages)"
	@$(UV) pip install --quiet --python $(PY) --require-hashes --no-deps -r requirements.lock
	@touch $@

$(VENV)/.installed: requirements-dev.lock $(VENV)/.runtime
	@echo "installing the test and lint tools (requirements-dev.lock, $$(grep -c '==' requirements-dev.lock) packages)"
	@$(UV) pip install --quiet --python $(PY) --require-hashes --no-deps -r requirements-dev.lock
	@touch $@

## deploy-venv: what `pulumi up` runs in: the program's .venv and the policy pack's policy/venv,
## runtime requirements only, every package pinned by its hash (no test tools next to deploy credentials)
deploy-venv:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	@test -x policy/venv/bin/python || $(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		-r policy/requirements.lock

## lock: regenerate the hash-locked sets from the pins in requirements*.txt
LOCK := $(UV) pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"
lock: $(UV)
	$(LOCK) requirements.txt -o requirements.lock
	$(LOCK) requirements-dev.txt -o requirements-dev.lock
	$(LOCK) requirements-uv.txt -o requirements-uv.lock
	$(LOCK) policy/requirements.txt -o policy/requirements.lock

## plan: evaluate a stack offline under mocks and print what it would create (STACK=dev|staging|prod)
plan: $(VENV)/.runtime
	@$(PY) -m components.plan $(STACK) --project-dir $(PROJECT_DIR)

## test: lint, type-check and run the test suite, offline
test: venv semgrep lint typecheck
	SEMGREP_BIN=$(abspath $(SEMGREP_VENV))/bin/semgrep $(PY) -m pytest -n auto --dist worksteal

## mutants: one regression per row of SECURITY.md, each of which the row's tests must catch
mutants: venv semgrep
	SEMGREP_BIN=$(abspath $(SEMGREP_VENV))/bin/semgrep $(PY) -m tests.mutation

## bench: offline evaluation time and memory for 1, 10 and 50 services
bench: venv
	@$(PY) -m benchmarks.evaluate

lint: venv
	$(VENV)/bin/ruff check .

## typecheck: pyright over the components, the program and the example (pyrightconfig.json), with
## pulumi-aws's own types; pyright and node both come from PyPI (hash-locked), no system node needed
typecheck: venv
	PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(VENV)/bin/pyright

clean:
	rm -rf $(VENV) $(SEMGREP_VENV) .pytest_cache .ruff_cache build dist *.egg-info
