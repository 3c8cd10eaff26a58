"""Execute every lesson once, as `nbdev-test` does, and keep the executed copies.

    python site/execute.py [--force] [--jobs 2] [NOTEBOOK ...]

Each notebook runs top to bottom in a fresh process (2 at a time, slowest first; each forked from a
server process that has imported torch, pandas, matplotlib, IPython and nbdev once) with execnb's
CaptureShell, exactly as `nbdev-test` runs it: working directory nbs/, `IN_TEST=1`, cells flagged
with the config's `tst_flags` (or `#| eval: false`) skipped, nbdev's `cell_timeout`, stop at the
first exception. nbdev's `add_show_docs` runs first, so the lesson's API blocks are executed in the
same pass. A failing cell fails the run with the notebook's name, the cell and the traceback.

The same run checks the lesson's student version (site/student.py): when the lesson reaches its
first exercise, the process forks; the child runs the student notebook's cells from the first stub
on (from exactly the state a student's run has there: the cells before it are the lesson's own)
and records where it first fails; the parent carries on with the lesson, untouched.
tests/test_student.py asserts on that record.

The executed copy, its cache key (site/lessons.py `cache_key`), its run time and the student
record go to _build/nbs/<page>.{ipynb,key,secs,student}; a notebook whose key is unchanged is not
executed again. `--force` (or FORCE=1) executes everything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lessons import CACHE, NBS, ROOT, cache_key, executed_path, lessons, load  # noqa: E402
from student import STUB, solution_kind, student_version  # noqa: E402


# Imported once by the process every lesson's process is forked from: about 3 s of CPU per lesson.
PRELOAD = ["numpy", "pandas", "torch", "matplotlib.pyplot", "IPython", "execnb.shell",
           "fastcore.nbio", "nbdev.process", "nbdev.processors", "nbdev.showdoc", "nbdev.test",
           "execute"]  # fmt: skip


def _config():
    "(skip flags, cell timeout, load the IPython profile?) from nbdev's settings, as nbdev-test."
    from nbdev.config import get_config

    cfg = get_config(ROOT)
    flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags or [])
    return flags, (cfg.get("cell_timeout") or 600), bool(cfg.get("exec_profile"))


def _prepare(nb) -> None:
    "nbdev's skip predicate reads `directives_`: give every cell one."
    for c in nb.cells:
        if "directives_" not in c:
            c.directives_ = c.directives


def run_cells(nb, src: Path, on_cell=None):
    """Run notebook `nb` (fastcore's `read_nb`/`dict2nb`) top to bottom as `nbdev-test` does.

    `on_cell(shell, cell)`, if given, is called before each cell. Returns execnb's shell: `.exc` is
    the exception that stopped the run (or None), `._cell_idx` the 1-based index of its cell.
    """
    os.environ["IN_TEST"] = "1"
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.test import _skip_cell

    flags, timeout, profile = _config()
    _prepare(nb)
    k = CaptureShell(src, profile=profile)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    skip = _skip_cell(nb, flags)

    def preproc(cell):
        if on_cell:
            on_cell(k, cell)
        return skip(cell)

    with working_directory(NBS):
        k.run_cell("from nbdev.showdoc import show_doc")
        try:
            k.run_all(nb, exc_stop=True, preproc=preproc, cell_timeout=timeout)
        except BaseException:
            if k.exc is None:
                raise
    return k


def _student_rest(src: Path):
    "(1-based index of the first stub, the student notebook from that cell on) or (None, None)."
    from fastcore.nbio import dict2nb

    cells = student_version(load(src))["cells"]
    first = next((i for i, c in enumerate(cells, 1) if STUB in "".join(c["source"])), None)
    if first is None:
        return None, None
    return first, dict2nb(dict(load(src), cells=cells[first - 1 :]))


def _run_student_in_child(k, rest, first: int) -> dict:
    "Fork; the child runs `rest` on the shell's current state. Where it failed (1-based), error."
    import asyncio
    import threading

    from nbdev.test import _skip_cell

    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the shell's event-loop thread did not survive the fork
        os.close(r)
        out = dict(first_stub=first, failed_at=None, error="")
        try:
            k.loop = asyncio.new_event_loop()
            k._thread = threading.Thread(target=k.loop.run_forever, daemon=True)
            k._thread.start()
            k.exc = None
            _prepare(rest)
            try:
                k.run_all(rest, exc_stop=True, preproc=_skip_cell(rest, _config()[0]))
            except BaseException:
                pass
            if k.exc is not None:
                out.update(
                    failed_at=first - 1 + k._cell_idx, error=f"{type(k.exc).__name__}: {k.exc}"
                )
        except BaseException as e:  # noqa: BLE001
            out.update(error=f"the student run could not start: {e!r}")
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    try:
        return json.loads(data)
    except ValueError:
        return dict(first_stub=first, failed_at=None, error="the student run died")


def execute(nb_path: str, out_path: str) -> tuple[str, float, str]:
    "Execute `nb_path` (API blocks included) and check its student version; write both records."
    t0 = time.time()
    from fastcore.nbio import write_nb
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs

    src, out = Path(nb_path), Path(out_path)
    nb = NBProcessor(src, procs=[add_show_docs], rm_directives=False, process=True).nb
    first, rest = _student_rest(src)
    target = next((c for c in nb.cells if solution_kind(c) == "code"), None)
    record = dict(first_stub=first, failed_at=None, error="no exercise")

    def on_cell(k, cell):
        if cell is target and rest is not None:
            t = time.time()
            record.update(_run_student_in_child(k, rest, first), secs=round(time.time() - t, 2))

    try:
        k = run_cells(nb, src, on_cell)
    except BaseException:
        import traceback

        return nb_path, time.time() - t0, "FAILED\n" + traceback.format_exc()
    if k.exc is not None:
        cell = next((c for c in nb.cells if c.get("idx_") == (k._cell_idx or 0) - 1), None)
        code = "" if cell is None else "\n".join(cell.source.splitlines()[:12])
        shown = f"The cell:\n{code}\n" if code else ""
        return nb_path, time.time() - t0, "FAILED\n" + shown + k.prettytb(fname=src)
    write_nb(nb, out)
    out.with_suffix(".student").write_text(json.dumps(record) + "\n")
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return nb_path, time.time() - t0, f"cpu {ru.ru_utime + ru.ru_stime:.1f} s"


def stale(nbs: list[Path], force: bool = False) -> list[tuple[Path, str]]:
    "[(notebook, key)] of the notebooks whose executed copy is missing or out of date."
    todo = []
    for nb in nbs:
        key, path = cache_key(nb), executed_path(nb)
        keyf = path.with_suffix(".key")
        if force or not (path.exists() and keyf.exists() and keyf.read_text() == key):
            todo.append((nb, key))
    return todo


def _last_secs(nb: Path) -> float:
    "The run time of `nb`'s last execution (a new notebook counts as slow)."
    secs = executed_path(nb).with_suffix(".secs")
    return float(secs.read_text()) if secs.exists() else 1e9


def execute_all(nbs: list[Path] | None = None, force: bool = False, jobs: int = 2) -> list[str]:
    "Execute what is stale, `jobs` at a time, slowest first; the names of those that failed."
    CACHE.mkdir(parents=True, exist_ok=True)
    todo = sorted(stale(nbs or lessons(), force), key=lambda t: -_last_secs(t[0]))
    if not todo:
        print("== every notebook is up to date (executed copies cached in _build/nbs/)")
        return []
    for nb, _ in todo:  # a run that fails half-way leaves no valid copy behind
        executed_path(nb).with_suffix(".key").unlink(missing_ok=True)
    names = " ".join(n.name for n, _ in todo)
    print(f"== executing {len(todo)} notebook(s), {jobs} at a time: {names}", flush=True)
    failed = []
    ctx = get_context("forkserver")  # a fresh process per notebook, forked from a server that
    ctx.set_forkserver_preload(PRELOAD)  # has imported the heavy modules once (not per lesson)
    with ProcessPoolExecutor(max(1, min(jobs, len(todo))), ctx, max_tasks_per_child=1) as ex:
        futs = {ex.submit(execute, str(nb), str(executed_path(nb))): (nb, key) for nb, key in todo}
        pending = set(futs)
        while pending and not failed:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                nb, key = futs[f]
                _, secs, msg = f.result()
                if msg.startswith("FAILED"):
                    failed.append(nb.name)
                    print(
                        f"FAILED {nb.name} ({secs:.1f} s):\n{msg[7:]}", file=sys.stderr, flush=True
                    )
                    continue
                executed_path(nb).with_suffix(".key").write_text(key)
                executed_path(nb).with_suffix(".secs").write_text(f"{secs:.1f}")
                print(f"   {nb.name}: {secs:.1f} s ({msg})", flush=True)
        for f in pending:  # stop at the first failure: what has not started never will
            f.cancel()
    return failed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every lesson")
    ap.add_argument("--force", action="store_true", help="execute even what is up to date")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    args = ap.parse_args(argv)
    os.environ.update(IN_TEST="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    nbs = [p.resolve() for p in args.notebooks] or lessons()
    force = args.force or os.environ.get("FORCE", "") not in ("", "0")
    failed = execute_all(nbs, force, args.jobs)
    if failed:
        print(f"FAILED: {', '.join(failed)} did not run top to bottom", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
