"""The course website in a real browser (Debian's chromium driven by playwright; never `playwright install`).

The site is (re)built first with site/build.py, which is incremental: it re-executes only notebooks whose inputs
changed and reuses _site/ otherwise. Then _site/ is served on 127.0.0.1 and every page is opened. For every page:
every image loaded, no console errors, no failed requests, no request to any host but 127.0.0.1, the sidebar links
every lesson, no nbdev/Quarto directive leaked into the page. Searching for an exported name of every lesson module
(and `fit`) finds that lesson's page. Screenshots go to tests/screenshots/ (git-ignored).
"""
from __future__ import annotations
import ast, functools, importlib.util, json, os, re, subprocess, sys, tempfile, threading, time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE_DIR, SHOTS = ROOT/"_site", ROOT/"tests"/"screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--disable-dev-shm-usage", "--disable-default-apps", "--no-default-browser-check"]

if not CHROMIUM.exists():
    pytest.skip("chromium is not installed at /usr/bin/chromium (scripts/ensure_chromium.sh installs it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")

_spec = importlib.util.spec_from_file_location("course_site_build", ROOT/"site"/"build.py")
build = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(build)


def lesson_pages() -> dict[str, str]:
    "{page name: notebook file name} for every lesson the last build contained (notebooks may be added meanwhile)."
    return {k: v for k, v in json.loads(build.MANIFEST.read_text()).items() if k != "index"}


def search_terms() -> dict[str, str]:
    "{exported name: page}: `fit`, and the first API block (show_doc) of every lesson page that has one."
    terms = {"fit": "training"}
    for page in lesson_pages():
        cells = json.loads((build.SRC/f"{page}.ipynb").read_text(encoding="utf-8"))["cells"]
        md = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        names = [n for n in re.findall(r"^\(api-[^)]+\)=\n#+ `?([\w.]+)`?\s*$", md, re.M) if "." not in n]
        if names: terms.setdefault(names[0], page)
    return terms


def _cells(nb_name: str) -> list[tuple[dict, str]]:
    "(directives, source) of the code cells of nbs/`nb_name`."
    out = []
    for c in json.loads((build.NBS/nb_name).read_text(encoding="utf-8"))["cells"]:
        if c["cell_type"] != "code": continue
        src = "".join(c["source"])
        out.append(({m.group(1): m.group(2) for m in re.finditer(r"^#\|\s*([\w-]+):?\s*(.*)$", src, re.M)}, src))
    return out


def hidden_lines(nb_name: str) -> set[str]:
    "Code lines that only `#| hide` cells contain (the page must not show them)."
    hide, rest = set(), set()
    for d, src in _cells(nb_name):
        lines = {l.strip() for l in src.splitlines() if len(l.strip()) > 12 and not l.strip().startswith("#")}
        (hide if "hide" in d else rest).update(lines)
    return hide - rest


def exported_defs(nb_name: str) -> list[str]:
    "Public functions and classes that the notebook exports (its module's `__all__`)."
    mods = {d["default_exp"].strip() for d, _ in _cells(nb_name) if d.get("default_exp")}
    names = []
    for m in mods:
        tree = ast.parse((ROOT/"interpcourse"/(m.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        alls = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                     and any(getattr(t, "id", "") == "__all__" for t in n.targets)), [])
        names += [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in alls]
    return names


def test_api_blocks(site):
    "Every exported function and class has its API block (show_doc) on its lesson's page, with a heading anchor."
    from docutils.nodes import make_id            # how Sphinx turns the label into the HTML id
    missing = []
    for page, nb_name in lesson_pages().items():
        ids = _ids(f"{page}.html")
        missing += [f"{page}.html: no API block for {n}" for n in exported_defs(nb_name)
                    if make_id(build.api_label(page, n)) not in ids]
    assert not missing, "\n".join(missing)


@pytest.fixture(scope="module")
def site():
    "Build (incrementally) and serve _site/ on a free port of 127.0.0.1."
    t = time.time()
    r = subprocess.run([sys.executable, str(ROOT/"site"/"build.py")], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"site build failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    print(f"\nsite build: {time.time() - t:.1f} s")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"): old.unlink()          # only this run's pages
    handler = functools.partial(_QuietHandler, directory=str(SITE_DIR))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown(); srv.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope="module")
def browser_context():
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                   args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        yield ctx
        ctx.close()


