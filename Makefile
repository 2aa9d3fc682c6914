# SmartGate: `make demo` runs the system on its bundled site; `make test` runs the tests.
# Both create .venv and install the pinned dependencies (requirements.lock) and system packages first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint lock setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml Makefile scripts/setup-system.sh
	bash scripts/setup-system.sh
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smartgate demo $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/pytest -q tests benchmarks --benchmark-disable $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .

# Re-pin after editing requirements*.in (run on the machine kind CI uses). The lock is the complete set, so
# setup installs it with --no-deps: exactly these versions, nothing resolved again.
lock:
	rm -rf /tmp/smartgate-lock-venv
	$(PY) -m venv /tmp/smartgate-lock-venv
	/tmp/smartgate-lock-venv/bin/pip install --quiet -r requirements.in
	/tmp/smartgate-lock-venv/bin/pip install --quiet --no-deps -r requirements-nodeps.in
	/tmp/smartgate-lock-venv/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf /tmp/smartgate-lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
