# Two commands for a fresh machine: `make run` (pipeline on the built-in dataset) and
# `make test`. Both create .venv and install mer into it when needed.

VENV ?= .venv
PYTHON ?= python3
CORES ?= all
BIN := $(VENV)/bin
STAMP := $(VENV)/.mer-installed

.PHONY: setup run test clean-results

setup: $(STAMP)

# Reinstall only when the dependency list changes (the package itself is editable). The
# last step compiles librosa's numba functions into their on-disk cache (~30 CPU-s) here,
# not in the first pipeline jobs, which would wait for each other (mer.runtime.import_librosa).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -c "from mer.runtime import import_librosa; import_librosa()"
	touch $(STAMP)

# After a hard kill Snakemake's lock stays behind; `mer unlock-stale` removes it only when no
# snakemake on this machine works here (docs/reliability.md), so `make run` always resumes.
run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" mer unlock-stale .
	PATH="$(CURDIR)/$(BIN):$$PATH" snakemake --cores $(CORES)

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" pytest

clean-results:
	rm -rf results reports/tables reports/figures logs

# The GPU check (docs/gpu.md): CPU/CUDA parity, training throughput and memory, N jobs per
# GPU, a tiny workflow run on CUDA, the paper grid's GPU-hours; ~4-5 min on one GPU. Needs
# no `make setup`: it uses .venv or a system python3 whose torch sees the GPU.
# `make gpu-check GPU_CHECK_ARGS=--short` runs its tiny sizes (on the CPU without a GPU).
GPU_REPORT ?= benchmarks/results/gpu.md
GPU_CHECK_ARGS ?=
.PHONY: gpu-check
gpu-check:
	bash benchmarks/gpu_run.sh $(GPU_REPORT) $(GPU_CHECK_ARGS)
