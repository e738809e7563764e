#!/usr/bin/env bash
# Installs what the tests need (see scripts/setup.sh) and runs the whole suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k recorder`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy  # files and strictness: [tool.mypy] in pyproject.toml
exec .venv/bin/python -m pytest "$@"
