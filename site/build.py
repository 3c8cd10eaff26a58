"""Build the course website from the lessons in nbs/, offline, without Quarto.

    python site/build.py [--force] [--jobs 2] [--out _site]

1. Execute: every nbs/*.ipynb (index.ipynb first, then the lessons in file order) runs top to bottom in a fresh
   process (2 at a time, slowest first) with execnb's CaptureShell, as `nbdev-test` runs it: working directory nbs/,
   IN_TEST=1, cells flagged with the config's `tst_flags` skipped. nbdev's `add_show_docs` runs first, so the API
   blocks of exported definitions are executed in the same pass (nothing runs twice, so a cell that mixes imports
   and code is fine). A failing lesson stops the build with its traceback.
2. Process: nbdev's own doc processors (`FilterDefaults` without `exec_show_docs`, as the notebook ran already):
   front matter, `#| hide` cells removed, exported cells replaced by their API blocks, backticked names linked.
3. Convert for myst-nb: front matter becomes the page title and summary; `show_doc` outputs (`#| output: asis`)
   become markdown sections with a label (so the API is in the page's contents and the search index); Quarto cell
   options become myst-nb tags; nbdev's doc links and links to `NN_name.ipynb` become links between local pages;
   execnb's timing metadata, nbdev's `has_sd` key and widget state are dropped; each notebook is validated against
   the nbformat schema. Pages are named as nbdev/Quarto names them (00_training.ipynb -> training.html).
4. Sphinx + myst-nb (execution off) + furo + sphinx-mathjax-offline render _build/src into --out (default _site/).

Executed notebooks are cached in _build/nbs/ under a key of the notebook, the interpcourse/ modules it imports,
data/, pyproject.toml, the `execute` function and tool versions, so a second run re-executes nothing that has not
changed; steps 2-4 are cheap and always run (Sphinx re-reads only changed pages, and rewrites every page so that
every sidebar lists every lesson).
"""
from __future__ import annotations
import argparse, hashlib, json, os, re, shutil, subprocess, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent
NBS, LIB, DATA = ROOT/"nbs", ROOT/"interpcourse", ROOT/"data"
BUILD = ROOT/"_build"
CACHE, SRC, DOCTREES = BUILD/"nbs", BUILD/"src", BUILD/"doctrees"
MANIFEST = BUILD/"site.json"          # what the last build contained: {page: notebook}, read by tests/test_site.py
ASSET_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".css"}


def notebooks() -> list[Path]:
    "index.ipynb (if present) then every other notebook in nbs/ in file order; files starting with _ or . are skipped."
    nbs = sorted(p for p in NBS.glob("*.ipynb") if p.name[0] not in "_.")
    return sorted(nbs, key=lambda p: p.name != "index.ipynb")


def page_name(nb: Path) -> str:
    "The page nbdev/Quarto would give `nb`: the file name without its numeric prefix (00_training -> training)."
    from nbdev.config import nbpath2html
    return nbpath2html(nb).stem


def _hash_files(h, paths):
    for p in sorted(paths):
        h.update(str(p.relative_to(ROOT)).encode()); h.update(b"\0"); h.update(p.read_bytes()); h.update(b"\0")


_re_libimport = re.compile(r"\binterpcourse\.(\w+)|\bfrom\s+interpcourse\s+import\s+([\w\s,()]+)|\bfrom\s+\.(\w+)\s+import")


def library_deps(text: str) -> set[Path]:
    "interpcourse/ modules that `text` imports, and what they import in turn (_modidx.py excluded: links only)."
    deps, todo = {LIB/"__init__.py"}, [text]
    while todo:
        for m in _re_libimport.finditer(todo.pop()):
            names = [m.group(1) or m.group(3)] if (m.group(1) or m.group(3)) else re.findall(r"\w+", m.group(2))
            for n in names:
                p = LIB/f"{n}.py"
                if n != "_modidx" and p.exists() and p not in deps: deps.add(p); todo.append(p.read_text(encoding="utf-8"))
    return {p for p in deps if p.exists()}


