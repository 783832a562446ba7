# The two commands of the README, and the tools around them.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv run --frozen

.PHONY: demo test lint bench setup dev sql

demo:  ## generate sample cohorts and load them through Dagster on the embedded default
	scripts/bootstrap.sh
	$(UV) energymobile demo

test:  ## lint and run every test (starts MariaDB and moto itself)
	scripts/bootstrap.sh test
	$(UV) ruff check energymobile energymobile_tests
	$(UV) pytest -q

dev:  ## the Dagster UI (webserver + daemon: sensors, automation) on the embedded default
	scripts/bootstrap.sh
	mkdir -p .energymobile/dagster && cp -n dagster.yaml .energymobile/dagster/
	DAGSTER_HOME=$(CURDIR)/.energymobile/dagster $(UV) dagster dev

lint:
	$(UV) ruff check energymobile energymobile_tests
	$(UV) ruff format --check energymobile energymobile_tests

sql:  ## regenerate sql/ (the DBA's DDL) from the Alembic revisions; a test checks it is current
	$(UV) python -m energymobile.storage.migrate sql sql

bench:  ## benchmarks with printed figures (not part of the tests)
	scripts/bootstrap.sh test
	$(UV) energymobile bench

setup:
	scripts/bootstrap.sh test
