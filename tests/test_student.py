"""The student versions of the lessons (site/student.py; the main command puts them on the site).

Each lesson's student version is a valid notebook (nbformat), keeps every check cell (the cell
after a worked solution), and stubs at least one exercise. Executed as a lesson is executed
(execnb, working directory nbs/, IN_TEST=1, `tst_flags` cells skipped), an unfilled student
notebook must FAIL, and not before its first stubbed exercise: so the checks check something.

That execution is part of the lesson's own single run (site/execute.py): the cells before the
first stub are the lesson's, so at its first exercise the run forks and the child runs the
student notebook from the first stub on, from the lesson's own state, recording where it fails.
These tests read that record, executing (and caching) only lessons whose run is out of date.
That the full lessons pass is the same run's job (scripts/test.sh runs it before pytest).
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "site"))
import execute  # noqa: E402  (site/execute.py)
import lessons  # noqa: E402  (site/lessons.py)
import student  # noqa: E402  (site/student.py)

LESSONS = [p for p in lessons.lessons() if p.name != "index.ipynb"]


def _load(nb: Path) -> dict:
    return json.loads(nb.read_text(encoding="utf-8"))


def check_cells(nb: dict) -> list[str]:
    "Sources of the check cells: the first code cell after each run of solution cells."
    out, after = [], False
    for c in nb["cells"]:
        kind = student.solution_kind(c)
        if c["cell_type"] == "code" and kind is None and after:
            out.append("".join(c["source"]))
        if c["cell_type"] == "code" or (c["cell_type"] == "markdown" and kind is None):
            after = kind == "code"
    return out


@pytest.mark.parametrize("nb", LESSONS, ids=lambda p: p.stem)
def test_student_version_is_valid(nb):
    import nbformat

    full = _load(nb)
    stud = student.student_version(full)
    nbformat.validate(nbformat.from_dict(stud))
    assert student.n_stubs(full) >= 1, (
        f"{nb.name} has no `#| solution` cell (no exercise to attempt)"
    )
    stubs = [c for c in stud["cells"] if student.STUB in "".join(c["source"])]
    assert len(stubs) == student.n_stubs(full)
    for c in stubs:
        lines = "".join(c["source"]).splitlines()
        assert lines[-1] == student.STUB and all(ln.lstrip().startswith("#") for ln in lines), lines
        assert len(lines) >= 2, (
            f"{nb.name}: a solution cell has no leading comment saying what to do"
        )
    assert not any(c.get("outputs") for c in stud["cells"] if c["cell_type"] == "code")
    assert not any(student.solution_kind(c) == "markdown" for c in stud["cells"])
    # Every check cell is still there, unchanged, and so is every cell that is not a solution.
    sources = ["".join(c["source"]) for c in stud["cells"]]
    checks = check_cells(full)
    assert checks, f"{nb.name}: no check cell follows a solution"
    assert all(chk in sources for chk in checks)
    kept = ["".join(c["source"]) for c in full["cells"] if student.solution_kind(c) is None]
    assert kept == [s for s in sources if student.STUB not in s]


def test_stub_keeps_leading_comments_only():
    src = "#| solution\n# Set ex1 to the answer.\n# Use fit.\nex1 = 42\n# not this\n"
    assert student.stub(src) == "# Set ex1 to the answer.\n# Use fit.\n# Your code here"
    cell = dict(cell_type="code", source=src, metadata={}, outputs=[], execution_count=1)
    assert student.solution_kind(cell) == "code"
    assert student.solution_kind(dict(cell, source="#| export\nx = 1")) is None
    assert student.solution_kind(dict(cell, source="x = 1  #| solution")) is None
    md = dict(cell_type="markdown", source="<!-- solution -->\nIt learns.", metadata={})
    assert student.solution_kind(md) == "markdown"
    assert student.solution_kind(dict(md, source="Before <!-- solution -->")) is None
    assert student.strip_solution_marker(md["source"]) == "It learns."


@cache
def student_runs() -> dict[str, dict]:
    "{lesson: where its unfilled student version failed}, from the lessons' runs (run if stale)."
    failed = execute.execute_all(LESSONS)
    assert not failed, f"lessons that do not run top to bottom: {failed}"
    out = {}
    for nb in LESSONS:
        path = lessons.executed_path(nb).with_suffix(".student")
        out[nb.name] = json.loads(path.read_text())
    return out


@pytest.mark.parametrize("nb", LESSONS, ids=lambda p: p.stem)
def test_unfilled_student_notebook_fails_its_checks(nb):
    stud = student.student_version(_load(nb))
    first_stub = next((i for i, c in enumerate(stud["cells"], 1)
                       if student.STUB in "".join(c["source"])), None)  # fmt: skip
    if first_stub is None:
        pytest.fail(f"{nb.name} has no exercise to attempt")
    # The child starts at the first stub from the lesson's own state: the cells before it must be
    # the lesson's (so a student's run gets there as the lesson did).
    full = _load(nb)["cells"]
    first_solution = next(i for i, c in enumerate(full) if student.solution_kind(c) == "code")
    before = ["".join(c["source"]) for c in full[:first_solution] if c["cell_type"] == "code"]
    assert before == ["".join(c["source"]) for c in stud["cells"][: first_stub - 1]
                      if c["cell_type"] == "code"]  # fmt: skip
    run = student_runs()[nb.name]
    failed_at, err = run["failed_at"], run["error"]
    print(f"{nb.name}: student version stops at cell {failed_at} ({err[:80]})")
    assert run["first_stub"] == first_stub, (run, first_stub)
    assert failed_at is not None, f"the unfilled student version of {nb.name} runs without failing"
    assert failed_at >= first_stub, (
        f"the student version of {nb.name} fails at cell {failed_at}, before its first "
        f"exercise (cell {first_stub}): {err}"
    )


def test_check_cell_folds_with_its_solution():
    "On the site a solution, its discussion and its check cell share one 'Show solution' fold."
    import process  # site/process.py

    def code(src):
        return dict(cell_type="code", source=src, metadata={}, outputs=[], execution_count=None)

    def md(src):
        return dict(cell_type="markdown", source=src, metadata={})

    nb = dict(cells=[md("Exercise 1: set ex1."), code("#| solution\n# Set ex1.\nex1 = 1"),
                     md("<!-- solution -->\nIt is 1."), code("assert ex1 == 1"),
                     code("after = 2"), md("Exercise 2."), code("#| solution\nex2 = 2"),
                     md("Next section"), code("not_a_check = 3")])  # fmt: skip
    cells = process.to_myst(nb, "page", set())["cells"]
    text = "\n".join(c["source"] for c in cells)
    folds = [part.split("</details>")[0] for part in text.split("<details")[1:]]
    assert len(folds) == 2, text
    assert "ex1 = 1" in folds[0] and "It is 1." in folds[0] and "assert ex1 == 1" in folds[0]
    assert "after = 2" not in folds[0] and "Exercise 2." not in folds[0]
    assert (
        "ex2 = 2" in folds[1] and "not_a_check" not in folds[1] and "Next section" not in folds[1]
    )
