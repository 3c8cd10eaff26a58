"""README.md carries the course home page's text (nbs/index.ipynb) and the commands it names exist."""
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_matches_index():
    render = runpy.run_path(str(ROOT / "scripts" / "make_readme.py"))["render"]
    assert (ROOT / "README.md").read_text() == render(), "README.md is out of date: run python scripts/make_readme.py"


def test_readme_commands_exist():
    text = (ROOT / "README.md").read_text()
    for cmd in ("bash scripts/course.sh", "bash scripts/test.sh"):
        assert cmd in text
        assert (ROOT / cmd.split()[1]).is_file()
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_lesson_links_point_at_notebooks():
    import re
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((nbs/[^)]+\.ipynb)\)", text)
    assert len(links) >= 8
    missing = [l for l in links if not (ROOT / l).exists()]
    assert not missing, f"README links to lessons that do not exist: {missing}"
