#!/usr/bin/env bash
# Set up, then run every check in order, stopping at the first failure: code formatted (ruff),
# notebooks clean, library in sync with the notebooks, every lesson executed top to bottom with
# nbdev-test's semantics (ONCE: the same run builds the website and checks the student notebooks),
# pytest tests/. The browser test is skipped, with one line saying why, when no chromium can be
# installed. Lessons whose inputs did not change are not executed again (site/lessons.py
# `cache_key`); `bash scripts/test.sh --force` (or FORCE=1) executes every lesson. Other arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" = "--force" ]; then
  export FORCE=1
  shift
fi
source scripts/setup.sh
pytest_args=()
bash scripts/ensure_chromium.sh || pytest_args+=(--ignore=tests/test_site.py)
export IN_TEST=1
# A hash of every notebook and Python file under $1 (hashlib: sha256sum is not on macOS).
snap() {
  python - "$1" <<'PY'
import hashlib, pathlib, sys
h = hashlib.sha256()
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*")):
    if p.suffix in (".ipynb", ".py") and ".ipynb_checkpoints" not in p.parts and p.is_file():
        h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
print(h.hexdigest())
PY
}
echo "== code formatted (ruff format --check; ruff check: 100 columns, one statement per line)"
if ! ruff format --check --output-format concise .; then
  echo "FAILED: run ruff format (see CONTRIBUTING.md), then nbdev-clean and nbdev-export" >&2
  exit 1
fi
ruff check --output-format concise .
echo "== notebooks clean (nbdev-clean leaves no diff)"
before="$(snap nbs)"; nbdev-clean
if [ "$before" != "$(snap nbs)" ]; then
  echo "FAILED: nbdev-clean changed notebooks in nbs/: run nbdev-clean, commit the result" >&2
  exit 1
fi
echo "== library in sync (nbdev-export leaves no diff)"
# nbdev-export does nothing when IN_TEST is set: run it without.
before="$(snap interpcourse)"; env -u IN_TEST nbdev-export
if [ "$before" != "$(snap interpcourse)" ]; then
  echo "FAILED: nbdev-export changed interpcourse/: it was out of sync with nbs/; commit it" >&2
  exit 1
fi
echo "== every lesson, top to bottom, as nbdev-test runs it (once; the site is built from it)"
python site/build.py
echo "== pytest"
# tests/test_site.py uses the site just built instead of building it again
export INTERPCOURSE_SITE_BUILT=1
python -m pytest tests/ -q -p no:cacheprovider ${pytest_args[@]+"${pytest_args[@]}"} "$@"
