# The two set-up commands of the README:
#   make demo   install, then run the embedded platform with demo data on http://127.0.0.1:5000/
#   make test   install with the test tools, then lint, type-check and run every test
#               (the browser tests need Debian's chromium: `apt-get install -y chromium`; .ci/run does it)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -q --disable-pip-version-check -e ".[dev]"
	touch $@ $(VENV)/.installed

.PHONY: demo test lint bench
demo: $(VENV)/.installed
	$(BIN)/ggzy demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n auto

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/crypto.py --quick
	$(BIN)/python bench/objectstore.py --quick
