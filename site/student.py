"""Exercises: the one rule that both the website and the student notebooks read.

A lesson marks the worked solution of an exercise in two ways:

- a code cell whose leading directive lines include `#| solution` (the solution's code);
- a markdown cell whose first line is `<!-- solution -->` (a discussion of the answer).

The check cell that follows a solution (the asserts) carries no marker and stays everywhere.

`solution_kind` reads the markers; site/build.py folds what it marks behind "Show solution" and
`student_version` turns a lesson into its student version: each solution code cell becomes its
leading comment lines (what to compute, which names to define) followed by `# Your code here`,
solution markdown is dropped, and every output is cleared.

    python site/student.py nbs/01_target.ipynb [-o 01_target_student.ipynb]
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

SOLUTION_MD = "<!-- solution -->"
STUB = "# Your code here"
_re_directive = re.compile(r"^\s*#\s*\|\s*([\w-]+)")


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")


def _directive_lines(lines: list[str]) -> list[str]:
    "The leading `#| ...` lines of a code cell (blank lines between them included)."
    out = []
    for line in lines:
        if not (_re_directive.match(line) or not line.strip()):
            break
        out.append(line)
    return out


def solution_kind(cell: dict) -> str | None:
    "'code' for a `#| solution` code cell, 'markdown' for a `<!-- solution -->` markdown cell."
    src = _text(cell.get("source"))
    if cell.get("cell_type") == "code":
        names = {
            m.group(1) for m in map(_re_directive.match, _directive_lines(src.splitlines())) if m
        }
        return "code" if "solution" in names else None
    if cell.get("cell_type") == "markdown":
        first = src.lstrip().partition("\n")[0].strip()
        return "markdown" if first == SOLUTION_MD else None
    return None


def strip_solution_marker(source: str) -> str:
    "A solution markdown cell's text without its `<!-- solution -->` first line."
    return source.lstrip().removeprefix(SOLUTION_MD).lstrip("\n")


def stub(source: str) -> str:
    "A solution cell as the student sees it: its other directives, its leading comments, the stub."
    lines = source.splitlines()
    dirs = _directive_lines(lines)
    keep = [d for d in dirs if d.strip() and _re_directive.match(d).group(1) != "solution"]
    comments = []
    for line in lines[len(dirs) :]:
        if not line.lstrip().startswith("#"):
            break
        comments.append(line)
    return "\n".join(keep + comments + [STUB])


def student_version(nb: dict) -> dict:
    "The student version of notebook `nb` (a dict, as in the file): solutions stubbed or dropped."
    out = copy.deepcopy(nb)
    cells = []
    for c in out["cells"]:
        kind = solution_kind(c)
        if kind == "markdown":
            continue
        if c["cell_type"] == "code":
            if kind == "code":
                c["source"] = stub(_text(c["source"]))
            c["outputs"], c["execution_count"] = [], None
            c.get("metadata", {}).pop("execution", None)
        cells.append(c)
    out["cells"] = cells
    return out


def n_stubs(nb: dict) -> int:
    "How many solution code cells `nb` has (the exercises a student fills in)."
    return sum(solution_kind(c) == "code" for c in nb["cells"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write the student version of a lesson notebook.")
    ap.add_argument("notebook", type=Path)
    ap.add_argument(
        "-o", "--out", type=Path, help="default: NAME_student.ipynb next to the notebook"
    )
    args = ap.parse_args(argv)
    import nbformat

    nb = student_version(json.loads(args.notebook.read_text(encoding="utf-8")))
    node = nbformat.from_dict(nb)
    nbformat.validate(node)
    out = args.out or args.notebook.with_name(f"{args.notebook.stem}_student.ipynb")
    out.write_text(nbformat.writes(node) + "\n", encoding="utf-8")
    print(f"wrote {out} ({n_stubs(json.loads(args.notebook.read_text()))} exercise cells stubbed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
