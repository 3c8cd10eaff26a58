"""Write the site: valid notebooks for Sphinx, assets, the downloads, Sphinx itself, the mirror."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lessons import NBS, ROOT, SITE, executed_path, student_name
from process import DOWNLOADS
from student import student_version

BUILD = ROOT / "_build"
SRC, DOCTREES, HTML = BUILD / "src", BUILD / "doctrees", BUILD / "html"
ASSET_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".css"}


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


def write_downloads(nbs: list[Path]) -> None:
    "Every lesson's notebooks for download: executed, and the student version (from nbs/)."
    dl = HTML / DOWNLOADS
    want = set()
    for nb in nbs:
        if nb.name == "index.ipynb":
            continue
        source = json.loads(nb.read_text(encoding="utf-8"))
        write_valid(lesson_download(executed_path(nb)), dl / nb.name)
        write_valid(student_version(source), dl / student_name(nb))
        want |= {nb.name, student_name(nb)}
    for p in dl.glob("*"):
        if p.name not in want:
            p.unlink()


def sources_digest() -> str:
    "A hash of what Sphinx renders: _build/src, site/conf.py, site/_static and the tools' versions."
    import hashlib
    from importlib.metadata import version

    h = hashlib.sha256(" ".join(version(p) for p in ("sphinx", "myst-nb", "furo")).encode())
    for folder in (SRC, SITE / "_static"):
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    h.update((SITE / "conf.py").read_bytes())
    return h.hexdigest()


def sphinx(force: bool = False) -> int:
    """Sphinx + myst-nb (execution off) renders _build/src into _build/html; its return code.
    Skipped when nothing it reads changed since its last successful run (`sources_digest`)."""
    # -a: write every page, so each sidebar lists every lesson; -E (--force): no saved environment
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-a", "-q", "-c", str(SITE)]
    cmd += ["-d", str(DOCTREES), str(SRC), str(HTML)] + (["-E"] if force else [])
    stamp, digest = BUILD / "html.digest", sources_digest()
    if not force and HTML.is_dir() and stamp.exists() and stamp.read_text() == digest:
        print("== sphinx skipped: no page source changed since the last build", flush=True)
        return 0
    stamp.unlink(missing_ok=True)
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    if rc == 0:
        stamp.write_text(digest)
    return rc
