"""Time the README's test command (and its main command) the way a contributor meets them.

    python benchmarks/bench_test_command.py [--rev COMMIT] [--states fresh,warm,markdown,course]
                                            [--lesson nbs/03_probe.ipynb] [--work /tmp/bench-tc]
                                            [--sync-library]

Each state runs in a clone of this repository (committed files only, at --rev, default HEAD):

- fresh: a new clone, no .venv and no caches (chromium already installed): `bash scripts/test.sh`;
- warm: the same clone again, nothing changed;
- markdown: the same clone with one sentence appended to a markdown cell of --lesson;
- course: another new clone: `bash scripts/course.sh` (the README's main command).

For each run: wall time, CPU time of everything it started, whether it passed, the load average
before and after (the machine may be shared), and the seconds from each `== step` line the
command prints to the next (the share of each step). Results are appended to
benchmarks/results/test_command.csv and test_command_steps.csv (with the commit measured).
Targets (issue 17, 2 cores): fresh <= 240 s, warm <= 60 s, markdown <= 60 s + the lesson's own
run, course <= 120 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _adopt_orphans() -> None:
    """Become the subreaper of our descendants (Linux), so that the CPU time of processes whose
    parent exits first (multiprocessing's forkserver) is counted when we reap them."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap(timeout: float = 30) -> None:
    "Wait for every descendant left behind (their CPU time then counts in RUSAGE_CHILDREN)."
    end = time.time() + timeout
    while time.time() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


def timed(cmd: list[str], cwd: Path, log: Path) -> dict:
    "Run `cmd`, timestamping its `== step` lines: wall, CPU, passed, steps [(name, seconds)]."
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "IN_TEST", "FORCE")}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if "/.venv/" not in p)
    load0, cpu0, t0 = os.getloadavg()[0], _cpu(), time.time()
    marks = [("setup", t0)]
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)  # fmt: skip
        for line in proc.stdout:
            f.write(line)
            if line.startswith("== ") and not line.startswith("==  "):
                marks.append((line[3:].strip()[:60], time.time()))
        rc = proc.wait()
    t1 = time.time()
    _reap()
    steps = [(n, round(b - a, 1)) for (n, a), (_, b) in zip(marks, marks[1:] + [("", t1)])]
    wall, cpu, load1 = round(t1 - t0, 1), round(_cpu() - cpu0, 1), os.getloadavg()[0]
    return dict(wall_s=wall, cpu_s=cpu, passed=rc == 0, load_before=load0, load_after=load1,
                steps=steps)  # fmt: skip


def clone(dest: Path, rev: str, sync: bool = False) -> None:
    """A fresh clone of this repository at `rev` in `dest`. `sync`: commit, in the clone only, what
    nbdev-export writes (for measuring a commit whose library lags a half-committed lesson)."""
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", rev], check=True)
    if sync:
        _sync(dest)


def _sync(dest: Path) -> None:
    "Commit, in the clone `dest` only, what nbdev-export writes there."
    env = {k: v for k, v in os.environ.items() if k != "IN_TEST"}
    subprocess.run([str(ROOT / ".venv" / "bin" / "nbdev-export")], cwd=dest, env=env, check=True)
    git = ["git", "-C", str(dest), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(git + ["commit", "-q", "-am", "bench: library synced"], check=False)


def update(repo: Path, rev: str, sync: bool = False) -> None:
    "Move the (throwaway) clone `repo`, keeping its .venv and caches, to `rev`."
    subprocess.run(["git", "-C", str(repo), "fetch", "-q", str(ROOT)], check=True)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-f", rev], check=True)
    if sync:
        _sync(repo)


def touch_markdown(lesson: Path) -> None:
    "Append one sentence to the last markdown cell of `lesson` (the first is the module docstring)."
    nb = json.loads(lesson.read_text(encoding="utf-8"))
    cell = [c for c in nb["cells"] if c["cell_type"] == "markdown"][-1]
    src = "".join(cell["source"])
    cell["source"] = src + " One more sentence."
    lesson.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def record(rows: list[dict], rev: str) -> None:
    "Append the runs to benchmarks/results/test_command.csv and test_command_steps.csv."
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    main, steps = RESULTS / "test_command.csv", RESULTS / "test_command_steps.csv"
    fields = ["when", "commit", "state", "wall_s", "cpu_s", "passed", "load_before", "load_after"]
    new = not main.exists()
    with main.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(fields)
        for r in rows:
            w.writerow([stamp, rev] + [r[k] for k in fields[2:]])
    new = not steps.exists()
    with steps.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["when", "commit", "state", "step", "seconds"])
        for r in rows:
            for name, secs in r["steps"]:
                w.writerow([stamp, rev, r["state"], name, secs])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default="HEAD", help="the commit to measure")
    ap.add_argument("--states", default="fresh,warm,markdown,course")
    ap.add_argument(
        "--lesson", default="nbs/03_probe.ipynb", help="the lesson the markdown edit changes"
    )
    ap.add_argument("--work", default="/tmp/bench-test-command", type=Path)
    ap.add_argument("--sync-library", action="store_true", help="see `clone`")
    args = ap.parse_args(argv)
    _adopt_orphans()
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.rev],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    states, rows = args.states.split(","), []
    repo = args.work / "clone"
    args.work.mkdir(parents=True, exist_ok=True)
    for state in states:
        if state == "fresh" or (state in ("warm", "markdown") and not repo.exists()):
            clone(repo, rev, args.sync_library)
        elif state in ("warm", "markdown") and not rows:  # a clone kept from an earlier run
            update(repo, rev, args.sync_library)
        if state == "markdown":  # an edit as a contributor commits it: nbdev-clean'ed
            touch_markdown(repo / args.lesson)
            clean = [str(ROOT / ".venv" / "bin" / "nbdev-clean"), "--fname", args.lesson]
            subprocess.run(clean, cwd=repo, check=True)
        if state == "course":
            repo = args.work / "course"
            clone(repo, rev, args.sync_library)
        script = "scripts/course.sh" if state == "course" else "scripts/test.sh"
        r = dict(state=state, **timed(["bash", script], repo, args.work / f"{state}.log"))
        if state == "markdown":
            subprocess.run(
                ["git", "-C", str(repo), "checkout", "-q", "--", args.lesson], check=True
            )
        rows.append(r)
        steps = ", ".join(f"{n.split(' (')[0][:28]} {s}" for n, s in r["steps"])
        load = f"load {r['load_before']:.2f}->{r['load_after']:.2f}"
        print(f"{rev} {state}: {r['wall_s']} s wall, {r['cpu_s']} s CPU, passed={r['passed']}, "
              f"{load}; {steps}", flush=True)  # fmt: skip
    record(rows, rev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