def cache_key(nb: Path) -> str:
    "Changes when the notebook, the library modules it uses, the shipped data, how it is executed or a tool changes."
    import inspect
    from importlib.metadata import version
    h = hashlib.sha256(inspect.getsource(execute).encode())
    _hash_files(h, [nb, ROOT/"pyproject.toml"])
    _hash_files(h, library_deps(nb.read_text(encoding="utf-8")))
    if DATA.exists(): _hash_files(h, [p for p in DATA.rglob("*") if p.is_file()])
    for pkg in ("nbdev", "execnb", "torch", "numpy", "pandas", "matplotlib"): h.update(version(pkg).encode())
    return h.hexdigest()


# ---------------------------------------------------------------- 1: execute (in a fresh worker process)
def execute(nb_path: str, out_path: str) -> tuple[str, float, str]:
    "Execute `nb_path` top to bottom (API blocks included), write it with its outputs to `out_path`; (path, s, note)."
    t0 = time.time()
    os.environ["IN_TEST"] = "1"
    from fastcore.nbio import write_nb
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs
    from nbdev.test import _skip_cell
    from execnb.shell import CaptureShell
    src = Path(nb_path)
    cfg = get_config(ROOT)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    nb = NBProcessor(src, procs=[add_show_docs], rm_directives=False, process=True).nb
    k = CaptureShell(src)
    sys.path.insert(0, str(ROOT))
    try:
        with working_directory(NBS):
            k.run_cell("from nbdev.showdoc import show_doc")
            k.run_all(nb, exc_stop=True, preproc=_skip_cell(nb, flags))
    except BaseException:
        import traceback
        return nb_path, time.time() - t0, "FAILED\n" + (k.prettytb(fname=src) or traceback.format_exc())
    write_nb(nb, out_path)
    import resource
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return nb_path, time.time() - t0, f"cpu {ru.ru_utime + ru.ru_stime:.1f} s"


# ---------------------------------------------------------------- 2: nbdev's doc processors (cheap; every build)
def nbdev_process(executed: Path, src: Path):
    "nbdev's doc processors (`FilterDefaults` without `exec_show_docs`: the notebook ran already) -> notebook."
    from fastcore.nbio import read_nb
    from fastcore.xtras import working_directory
    from nbdev.processors import FilterDefaults, exec_show_docs

    class DocProcs(FilterDefaults):
        def base_procs(self): return [p for p in super().base_procs() if p is not exec_show_docs]

    nb = read_nb(executed)
    nb.path_ = str(src)
    with working_directory(NBS): DocProcs()(nb)
    return nb


# ---------------------------------------------------------------- 3: myst-nb ready, schema-valid notebooks
_re_opt = re.compile(r"^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$")
_re_heading = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.M)
_re_source = re.compile(r"\[source\]\(([^)\s]+)\)\{[^}]*\}")


def _text(x) -> str: return "".join(x) if isinstance(x, list) else (x or "")
def _false(v) -> bool: return str(v).lower() in ("false", "no", "0")
def api_label(page: str, anchor: str) -> str: return f"api-{page}-{anchor.lower()}"


def _split_opts(source: str) -> tuple[dict, str]:
    "Quarto `#| key: value` lines at the top of a cell -> (options, remaining source)."
    lines, opts = source.splitlines(), {}
    while lines and (m := _re_opt.match(lines[0])):
        opts[m.group(1)] = m.group(2).strip("'\""); lines.pop(0)
    return opts, "\n".join(lines)


