# The project's entry points. `make book` and `make test` set up everything themselves on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BOOK_ENV := CONTRASTIVE_BOOK_BUILD=1 PYDEVD_DISABLE_FILE_VALIDATION=1

.PHONY: install book test browser-deps clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

## book: build the HTML book into _build/html, warnings as errors.
book: $(STAMP)
	$(BOOK_ENV) $(BIN)/jupyter-book build . -W -n --keep-going

## browser-deps: Debian's Chromium, for the test that opens the built book.
browser-deps:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## test: the whole test suite, including the browser check of a fresh book build.
test: book browser-deps
	$(BIN)/python -m pytest

clean:
	rm -rf _build
