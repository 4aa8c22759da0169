#!/usr/bin/env bash
# Installs twin with its test tools into .venv and runs lint, types and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
.venv/bin/ruff check twin tests
.venv/bin/ruff format --check twin tests
.venv/bin/mypy
.venv/bin/python -m pytest -m "not network" "$@"
