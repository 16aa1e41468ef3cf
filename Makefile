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

test: lint
	MPLBACKEND=Agg RNN_DYN_QUICK=1 $(BIN)/python -m pytest -n 2 --nbmake tests notebooks

clean:
	rm -rf $(VENV) results
