# Two commands for a fresh machine: `make run` (pipeline on the built-in dataset) and
# `make test`. Both create .venv and install mer into it when needed.

VENV ?= .venv
PYTHON ?= python3
CORES ?= all
BIN := $(VENV)/bin
STAMP := $(VENV)/.mer-installed

.PHONY: setup run test clean-results

setup: $(STAMP)

# Reinstall only when the dependency list changes (the package itself is editable).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" snakemake --cores $(CORES)

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" pytest

clean-results:
	rm -rf results reports/tables reports/figures logs
