# halo-c1: every target bootstraps the virtualenv first, so each works on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt | sha1sum | cut -c1-12)
export PYTHONPATH := $(CURDIR):$(CURDIR)/include
export UV_COMPILE_BYTECODE := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: help venv system-deps test run lint fmt proto proto-check bench bench-scale lock airflow airflow-standalone airflow-stop docs docs-serve clean

help:
	@echo "make run    - run the DAG end to end against the bundled HaloITSM simulator"
	@echo "make test   - run every test"
	@echo "make lint   - ruff (with the Airflow AIR rules)"
	@echo "make bench  - run the benchmarks under bench/"
	@echo "make bench-scale - the largest reported tenant end to end (1M users, 3.4M grants; ~15 min)"
	@echo "make proto  - regenerate include/halo_c1/c1z/pb and include/halo_c1/c1/pb from the .proto files"
	@echo "make airflow-standalone / airflow-stop - the real scheduler and UI on http://127.0.0.1:8080 (login: admin)"
	@echo "make airflow ARGS='dags list' - the Airflow CLI on this project (same as scripts/airflow dags list)"
	@echo "make docs   - build the documentation site into site/ (strict: a broken link fails); make docs-serve serves it on http://127.0.0.1:8000"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode --quiet -r requirements-dev.txt
	# The project itself, editable: the `halo-c1` command in $(BIN) runs this checkout's code.
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

system-deps:
	scripts/system_deps.sh

test: venv system-deps
	$(BIN)/python -m pytest

# make run CONF='{"allow_mass_deletion": true}' passes run params; make run ARGS=--mass-deletion (see --help).
run: venv
	$(BIN)/python -m scripts.run_local $(if $(CONF),--conf "$$CONF") $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

proto: venv
	$(BIN)/python -m halo_c1.c1z.codegen
	$(BIN)/python -m halo_c1.c1.codegen

proto-check: venv
	$(BIN)/python -m halo_c1.c1z.codegen --check
	$(BIN)/python -m halo_c1.c1.codegen --check

bench: venv
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/transform_validate.py
	$(BIN)/python bench/c1z.py
	$(BIN)/python bench/delivery_memory.py
	$(BIN)/python bench/dag_parse.py

bench-scale: venv
	$(BIN)/python bench/scale.py

lock:
	$(BIN)/uv pip compile -q --python-version 3.11 requirements.in -o requirements.txt
	$(BIN)/uv pip compile -q --python-version 3.11 requirements-dev.in -o requirements-dev.txt

airflow: venv
	$(BIN)/python -m scripts.airflow_cli $(ARGS)

airflow-standalone: venv
	$(BIN)/python -m scripts.standalone start

airflow-stop: venv
	$(BIN)/python -m scripts.standalone stop

docs: venv
	$(BIN)/mkdocs build --strict

docs-serve: venv
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

clean:
	rm -rf .airflow .airflow_test .lake .pytest_cache site
