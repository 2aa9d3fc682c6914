# SmartGate: `make demo` runs the system on its bundled site; `make test` runs the tests.
# Both create .venv and install the pinned dependencies (requirements.lock) and system packages first.
# `make test` and `make train` also install the training extras (requirements-train.lock: torch, ultralytics);
# `make demo` does not need them.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TRAIN_STAMP := $(VENV)/.installed-train
LOCK_VENV := /tmp/smartgate-lock-venv

.PHONY: demo test bench lint lock setup train train-setup clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml Makefile scripts/setup-system.sh
	bash scripts/setup-system.sh
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The training extras, on top of the base set: exactly the pinned versions, nothing resolved again.
$(TRAIN_STAMP): $(STAMP) requirements-train.lock
	$(BIN)/pip install --quiet --no-deps -r requirements-train.lock
	touch $(TRAIN_STAMP)

train-setup: $(TRAIN_STAMP)

# The recordings replay until Ctrl-C, so the control room (http://127.0.0.1:8000) stays live to look at.
demo: $(STAMP)
	$(BIN)/smartgate demo --loop $(ARGS)

test: $(STAMP) $(TRAIN_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/pytest -q tests benchmarks --benchmark-disable $(ARGS)

# e.g. make train ARGS="--quick --out /tmp/quick"; uses the GPU when torch sees one
train: $(TRAIN_STAMP)
	$(BIN)/smartgate train $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .

# Re-pin after editing requirements*.in (run on the machine kind CI uses). The lock is the complete set, so
# setup installs it with --no-deps: exactly these versions, nothing resolved again. The training extras are
# resolved on top of the base pins (-c), and their lock holds only what they add, less opencv-python.
lock:
	rm -rf $(LOCK_VENV)
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -r requirements.in
	$(LOCK_VENV)/bin/pip install --quiet --no-deps -r requirements-nodeps.in
	$(LOCK_VENV)/bin/pip freeze --exclude-editable > requirements.lock
	$(LOCK_VENV)/bin/pip install --quiet -c requirements.lock -r requirements-train.in
	{ echo "# Training extras (requirements-train.in), pinned; installed with --no-deps on top of requirements.lock."; \
	  echo "# opencv-python is left out on purpose: opencv-python-headless (requirements.lock) provides cv2."; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | grep -vxFf requirements.lock | grep -vi '^opencv-python=='; \
	} > requirements-train.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
