#!/usr/bin/env bash
# Installs everything the project needs into .venv (and, with --test, the Debian
# packages the test suite drives: nginx, wrk, redis-server, chromium, postgresql).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h|--help) echo "usage: scripts/setup.sh [--test]"; exit 0 ;;
    *) echo "scripts/setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "scripts/setup.sh: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

if [ "$want_test" = 1 ]; then
  debs=(nginx wrk redis-server chromium postgresql)
  missing=()
  for p in "${debs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "setup: installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      # the nginx package starts a system-wide server on port 80; the harness runs its own
      if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
      service nginx stop >/dev/null 2>&1 || true
      service redis-server stop >/dev/null 2>&1 || true
      # the harness starts its own PostgreSQL per run (initdb into a temporary folder)
      service postgresql stop >/dev/null 2>&1 || true
    else
      echo "setup: not root, so these Debian packages were not installed: ${missing[*]}" >&2
      echo "setup: run 'sudo apt-get install ${missing[*]}' and then this script again" >&2
      exit 1
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    # Debian's system Python ships venv separately
    pyver=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing python${pyver}-venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${pyver}-venv" >/dev/null
      "$python" -m venv .venv
    else
      echo "scripts/setup.sh: '$python -m venv' failed: install python${pyver}-venv (sudo apt-get install python${pyver}-venv) and run this again" >&2
      exit 1
    fi
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
echo "setup: ready (.venv)"
