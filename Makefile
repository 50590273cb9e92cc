# labstac: the two commands that matter are `make up` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
export VENV

.PHONY: up down test test-cluster lint venv services services-down services-status status help bench

help:
	@echo "make up               services, demo GitLab, index, API, worker, beat: ready to search"
	@echo "make up MLFLOW=1      the same, with an MLflow tracking server and a registered model"
	@echo "make down             stop everything make up started"
	@echo "make test             ruff, mypy and the whole test suite on real services"
	@echo "make test-cluster     the tests on a local three-node OpenSearch cluster (CI runs both)"
	@echo "make bench            labstac search against stac-fastapi-opensearch (about 30 min)"
	@echo "make services         start Redis and OpenSearch (installs what is missing)"
	@echo "make services-down    stop them"
	@echo "make services-status  where they listen, where their logs are"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "venv: $(PYTHON) is missing: labstac needs Python 3.11" >&2; exit 1; }
	@[ -x $(VENV)/bin/python ] || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --upgrade pip
	@$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

services:
	@scripts/services.sh up

services-down:
	@scripts/services.sh down

services-status:
	@scripts/services.sh status

up: venv
	@MLFLOW=$(MLFLOW) scripts/stack.sh up

down:
	@scripts/stack.sh down

status: venv
	@scripts/stack.sh status
	@set -a; . var/labstac.env; set +a; $(VENV)/bin/labstac status

test:
	@scripts/test.sh

test-cluster:
	@LABSTAC_TEST_SUITE=cluster scripts/test.sh

bench: venv
	@scripts/services.sh up
	@$(VENV)/bin/python bench/search.py $(BENCH_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
