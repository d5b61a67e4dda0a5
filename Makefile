# nina_session developer entry points. `make test` works from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := test

# Python 3.13 by explicit path: pyenv's 3.13.0, else a system python3.13.
PY313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13.0/bin/python3.13) $(wildcard $(HOME)/.pyenv/versions/3.13.*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REQS := requirements/test.txt requirements/ha-2025.4.4-constraints.txt

.PHONY: venv test lint typecheck pytest clean bench soak compat compat-monthly validate demo e2e

$(STAMP): $(REQS)
	@test -n "$(PY313)" || { echo "No Python 3.13 found (pyenv 3.13.0 or python3.13)"; exit 1; }
	@echo "Installing into $(VENV) with $(PY313)"
	@test -x $(PY) || $(PY313) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -r requirements/test.txt -c requirements/ha-2025.4.4-constraints.txt
	@touch $(STAMP)

venv: $(STAMP)

CODE := $(wildcard custom_components simulator tests bench tools soak demo)
lint: $(STAMP)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# Engine and simulator tests run without Home Assistant's pytest plugin (they must not need HA);
# the integration tests use pytest-homeassistant-custom-component.
# Coverage of the whole package is measured across both runs; the HA glue (the package's own
# modules, not engine/) must stay above COV_MIN percent (checked on full runs only).
HA_FREE_TESTS := $(wildcard tests/engine tests/simulator tests/bench tests/reliability tests/tools tests/card tests/e2e)
COV := --cov=custom_components/nina_session --cov-report=
COV_GLUE := custom_components/nina_session/*.py
COV_MIN := 95
pytest: $(STAMP)
	@rm -f .coverage
	$(PY) -m pytest -p no:homeassistant $(HA_FREE_TESTS) $(COV) $(PYTEST_ARGS)
	@if ls tests/integration/test_*.py >/dev/null 2>&1; then $(PY) -m pytest tests/integration $(COV) --cov-append $(PYTEST_ARGS); fi
	@echo "coverage: integration glue $$($(PY) -m coverage report --include='$(COV_GLUE)' --format=total)%, whole package $$($(PY) -m coverage report --format=total)% (details: $(PY) -m coverage report)"
ifeq ($(PYTEST_ARGS),)
	@$(PY) -m coverage report --include='$(COV_GLUE)' --fail-under=$(COV_MIN) >/dev/null || { echo "coverage: the integration glue is under $(COV_MIN)%"; exit 1; }
endif

test: lint typecheck validate pytest

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache

# Benchmarks (not part of `make test`): ratios against baselines measured in the same run,
# written to bench/results.json. QUICK=1: smaller sizes, under a minute.
bench: $(STAMP)
	$(PY) -m bench $(if $(QUICK),--quick)

# Home Assistant API compatibility: every homeassistant.* name we use, checked in the sources of
# 2025.4.4 and of the newest release (wheels downloaded, never installed, into build/compat).
# When the package index cannot be reached it prints one "compat: skipped (...)" line and succeeds.
compat: $(STAMP)
	$(PY) -m tools.compat --newest

# Every month's first release since 2025.4.4, plus a search (from 2024.1) for the oldest release
# that has everything we use.
compat-monthly: $(STAMP)
	$(PY) -m tools.compat --monthly

# hassfest-style checks: manifest, strings/translations, config flow keys, services, icons,
# quality scale (hassfest itself is not shipped in the homeassistant wheel).
validate: $(STAMP)
	$(PY) -m tools.validate

# Soak with ground truth: a week of nights under a seeded fault schedule (QUICK=1: two short
# nights, under a minute). LOAD=1: 200 events/s for 10 min (QUICK=1: 30 s) instead; with HA=1
# through a config entry in Home Assistant's test harness, its loop lag logged (QUICK=1: 20 s).
# More: make soak SOAK_ARGS="--seed 3 --nights 14 -v"
soak: $(STAMP)
ifneq ($(and $(LOAD),$(HA)),)
	NINA_LOAD_SECONDS=$(if $(QUICK),20,600) $(PY) -m pytest tests/integration/test_load.py --log-cli-level=INFO $(PYTEST_ARGS)
else
	$(PY) -m soak $(if $(QUICK),--quick) $(if $(LOAD),--load) $(SOAK_ARGS)
endif

# A real Home Assistant with the integration, fed by the simulator; login demo / nina-demo.
# KEEP=1 keeps build/demo/config (users, history) from the last run; more flags:
# make demo DEMO_ARGS="--speed 60 --night simple"
demo: $(STAMP)
	$(PY) demo/run.py $(if $(KEEP),--keep) $(DEMO_ARGS)

# The session card in headless Chromium against the demo (needs chromium, node, npm).
e2e: $(STAMP)
	NINA_E2E=1 $(PY) -m pytest -p no:homeassistant tests/e2e -rs $(PYTEST_ARGS)
