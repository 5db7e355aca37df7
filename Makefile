# The project's verbs. Each target bootstraps .venv when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: help report test lab lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (analysis)" >/dev/null
	@touch $(STAMP)

report: $(STAMP)  ## render every notebook into reports/<as_of>/ (options: make report ARGS="--as-of 2011-09-30")
	$(BIN)/analysis report $(ARGS)

test: $(STAMP)  ## run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(ARGS)

lab: $(STAMP)  ## open JupyterLab on the notebooks with the project's kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks

# Notebooks are linted but not reformatted: ruff format would wrap the parameters cell's
# one-line-per-parameter layout that papermill's --help-notebook reads.
lint: $(STAMP)  ## ruff lint (code and notebooks) + format check (code)
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)  ## apply ruff formatting to the code
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)  ## scale benchmarks; results in benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:  ## remove rendered reports (keeps .venv)
	rm -rf reports/*/ reports/index.html
