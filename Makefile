# culturelens: `make run` sets up and runs the default study; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: setup run report test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

report: setup
	$(BIN)/snakemake --report results/report.html

lint: setup
	$(BIN)/snakemake --lint

test: setup lint
	$(BIN)/pytest

clean:
	rm -rf results logs .snakemake
