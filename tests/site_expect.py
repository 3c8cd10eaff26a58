"""What the course website must show, read from the lessons and the last build (no browser).

tests/test_site.py opens the pages in a browser and compares them with these expectations: which
lesson pages the build made, which cells a page shows open or folded, which names its search must
find, which links are allowed.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR = ROOT / "_site"
# External pages the site may link to (real sites; add a host here when a lesson links a new one).
KNOWN_HOSTS = {"github.com", "nbdev.fast.ai", "www.sphinx-doc.org", "pradyunsg.me",
               "pytorch.org", "docs.pytorch.org", "numpy.org", "matplotlib.org", "docs.python.org",
               "arxiv.org", "en.wikipedia.org", "distill.pub", "transformer-circuits.pub",
               "fastcore.fast.ai", "docs.astral.sh", "jupyter.org", "yann.lecun.com"}  # fmt: skip
# The project has no public repository or hosted site: no link may point at one.
PLACEHOLDER = re.compile(r"interpcourse\.github\.io|github\.com/interpcourse\b|\.invalid\b", re.I)

sys.path.insert(0, str(ROOT / "site"))
import build  # noqa: E402  (site/build.py)
from student import solution_kind  # noqa: E402  (site/student.py)


def lesson_pages() -> dict[str, str]:
    "{page name: notebook file name} for every lesson the last build contained."
    return {k: v for k, v in json.loads(build.MANIFEST.read_text()).items() if k != "index"}


def search_terms() -> dict[str, str]:
    "{exported name: page}: `fit`, and the first API block (show_doc) of every lesson page."
    terms = {"fit": "training"}
    for page in lesson_pages():
        cells = json.loads((build.SRC / f"{page}.ipynb").read_text(encoding="utf-8"))["cells"]
        md = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        names = re.findall(r"^\(api-[^)]+\)=\n#+ `?([\w.]+)`?\s*$", md, re.M)
        names = [n for n in names if "." not in n]
        if names:
            terms.setdefault(names[0], page)
    return terms


def _cells(nb_name: str, kinds=("code",)) -> list[tuple[dict, str, dict]]:
    "(directives, source, cell) of the cells of nbs/`nb_name` whose type is in `kinds`."
    out = []
    for c in json.loads((build.NBS / nb_name).read_text(encoding="utf-8"))["cells"]:
        if c["cell_type"] not in kinds:
            continue
        src = "".join(c["source"])
        d = {m.group(1): m.group(2) for m in re.finditer(r"^#\|\s*([\w-]+):?\s*(.*)$", src, re.M)}
        out.append((d, src, c))
    return out


def _code_of(src: str) -> str:
    "A cell's code as the page shows it: without its directive lines."
    return "\n".join(line for line in src.splitlines() if not line.startswith("#|")).strip()


def hidden_lines(nb_name: str) -> set[str]:
    "Code lines that only `#| hide` cells contain (the page must not show them)."
    hide, rest = set(), set()
    for d, src, _ in _cells(nb_name):
        lines = {ln.strip() for ln in src.splitlines()}
        lines = {ln for ln in lines if len(ln) > 12 and not ln.startswith("#")}
        (hide if "hide" in d else rest).update(lines)
    return hide - rest


def expected_folds(nb_name: str) -> list[tuple[str, str | None]]:
    """(code, where the page must show it) for the code cells of a lesson whose place is prescribed.

    'code': exported with `#| export`/`#| exporti`, folded behind "Show code"; None: visible
    (`#| exports` cells); 'solution': a worked solution and its check cell (the first plain code
    cell after it), folded together behind "Show solution".
    """
    out, after_solution = [], False
    for d, src, c in _cells(nb_name, kinds=("code", "markdown")):
        kind = solution_kind(c)
        if c["cell_type"] == "markdown":
            after_solution = after_solution and kind == "markdown"
            continue
        code = _code_of(src)
        if kind == "code" or (after_solution and "hide" not in d and code):
            out.append((code, "solution"))
        elif "hide" in d or not code:
            pass
        elif d.keys() & {"export", "exporti"}:
            out.append((code, "code"))
        elif "exports" in d:
            out.append((code, None))
        after_solution = kind == "code"
    return out


def exported_defs(nb_name: str) -> list[str]:
    "Public functions and classes that the notebook exports (its module's `__all__`)."
    mods = {d["default_exp"].strip() for d, _, _ in _cells(nb_name) if d.get("default_exp")}
    names = []
    for m in mods:
        path = ROOT / "interpcourse" / (m.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_all = lambda n: (
            isinstance(n, ast.Assign)
            and any(  # noqa: E731
                getattr(t, "id", "") == "__all__" for t in n.targets
            )
        )
        alls = next((ast.literal_eval(n.value) for n in tree.body if is_all(n)), [])
        kinds = (ast.FunctionDef, ast.ClassDef)
        names += [n.name for n in tree.body if isinstance(n, kinds) and n.name in alls]
    return names


@functools.cache
def _ids(rel: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', (SITE_DIR / rel).read_text(encoding="utf-8")))


def _link_ok(rel: str, href: str) -> bool:
    "A link inside the site points at a file that exists and, with `#anchor`, at that element."
    if re.match(r"^[a-z][a-z0-9+.-]*:", href):  # http:, mailto: ... are checked by _external_ok
        return True
    path, _, anchor = href.partition("#")
    target = (Path(rel).parent / path.split("?")[0]).as_posix() if path else rel
    if not (SITE_DIR / target).is_file():
        return False
    return not anchor or not target.endswith(".html") or anchor in _ids(target)


def _external_problem(href: str) -> str | None:
    "Why an absolute link is not allowed (placeholder or unknown host), or None."
    if PLACEHOLDER.search(href):
        return "points at the placeholder project URL"
    parts = urlsplit(href)
    if parts.scheme in ("http", "https") and parts.hostname not in KNOWN_HOSTS:
        return f"unknown external host {parts.hostname} (add it to KNOWN_HOSTS if the page is real)"
    if parts.scheme not in ("http", "https", "mailto"):
        return f"unexpected scheme {parts.scheme}"
    return None


def _norm(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def _fold_problems(rel: str, nb_name: str, shown: list[tuple[str, str]]) -> list[str]:
    "Each prescribed cell of the lesson is on the page, folded (or not) as prescribed."
    where = {}
    for text, cls in shown:
        fold = next((k for k in ("solution", "code") if f"fold-{k}" in cls), None)
        where.setdefault(_norm(text), fold)
    problems = []
    for code, want in expected_folds(nb_name):
        first = code.splitlines()[0][:60]
        if _norm(code) not in where:
            problems.append(f"{rel}: cell not on the page: {first}")
        elif where[_norm(code)] != want:
            got, exp = where[_norm(code)] or "visible", want or "visible"
            problems.append(f"{rel}: cell shown {got}, should be {exp}: {first}")
    return problems
