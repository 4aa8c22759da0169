#!/usr/bin/env bash
# Installs twin into .venv and runs the default study on the embedded city (out/default).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/twin run --overwrite "$@"
