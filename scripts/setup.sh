#!/usr/bin/env bash
# Set up .venv with the course and its tools. Idempotent: a second run only checks a stamp.
# Sourced by course.sh and test.sh; safe to run on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' || { echo "Python 3.11+ is needed (found $("$PY" --version))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.interpcourse-installed
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # The CPU build of torch first: an unpinned torch in a fresh venv can pull a multi-GB CUDA build.
  .venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/python -m pip install --quiet "torch==2.13.0"
  .venv/bin/python -m pip install --quiet -e ".[dev]"
  echo "$want" > "$stamp"
fi
# Tiny networks get many times slower when threads oversubscribe the cores (nbdev-test runs notebooks in parallel).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export PATH="$PWD/.venv/bin:$PATH"
