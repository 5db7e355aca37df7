# The project's verbs. Each target bootstraps .venv when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: help report test test-fast lab lint format bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first use, or pyproject.toml changed): the project and its"
	@echo "dependencies (pandas, scikit-learn, lifetimes, DuckDB, papermill, JupyterLab, PySpark ...),"
	@echo "about 1.7 GB. Usually 2-5 minutes; later runs start at once."
	@test -x $(BIN)/python || { echo "[1/4] creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "[2/4] upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "[3/4] installing the project and its dependencies (the long step)"
	@$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	@echo "[4/4] registering the Jupyter kernel 'python3' for the notebooks"
	@$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (analysis)" >/dev/null
	@touch $(STAMP)
	@echo "$(VENV) ready."

report: $(STAMP)  ## render every notebook into reports/<as_of>/ (options: make report ARGS="--as-of 2011-09-30")
	$(BIN)/analysis report $(ARGS)

test: $(STAMP)  ## run the whole test suite (about 10 minutes on 2 cores)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(ARGS)

test-fast: $(STAMP)  ## the tests that run no notebook and fit no full dataset (under 2 minutes)
	$(BIN)/python -m pytest -n 2 -m "not slow" $(ARGS)

lab: $(STAMP)  ## open JupyterLab on the notebooks with the project's kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

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
