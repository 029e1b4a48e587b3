# Two entry points for a fresh machine:
#   make demo     set up .venv, validate every estimator against Gaussian ground truth (prints a table),
#                 then train the sentiment example on synthetic data (prints its test metrics)
#   make test     set up .venv, then `make lint` and the test suite (what CI runs, via .ci/run)
#   make lint     ruff (lint and format check) and mypy, changing nothing
#   make format   apply ruff's safe fixes and its formatter (what `make lint` still reports is fixed by hand)
#   make example  set up .venv, then only the sentiment example on synthetic data
# torch==2.13.0 is installed first on purpose: it is the CPU build these machines carry
# locally, and the package's looser "torch>=2.2" is then already satisfied.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: setup demo example lint format test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,bench,faiss,example,docs]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m benchmarks accuracy
	$(PY) -m examples.sentiment train --out runs/sentiment

example: setup
	$(PY) -m examples.sentiment train --out runs/sentiment

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache runs
