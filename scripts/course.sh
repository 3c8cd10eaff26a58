#!/usr/bin/env bash
# The README's main command: set up, execute every lesson top to bottom, and build the course website into _site/.
# Idempotent: a second run re-executes only lessons whose notebook (or the library code they import) changed.
# Options are passed to site/build.py: --force (re-execute everything), --jobs N (default 2), --out DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export IN_TEST=1
python site/build.py "$@"
echo "Read it: open _site/index.html, or serve it with: python -m http.server -d _site 8000"
