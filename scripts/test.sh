#!/usr/bin/env bash
# Installs what the tests need (see scripts/setup.sh) and runs the whole suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k recorder`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy  # files and strictness: [tool.mypy] in pyproject.toml
# three test files at a time: an e2e test mostly waits on a fixed-length load, and a
# module's shared run stays in one worker (--dist loadfile); -n 0 runs them one by one
exec .venv/bin/python -m pytest -n 3 --dist loadfile "$@"
