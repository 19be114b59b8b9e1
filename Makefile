# The two set-up commands of the README:
#   make demo   install, then run the embedded platform with demo data on http://127.0.0.1:5000/
#               (another address: make demo PORT=5001 HOST=0.0.0.0; the live room uses PORT+1)
#   make test   install with the test tools, then lint, type-check and run every test
#               (the browser tests need Debian's chromium: `apt-get install -y chromium`; .ci/run does it)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

$(BIN)/activate:
	@echo "正在创建虚拟环境 $(VENV)/ (creating the virtual environment)"
	$(PYTHON) -m venv $(VENV)

# pip's own lines show the progress (the first install downloads about a minute's worth)
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	@echo "正在安装 ggzy 及其依赖到 $(VENV)/，首次约需一分钟 (installing)"
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -q --disable-pip-version-check -e ".[dev]"
	touch $@ $(VENV)/.installed

.PHONY: demo test lint bench bench-load screenshots
demo: $(VENV)/.installed
	@echo "正在准备演示数据（约半分钟），完成后打印各角色的账号 (preparing the demo)"
	$(BIN)/ggzy demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n auto

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/crypto.py --quick
	$(BIN)/python bench/objectstore.py --quick

# the platform under load on the compose topology (PostgreSQL here; locust from the bench extra)
bench-load: $(VENV)/.installed-dev
	$(BIN)/pip install -q -q --disable-pip-version-check -e ".[dev,bench]"
	$(BIN)/python bench/load.py --quick

# the docs' pictures, made by the every-page browser test from a finished demo (commit the result)
screenshots: $(VENV)/.installed-dev
	GGZY_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -p no:cacheprovider -n 2 tests/e2e/test_every_page.py
