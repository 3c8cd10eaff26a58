"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto; this needs nothing).

Markdown cells are copied as they are; code cells become ```python blocks; cells marked `#| hide`
are left out; links to lessons (`NN_name.ipynb`) are pointed into nbs/. tests/test_readme.py
checks that README.md is up to date.
Usage: python scripts/make_readme.py [--check]
"""

import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "<!-- Generated from nbs/index.ipynb by scripts/make_readme.py: "
    "edit the notebook, not this file. -->\n\n"
)


def render(nb_path=ROOT / "nbs" / "index.ipynb") -> str:
    "The README text for the index notebook at `nb_path`."
    cells = json.loads(Path(nb_path).read_text())["cells"]
    parts = []
    for c in cells:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith("#|")]
        if any(re.match(r"#\|\s*hide\b", d) for d in directives):
            continue
        if c["cell_type"] == "markdown":
            parts.append(re.sub(r"\]\((\d\d\w*\.ipynb)\)", r"](nbs/\1)", src.strip()))
        elif c["cell_type"] == "code":
            code = "\n".join(l for l in lines if not l.startswith("#|")).strip()
            if code:
                parts.append(f"```python\n{code}\n```")
    return HEADER + "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    text, readme = render(), ROOT / "README.md"
    if "--check" in sys.argv:
        sys.exit(
            0
            if readme.exists() and readme.read_text() == text
            else "README.md is out of date: run python scripts/make_readme.py"
        )
    readme.write_text(text)
    print(f"wrote {readme}")
