# One place for the commands the README and CI use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast check lint typecheck format bench eval eval-wechat train-model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the package with its test tools

demo: $(STAMP) ## Run the whole job offline on bundled sample feeds (writes demo-output/)
	$(BIN)/newsletter demo --out demo-output

test: $(STAMP) ## Run the whole test suite (system tests included)
	$(BIN)/pytest -q

test-fast: $(STAMP) ## The tests without the slow system tests (subprocesses, browser, crash, corpus), on SQLite, on both cores
	NEWSLETTER_TEST_POSTGRES_URL= $(BIN)/pytest -q -m "not slow" -n 2

lint: $(STAMP)
	$(BIN)/ruff check newsletter tests bench
	$(BIN)/ruff format --check newsletter tests bench

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint typecheck test ## ruff, mypy, import contracts and the tests

format: $(STAMP)
	$(BIN)/ruff format newsletter tests bench
	$(BIN)/ruff check --fix newsletter tests bench

bench: $(STAMP) ## Benchmarks (not part of the tests); figures go in docs/performance.md
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_delivery.py
	$(BIN)/python bench/bench_limits.py

eval: $(STAMP) ## Relevance and sections, then financing, events and stories, on blind labels of real items (needs ../shared); then the detectors' regression sets
	$(BIN)/python bench/eval_reading.py --test
	$(BIN)/python bench/eval_wechat.py
	$(BIN)/python bench/eval_editorial.py

train-model: $(STAMP) ## Rebuild the shipped training features (from ../shared when present) and the shipped reading model
	$(BIN)/python bench/train_reading.py

eval-wechat: $(STAMP) ## Financing, events and stories against blind labels of real items, per split (needs ../shared/corpus)
	$(BIN)/python bench/eval_wechat.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
