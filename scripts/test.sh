#!/usr/bin/env bash
# Set up, then run every check in order, stopping at the first failure:
# notebooks clean, library in sync with the notebooks, every lesson under nbdev-test, then pytest tests/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
bash scripts/ensure_chromium.sh
export IN_TEST=1
snap() { find "$1" -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }
echo "== notebooks clean (nbdev-clean leaves no diff)"
before="$(snap nbs)"; nbdev-clean
[ "$before" = "$(snap nbs)" ] || { echo "FAILED: nbdev-clean changed notebooks in nbs/: run nbdev-clean and commit the result" >&2; exit 1; }
echo "== library in sync (nbdev-export leaves no diff)"
before="$(snap interpcourse)"; nbdev-export
[ "$before" = "$(snap interpcourse)" ] || { echo "FAILED: nbdev-export changed interpcourse/: the library was out of sync with nbs/; commit the export" >&2; exit 1; }
echo "== nbdev-test (every lesson, top to bottom)"
nbdev-test --n-workers 2
echo "== pytest"
python -m pytest tests/ -q -p no:cacheprovider "$@"
