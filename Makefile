# kbanalysis — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLE := data/sample
# statsforecast 2.1.1 and fugue 0.9.7 declare pandas<3 although they run on pandas 3 (Nixtla/statsforecast#1182):
# installed pinned and without their dependency pins; their other run-time deps are in pyproject.toml.
STATSFORECAST := statsforecast==2.1.1 coreforecast==0.0.20 utilsforecast==0.2.17 fugue==0.9.7 triad==1.0.4 adagio==0.2.6
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.DEFAULT_GOAL := help
.PHONY: help setup report test test-fast test-property test-notebooks bench bench-forecast sample clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kbanalysis needs Python 3.11+ (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(STATSFORECAST)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

setup: $(STAMP) ## create .venv with Python 3.11+ and install the package with its dev extras

report: $(STAMP) ## run the whole audit on the bundled sample into reports/sample/
	$(BIN)/kbanalysis run $(SAMPLE) --out reports/sample

test: $(STAMP) ## run every test: package, doctests, notebooks (nbval)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q
	$(BIN)/python -m pytest -q -p no:xdist --nbval-lax notebooks/

test-fast: $(STAMP) ## the package tests only
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

test-property: $(STAMP) ## the slow property set: 250 damaged cases through validate, 5 through run (a few minutes)
	KB_PROPERTY_SLOW=1 $(BIN)/python -m pytest -n 2 -q -m property_slow tests/test_damage_property.py

bench: $(STAMP) ## benchmark on large generated cases (figures into reports/bench/)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python scripts/bench.py

bench-forecast: $(STAMP) ## the reconciled forecast against statsforecast's peers on generated shapes and real histories (prints figures)
	$(BIN)/python scripts/bench_forecast.py
	$(BIN)/python scripts/bench_forecast_real.py

sample: $(STAMP) ## regenerate the bundled sample case data/sample/
	rm -rf $(SAMPLE) && $(BIN)/kbanalysis sample $(SAMPLE) --clients 400 --seed 7

clean: ## remove the virtualenv and generated reports
	rm -rf $(VENV) reports/sample reports/bench
