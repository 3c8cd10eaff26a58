"""Where the notebooks are, what their pages are called, what a lesson's run depends on.

`lessons()` finds the notebooks as `nbdev-test` does (nbdev's `nbglob` over nbs/, `_`/`.` files
and folders with a `.notest` file left out), `index.ipynb` first. `cache_key(nb)` is the key under
which site/execute.py keeps a lesson's executed copy: it changes whenever anything that can change
the run's result changes. `executed_notebooks()` lists the executed copies of the last run.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent
NBS, LIB, DATA = ROOT / "nbs", ROOT / "interpcourse", ROOT / "data"
RESULTS = ROOT / "benchmarks" / "results"  # committed benchmark tables that lessons show
BUILD = ROOT / "_build"
CACHE = BUILD / "nbs"  # executed notebooks: <page>.ipynb, <page>.key, <page>.secs, <page>.student
# Source files of the code that executes a lesson: part of every cache key.
EXEC_CODE = [SITE / "lessons.py", SITE / "execute.py", SITE / "student.py"]


def lessons() -> list[Path]:
    "Every notebook `nbdev-test` would test, `index.ipynb` first, then in file order."
    from nbdev.doclinks import nbglob
    from nbdev.test import _keep_file

    found = [p.resolve() for p in nbglob(NBS, as_path=True) if _keep_file(p, ".notest")]
    return sorted(found, key=lambda p: (p.name != "index.ipynb", p.name))


def page_name(nb: Path) -> str:
    "The page nbdev/Quarto gives `nb`: its file name without the number (00_training -> training)."
    from nbdev.config import nbpath2html

    return nbpath2html(nb).stem


def student_name(nb: Path) -> str:
    "The student version's file name (01_target.ipynb -> 01_target_student.ipynb)."
    return f"{nb.stem}_student.ipynb"


def executed_path(nb: Path) -> Path:
    "Where the executed copy of `nb` (outputs and API blocks included) is kept."
    return CACHE / f"{page_name(nb)}.ipynb"


def executed_notebooks() -> dict[str, Path]:
    """{notebook file name: executed copy} of every notebook executed for the current sources.

    The executed copies are what the site shows (before nbdev's doc processors); a copy whose
    cache key no longer matches its sources is left out. Run `python site/execute.py` (or the test
    command) first. A test over every executed lesson: `for name, path in executed_notebooks()`.
    """
    out = {}
    for nb in lessons():
        path, keyf = executed_path(nb), executed_path(nb).with_suffix(".key")
        if path.exists() and keyf.exists() and keyf.read_text() == cache_key(nb):
            out[nb.name] = path
    return out


def _hash_files(h, paths) -> None:
    for p in sorted(paths):
        name = p.relative_to(ROOT) if p.is_relative_to(ROOT) else p
        for part in (str(name).encode(), p.read_bytes()):
            h.update(part)
            h.update(b"\0")


_re_libimport = re.compile(
    r"\binterpcourse\.(\w+)|\bfrom\s+interpcourse\s+import\s+([\w\s,()]+)|\bfrom\s+\.(\w+)\s+import"
)


def library_deps(text: str) -> set[Path]:
    "interpcourse/ modules that `text` imports, and what they import in turn (not _modidx.py)."
    deps, todo = {LIB / "__init__.py"}, [text]
    while todo:
        for m in _re_libimport.finditer(todo.pop()):
            one = m.group(1) or m.group(3)
            names = [one] if one else re.findall(r"\w+", m.group(2))
            for n in names:
                p = LIB / f"{n}.py"
                if n != "_modidx" and p.exists() and p not in deps:
                    deps.add(p)
                    todo.append(p.read_text(encoding="utf-8"))
    return {p for p in deps if p.exists()}


_env_digest: list[str] = []


def environment_digest() -> str:
    "A hash of the Python version and every installed distribution's name and version."
    if not _env_digest:
        from importlib.metadata import distributions

        dists = sorted({f"{d.metadata['Name']}=={d.version}" for d in distributions()})
        text = sys.version + "\n" + "\n".join(dists)
        _env_digest.append(hashlib.sha256(text.encode()).hexdigest())
    return _env_digest[0]


def cache_key(nb: Path) -> str:
    """The key of `nb`'s executed copy. It covers the notebook, the interpcourse/ modules it imports
    (transitively), data/, the benchmarks/results/ files the notebook or those modules name (file
    name or stem: a lesson names the results it reads), pyproject.toml (nbdev's settings), the code
    that executes it (EXEC_CODE), the Python version and every installed package's version."""
    text = nb.read_text(encoding="utf-8")
    deps = library_deps(text)
    text += "".join(p.read_text(encoding="utf-8") for p in deps)
    h = hashlib.sha256(environment_digest().encode())
    _hash_files(h, [nb, ROOT / "pyproject.toml", *EXEC_CODE, *deps])
    for folder in (DATA, LIB / "data"):  # build scripts, and the files the package ships
        if folder.exists():
            _hash_files(h, [p for p in folder.rglob("*") if p.is_file()])
    if RESULTS.exists():
        named = [
            p for p in RESULTS.rglob("*") if p.is_file() and (p.name in text or p.stem in text)
        ]
        _hash_files(h, named)
    return h.hexdigest()


def load(nb: Path) -> dict:
    "A notebook file as a dict."
    return json.loads(Path(nb).read_text(encoding="utf-8"))
