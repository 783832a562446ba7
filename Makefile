# The two commands of the README, and the tools around them.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv run --frozen
PYTHON_DIRS := energymobile energymobile_tests benchmarks

.PHONY: demo test unit lint bench mysql-dev pg-dev setup dev sql docs

demo:  ## generate sample cohorts and load them through Dagster on the embedded default
	scripts/bootstrap.sh
	$(UV) energymobile demo

test:  ## lint, check the code location with dg, run every test (starts its own servers)
	scripts/bootstrap.sh test
	$(UV) ruff check $(PYTHON_DIRS)
	$(UV) dg check defs
	$(UV) dg list defs
	$(UV) pytest -q

unit:  ## the unit tests alone: no server, no Dagster run (seconds)
	scripts/bootstrap.sh
	$(UV) pytest -q -m unit

dev:  ## the Dagster UI (dg dev: webserver + daemon, sensors, automation) on the embedded default
	scripts/bootstrap.sh
	$(UV) python -m energymobile.instance --into .energymobile/dagster
	DAGSTER_HOME=$(CURDIR)/.energymobile/dagster $(UV) dg dev

lint:
	$(UV) ruff check $(PYTHON_DIRS)
	$(UV) ruff format --check $(PYTHON_DIRS)

sql:  ## regenerate sql/ (the DBA's DDL) from the Alembic revisions; a test checks it is current
	$(UV) python -m energymobile.storage.migrate sql sql

docs:  ## regenerate docs/data-dictionary.md and the Athena table of docs/s3.md from energymobile/dictionary.py; a test checks they are current
	$(UV) python -m energymobile.dictionary docs

bench:  ## benchmarks with printed figures (not part of the tests); e.g. ARGS="--only ingest --quick"
	scripts/bootstrap.sh test
	$(UV) python -m benchmarks $(ARGS)

mysql-dev:  ## a throwaway local MariaDB until Ctrl-C; prints the ENERGYMOBILE_DATABASE_URL to export
	scripts/bootstrap.sh test
	$(UV) python -m energymobile_tests.support.dev_server mariadb $(ARGS)

pg-dev:  ## a throwaway local PostgreSQL until Ctrl-C; prints the ENERGYMOBILE_DATABASE_URL to export
	scripts/bootstrap.sh test
	$(UV) python -m energymobile_tests.support.dev_server postgres $(ARGS)

setup:
	scripts/bootstrap.sh test
