"""Build the course website from the lessons in nbs/, offline, without Quarto.

    python site/build.py [--force] [--jobs 2] [--out _site]

1. Execute: every nbs/*.ipynb (index.ipynb first, then the lessons in file order) runs top to
   bottom in a fresh process (2 at a time, slowest first) with execnb's CaptureShell, as
   `nbdev-test` runs it: working directory nbs/, IN_TEST=1, cells flagged with the config's
   `tst_flags` skipped. nbdev's `add_show_docs` runs first, so the API blocks of exported
   definitions are executed in the same pass (nothing runs twice). A failing lesson stops the
   build with its traceback.
2. Process: nbdev's own doc processors (`FilterDefaults` without `exec_show_docs`, as the notebook
   ran already): front matter, `#| hide` cells removed, backticked names linked. Unlike nbdev's
   defaults, exported cells keep their source: the page shows it below the API blocks, open for
   `#| exports`, folded behind "Show code" for `#| export`/`#| exporti`.
3. Convert for myst-nb: front matter becomes the page title and summary; `show_doc` outputs become
   markdown sections with a label (so the API is in the page's contents and the search index),
   their "source" link points at the code on the page; exercises' solutions (site/student.py
   reads the markers) are folded behind "Show solution", consecutive ones in one fold; every
   directive line is removed; Quarto cell options become myst-nb tags; nbdev's doc links and links
   to `NN_name.ipynb` become links between local pages; every notebook is validated (nbformat).
   Pages are named as nbdev/Quarto names them (00_training.ipynb -> training.html). Each lesson
   page links its notebooks for download: the lesson as executed here and its student version
   (site/student.py), both in notebooks/ on the site.
4. Sphinx + myst-nb (execution off) + furo + sphinx-mathjax-offline render _build/src into
   _build/html (myst-nb's jupyter_execute/ lands in _build/), which is mirrored into --out.

Executed notebooks are cached in _build/nbs/ under a key of the notebook, the interpcourse/
modules it imports, data/, pyproject.toml, the `execute` function and tool versions, so a second
run re-executes nothing that has not changed; steps 2-4 are cheap and always run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent
NBS, LIB, DATA = ROOT / "nbs", ROOT / "interpcourse", ROOT / "data"
BUILD = ROOT / "_build"
CACHE, SRC, DOCTREES, HTML = BUILD / "nbs", BUILD / "src", BUILD / "doctrees", BUILD / "html"
DOWNLOADS = "notebooks"  # folder of the site that serves the lessons' notebooks
# What the last build contained: {page: notebook}, read by tests/test_site.py
MANIFEST = BUILD / "site.json"
ASSET_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".css"}

if str(SITE) not in sys.path:
    sys.path.insert(0, str(SITE))
from student import solution_kind, strip_solution_marker, student_version  # noqa: E402


def notebooks() -> list[Path]:
    "index.ipynb (if present) then every other notebook in nbs/ in file order (not _ or . files)."
    nbs = sorted(p for p in NBS.glob("*.ipynb") if p.name[0] not in "_.")
    return sorted(nbs, key=lambda p: p.name != "index.ipynb")


def page_name(nb: Path) -> str:
    "The page nbdev/Quarto gives `nb`: its file name without the number (00_training -> training)."
    from nbdev.config import nbpath2html

    return nbpath2html(nb).stem


def student_name(nb: Path) -> str:
    "The student version's file name (01_target.ipynb -> 01_target_student.ipynb)."
    return f"{nb.stem}_student.ipynb"


def _hash_files(h, paths):
    for p in sorted(paths):
        for part in (str(p.relative_to(ROOT)).encode(), p.read_bytes()):
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


def cache_key(nb: Path) -> str:
    "Changes when the notebook, the modules it uses, the data, how it is run or a tool changes."
    import inspect
    from importlib.metadata import version

    h = hashlib.sha256((inspect.getsource(execute) + inspect.getsource(run_cells)).encode())
    _hash_files(h, [nb, ROOT / "pyproject.toml"])
    _hash_files(h, library_deps(nb.read_text(encoding="utf-8")))
    if DATA.exists():
        _hash_files(h, [p for p in DATA.rglob("*") if p.is_file()])
    for pkg in ("nbdev", "execnb", "torch", "numpy", "pandas", "matplotlib"):
        h.update(version(pkg).encode())
    return h.hexdigest()


# ---------------------------------------------------------------- 1: execute (in a fresh process)
def run_cells(nb, src: Path):
    """Run notebook `nb` (fastcore's `read_nb`/`dict2nb`) top to bottom as `nbdev-test` does.

    Working directory nbs/, IN_TEST=1, cells flagged with the config's `tst_flags` skipped, stop
    at the first exception. Returns execnb's shell: `.exc` is the exception (or None),
    `._cell_idx` the 1-based index of the cell that raised it. tests/test_student.py uses this too.
    """
    os.environ["IN_TEST"] = "1"
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.test import _skip_cell

    cfg = get_config(ROOT)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    for c in nb.cells:
        if "directives_" not in c:
            c.directives_ = c.directives
    k = CaptureShell(src)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    with working_directory(NBS):
        k.run_cell("from nbdev.showdoc import show_doc")
        try:
            k.run_all(nb, exc_stop=True, preproc=_skip_cell(nb, flags))
        except BaseException:
            if k.exc is None:
                raise
    return k


def execute(nb_path: str, out_path: str) -> tuple[str, float, str]:
    "Execute `nb_path` (API blocks included), write it with its outputs to `out_path`."
    t0 = time.time()
    from fastcore.nbio import write_nb
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs

    src = Path(nb_path)
    nb = NBProcessor(src, procs=[add_show_docs], rm_directives=False, process=True).nb
    try:
        k = run_cells(nb, src)
    except BaseException:
        import traceback

        return nb_path, time.time() - t0, "FAILED\n" + traceback.format_exc()
    if k.exc is not None:
        return nb_path, time.time() - t0, "FAILED\n" + k.prettytb(fname=src)
    write_nb(nb, out_path)
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return nb_path, time.time() - t0, f"cpu {ru.ru_utime + ru.ru_stime:.1f} s"


# ---------------------------------------------------------------- 2: nbdev's doc processors
_EXPORTS = {"export", "exports", "exporti"}


def rm_hidden(cell):
    "nbdev's `rm_export`, except that exported cells keep their source (the page shows it)."
    if cell.cell_type == "code" and (cell.directives_.keys() & {"hide", "default_exp"}):
        del cell["source"]


def nbdev_process(executed: Path, src: Path):
    "nbdev's doc processors (without `exec_show_docs`: the notebook ran already) -> notebook."
    from fastcore.nbio import read_nb
    from fastcore.xtras import working_directory
    from nbdev.process import Processor
    from nbdev.processors import FilterDefaults, add_fold, exec_show_docs, mv_exports, rm_export

    class docs_before_code(Processor):
        "An exported cell's API blocks (`show_doc`) go above its code (nbdev moves only one)."

        def begin(self):
            cells = self.nb.cells
            for cell in [
                c for c in cells if c.cell_type == "code" and c.directives_.keys() & _EXPORTS
            ]:
                i = j = cells.index(cell)
                while j + 1 < len(cells) and getattr(cells[j + 1], "has_sd", 0):
                    j += 1
                cells[i : j + 1] = cells[i + 1 : j + 1] + [cell]

    class DocProcs(FilterDefaults):
        def base_procs(self):
            swap = {rm_export: rm_hidden, mv_exports: docs_before_code}
            drop = (exec_show_docs, add_fold)
            return [swap.get(p, p) for p in super().base_procs() if p not in drop]

    nb = read_nb(executed)
    nb.path_ = str(src)
    with working_directory(NBS):
        DocProcs()(nb)
    return nb


# ---------------------------------------------------------------- 3: myst-nb ready notebooks
_re_opt = re.compile(r"^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")
_re_heading = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.M)
_re_source = re.compile(r"\[source\]\(([^)\s]+)\)\{[^}]*\}")
_SRC_LINK = "\x00source-link:{}\x00"  # replaced once we know which API blocks have code below
FOLDS = {"code": "Show code", "solution": "Show solution"}


def _text(x) -> str:
    return "".join(x) if isinstance(x, list) else (x or "")


def _false(v) -> bool:
    return str(v).lower() in ("false", "no", "0")


def api_label(page: str, anchor: str) -> str:
    return f"api-{page}-{anchor.lower()}"


def defined_names(code: str) -> list[str]:
    "Names of the functions and classes that `code` defines (`Class.method` for fastcore's @patch)."
    import ast

    from nbdev.showdoc import showdoc_nm

    try:
        trees = ast.parse(code).body
    except SyntaxError:
        return []
    names = []
    for t in trees:
        if isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            nm = showdoc_nm(t)
            names += nm if isinstance(nm, list) else [nm]
    return names


def _split_opts(source: str) -> tuple[dict, str]:
    "Quarto `#| key: value` lines at the top of a cell -> (options, remaining source)."
    lines, opts = source.splitlines(), {}
    while lines and (m := _re_opt.match(lines[0])):
        opts[m.group(1)] = m.group(2).strip("'\"")
        lines.pop(0)
    return opts, "\n".join(lines)


def _api_markdown(md: str, page: str, labels: set[str]) -> tuple[str, str | None]:
    "A `show_doc` output as a MyST section (label, heading, source link, signature, docs); name."
    md = re.sub(r"^\s*---\s*\n", "", md)  # Quarto's rule above each block: it cannot end a section
    md = _re_source.sub("", md)  # the repository link: replaced by a link to the code on the page
    m = _re_heading.search(md)
    if not m:
        return md.strip(), None
    name = re.sub(r"[`*\\]", "", m.group(2)).strip()
    label, i = api_label(page, name), 2
    while label in labels:  # `Report` and `report`: labels ignore case
        label, i = f"{api_label(page, name)}-{i}", i + 1
    labels.add(label)
    head = f"({label})=\n{m.group(1)} {m.group(2)}\n"
    link = "\n" + _SRC_LINK.format(name) + "\n"
    body = (md[: m.start()] + md[m.end() :]).strip()
    return head + link + ("\n{.api-signature}\n" if body.startswith("```") else "\n") + body, name


def _no_headings(md: str) -> str:
    "Headings inside a fold would start a section inside <details>: make them bold paragraphs."
    out, fence = [], False
    for line in md.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        out.append(f"**{m.group(1)}**" if m else line)
    return "\n".join(out)


def _md(source: str) -> dict:
    return dict(cell_type="markdown", metadata={}, source=source)


def _code(source: str, outputs=(), count=None, tags=()) -> dict:
    meta = {"tags": list(tags)} if tags else {}
    return dict(
        cell_type="code", metadata=meta, source=source, outputs=list(outputs), execution_count=count
    )


def download_links(nb_name: str) -> str:
    "The markdown line under a lesson's title that offers its two notebooks."
    full, student = f"{DOWNLOADS}/{nb_name}", f"{DOWNLOADS}/{Path(nb_name).stem}_student.ipynb"
    return (
        f'<p class="downloads">Notebooks: <a class="download-lesson" href="{full}" download>'
        f"{nb_name}</a> (the lesson, as run for this page) · "
        f'<a class="download-student" href="{student}" download>{Path(student).name}</a> '
        "(the exercises to attempt: each solution replaced by <code># Your code here</code>, "
        "the checks kept)</p>"
    )


def to_myst(nb, page: str, labels: set[str], nb_name: str | None = None) -> dict:
    "nbdev-processed notebook -> notebook dict for myst-nb (links are resolved later)."
    import yaml

    items = []  # (fold kind or None, cell)
    api = []  # (cell, documented name) of every API block
    anchors = {}  # lower-case name -> HTML id of the exported code that defines it
    title = summary = None
    for c in nb["cells"]:
        src = _text(c.get("source"))
        if c["cell_type"] == "raw" and src.strip().startswith("---"):
            fm = yaml.safe_load(src.strip().strip("-")) or {}
            title, summary = fm.get("title", title), fm.get("description", summary)
            continue
        if c["cell_type"] == "markdown" and "THIS FILE WAS AUTOGENERATED" in src:
            continue
        kind = solution_kind(c)
        if c["cell_type"] != "code":
            if kind:
                src = _no_headings(strip_solution_marker(src))
            items.append(("solution" if kind else None, _md(src)))
            continue
        opts, code = _split_opts(src)
        outputs = [dict(o) for o in c.get("outputs", [])]
        if _false(opts.get("include", True)):
            continue
        tags = []
        if _false(opts.get("echo", True)):
            tags.append("remove-input")
        if _false(opts.get("output", True)):
            tags.append("remove-output")
        if opts.get("output") == "asis":  # show_doc and friends: their markdown is part of the page
            md = "".join(_text(o.get("data", {}).get("text/markdown")) for o in outputs)
            if "remove-input" not in tags and code.strip():
                items.append((None, _code(code)))
            if md.strip():
                if "show_doc" in code:
                    md, name = _api_markdown(md, page, labels)
                    items.append((None, _md(md)))
                    if name:
                        api.append((items[-1][1], name))
                else:
                    items.append((None, _md(md)))
            continue
        for o in outputs:
            if "metadata" in o:
                o["metadata"] = {k: v for k, v in o["metadata"].items() if k != "execution"}
        fold = "solution" if kind else None
        if opts.keys() & _EXPORTS and not fold:
            fold = None if "exports" in opts else "code"
            ids = []
            for name in defined_names(code):
                if name.lower() not in anchors:
                    anchors[name.lower()] = f"code-{page}-{name.lower()}"
                    ids.append(f'<div id="{anchors[name.lower()]}"></div>')
            if ids:  # where the API blocks' "source" links point
                items.append((fold, _md(f'<div class="code-anchors">{"".join(ids)}</div>')))
        items.append((fold, _code(code, outputs, c.get("execution_count"), tags)))

    for cell, name in api:
        key = name.lower()
        target = anchors.get(key) or anchors.get(key.partition(".")[0])
        link = f'<a class="api-source" href="#{target}">source</a>' if target else ""
        cell["source"] = cell["source"].replace(_SRC_LINK.format(name), link)
    cells = _folded(items)
    head = f"# {title or page.replace('_', ' ').title()}\n"
    if summary:
        head += f"\n{{.lead}}\n{summary}\n"
    if nb_name:
        head += "\n" + download_links(nb_name) + "\n"
    cells.insert(0, _md(head))
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i}"
    return dict(
        nbformat=4,
        nbformat_minor=5,
        cells=cells,
        metadata=dict(
            kernelspec=dict(display_name="Python 3", language="python", name="python3"),
            language_info=dict(name="python", pygments_lexer="ipython3"),
        ),
    )


def _folded(items: list[tuple[str | None, dict]]) -> list[dict]:
    "Cells with each run of consecutive cells of one fold kind inside one <details> element."
    cells, open_kind = [], None
    for kind, cell in items + [(None, None)]:
        if kind != open_kind and open_kind:
            cells.append(_md("</details>"))
        if kind and kind != open_kind:
            summary = f"<summary>{FOLDS[kind]}</summary>"
            cells.append(_md(f'<details class="fold fold-{kind}">\n{summary}\n'))
        open_kind = kind
        if cell is not None:
            cells.append(cell)
    return cells


_re_nblink = re.compile(r"\]\((?![a-z]+:)(?:\./)?([\w.-]+)\.ipynb(#[^)\s]*)?\)")


def _doc_prefix() -> str:
    "What nbdev puts before `page.html` in doc links (settings of interpcourse/_modidx.py)."
    from importlib.metadata import entry_points

    from nbdev.doclinks import _qual_sym

    # NbdevLookup reads the index through the package's nbdev entry point: so do we.
    ep = [e for e in entry_points(group="nbdev") if e.name == "interpcourse"]
    if not ep:
        return ""
    settings = ep[0].load()["settings"]
    if "doc_host" not in settings:
        return ""
    return _qual_sym(("PAGE.html", "x.py"), settings)[0].removesuffix("PAGE.html")


class LinkMap:
    "nbdev doc links (`<prefix>page.html#anchor`) -> MyST links to the local pages' API labels."

    def __init__(self, nb_pages: dict[str, str], labels: set[str]):
        base = _doc_prefix()
        self.nb_pages, self.pages, self.labels = nb_pages, set(nb_pages.values()), labels
        pat = r"\]\(" + re.escape(base) + r"([\w.-]+)\.html(?:#([^)\s]*))?\)"
        self.re = re.compile(pat) if base else None

    def _sub(self, m):
        page, anchor = m.group(1), (m.group(2) or "")
        if page not in self.pages:
            return m.group(0)
        while anchor:  # `Report.show` without its own block -> `Report`
            if api_label(page, anchor) in self.labels:
                return f"](#{api_label(page, anchor)})"
            anchor = anchor.rpartition(".")[0]
        return f"]({page}.ipynb)"

    def _nb_sub(self, m):
        "`[text](01_target.ipynb#x)` -> `[text](target.ipynb#x)`: lessons link by file name."
        page = self.nb_pages.get(m.group(1))
        return f"]({page}.ipynb{m.group(2) or ''})" if page else m.group(0)

    def __call__(self, md: str) -> str:
        md = _re_nblink.sub(self._nb_sub, md)
        return self.re.sub(self._sub, md) if self.re else md

    def apply(self, nb: dict) -> dict:
        for c in nb["cells"]:
            if c["cell_type"] == "markdown":
                c["source"] = self(c["source"])
            for o in c.get("outputs", []):
                if "text/markdown" in o.get("data", {}):
                    o["data"]["text/markdown"] = self(_text(o["data"]["text/markdown"]))
        return nb


def write_valid(nb: dict, dest: Path) -> None:
    "Check `nb` against the nbformat schema and write it (only if it changed)."
    import nbformat

    node = nbformat.from_dict(nb)
    nbformat.validate(node)
    _write_if_changed(dest, nbformat.writes(node) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def lesson_download(executed: Path) -> dict:
    "The executed lesson as a student downloads it: nbdev's added API cells and run metadata gone."
    nb = json.loads(executed.read_text(encoding="utf-8"))
    cells = []
    for c in nb["cells"]:
        if c.pop("has_sd", False):
            continue
        for k in [k for k in c if k.endswith("_")]:
            del c[k]
        c.get("metadata", {}).pop("execution", None)
        for o in c.get("outputs", []):
            o.get("metadata", {}).pop("execution", None)
        cells.append(c)
    nb["cells"] = cells
    nb["metadata"].pop("widgets", None)
    return nb


def _project_title() -> str:
    import tomllib

    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return proj.get("description", proj["name"])


def add_toc(nb: dict | None, lessons: list[str]) -> tuple[str, str]:
    "(file name, text) of the home page, with a toctree of every lesson (furo's sidebar)."
    hidden = ":hidden:" if nb else ""
    toc = "```{toctree}\n:caption: Lessons\n:maxdepth: 1\n%s\n%s\n```\n" % (
        hidden,
        "\n".join(lessons),
    )
    if nb is None:
        return "index.md", f"# {_project_title()}\n\nThe lessons, in order:\n\n{toc}"
    import nbformat

    nb["cells"].append(dict(cell_type="markdown", id="cell-toc", metadata={}, source=toc))
    node = nbformat.from_dict(nb)
    nbformat.validate(node)
    return "index.ipynb", nbformat.writes(node) + "\n"


def copy_assets() -> set[Path]:
    "Images and stylesheets that lessons' markdown refers to by relative path (nbs/ only)."
    done = set()
    for p in NBS.rglob("*"):
        rel = p.relative_to(NBS)
        if not p.is_file() or p.suffix.lower() not in ASSET_EXTS:
            continue
        if any(part[0] in "._" for part in rel.parts):
            continue
        d = SRC / rel
        if not d.exists() or d.read_bytes() != p.read_bytes():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, d)
        done.add(d)
    return done


def remove_stale(out: Path, html: set[str]) -> None:
    "Sphinx never deletes output: drop pages of removed notebooks and figures no page shows."
    for p in out.glob("*.html"):
        if p.name not in html:
            p.unlink()
    used = set()
    for p in out.glob("*.html"):
        used.update(re.findall(r'_images/([^"\'?#)\s]+)', p.read_text(encoding="utf-8")))
    for p in (out / "_images").glob("*") if (out / "_images").exists() else []:
        if p.is_file() and p.name not in used:
            p.unlink()


def mirror(src: Path, dest: Path) -> None:
    "Make `dest` a copy of `src`: copy new and changed files, delete what `src` no longer has."
    dest.mkdir(parents=True, exist_ok=True)
    want = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    for p in sorted(dest.rglob("*"), reverse=True):
        rel = p.relative_to(dest)
        if p.is_file() and rel not in want:
            p.unlink()
        elif p.is_dir() and not (src / rel).is_dir():
            shutil.rmtree(p, ignore_errors=True)
    for rel in want:
        s, d = src / rel, dest / rel
        if (
            d.is_file()
            and d.stat().st_size == s.stat().st_size
            and d.read_bytes() == s.read_bytes()
        ):
            continue
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d)


# ---------------------------------------------------------------- main
def _run_all(todo, pages, jobs) -> list[str]:
    "Execute the notebooks of `todo` [(nb, key)], `jobs` at a time; the names of those that failed."
    failed = []
    names = " ".join(n.name for n, _ in todo)
    print(f"== executing {len(todo)} notebook(s), {jobs} at a time: {names}", flush=True)
    with ProcessPoolExecutor(
        max_workers=max(1, min(jobs, len(todo))),
        mp_context=get_context("spawn"),
        max_tasks_per_child=1,
    ) as ex:
        futs = [
            (ex.submit(execute, str(nb), str(CACHE / f"{pages[nb]}.ipynb")), nb, key)
            for nb, key in todo
        ]
        for f, nb, key in futs:
            _, secs, msg = f.result()
            if msg.startswith("FAILED"):
                failed.append(nb.name)
                print(f"FAILED {nb.name} ({secs:.1f} s):\n{msg[7:]}", file=sys.stderr, flush=True)
            else:
                (CACHE / f"{pages[nb]}.key").write_text(key)
                (CACHE / f"{pages[nb]}.secs").write_text(f"{secs:.1f}")
                print(f"   {nb.name}: {secs:.1f} s ({msg})", flush=True)
    return failed


def write_downloads(nbs: list[Path], pages: dict[Path, str]) -> None:
    "Every lesson's notebooks for download: executed, and the student version (from nbs/)."
    dl = HTML / DOWNLOADS
    want = set()
    for nb in nbs:
        if nb.name == "index.ipynb":
            continue
        source = json.loads(nb.read_text(encoding="utf-8"))
        write_valid(lesson_download(CACHE / f"{pages[nb]}.ipynb"), dl / nb.name)
        write_valid(student_version(source), dl / student_name(nb))
        want |= {nb.name, student_name(nb)}
    for p in dl.glob("*"):
        if p.name not in want:
            p.unlink()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--force", action="store_true", help="re-execute every notebook, rebuild pages")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    ap.add_argument("--out", default=str(ROOT / "_site"), help="output folder")
    args = ap.parse_args(argv)
    t0 = time.time()
    os.environ.update(
        IN_TEST="1",
        OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
        MKL_NUM_THREADS=os.environ.get("MKL_NUM_THREADS", "1"),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    nbs = notebooks()
    if not nbs:
        print("no notebooks in nbs/", file=sys.stderr)
        return 1
    pages = {nb: page_name(nb) for nb in nbs}
    if len(set(pages.values())) != len(pages):
        print(f"two notebooks map to one page: {pages}", file=sys.stderr)
        return 1
    CACHE.mkdir(parents=True, exist_ok=True)

    # 1. execute what changed, in parallel, one fresh process per notebook
    todo = []
    for nb in nbs:
        key, keyf = cache_key(nb), CACHE / f"{pages[nb]}.key"
        done = (CACHE / f"{pages[nb]}.ipynb").exists() and keyf.exists()
        if args.force or not done or keyf.read_text() != key:
            keyf.unlink(missing_ok=True)
            todo.append((nb, key))

    # Longest first (times of the last run; new notebooks count as slow): workers finish together.
    def last(nb):
        secs = CACHE / f"{pages[nb]}.secs"
        return float(secs.read_text()) if secs.exists() else 1e9

    todo.sort(key=lambda t: -last(t[0]))
    if todo:
        failed = _run_all(todo, pages, args.jobs)
        if failed:
            names = ", ".join(failed)
            print(f"FAILED: {names} did not run top to bottom; no site built", file=sys.stderr)
            return 1
    else:
        print("== every notebook is up to date (executed copies cached in _build/nbs/)")

    # 2 + 3. nbdev's processors, then myst-nb sources in _build/src (cheap: every time)
    t1, labels, docs = time.time(), set(), {}
    for nb in nbs:
        name = None if nb.name == "index.ipynb" else nb.name
        processed = nbdev_process(CACHE / f"{pages[nb]}.ipynb", nb)
        docs[pages[nb]] = to_myst(processed, pages[nb], labels, name)
    links = LinkMap({nb.stem: pages[nb] for nb in nbs}, labels)
    keep = copy_assets()
    lessons = [p for p in docs if p != "index"]
    for page in lessons:
        keep.add(SRC / f"{page}.ipynb")
        write_valid(links.apply(docs[page]), SRC / f"{page}.ipynb")
    name, text = add_toc(links.apply(docs["index"]) if "index" in docs else None, lessons)
    _write_if_changed(SRC / name, text)
    keep.add(SRC / name)
    for p in list(SRC.rglob("*")):  # pages whose notebook is gone
        if p.is_file() and p not in keep:
            p.unlink()

    # 4. Sphinx into _build/html. -a: write every page, so each sidebar lists every lesson.
    print(f"== sphinx: {SRC.relative_to(ROOT)} -> {args.out} (sources in {time.time() - t1:.1f} s)")
    sys.stdout.flush()
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-a",
        "-q",
        "-c",
        str(SITE),
        "-d",
        str(DOCTREES),
        str(SRC),
        str(HTML),
    ]
    if args.force:
        cmd.insert(3, "-E")
    t2 = time.time()
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode:
        print("FAILED: sphinx-build", file=sys.stderr)
        return r.returncode
    remove_stale(HTML, {f"{p}.html" for p in pages.values()} | {"search.html"})
    write_downloads(nbs, pages)
    mirror(HTML, Path(args.out))
    MANIFEST.write_text(json.dumps({pages[nb]: nb.name for nb in nbs}, indent=1) + "\n")
    secs = time.time() - t0
    print(f"== site built in {secs:.1f} s (sphinx {time.time() - t2:.1f} s): {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
