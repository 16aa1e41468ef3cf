# `make demo` and `make test` do all the set-up on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT ?= results/chaotic-lstm

.PHONY: demo test lint venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/rnn-dyn chaotic-lstm --out $(DEMO_OUT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check rnn_dyn tests benchmarks notebooks
	$(BIN)/ruff format --check rnn_dyn tests benchmarks notebooks

# The test processes (two workers, notebook kernels, CLI and benchmark
# subprocesses) compile many of the same kernels: JAX's persistent cache
# shares them (with an empty cache: 451 tests in 12 min 8 s on this 2-core CPU).
test: lint
	MPLBACKEND=Agg RNN_DYN_QUICK=1 JAX_COMPILATION_CACHE_DIR=$(CURDIR)/$(VENV)/jax-cache \
	JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
	$(BIN)/python -m pytest -n 2 --nbmake tests notebooks

clean:
	rm -rf $(VENV) results
