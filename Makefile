# Project-local virtual environment; everything installs with torch pinned (constraints.txt).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-slow lint type tox benchmarks clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; run 'make PYTHON=python3 ...' with a Python >= 3.10 (3.11 for torch 2.13.0)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

## The main job: QMIX and VDN on the default multigrid task, defaults throughout.
run: $(STAMP)
	$(BIN)/qmixbench run --env multigrid --algos qmix,vdn

## The default test suite (fast; CI runs this).
test: $(STAMP)
	$(BIN)/python -m pytest

## Heavier learning checks.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

## ruff (rules in pyproject's [tool.ruff]); `make lint FIX=1` applies fixes and formats.
lint: $(STAMP)
	$(BIN)/ruff check $(if $(FIX),--fix) .
	$(BIN)/ruff format $(if $(FIX),,--check) .

## mypy on the library packages qmixbench and qmixbench_envs ([tool.mypy]).
type: $(STAMP)
	$(BIN)/mypy

## The tox matrix (docs/testing.md); `make tox TOXARGS="-e py312"`. Under pyenv every installed
## Python is made visible to tox's interpreter discovery.
tox: $(STAMP)
	PYENV_VERSION="$${PYENV_VERSION:-$$(pyenv versions --bare 2>/dev/null | paste -sd: -)}" $(BIN)/tox $(TOXARGS)

## Every measurement file under benchmarks/ (speed, env speed, run size, SMAX), one torch thread (the bench scripts' own times add
## up to ~15 min); `make benchmarks ARGS="--quick --out /tmp/bench"` checks the script in seconds.
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/regenerate.py $(ARGS)

clean:
	rm -rf $(VENV) .tox .pytest_cache .mypy_cache .ruff_cache
