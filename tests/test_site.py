"""The course website in a real browser (Debian's chromium driven by playwright; never
`playwright install`).

The site is built first with site/build.py (incremental: it re-executes only lessons whose inputs
changed), unless the test command has just built it (INTERPCOURSE_SITE_BUILT=1). Then _site/ is
served on 127.0.0.1 and ONE browser tab visits every page ONCE, at playwright's default window
(1280 x 720) and then at a phone's width (390 px), with no fixed waits (it waits for the load
event, the images' decoding and MathJax's typesetting). Everything is checked on that one visit,
and each test below asserts on its share of the findings:

- every page: every image loaded, no console errors, no failed requests, no request to any host
  but 127.0.0.1, the sidebar links every lesson, no nbdev/Quarto directive shown, no code block
  scrolls sideways, every link internal (to a file and anchor that exist) or to a known real
  external page, none to the placeholder project URLs. On every lesson page: every exported
  cell's code is there (`#| exports` open, `#| export` folded behind "Show code"), every solution
  is folded behind "Show solution" together with its check cell while the questions stay visible,
  every figure the lesson drew is shown, the two download links give valid notebooks;
- a solution (with its check) unfolds and folds again when clicked;
- an API block's "source" link opens its folded code;
- at 1280 px no display formula (MathJax) and no table is wider than the content column;
- at 390 px no display formula is cut off (wider than its box and not scrollable), every table
  wider than the column scrolls inside its own box, and the page itself never scrolls sideways;
- no figure is drawn much wider than shown (its text would shrink): its intended width (the
  retina PNG's declared width, else its pixel width) over its shown width is at most 1.35;
- searching for an exported name of every lesson module (and `fit`) finds that lesson's page.

SCREENSHOTS=1 saves a full-page screenshot of every page to tests/screenshots/ (git-ignored).
"""

from __future__ import annotations

import functools
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
from urllib.parse import urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"
# Debian's chromium, or any Chromium/Chrome named by $CHROMIUM (scripts/ensure_chromium.sh).
CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-extensions", "--disable-dev-shm-usage", "--disable-default-apps",
                 "--no-default-browser-check"]  # fmt: skip
if not CHROMIUM.exists():
    pytest.skip(
        f"no chromium at {CHROMIUM} (scripts/ensure_chromium.sh installs it; or set CHROMIUM=)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

from site_expect import (  # noqa: E402  (tests/site_expect.py: what the pages must show)
    SITE_DIR,
    _fold_problems,
    _ids,
    _link_ok,
    _external_problem,
    build,
    exported_defs,
    expected_folds,
    hidden_lines,
    lesson_pages,
    search_terms,
)


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
    "Build (incrementally, unless the test command just did) and serve _site/ on 127.0.0.1."
    if not os.environ.get("INTERPCOURSE_SITE_BUILT"):
        t = time.time()
        cmd = [sys.executable, str(ROOT / "site" / "build.py")]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f"site build failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
        print(f"\nsite build: {time.time() - t:.1f} s")
    assert not (ROOT / "jupyter_execute").exists(), "the build left jupyter_execute/ at the root"
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


class PageWatch:
    "Everything a page asked for, and everything that went wrong while it loaded."

    def __init__(self, page):
        self.reset()
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} ({r.status})")
        )
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def reset(self):
        "Forget what the previous page did (one tab visits every page)."
        self.requests, self.failed, self.errors = [], [], []

    def foreign(self) -> list[str]:
        "Requests that left 127.0.0.1 (data: and blob: URLs stay in the page)."
        local = ("data", "blob", "about")
        urls = [urlsplit(u) for u in self.requests]
        return [u.geturl() for u in urls if u.scheme not in local and u.hostname != "127.0.0.1"]


def _download_problems(page, rel: str, nb_name: str) -> list[str]:
    """The page's two download links (with a `download` attribute, named as the notebook) each give
    a valid notebook, fetched by the browser from the link's URL (as a click would download it)."""
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
        href, is_download = link.get_attribute("href"), link.get_attribute("download") is not None
        name = href.split("?")[0].split("/")[-1]
        if not is_download or not name.startswith(want.removesuffix(".ipynb")):
            problems.append(f"{rel}: {cls} gives {name} (download={is_download}), want {want}")
        r = page.context.request.get(urljoin(page.url, href))
        try:
            assert r.ok, f"HTTP {r.status}"
            nb = nbformat.reads(r.text(), as_version=4)
            nbformat.validate(nb)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{rel}: {cls} did not give a valid notebook: {e}")
            continue
        outputs = sum(len(c.get("outputs", [])) for c in nb.cells if c.cell_type == "code")
        if cls == "download-student" and outputs:
            problems.append(f"{rel}: the student notebook has outputs")
        if cls == "download-lesson" and not outputs:
            problems.append(f"{rel}: the executed lesson has no outputs")
    return problems


