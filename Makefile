# Two entry points for a fresh machine:
#   make demo     set up .venv, validate the default estimator on the quick suite of ground-truth tasks
#                 (prints a table, saves a plot), then a short run of the sentiment example on synthetic
#                 data (prints its test metrics and where its report and plot are)
#   make test     set up .venv, then `make lint` and the test suite (what CI runs, via .ci/run)
#   make lint     ruff (lint and format check) and mypy, changing nothing
#   make format   apply ruff's safe fixes and its formatter (what `make lint` still reports is fixed by hand)
#   make example  set up .venv, then only the sentiment example on synthetic data
# torch==2.13.0 is installed first on purpose: it is the CPU build these machines carry
# locally, and the package's looser "torch>=2.2" is then already satisfied.

PYTHON ?= python3
VENV   ?= .venv
# Where the demo writes (python -m benchmarks threads times it in a fresh folder, as a new user runs it).
DEMO_OUT ?= runs
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: setup demo example lint format test clean

$(VENV)/.installed: pyproject.toml
	@echo "setup 1/3: creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: installing torch==2.13.0 (CPU build)"
	@$(PIP) torch==2.13.0
	@echo "setup 3/3: installing miestim with its test, bench, faiss, example and docs extras"
	@$(PIP) -e ".[test,bench,faiss,example,docs]"
	@touch $@
	@echo "setup done"

setup: $(VENV)/.installed

demo: setup
	@echo "== 1/2: the default estimator against ground truth: miestim validate --suite quick =="
	@$(PY) -m miestim validate --suite quick --plot $(DEMO_OUT)/validate_quick.png
	@echo "== 2/2: the sentiment example on synthetic data, one epoch (make example: the full run) =="
	@$(PY) -m examples.sentiment train --out $(DEMO_OUT)/sentiment --epochs 1
	@echo "plot: $(DEMO_OUT)/sentiment/report.png"

example: setup
	$(PY) -m examples.sentiment train --out runs/sentiment

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Two workers of one thread each (tests/conftest.py): on the 2-core machines the suite runs on, torch's two
# OpenMP threads in one process spin against any other load (one estimate measured 13 s on one thread, 267 s on
# two beside a second busy process), while two single-threaded processes keep both cores busy.
test: lint
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .ruff_cache .mypy_cache runs
