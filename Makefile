# Two entry points for a fresh machine:
#   make demo   set up .venv, then validate every estimator against Gaussian ground truth (prints a table)
#   make test   set up .venv, then run the test suite
# torch==2.13.0 is installed first on purpose: it is the CPU build these machines carry
# locally, and the package's looser "torch>=2.2" is then already satisfied.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: setup demo test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,bench,faiss,example]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m benchmarks accuracy

test: setup
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
