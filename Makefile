# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create (or reuse) .venv in the repo and install what is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synthts-installed

.PHONY: demo test venv lint clean-venv

venv: $(STAMP)

# torch==2.13.0 first: it is a local CPU wheel here, and installing it before the project means
#   the project's torch>=2.4 is already satisfied, so pip never fetches a multi-GB CUDA build.
# timesynth with --no-deps: its pins (symengine==0.4, jitcdde==1.4) do not build on Python 3.11;
#   its real needs (numpy, scipy, sympy, jitcdde>=1.8, symengine) are the project's dependencies.
$(STAMP): pyproject.toml Makefile examples/synthts-example-plugin/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps timesynth==0.2.4
	$(BIN)/pip install -q -e '.[dev]' -e examples/synthts-example-plugin
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/synthts demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
