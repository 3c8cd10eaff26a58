"""Build the course website from the lessons in nbs/, offline, without Quarto.

    python site/build.py [--force] [--jobs 2] [--out _site]

1. Execute (site/execute.py): every lesson runs top to bottom once, as `nbdev-test` runs it, 2 at
   a time, slowest first; its student version is checked in the same run. Executed copies are
   cached in _build/nbs/ under a key of everything that can change the result (site/lessons.py
   `cache_key`); a failing lesson stops the build with its cell and traceback.
2. Process (site/process.py): nbdev's doc processors, then a notebook for myst-nb per page, with
   API blocks, "Show code" and "Show solution" folds (a solution folds with its check cell);
   links between pages resolved (site/links.py). Pages are named as nbdev/Quarto names them
   (00_training.ipynb -> training.html).
3. Render (site/render.py): Sphinx + myst-nb (execution off) + furo + sphinx-mathjax-offline write
   _build/html; every lesson's executed notebook and student version go to notebooks/ on the
   site; _build/html is mirrored into --out.

Step 2 is cheap and always runs; Sphinx runs only when a page source changed. `--force` (or FORCE=1)
re-executes every lesson and re-renders every page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute import execute_all  # noqa: E402
from lessons import BUILD, ROOT, executed_path, lessons, page_name  # noqa: E402
from links import LinkMap  # noqa: E402
from process import api_label, nbdev_process, to_myst  # noqa: E402, F401 (api_label: tests)
from render import (  # noqa: E402
    HTML,
    SRC,
    _write_if_changed,
    add_toc,
    copy_assets,
    mirror,
    remove_stale,
    sphinx,
    write_downloads,
    write_valid,
)

NBS = ROOT / "nbs"
MANIFEST = BUILD / "site.json"  # what the last build contained: {page: notebook}, for the tests


def write_sources(nbs: list[Path], pages: dict[Path, str]) -> None:
    "nbdev's processors, then the myst-nb sources of every page in _build/src (stale ones gone)."
    labels, docs = set(), {}
    for nb in nbs:
        name = None if nb.name == "index.ipynb" else nb.name
        docs[pages[nb]] = to_myst(nbdev_process(executed_path(nb), nb), pages[nb], labels, name)
    links = LinkMap({nb.stem: pages[nb] for nb in nbs}, labels)
    keep = copy_assets()
    lesson_pages = [p for p in docs if p != "index"]
    for page in lesson_pages:
        keep.add(SRC / f"{page}.ipynb")
        write_valid(links.apply(docs[page]), SRC / f"{page}.ipynb")
    home = links.apply(docs["index"]) if "index" in docs else None
    name, text = add_toc(home, lesson_pages)
    _write_if_changed(SRC / name, text)
    keep.add(SRC / name)
    for p in list(SRC.rglob("*")):  # pages whose notebook is gone
        if p.is_file() and p not in keep:
            p.unlink()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--force", action="store_true", help="re-execute every notebook, rebuild pages")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    ap.add_argument("--out", default=str(ROOT / "_site"), help="output folder")
    args = ap.parse_args(argv)
    args.force = args.force or os.environ.get("FORCE", "") not in ("", "0")
    t0 = time.time()
    os.environ.update(IN_TEST="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    nbs = lessons()
    if not nbs:
        print("no notebooks in nbs/", file=sys.stderr)
        return 1
    pages = {nb: page_name(nb) for nb in nbs}
    if len(set(pages.values())) != len(pages):
        print(f"two notebooks map to one page: {pages}", file=sys.stderr)
        return 1
    failed = execute_all(nbs, args.force, args.jobs)
    if failed:
        print(
            f"FAILED: {', '.join(failed)} did not run top to bottom; no site built", file=sys.stderr
        )
        return 1
    t1 = time.time()
    write_sources(nbs, pages)
    print(f"== sphinx: _build/src -> {args.out} (sources in {time.time() - t1:.1f} s)", flush=True)
    t2 = time.time()
    if sphinx(args.force):
        print("FAILED: sphinx-build", file=sys.stderr)
        return 1
    remove_stale(HTML, {f"{p}.html" for p in pages.values()} | {"search.html"})
    write_downloads(nbs)
    mirror(HTML, Path(args.out))
    MANIFEST.write_text(json.dumps({pages[nb]: nb.name for nb in nbs}, indent=1) + "\n")
    secs = time.time() - t0
    print(f"== site built in {secs:.1f} s (sphinx {time.time() - t2:.1f} s): {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
