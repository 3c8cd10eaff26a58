#!/usr/bin/env bash
# The README's main command: set up, execute every lesson top to bottom, build the course website
# into _site/ (with every lesson's notebook and its student version in _site/notebooks/).
# Idempotent: a second run re-executes only lessons whose inputs changed (site/lessons.py
# `cache_key`: the notebook, the library code it imports, data/, the benchmark results it names,
# the execution code, every installed package). Options go to site/build.py: --force (or FORCE=1:
# re-execute everything), --jobs N (default 2), --out DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export IN_TEST=1
python site/build.py "$@"
echo "Read it: open _site/index.html, or serve it with:"
echo "  .venv/bin/python -m http.server -d _site 8000"
