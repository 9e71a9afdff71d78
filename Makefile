# The project's entry points. `make book` and `make test` set up everything themselves on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BOOK_ENV := CONTRASTIVE_BOOK_BUILD=1 PYDEVD_DISABLE_FILE_VALIDATION=1
# Another records folder for the book, made absolute: the chapters run in their own folders.
override export CONTRASTIVE_RESULTS := $(if $(CONTRASTIVE_RESULTS),$(abspath $(CONTRASTIVE_RESULTS)))

.PHONY: install book check test browser-deps clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

## book: build the HTML book into _build/html, warnings as errors. Executed chapters are cached
## (_build/.jupyter_cache, keyed by each notebook's code); the cache (and Sphinx's environment) is dropped whenever what the
## chapters compute from changes: the package's code, the book's configuration and table of contents
## (every page's sidebar), or the run records (data/results, or the folder named by $CONTRASTIVE_RESULTS),
## the pilot's records (data/pilot), the diagnostic trials (data/trials), the benchmarks (data/benchmarks) or the
## records of the moving temperatures (data/beyond/results).
INPUTS_HASH = $$(find src/contrastive _toc.yml _config.yml "$${CONTRASTIVE_RESULTS:-data/results}" data/pilot data/trials data/benchmarks data/beyond/results -type f ! -name '*.pyc' -print0 2>/dev/null \
	| sort -z | xargs -0 -r sha256sum | sha256sum)
book: $(STAMP)
	@mkdir -p _build; h="$(INPUTS_HASH)"; \
	if [ "$$h" != "$$(cat _build/.inputs-hash 2>/dev/null)" ]; then rm -rf _build/.jupyter_cache _build/.doctrees; echo "$$h" > _build/.inputs-hash; fi
	$(BOOK_ENV) $(BIN)/jupyter-book build . -W -n --keep-going

## browser-deps: Debian's Chromium, for the test that opens the built book.
browser-deps:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## check: the style's floor (ruff format and ruff check) and the unit tests alone, without the book build, the
## browser or the papermill end-to-end runs (the fast loop).
check: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -m "not slow" --ignore=tests/test_browser.py --ignore=tests/test_book_notebooks.py

## test: the whole test suite, including the browser check of a fresh book build.
test: book browser-deps
	$(BIN)/python -m pytest

clean:
	rm -rf _build

## sweep: one run-notebook execution per configuration of a protocol (skips those with a record); see book/reproduce.ipynb.
## PROTOCOL=paper the paper's scale (a GPU); PROTOCOL=cpu the converged CPU scale (50-75 min a run on two cores in
## its pilot); PROTOCOL=cpu-short the 60-epoch CPU scale (8-11 min a run).
## DATA=file.npz trains on a CIFAR-10 file (data/README.md) instead of torchvision's download; SEEDS="0 1 2" runs
## each configuration with each seed; SHARD=i/n runs shard i of n (0 <= i < n, counted from 0 as
## Slurm numbers array tasks: SHARD=0/2 and SHARD=1/2 split a sweep; benchmarks/sweep.sbatch);
## ARGS=--plan lists a shard's runs.
PROTOCOL ?= paper
DATASET ?= cifar10
LOSSES ?= contrastive hard simple hard_simple
TAUS ?=
EPOCHS ?=
DEVICE ?=
DATA ?=
SUBSET ?=
OUT ?=
TIMEOUT ?= 86400
SEEDS ?=
SHARD ?=
SCHEDULES ?=
ARGS ?=
.PHONY: sweep
sweep: $(STAMP)
	$(BIN)/python -m contrastive.sweep --protocol $(PROTOCOL) --dataset $(DATASET) --losses $(LOSSES) \
		$(if $(TAUS),--taus $(TAUS)) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(DEVICE),--device $(DEVICE)) \
		$(if $(OUT),--out $(OUT)) --timeout $(TIMEOUT) $(if $(DATA),--data $(DATA)) $(if $(SUBSET),--subset $(SUBSET)) \
		$(if $(SEEDS),--seeds $(SEEDS)) $(if $(SHARD),--shard $(SHARD)) $(if $(SCHEDULES),--schedules $(SCHEDULES)) $(ARGS)

## beyond: the runs of Beyond the paper's "A temperature that moves" at the CPU scale, into data/beyond (records in
## data/beyond/results, run notebooks in data/beyond/runs): seed 0 of every schedule first, then seeds 1 and 2 of
## the cosine and MACL schedules. DATA=file.npz as for sweep; skips what is recorded.
.PHONY: beyond
beyond: $(STAMP)
	$(MAKE) sweep PROTOCOL=cpu LOSSES=contrastive SCHEDULES="cosine macl learned" SEEDS=0 OUT=data/beyond
	$(MAKE) sweep PROTOCOL=cpu LOSSES=contrastive SCHEDULES="cosine macl" SEEDS="1 2" OUT=data/beyond
