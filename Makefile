# The two set-up commands are `make demo` and `make test`; both create .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.hartrace-installed
# torch/torchvision are pinned to the wheels this project is developed against.
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: venv demo test lint bench wheel-check clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(BIN)/hartrace demo

# The tests run in TEST_WORKERS processes (pytest-xdist), one file per process at a time so a file's
# fixtures are built once; each process does its tensor work on one thread, so the two cores are not oversubscribed.
TEST_WORKERS ?= 2
test: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Style, layering and types: ruff (lint and format), import-linter's contracts (.importlinter), mypy (strict on the public API).
lint: venv
	$(BIN)/ruff check hartrace tests bench
	$(BIN)/ruff format --check hartrace tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: venv
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

# The wheel as users get it: built, pip-installed into a fresh venv outside the repository, its demo and explorer run.
wheel-check: venv
	PYTHON=$(PYTHON) bash .ci/wheel-check

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