def _api_markdown(md: str, page: str, labels: set[str]) -> str:
    "A `show_doc` output as a MyST section: a label for links, the heading, a source link, signature, docstring."
    md = re.sub(r"^\s*---\s*\n", "", md)        # Quarto's rule above each block; a transition cannot end a section
    src = _re_source.search(md)
    md = _re_source.sub("", md)
    m = _re_heading.search(md)
    if not m: return md.strip()
    name = re.sub(r"[`*\\]", "", m.group(2)).strip()
    label, i = api_label(page, name), 2
    while label in labels: label, i = f"{api_label(page, name)}-{i}", i + 1   # `Report` and `report`: labels ignore case
    labels.add(label)
    head = f"({label})=\n{m.group(1)} {m.group(2)}\n"
    link = f"\n[source]({src.group(1)}){{.api-source}}\n" if src else ""
    body = (md[:m.start()] + md[m.end():]).strip()
    return head + link + ("\n{.api-signature}\n" if body.startswith("```") else "\n") + body


def to_myst(nb, page: str, labels: set[str]) -> dict:
    "nbdev-processed notebook -> notebook dict for myst-nb (links are resolved later, when every label is known)."
    import yaml
    cells, title, summary = [], None, None
    for c in nb["cells"]:
        src = _text(c.get("source"))
        if c["cell_type"] == "raw" and src.strip().startswith("---"):
            fm = yaml.safe_load(src.strip().strip("-")) or {}
            title, summary = fm.get("title", title), fm.get("description", summary)
            continue
        if c["cell_type"] == "markdown" and "THIS FILE WAS AUTOGENERATED" in src: continue
        if c["cell_type"] != "code":
            cells.append(dict(cell_type=c["cell_type"], metadata={}, source=src)); continue
        opts, code = _split_opts(src)
        outputs = [dict(o) for o in c.get("outputs", [])]
        if _false(opts.get("include", True)): continue
        tags = []
        if _false(opts.get("echo", True)): tags.append("remove-input")
        if _false(opts.get("output", True)): tags.append("remove-output")
        if opts.get("output") == "asis":             # show_doc and friends: their markdown is part of the page
            md = "".join(_text(o.get("data", {}).get("text/markdown")) for o in outputs)
            if "remove-input" not in tags and code.strip():
                cells.append(dict(cell_type="code", metadata={}, source=code, outputs=[], execution_count=None))
            if md.strip():
                cells.append(dict(cell_type="markdown", metadata={},
                                  source=_api_markdown(md, page, labels) if "show_doc" in code else md))
            continue
        for o in outputs:
            if "metadata" in o: o["metadata"] = {k: v for k, v in o["metadata"].items() if k != "execution"}
        cells.append(dict(cell_type="code", metadata={"tags": tags} if tags else {}, source=code,
                          outputs=outputs, execution_count=c.get("execution_count")))
    head = f"# {title or page.replace('_', ' ').title()}\n"
    if summary: head += f"\n{{.lead}}\n{summary}\n"
    cells.insert(0, dict(cell_type="markdown", metadata={}, source=head))
    for i, c in enumerate(cells): c["id"] = f"cell-{i}"
    return dict(nbformat=4, nbformat_minor=5, cells=cells, metadata=dict(
        kernelspec=dict(display_name="Python 3", language="python", name="python3"),
        language_info=dict(name="python", pygments_lexer="ipython3")))


_re_nblink = re.compile(r"\]\((?![a-z]+:)(?:\./)?([\w.-]+)\.ipynb(#[^)\s]*)?\)")