# ------------------------------------------------------------------ what the one visit measures
_JS_READY = """async () => {
    for (const i of document.images) i.loading = 'eager';  // lazy images load only when seen
    await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
    if (document.querySelector('.math')) {
        while (!(window.MathJax && MathJax.startup && MathJax.startup.promise))
            await new Promise(r => setTimeout(r, 20));
        await MathJax.startup.promise;
    } }"""
_JS_WIDE_CODE = """() => [...document.querySelectorAll('article pre')]
    .filter(p => p.scrollWidth > p.clientWidth)
    .map(p => [p.scrollWidth, p.clientWidth,
               p.textContent.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '')])"""
_JS_CELLS = """() => [...document.querySelectorAll('article div.cell div.cell_input pre')]
    .map(p => [p.textContent, (p.closest('details.fold') || {className: ''}).className])"""
# Display formulas and tables: [kind, own width, column width, scrolls in its own box, text]; a
# box scrolls when it (or an ancestor inside the article) scrolls sideways and stays on screen.
_JS_BLOCKS = """() => {
    const art = document.querySelector('article');
    if (!art) return [];
    const col = art.clientWidth;
    const scrolls = el => { for (let e = el.parentElement; e && e !== art; e = e.parentElement) {
        const o = getComputedStyle(e).overflowX;
        if ((o === 'auto' || o === 'scroll') && e.getBoundingClientRect().right <= innerWidth + 1)
            return true; }
        return false; };
    const own = el => { const o = getComputedStyle(el).overflowX;
        return o === 'auto' || o === 'scroll'; };
    const out = [];
    for (const m of art.querySelectorAll('mjx-container[display="true"]')) {
        const inner = m.querySelector('mjx-math') || m;
        const w = Math.ceil(inner.getBoundingClientRect().width);
        out.push(['formula', w, Math.min(col, m.clientWidth || col), own(m) || scrolls(m),
                  (m.getAttribute('aria-label') || m.textContent).slice(0, 60)]); }
    for (const t of art.querySelectorAll('table')) {
        out.push(['table', Math.ceil(t.getBoundingClientRect().width), col, scrolls(t),
                  (t.innerText || '').replace(/\\s+/g, ' ').slice(0, 60)]); }
    return out; }"""
_JS_FIGURES = """() => [...document.querySelectorAll('article .cell_output img')].map(i =>
    [i.getAttribute('src'), +(i.getAttribute('width') || i.naturalWidth), i.clientWidth])"""
MAX_SHRINK = 1.35  # a figure drawn wider than this times its shown width has shrunken text
PHONE = {"width": 390, "height": 844}


