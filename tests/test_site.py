"""The course website in a real browser (Debian's chromium driven by playwright; never
`playwright install`).

The site is (re)built first with site/build.py, which is incremental: it re-executes only notebooks
whose inputs changed and reuses _site/ otherwise. Then _site/ is served on 127.0.0.1 and every page
is opened at playwright's default window size (1280 x 720). For every page: every image loaded, no
console errors, no failed requests, no request to any host but 127.0.0.1, the sidebar links every
lesson, no nbdev/Quarto directive shown, no code block scrolls sideways, every link is internal (to
a file and anchor that exist) or to a known real external page, none to the placeholder project
URLs. On every lesson page: every exported cell's code is there (`#| exports` open, `#| export`
folded behind "Show code"), every solution is folded behind "Show solution" while questions and
check cells stay visible, the two download links give valid notebooks. A solution is unfolded and
folded again by clicking it. Searching for an exported name of every lesson module (and `fit`)
finds that lesson's page. Screenshots go to tests/screenshots/ (git-ignored).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR, SHOTS = ROOT / "_site", ROOT / "tests" / "screenshots"
# Debian's chromium, or any Chromium/Chrome named by $CHROMIUM (scripts/ensure_chromium.sh).
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-extensions", "--disable-dev-shm-usage", "--disable-default-apps",
                 "--no-default-browser-check"]  # fmt: skip
# External pages the site may link to (real sites; add a host here when a lesson links a new one).
KNOWN_HOSTS = {"github.com", "nbdev.fast.ai", "www.sphinx-doc.org", "pradyunsg.me",
               "pytorch.org", "docs.pytorch.org", "numpy.org", "matplotlib.org", "docs.python.org",
               "arxiv.org", "en.wikipedia.org", "distill.pub", "transformer-circuits.pub",
               "fastcore.fast.ai", "docs.astral.sh", "jupyter.org", "yann.lecun.com"}  # fmt: skip
# The project has no public repository or hosted site: no link may point at one.
PLACEHOLDER = re.compile(r"interpcourse\.github\.io|github\.com/interpcourse\b|\.invalid\b", re.I)

if not CHROMIUM.exists():
    pytest.skip(
        f"no chromium at {CHROMIUM} (scripts/ensure_chromium.sh installs it; or set CHROMIUM=)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

_spec = importlib.util.spec_from_file_location("course_site_build", ROOT / "site" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
from student import solution_kind  # noqa: E402  (site/, put on sys.path by site/build.py)


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
    (`#| exports` cells and the check cell after a solution); 'solution': a worked solution.
    """
    out, after_solution = [], False
    for d, src, c in _cells(nb_name, kinds=("code", "markdown")):
        kind = solution_kind(c)
        if c["cell_type"] == "markdown":
            after_solution = after_solution and kind == "markdown"
            continue
        code = _code_of(src)
        if kind == "code":
            out.append((code, "solution"))
        elif "hide" in d or not code:
            pass
        elif d.keys() & {"export", "exporti"}:
            out.append((code, "code"))
        elif "exports" in d or after_solution:
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


def test_api_blocks(site):
    "Every exported function and class has its API block on its lesson's page, with an anchor."
    from docutils.nodes import make_id  # how Sphinx turns the label into the HTML id

    missing = []
    for page, nb_name in lesson_pages().items():
        ids = _ids(f"{page}.html")
        missing += [f"{page}.html: no API block for {n}" for n in exported_defs(nb_name)
                    if make_id(build.api_label(page, n)) not in ids]  # fmt: skip
    assert not missing, "\n".join(missing)


@pytest.fixture(scope="module")
def site():
    "Build (incrementally) and serve _site/ on a free port of 127.0.0.1."
    t = time.time()
    cmd = [sys.executable, str(ROOT / "site" / "build.py")]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"site build failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    print(f"\nsite build: {time.time() - t:.1f} s")
    assert not (ROOT / "jupyter_execute").exists(), "the build left jupyter_execute/ at the root"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):  # only this run's pages
        old.unlink()
    handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser_context():
    with (
        sync_api.sync_playwright() as p,
        tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
    ):
        # No viewport given: playwright's default window (1280 x 720) is what we measure in.
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            accept_downloads=True,
        )  # fmt: skip
        yield ctx
        ctx.close()


class PageWatch:
    "Everything a page asked for, and everything that went wrong while it loaded."

    def __init__(self, page):
        self.requests, self.failed, self.errors = [], [], []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} ({r.status})")
        )
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def foreign(self) -> list[str]:
        "Requests that left 127.0.0.1 (data: and blob: URLs stay in the page)."
        local = ("data", "blob", "about")
        urls = [urlsplit(u) for u in self.requests]
        return [u.geturl() for u in urls if u.scheme not in local and u.hostname != "127.0.0.1"]


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


