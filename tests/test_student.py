"""The student versions of the lessons (site/student.py; the main command puts them on the site).

Each lesson's student version is a valid notebook (nbformat), keeps every check cell (the cell
after a worked solution), and stubs at least one exercise. Executed as site/build.py executes a
lesson (execnb, working directory nbs/, IN_TEST=1, `tst_flags` cells skipped), an unfilled student
notebook must FAIL, and not before its first stubbed exercise: so the checks check something.
That the full lessons pass is nbdev-test's job (scripts/test.sh runs it).
The executions run in fresh processes, two at a time, each stopping at its first failure.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from multiprocessing import get_context
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("course_site_build", ROOT / "site" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
sys.modules.setdefault("course_site_build", build)
import student  # noqa: E402  (site/student.py: site/build.py puts site/ on sys.path)

LESSONS = [p for p in build.notebooks() if p.name != "index.ipynb"]


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


def run_student(nb_path: str) -> tuple[int | None, str, float]:
    "Execute the student version of `nb_path`: (1-based index of the cell that failed, error, s)."
    import os
    import time

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from fastcore.nbio import dict2nb

    t0 = time.time()
    nb_path = Path(nb_path)
    nb = dict2nb(student.student_version(_load(nb_path)))
    k = build.run_cells(nb, nb_path)
    err = f"{type(k.exc).__name__}: {k.exc}" if k.exc is not None else ""
    return (k._cell_idx if k.exc is not None else None), err, time.time() - t0


@cache
def student_runs() -> dict[str, tuple[int | None, str, float]]:
    "Every lesson's student version executed, two at a time, each in a fresh process."
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx, max_tasks_per_child=1) as ex:
        futs = {nb.name: ex.submit(run_student, str(nb)) for nb in LESSONS}
        return {name: f.result() for name, f in futs.items()}


@pytest.mark.parametrize("nb", LESSONS, ids=lambda p: p.stem)
def test_unfilled_student_notebook_fails_its_checks(nb):
    stud = student.student_version(_load(nb))
    first_stub = next((i for i, c in enumerate(stud["cells"], 1)
                       if student.STUB in "".join(c["source"])), None)  # fmt: skip
    if first_stub is None:
        pytest.fail(f"{nb.name} has no exercise to attempt")
    failed_at, err, secs = student_runs()[nb.name]
    print(f"{nb.name}: student version stops at cell {failed_at} ({err[:80]}) after {secs:.1f} s")
    assert failed_at is not None, f"the unfilled student version of {nb.name} runs without failing"
    assert failed_at >= first_stub, (
        f"the student version of {nb.name} fails at cell {failed_at}, before its first "
        f"exercise (cell {first_stub}): {err}"
    )
