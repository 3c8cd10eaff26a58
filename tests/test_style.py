"""Code that reads on the page: one formatter (ruff, configured in pyproject.toml) and 100 columns.

`ruff format --check .` and `ruff check .` (E501 line length, E701/E702/E703 one statement per line)
cover the lessons, tests, site, scripts and benchmarks. The package interpcourse/ is excluded
there, because nbdev writes its `__all__` header (wrapped at 120) and _modidx.py in its own style;
its lines are checked here instead: none over 100 characters outside nbdev's `__all__` block.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX = 100


def _ruff() -> list[str]:
    exe = Path(sys.executable).parent / "ruff"
    if exe.exists():
        return [str(exe)]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.skip("ruff is not installed (pip install -e '.[dev]')")


@pytest.mark.parametrize("args", [["format", "--check", "."], ["check", "."]], ids=" ".join)
def test_ruff(args):
    r = subprocess.run(_ruff() + args, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, f"ruff {' '.join(args)} failed:\n{r.stdout[-6000:]}{r.stderr[-2000:]}"


def long_lines(path: Path) -> list[str]:
    "Lines of `path` over MAX characters, except those of nbdev's `__all__ = [...]` block."
    out, in_all = [], False
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(r"__all__\s*=", line):
            in_all = True
        if not in_all and len(line) > MAX:
            out.append(f"{path.relative_to(ROOT)}:{i}: {len(line)} characters: {line[:60]}...")
        if in_all and line.rstrip().endswith("]"):
            in_all = False
    return out


def test_package_lines_fit():
    files = sorted(p for p in (ROOT / "interpcourse").glob("*.py") if p.name != "_modidx.py")
    assert files
    problems = [msg for p in files for msg in long_lines(p)]
    assert not problems, "\n".join(problems)