def _page_problems(page, watch, rel: str, lesson: str | None) -> list[str]:
    "What test_every_page asserts about the page `page` shows (at 1280 px, folds closed)."
    imgs = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
    problems = [f"{rel}: image did not load: {src}" for src, w in imgs if not w]
    problems += [f"{rel}: {e}" for e in watch.errors]
    problems += [f"{rel}: failed request {u}" for u in watch.failed]
    problems += [f"{rel}: request to another host: {u}" for u in watch.foreign()]
    side = page.evaluate(
        "[...document.querySelectorAll('.sidebar-tree a')].map(a => a.getAttribute('href'))"
    )
    # furo links the current page as "#"
    linked = {re.sub(r"[#?].*$", "", h).split("/")[-1] or rel.split("/")[-1] for h in side}
    problems += [f"{rel}: sidebar does not link lesson {p}" for p in lesson_pages()
                 if f"{p}.html" not in linked]  # fmt: skip
    hrefs = page.evaluate(
        "[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
    )
    problems += [f"{rel}: broken link {h}" for h in hrefs if not _link_ok(rel, h)]
    for h in hrefs:
        if re.match(r"^[a-z][a-z0-9+.-]*:", h) and (why := _external_problem(h)):
            problems.append(f"{rel}: link {h}: {why}")
    if page.locator(".math").count() and not page.locator("mjx-container").count():
        problems.append(f"{rel}: MathJax rendered no formula")
    article = page.locator("article")
    text = article.inner_text() if article.count() else ""
    every = article.text_content() if article.count() else ""  # folded parts too
    problems += [f"{rel}: nbdev directive shown: {ln.strip()}"
                 for ln in every.splitlines() if ln.strip().startswith("#|")]  # fmt: skip
    if lesson:
        shown = {ln.strip() for ln in text.splitlines()}
        problems += [f"{rel}: a `#| hide` cell is shown: {ln}"
                     for ln in hidden_lines(lesson) if ln in shown]  # fmt: skip
        src = json.loads((build.SRC / f"{rel[:-5]}.ipynb").read_text())
        want = sum(  # every figure the lesson produced is on its page
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
    return problems


def _solution_problems(page, name: str) -> list[str]:
    "The first solution is folded; clicking shows its code and output; clicking again hides it."
    fold = page.locator("details.fold-solution").first
    if not fold.count():
        return []
    code = fold.locator("div.cell_input pre").first
    summary = fold.locator("summary")
    problems = []
    if summary.inner_text().strip() != "Show solution" or code.is_visible():
        problems.append(f"{name}: the first solution is not folded behind its summary")
    summary.click()
    if not code.is_visible() or fold.get_attribute("open") is None:
        problems.append(f"{name}: clicking 'Show solution' did not show the code")
    if fold.locator("div.cell_output").count():
        if not fold.locator("div.cell_output").first.is_visible():
            problems.append(f"{name}: the solution's output is not shown")
    summary.click()
    if code.is_visible():
        problems.append(f"{name}: clicking again did not fold the solution")
    return problems


_JS_FOLDED_SOURCE = """() => [...document.querySelectorAll('a.api-source')]
    .map(a => a.getAttribute('href'))
    .find(h => { const t = document.getElementById(h.slice(1));
                 return t && t.closest('details.fold-code') && !t.closest('details').open; })"""
_JS_OPEN = "h => document.getElementById(h.slice(1)).closest('details').open"


def _source_link_problems(page, name: str) -> list[str]:
    "Following an API block's 'source' link to folded code opens the fold."
    href = page.evaluate(_JS_FOLDED_SOURCE)
    if not href:
        return []
    page.locator(f'a.api-source[href="{href}"]').first.click()
    try:
        page.wait_for_function(_JS_OPEN, arg=href, timeout=5_000)
    except sync_api.TimeoutError:
        return [f"{name}: following 'source' ({href}) did not open its code"]
    return []


def _fit_problems(page, rel: str, phone: bool) -> list[str]:
    "Display formulas and tables against the column (1280 px) or their own boxes (390 px)."
    problems = []
    for kind, w, col, scrolls, text in page.evaluate(_JS_BLOCKS):
        if not phone and w > col + 1:
            problems.append(f"{rel}: {kind} {w} px wide in a {col}-px column: {text}")
        elif phone and w > col + 1 and not scrolls:
            what = "cut off" if kind == "formula" else "does not scroll in its own box"
            problems.append(f"{rel} at 390 px: {kind} {what} ({w} > {col} px): {text}")
    if phone:
        sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if sw > iw + 1:
            problems.append(f"{rel} at 390 px: the page scrolls sideways ({sw} > {iw} px)")
    return problems


def _figure_problems(page, rel: str) -> list[str]:
    "Figures drawn more than MAX_SHRINK times wider than shown: their text is shrunk."
    return [f"{rel}: figure drawn {w} px wide, shown at {shown} px ({w / shown:.2f}x): {src}"
            for src, w, shown in page.evaluate(_JS_FIGURES)
            if shown and w / shown > MAX_SHRINK]  # fmt: skip


def _shot(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _visit(tab, watch, site: str, rel: str, found: dict[str, list[str]]) -> None:
    "Load page `rel` once; file every check's findings under its test's name in `found`."
    lesson = lesson_pages().get(rel[:-5])
    watch.reset()
    tab.set_viewport_size({"width": 1280, "height": 720})
    tab.goto(f"{site}/{rel}", wait_until="load")
    tab.evaluate(_JS_READY)
    found["page"] += _page_problems(tab, watch, rel, lesson)
    found["fit"] += _fit_problems(tab, rel, phone=False)
    found["figures"] += _figure_problems(tab, rel)
    _shot(tab, rel[:-5].replace("/", "_"))
    if lesson:
        found["solution"] += _solution_problems(tab, rel)
        found["source"] += _source_link_problems(tab, rel)
    # Code blocks at the default window width, folded ones opened to be measured.
    tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    for sw, cw, line in tab.evaluate(_JS_WIDE_CODE):
        found["page"].append(f"{rel}: code block scrolls sideways ({sw} > {cw} px): {line[:80]}")
    tab.set_viewport_size(PHONE)
    found["phone"] += _fit_problems(tab, rel, phone=True)
    found["page"] += [f"{rel}: {e}" for e in watch.errors]


def _search(tab, watch, site: str, found: dict[str, list[str]]) -> None:
    "Search for an exported name of every lesson (and `fit`): its page must be listed."
    tab.set_viewport_size({"width": 1280, "height": 720})
    for name, want in search_terms().items():
        watch.reset()
        tab.goto(f"{site}/search.html?q={name}", wait_until="load")
        tab.wait_for_function(
            """() => { const s = document.querySelector('#search-results .search-summary');
            return s && /found|did not match/.test(s.innerText); }""",
            timeout=15_000,
        )
        hrefs = tab.evaluate(
            "[...document.querySelectorAll('#search-results ul.search li a')]"
            ".map(a => a.getAttribute('href'))"
        )
        if not any(re.sub(r"[#?].*$", "", h).split("/")[-1] == f"{want}.html" for h in hrefs):
            found["search"].append(f"search for {name!r} does not list {want}.html: {hrefs}")
        found["search"] += [
            f"search {name}: {e}" for e in watch.errors + watch.failed + watch.foreign()
        ]


@pytest.fixture(scope="module")
def found(site) -> dict[str, list[str]]:
    "Every page visited once in one browser tab: {test: problems found}."
    pages = sorted(p.relative_to(SITE_DIR).as_posix() for p in SITE_DIR.rglob("*.html")
                   if "_static" not in p.parts)  # fmt: skip
    out = {k: [] for k in ("page", "solution", "source", "fit", "phone", "figures", "search")}
    lessons = lesson_pages()
    assert "index.html" in pages and all(f"{p}.html" in pages for p in lessons), (pages, lessons)
    if os.environ.get("SCREENSHOTS"):
        for old in SHOTS.glob("*.png"):  # only this run's pages
            old.unlink()
    with (
        sync_api.sync_playwright() as p,
        tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile,
    ):
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            accept_downloads=True, viewport={"width": 1280, "height": 720},
        )  # fmt: skip
        tab = ctx.pages[0] if ctx.pages else ctx.new_page()
        watch = PageWatch(tab)
        for rel in pages:
            _visit(tab, watch, site, rel, out)
        _search(tab, watch, site, out)
        ctx.close()
    return out


def test_every_page(found):
    assert not found["page"], "\n".join(found["page"])


def test_solution_folds_and_unfolds(found):
    "A solution is folded; clicking 'Show solution' shows its code and output; clicking hides it."
    assert any(w == "solution" for nb in lesson_pages().values() for _, w in expected_folds(nb))
    assert not found["solution"], "\n".join(found["solution"])


def test_source_link_opens_folded_code(found):
    "An API block's 'source' link leads to its code on the page, unfolding it when folded."
    assert not found["source"], "\n".join(found["source"])


def test_formulas_and_tables_fit_the_column(found):
    "At 1280 px no display formula or table is wider than the content column."
    assert not found["fit"], "\n".join(found["fit"])


def test_formulas_and_tables_on_a_phone(found):
    "At 390 px formulas are not cut off, wide tables scroll in their own box, the page does not."
    assert not found["phone"], "\n".join(found["phone"])


def test_figures_not_shrunk(found):
    "No figure is drawn more than MAX_SHRINK times wider than the column shows it."
    assert not found["figures"], "\n".join(found["figures"])


def test_search_finds_api(found):
    assert "fit" in search_terms()
    assert not found["search"], "\n".join(found["search"])