def _open(ctx, url):
    page = ctx.new_page()
    watch = PageWatch(page)
    page.goto(url, wait_until="networkidle")
    return page, watch


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


_JS_LOAD_IMAGES = """async () => { for (const i of document.images) i.loading = 'eager';
    await Promise.all([...document.images].map(i => i.decode().catch(() => null))); }"""
_JS_WIDE_CODE = """() => [...document.querySelectorAll('article pre')]
    .filter(p => p.scrollWidth > p.clientWidth)
    .map(p => [p.scrollWidth, p.clientWidth,
               p.textContent.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '')])"""
_JS_CELLS = """() => [...document.querySelectorAll('article div.cell div.cell_input pre')]
    .map(p => [p.textContent, (p.closest('details.fold') || {className: ''}).className])"""


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


def _download_problems(page, rel: str, nb_name: str) -> list[str]:
    "Follow the page's two download links; each must give a valid notebook."
    import nbformat

    problems = []
    for cls, want in (
        ("download-lesson", nb_name),
        ("download-student", f"{nb_name[:-6]}_student"),
    ):
        link = page.locator(f"a.{cls}")
        if link.count() != 1:
            problems.append(f"{rel}: {link.count()} links a.{cls}, want 1")
            continue
        with page.expect_download() as info:
            link.click()
        dl = info.value
        try:
            nb = nbformat.reads(Path(dl.path()).read_text(encoding="utf-8"), as_version=4)
            nbformat.validate(nb)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{rel}: {cls} did not give a valid notebook: {e}")
            continue
        if not dl.suggested_filename.startswith(want.removesuffix(".ipynb")):
            problems.append(f"{rel}: {cls} gives {dl.suggested_filename}, want {want}")
        outputs = sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
        if cls == "download-student" and outputs:
            problems.append(f"{rel}: the student notebook has outputs")
        if cls == "download-lesson" and not outputs:
            problems.append(f"{rel}: the executed lesson has no outputs")
    return problems


def test_every_page(site, browser_context):
    pages = sorted(p.relative_to(SITE_DIR).as_posix() for p in SITE_DIR.rglob("*.html")
                   if "_static" not in p.parts)  # fmt: skip
    lessons = lesson_pages()
    assert "index.html" in pages and all(f"{p}.html" in pages for p in lessons), (pages, lessons)
    problems = []
    for rel in pages:
        page, watch = _open(browser_context, f"{site}/{rel}")
        lesson = lessons.get(rel[:-5])
        try:
            # Lazy images would load only when scrolled to: load them all, then check each one.
            page.evaluate(_JS_LOAD_IMAGES)
            page.wait_for_load_state("networkidle")
            imgs = page.evaluate(
                "[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])"
            )
            problems += [f"{rel}: image did not load: {src}" for src, w in imgs if not w]
            problems += [f"{rel}: {e}" for e in watch.errors]
            problems += [f"{rel}: failed request {u}" for u in watch.failed]
            problems += [f"{rel}: request to another host: {u}" for u in watch.foreign()]
            side = page.evaluate(
                "[...document.querySelectorAll('.sidebar-tree a')].map(a => a.getAttribute('href'))"
            )
            # furo links the current page as "#"
            linked = {re.sub(r"[#?].*$", "", h).split("/")[-1] or rel.split("/")[-1] for h in side}
            problems += [f"{rel}: sidebar does not link lesson {p}" for p in lessons
                         if f"{p}.html" not in linked]  # fmt: skip
            hrefs = page.evaluate(
                "[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
            )
            problems += [f"{rel}: broken link {h}" for h in hrefs if not _link_ok(rel, h)]
            for h in hrefs:
                if re.match(r"^[a-z][a-z0-9+.-]*:", h) and (why := _external_problem(h)):
                    problems.append(f"{rel}: link {h}: {why}")
            if page.locator(".math").count():
                page.wait_for_function(
                    "document.querySelectorAll('mjx-container').length > 0", timeout=10_000
                )
            article = page.locator("article")
            text = article.inner_text() if article.count() else ""
            every = article.text_content() if article.count() else ""  # folded parts too
            problems += [f"{rel}: nbdev directive shown: {ln.strip()}"
                         for ln in every.splitlines() if ln.strip().startswith("#|")]  # fmt: skip
            if lesson:
                shown = {ln.strip() for ln in text.splitlines()}
                problems += [f"{rel}: a `#| hide` cell is shown: {ln}"
                             for ln in hidden_lines(lesson) if ln in shown]  # fmt: skip
                # every figure the lesson produced is on its page
                src = json.loads((build.SRC / f"{rel[:-5]}.ipynb").read_text())
                want = sum(
                    "image/png" in o.get("data", {})
                    for c in src["cells"]
                    if "remove-output" not in c.get("metadata", {}).get("tags", [])
                    for o in c.get("outputs", [])
                )
                got = page.locator(".cell_output img").count()
                if got < want:
                    problems.append(f"{rel}: {got} figures shown, the lesson produced {want}")
                problems += _fold_problems(rel, lesson, page.evaluate(_JS_CELLS))
                problems += _download_problems(page, rel, lesson)
            _shot(page, rel[:-5].replace("/", "_"))
            # Code blocks at the default window width, folded ones opened to be measured.
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            for sw, cw, line in page.evaluate(_JS_WIDE_CODE):
                problems.append(f"{rel}: code block scrolls sideways ({sw} > {cw} px): {line[:80]}")
        finally:
            page.close()
    assert not problems, "\n".join(problems)


