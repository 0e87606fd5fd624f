# The two commands of the README: `make demo` and `make test`. Both create the
# virtualenv and install digest into it first, so they work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "digest needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# Until 0.2 the distribution was called "digest" (a name taken on the package index).
	$(BIN)/python -m pip uninstall --quiet --yes digest 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/digest demo

lint: $(STAMP)
	$(BIN)/ruff check digest tests benchmarks
	$(BIN)/ruff format --check digest tests benchmarks
	$(BIN)/mypy

# What the tests drive besides Python (Debian/Ubuntu): headless Chromium, its
# WebDriver and CJK fonts (tests/test_email_rendering.py, tests/test_serve_browser.py),
# Dovecot, a real IMAP server for `digest inbox` (tests/test_inbox.py), and zsh
# and fish for the completion scripts (tests/test_cli_polish.py).
SYSTEM_TOOLS := chromium chromedriver /usr/sbin/dovecot zsh fish
.PHONY: system-deps browser-deps
system-deps:
	@for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk dovecot-imapd zsh fish; fi
browser-deps: system-deps

test: lint system-deps
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/gather.py
	$(BIN)/python benchmarks/build.py
	$(BIN)/python benchmarks/archive.py
	$(BIN)/python benchmarks/email_render.py
	$(BIN)/python benchmarks/knowledge.py
	$(BIN)/python benchmarks/countries.py --quiet
	$(BIN)/python benchmarks/relevance.py --quiet
	$(BIN)/python benchmarks/duplicates.py
	$(BIN)/python benchmarks/summaries.py --examples 0
	$(BIN)/python benchmarks/charsets.py
	$(BIN)/python benchmarks/delivery.py
	$(BIN)/python benchmarks/serve.py
	$(BIN)/python benchmarks/inbound.py
	$(BIN)/python benchmarks/kills.py
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf $(VENV) var dist build .pytest_cache .mypy_cache .ruff_cache *.egg-info
