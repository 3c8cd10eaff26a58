"""Turn an executed lesson into a page for myst-nb: nbdev's doc processors, then the conversion.

1. nbdev's own doc processors (`FilterDefaults` without `exec_show_docs`, as the notebook ran
   already): front matter, `#| hide` cells removed, backticked names linked. Unlike nbdev's
   defaults, exported cells keep their source: the page shows it below the API blocks, open for
   `#| exports`, folded behind "Show code" for `#| export`/`#| exporti`.
2. `to_myst`: front matter becomes the page title and summary; `show_doc` outputs become markdown
   sections with a label (so the API is in the page's contents and the search index), their
   "source" link points at the code on the page; each exercise's solution (site/student.py reads
   the markers) is folded behind "Show solution" together with its check cell (the first plain
   code cell after it), so a student who has not opened the solution sees neither; directive
   lines are removed; Quarto cell options become myst-nb tags.
"""

from __future__ import annotations

import re
from pathlib import Path

from lessons import NBS
from student import solution_kind, strip_solution_marker

DOWNLOADS = "notebooks"  # folder of the site that serves the lessons' notebooks

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
    after = False  # the last code cell was a solution
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
            after = after and kind == "markdown"  # a solution's discussion keeps the fold going
            if kind:
                src = _no_headings(strip_solution_marker(src))
            items.append(("solution" if kind else None, _md(src)))
            continue
        # the check cell: the first plain code cell after a solution, folded with it
        check, after = after and kind is None, kind == "code"
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
        fold = "solution" if kind or check else None
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
