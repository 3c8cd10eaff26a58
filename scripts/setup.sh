#!/usr/bin/env bash
# Set up .venv with the course and its tools. Idempotent: a second run only checks a stamp.
# Sourced by course.sh and test.sh; safe to run on its own. PYTHON=/path/to/python3.x picks the
# interpreter (Python 3.11 or newer); by default the first of python3.11, 3.12, 3.13, python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null 2>&1; then PY=$c; break; fi
  done
fi
if [ -z "$PY" ] || ! command -v "$PY" >/dev/null 2>&1; then
  echo "No Python found: set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
  echo "Python 3.11+ is needed, $PY is $("$PY" --version 2>&1): set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.interpcourse-installed
# hashlib, not sha256sum (which macOS does not ship)
want="$(.venv/bin/python -c 'import hashlib, sys
h = hashlib.sha256()
for f in sys.argv[1:]:
    h.update(open(f, "rb").read())
print(h.hexdigest())' pyproject.toml scripts/setup.sh)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # pip compiles every module up front: keep it (with PYTHONDONTWRITEBYTECODE set, as in some CI
  # images, nothing else would, and every lesson would compile torch from source again).
  pip_install=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
  # torch first, from PyTorch's CPU-only index, so no multi-GB CUDA build is pulled. Where that
  # index cannot be reached (offline mirrors, firewalls) pip gives up after one 5 s try and torch
  # comes from the default index (on Linux that may be the CUDA build; macOS builds are CPU-only).
  torch_req="torch==2.13.0"
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    "${pip_install[@]}" --timeout 5 --retries 0 \
        --index-url https://download.pytorch.org/whl/cpu "$torch_req" 2>/dev/null \
      || { echo "== PyTorch's CPU index is unreachable: torch from the default index"
           "${pip_install[@]}" "$torch_req"; }
  fi
  "${pip_install[@]}" -e ".[dev]"
  echo "$want" > "$stamp"
fi
# Tiny networks get many times slower when threads oversubscribe the cores (lessons run 2 at once).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export PATH="$PWD/.venv/bin:$PATH"