class PageWatch:
    "Everything a page asked for, and everything that went wrong while it loaded."
    def __init__(self, page):
        self.requests, self.failed, self.errors = [], [], []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} (HTTP {r.status})"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def foreign(self) -> list[str]:
        "Requests that left 127.0.0.1 (data: and blob: URLs stay in the page)."
        return [u for u in self.requests
                if urlsplit(u).scheme not in ("data", "blob", "about") and urlsplit(u).hostname != "127.0.0.1"]


@functools.cache
def _ids(rel: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', (SITE_DIR/rel).read_text(encoding="utf-8")))


def _link_ok(rel: str, href: str) -> bool:
    "A link inside the site points at a file that exists and, with `#anchor`, at an element with that id."
    if re.match(r"^[a-z][a-z0-9+.-]*:", href): return True          # http:, mailto: ... links are not requests
    path, _, anchor = href.partition("#")
    target = (Path(rel).parent/path.split("?")[0]).as_posix() if path else rel
    if not (SITE_DIR/target).is_file(): return False
    return not anchor or not target.endswith(".html") or anchor in _ids(target)


def _open(ctx, url):
    page = ctx.new_page()
    watch = PageWatch(page)
    page.goto(url, wait_until="networkidle")
    return page, watch


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS/f"{name}.png"), full_page=True)


def test_every_page(site, browser_context):
    pages = sorted(p.relative_to(SITE_DIR).as_posix() for p in SITE_DIR.rglob("*.html") if "_static" not in p.parts)
    lessons = lesson_pages()
    assert "index.html" in pages and all(f"{l}.html" in pages for l in lessons), (pages, lessons)
    problems = []
    for rel in pages:
        page, watch = _open(browser_context, f"{site}/{rel}")
        try:
            # Lazy images would load only when scrolled to: load them all, then check each one.
            page.evaluate("""async () => { for (const i of document.images) i.loading = 'eager';
                await Promise.all([...document.images].map(i => i.decode().catch(() => null))); }""")
            page.wait_for_load_state("networkidle")
            imgs = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
            problems += [f"{rel}: image did not load: {src}" for src, w in imgs if not w]
            problems += [f"{rel}: {e}" for e in watch.errors]
            problems += [f"{rel}: failed request {u}" for u in watch.failed]
            problems += [f"{rel}: request to another host: {u}" for u in watch.foreign()]
            side = page.evaluate("[...document.querySelectorAll('.sidebar-tree a')].map(a => a.getAttribute('href'))")
            # furo links the current page as "#"
            linked = {re.sub(r"[#?].*$", "", h).split("/")[-1] or rel.split("/")[-1] for h in side}
            problems += [f"{rel}: sidebar does not link lesson {l}" for l in lessons if f"{l}.html" not in linked]
            hrefs = page.evaluate("[...document.querySelectorAll('article a[href]')].map(a => a.getAttribute('href'))")
            problems += [f"{rel}: broken link {h}" for h in hrefs if not _link_ok(rel, h)]
            if page.locator(".math").count():
                page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=10_000)
            text = page.locator("article").inner_text() if page.locator("article").count() else ""
            problems += [f"{rel}: nbdev directive shown: {l.strip()}" for l in text.splitlines() if l.strip().startswith("#|")]
            if rel[:-5] in lessons:
                shown = {l.strip() for l in text.splitlines()}
                problems += [f"{rel}: a `#| hide` cell is shown: {l}" for l in hidden_lines(lessons[rel[:-5]]) if l in shown]
            if rel[:-5] in lessons:                 # every figure the lesson produced is on its page
                want = sum(1 for c in json.loads((build.SRC/f"{rel[:-5]}.ipynb").read_text())["cells"]
                           if "remove-output" not in c.get("metadata", {}).get("tags", [])
                           for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
                got = page.locator(".cell_output img").count()
                if got < want: problems.append(f"{rel}: {got} figures shown, the lesson produced {want}")
            _shot(page, rel[:-5].replace("/", "_"))
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
            page.wait_for_function("""() => { const s = document.querySelector('#search-results .search-summary');
                return s && /found|did not match/.test(s.innerText); }""", timeout=15_000)
            hrefs = page.evaluate("[...document.querySelectorAll('#search-results ul.search li a')].map(a => a.getAttribute('href'))")
            if not any(re.sub(r"[#?].*$", "", h).split("/")[-1] == f"{want}.html" for h in hrefs):
                problems.append(f"search for {name!r} does not list {want}.html: {hrefs}")
            problems += [f"search {name}: {e}" for e in watch.errors + watch.failed + watch.foreign()]
            _shot(page, f"search-{name}")
        finally:
            page.close()
    assert not problems, "\n".join(problems)