class LinkMap:
    "nbdev doc links (`https://host/baseurl/page.html#anchor`) -> MyST links to the API labels of the local pages."
    def __init__(self, nb_pages: dict[str, str], labels: set[str]):
        from nbdev.config import get_config
        cfg = get_config(ROOT)
        base = (str(cfg.get("doc_host", "")) + str(cfg.get("doc_baseurl", ""))).rstrip("/")
        self.nb_pages, self.pages, self.labels = nb_pages, set(nb_pages.values()), labels
        self.re = re.compile(r"\]\(" + re.escape(base) + r"/([\w.-]+)\.html(?:#([^)\s]*))?\)") if base else None

    def _sub(self, m):
        page, anchor = m.group(1), (m.group(2) or "")
        if page not in self.pages: return m.group(0)
        while anchor:                                 # `Report.show` without its own block -> `Report`
            if api_label(page, anchor) in self.labels: return f"](#{api_label(page, anchor)})"
            anchor = anchor.rpartition(".")[0]
        return f"]({page}.ipynb)"

    def _nb_sub(self, m):
        "`[text](01_target.ipynb#x)` -> `[text](target.ipynb#x)`: lessons link to each other by notebook file name."
        page = self.nb_pages.get(m.group(1))
        return f"]({page}.ipynb{m.group(2) or ''})" if page else m.group(0)

    def __call__(self, md: str) -> str:
        md = _re_nblink.sub(self._nb_sub, md)
        return self.re.sub(self._sub, md) if self.re else md

    def apply(self, nb: dict) -> dict:
        for c in nb["cells"]:
            if c["cell_type"] == "markdown": c["source"] = self(c["source"])
            for o in c.get("outputs", []):
                if "text/markdown" in o.get("data", {}): o["data"]["text/markdown"] = self(_text(o["data"]["text/markdown"]))
        return nb


def write_valid(nb: dict, dest: Path) -> None:
    "Check `nb` against the nbformat schema and write it (only if it changed, so Sphinx skips unchanged pages)."
    import nbformat
    node = nbformat.from_dict(nb)
    nbformat.validate(node)
    _write_if_changed(dest, nbformat.writes(node) + "\n")


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text: path.write_text(text, encoding="utf-8")


def _project_title() -> str:
    import tomllib
    proj = tomllib.loads((ROOT/"pyproject.toml").read_text())["project"]
    return proj.get("description", proj["name"])


def add_toc(nb: dict | None, lessons: list[str]) -> tuple[str, str]:
    "(file name, text) of the home page, with a toctree of every lesson (furo's sidebar is made from it)."
    toc = "```{toctree}\n:caption: Lessons\n:maxdepth: 1\n%s\n%s\n```\n" % (":hidden:" if nb else "", "\n".join(lessons))
    if nb is None:
        return "index.md", f"# {_project_title()}\n\nThe lessons, in order:\n\n{toc}"
    import nbformat
    nb["cells"].append(dict(cell_type="markdown", id="cell-toc", metadata={}, source=toc))
    node = nbformat.from_dict(nb); nbformat.validate(node)
    return "index.ipynb", nbformat.writes(node) + "\n"


def copy_assets() -> set[Path]:
    "Images and stylesheets that lessons' markdown refers to by relative path (nbs/ only; build folders skipped)."
    done = set()
    for p in NBS.rglob("*"):
        rel = p.relative_to(NBS)
        if not p.is_file() or p.suffix.lower() not in ASSET_EXTS: continue
        if any(part[0] in "._" for part in rel.parts): continue
        d = SRC/rel
        if not d.exists() or d.read_bytes() != p.read_bytes(): d.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(p, d)
        done.add(d)
    return done


