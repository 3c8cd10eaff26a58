"""README.md carries the course home page's text (nbs/index.ipynb); its commands exist and its
"Using the package" snippet runs and does what the README says."""

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_matches_index():
    render = runpy.run_path(str(ROOT / "scripts" / "make_readme.py"))["render"]
    readme = (ROOT / "README.md").read_text()
    assert readme == render(), "README.md is out of date: run python scripts/make_readme.py"


def test_readme_commands_exist():
    text = (ROOT / "README.md").read_text()
    for cmd in ("bash scripts/course.sh", "bash scripts/test.sh"):
        assert cmd in text
        assert (ROOT / cmd.split()[1]).is_file()
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/python -m http.server -d _site 8000" in text
    assert (
        ".venv/bin/python -m http.server -d _site 8000"
        in (ROOT / "scripts" / "course.sh").read_text()
    )


def test_lesson_links_point_at_notebooks():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((nbs/[^)]+\.ipynb)\)", text)
    assert len(links) >= 10
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to lessons that do not exist: {missing}"
    lessons = {p.name for p in (ROOT / "nbs").glob("[0-9][0-9]_*.ipynb")}
    unlisted = sorted(lessons - {Path(link).name for link in links})
    assert not unlisted, f"lessons missing from the README's table: {unlisted}"


def test_benchmarks_listed():
    text = (ROOT / "README.md").read_text()
    benches = sorted(p.name for p in (ROOT / "benchmarks").glob("bench_*.py"))
    assert benches and all(f"`{b}`" in text for b in benches), benches


def test_using_the_package_snippet_runs(tmp_path, monkeypatch):
    "The snippet trains the target network, records its activation images and draws one."
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    text = (ROOT / "README.md").read_text()
    section = text.split("## Using the package", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "activation_images" in code and "plot_activation_images" in code
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, "README.md (Using the package)", "exec"), ns)
    assert tuple(ns["images"].shape) == (4, 5, 5)
    assert isinstance(ns["fig"], Figure)
    ns["fig"].savefig(tmp_path / "activation_image.png")
    assert (tmp_path / "activation_image.png").stat().st_size > 1000