def test_solution_folds_and_unfolds(site, browser_context):
    "A solution is folded; clicking 'Show solution' shows its code and output; clicking hides it."
    with_solutions = [p for p, nb in lesson_pages().items()
                      if any(w == "solution" for _, w in expected_folds(nb))]  # fmt: skip
    assert with_solutions, "no lesson has a `#| solution` cell"
    problems = []
    for name in with_solutions:
        page, watch = _open(browser_context, f"{site}/{name}.html")
        try:
            fold = page.locator("details.fold-solution").first
            code = fold.locator("div.cell_input pre").first
            summary = fold.locator("summary")
            if summary.inner_text().strip() != "Show solution" or code.is_visible():
                problems.append(f"{name}.html: the first solution is not folded behind its summary")
            summary.click()
            if not code.is_visible() or fold.get_attribute("open") is None:
                problems.append(f"{name}.html: clicking 'Show solution' did not show the code")
            if fold.locator("div.cell_output").count():
                if not fold.locator("div.cell_output").first.is_visible():
                    problems.append(f"{name}.html: the solution's output is not shown")
            _shot(page, f"{name}-solution-open")
            summary.click()
            if code.is_visible():
                problems.append(f"{name}.html: clicking again did not fold the solution")
            problems += [f"{name}.html: {e}" for e in watch.errors]
        finally:
            page.close()
    assert not problems, "\n".join(problems)


_JS_FOLDED_SOURCE = """() => [...document.querySelectorAll('a.api-source')]
    .map(a => a.getAttribute('href'))
    .find(h => { const t = document.getElementById(h.slice(1));
                 return t && t.closest('details.fold-code'); })"""
_JS_OPEN = "h => document.getElementById(h.slice(1)).closest('details').open"


def test_source_link_opens_folded_code(site, browser_context):
    "An API block's 'source' link leads to its code on the page, unfolding it when folded."
    problems = []
    for name in lesson_pages():
        page, watch = _open(browser_context, f"{site}/{name}.html")
        try:
            href = page.evaluate(_JS_FOLDED_SOURCE)
            if not href:
                continue
            page.locator(f'a.api-source[href="{href}"]').first.click()
            page.wait_for_function(_JS_OPEN, arg=href, timeout=5_000)
            problems += [f"{name}.html: {e}" for e in watch.errors]
        except sync_api.TimeoutError:
            problems.append(f"{name}.html: following 'source' ({href}) did not open its code")
        finally:
            page.close()
    assert not problems, "\n".join(problems)


def test_search_finds_api(site, browser_context):
    terms = search_terms()
    assert "fit" in terms
    problems = []
    for name, want in terms.items():
        page, watch = _open(browser_context, f"{site}/search.html?q={name}")
        try:
            page.wait_for_function(
                """() => { const s = document.querySelector('#search-results .search-summary');
                return s && /found|did not match/.test(s.innerText); }""",
                timeout=15_000,
            )
            hrefs = page.evaluate(
                "[...document.querySelectorAll('#search-results ul.search li a')]"
                ".map(a => a.getAttribute('href'))"
            )
            if not any(re.sub(r"[#?].*$", "", h).split("/")[-1] == f"{want}.html" for h in hrefs):
                problems.append(f"search for {name!r} does not list {want}.html: {hrefs}")
            problems += [
                f"search {name}: {e}" for e in watch.errors + watch.failed + watch.foreign()
            ]
            _shot(page, f"search-{name}")
        finally:
            page.close()
    assert not problems, "\n".join(problems)
