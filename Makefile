# `make demo` and `make test` do all the set-up on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT ?= results/chaotic-lstm

.PHONY: demo test test-slow test-isa lint venv results clean

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
	$(BIN)/ruff check rnn_dyn tests benchmarks notebooks tools conftest.py
	$(BIN)/ruff format --check rnn_dyn tests benchmarks notebooks tools conftest.py

# The test processes (two workers, notebook kernels, CLI and benchmark
# subprocesses) compile many of the same kernels: JAX's persistent cache
# shares them. `make test` runs all but the `slow` tier (tests marked slow and
# the notebooks named in conftest.py); `make test-slow` runs that tier.
# `make test-isa` runs the fast tier with XLA's CPU code limited to ISA
# (SSE4_2: no FMA, 128-bit vectors), so a check that only holds with this
# CPU's rounding fails here, not on the next machine.
PYTEST := MPLBACKEND=Agg RNN_DYN_QUICK=1 JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
	$(BIN)/python -m pytest -n 2 --nbmake tests notebooks
ISA ?= SSE4_2

test: lint
	JAX_COMPILATION_CACHE_DIR=$(CURDIR)/$(VENV)/jax-cache $(PYTEST) -m "not slow"

test-slow: $(VENV)/.installed-test
	JAX_COMPILATION_CACHE_DIR=$(CURDIR)/$(VENV)/jax-cache $(PYTEST) -m slow

# XLA keys its cache on the flags, but a cache of its own keeps the tiers apart.
test-isa: $(VENV)/.installed-test
	XLA_FLAGS=--xla_cpu_max_isa=$(ISA) \
	JAX_COMPILATION_CACHE_DIR=$(CURDIR)/$(VENV)/jax-cache-$(ISA) $(PYTEST) -m "not slow"

# The README's generated blocks from the JSON sources in docs/results/ (reads
# files only; `python tools/results.py run NAME -- rnn-dyn ... --json` makes a source).
results:
	$(PYTHON) tools/results.py render

clean:
	rm -rf $(VENV) results