def remove_stale(out: Path, html: set[str]) -> None:
    "Sphinx never deletes output: drop pages of removed notebooks and figures no page shows any more."
    for p in out.glob("*.html"):
        if p.name not in html: p.unlink()
    used = set()
    for p in out.glob("*.html"): used.update(re.findall(r'_images/([^"\'?#)\s]+)', p.read_text(encoding="utf-8")))
    for p in (out/"_images").glob("*") if (out/"_images").exists() else []:
        if p.is_file() and p.name not in used: p.unlink()


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--force", action="store_true", help="re-execute every notebook and rebuild every page")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    ap.add_argument("--out", default=str(ROOT/"_site"), help="output folder")
    args = ap.parse_args(argv)
    t0 = time.time()
    os.environ.update(IN_TEST="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
                      MKL_NUM_THREADS=os.environ.get("MKL_NUM_THREADS", "1"), PYDEVD_DISABLE_FILE_VALIDATION="1")
    nbs = notebooks()
    if not nbs: print("no notebooks in nbs/", file=sys.stderr); return 1
    pages = {nb: page_name(nb) for nb in nbs}
    if len(set(pages.values())) != len(pages): print(f"two notebooks map to one page: {pages}", file=sys.stderr); return 1
    CACHE.mkdir(parents=True, exist_ok=True)

    # 1. execute what changed, in parallel, one fresh process per notebook
    todo = []
    for nb in nbs:
        key, keyf = cache_key(nb), CACHE/f"{pages[nb]}.key"
        if args.force or not (CACHE/f"{pages[nb]}.ipynb").exists() or not keyf.exists() or keyf.read_text() != key:
            keyf.unlink(missing_ok=True); todo.append((nb, key))
    # Longest first (times of the last run; new notebooks count as slow), so the two workers finish together.
    last = lambda nb: float((CACHE/f"{pages[nb]}.secs").read_text()) if (CACHE/f"{pages[nb]}.secs").exists() else 1e9
    todo.sort(key=lambda t: -last(t[0]))
    failed = []
    if todo:
        print(f"== executing {len(todo)} notebook(s), {args.jobs} at a time: {' '.join(n.name for n, _ in todo)}", flush=True)
        with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(todo))), mp_context=get_context("spawn"),
                                 max_tasks_per_child=1) as ex:
            futs = [(ex.submit(execute, str(nb), str(CACHE/f"{pages[nb]}.ipynb")), nb, key) for nb, key in todo]
            for f, nb, key in futs:
                _, secs, msg = f.result()
                if msg.startswith("FAILED"): failed.append(nb.name); print(f"FAILED {nb.name} ({secs:.1f} s):\n{msg[7:]}", file=sys.stderr, flush=True)
                else:
                    (CACHE/f"{pages[nb]}.key").write_text(key); (CACHE/f"{pages[nb]}.secs").write_text(f"{secs:.1f}")
                    print(f"   {nb.name}: {secs:.1f} s ({msg})", flush=True)
    else: print("== every notebook is up to date (executed copies cached in _build/nbs/)")
    if failed: print(f"FAILED: {', '.join(failed)} did not run top to bottom; no site was built", file=sys.stderr); return 1

    # 2 + 3. nbdev's processors, then myst-nb sources in _build/src (cheap: done every time, from the cache)
    t1, labels, docs = time.time(), set(), {}
    for nb in nbs: docs[pages[nb]] = to_myst(nbdev_process(CACHE/f"{pages[nb]}.ipynb", nb), pages[nb], labels)
    links = LinkMap({nb.stem: pages[nb] for nb in nbs}, labels)
    keep = copy_assets()
    lessons = [p for p in docs if p != "index"]
    for page in lessons:
        keep.add(SRC/f"{page}.ipynb"); write_valid(links.apply(docs[page]), SRC/f"{page}.ipynb")
    name, text = add_toc(links.apply(docs["index"]) if "index" in docs else None, lessons)
    _write_if_changed(SRC/name, text); keep.add(SRC/name)
    for p in list(SRC.rglob("*")):                  # pages whose notebook is gone
        if p.is_file() and p not in keep: p.unlink()

    # 4. Sphinx. -a: write every page, so each sidebar lists every lesson (a new page changes them all).
    print(f"== sphinx: {SRC.relative_to(ROOT)} -> {args.out} (sources prepared in {time.time() - t1:.1f} s)", flush=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-a", "-q", "-c", str(SITE), "-d", str(DOCTREES), str(SRC), args.out]
    if args.force: cmd.insert(3, "-E")
    t2 = time.time()
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode: print("FAILED: sphinx-build", file=sys.stderr); return r.returncode
    remove_stale(Path(args.out), {f"{p}.html" for p in pages.values()} | {"search.html"})
    MANIFEST.write_text(json.dumps({pages[nb]: nb.name for nb in nbs}, indent=1) + "\n")
    print(f"== site built in {time.time() - t0:.1f} s (sphinx {time.time() - t2:.1f} s): {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
