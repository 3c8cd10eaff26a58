"Sphinx configuration for the course website; site/build.py writes the sources into _build/src."

import tomllib
from pathlib import Path

_root = Path(__file__).resolve().parent.parent
_proj = tomllib.loads((_root / "pyproject.toml").read_text())["project"]
_init = (_root / "interpcourse" / "__init__.py").read_text()

project = "interpcourse"
author = "interpcourse developers"
copyright = "interpcourse developers"
release = version = next(
    (
        l.split("=")[1].strip().strip("\"'")
        for l in _init.splitlines()
        if l.startswith("__version__")
    ),
    "",
)
html_title = "interpcourse: interpreting neural networks"

extensions = ["myst_nb", "sphinx-mathjax-offline"]  # the second copies MathJax into _static: no CDN
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # show_doc headings start at ### wherever the API block sits

# myst-nb renders the outputs stored by site/build.py; it never executes.
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}  # no require.js / widget scripts from a CDN
nb_render_markdown_format = "myst"
myst_enable_extensions = ["dollarmath", "amsmath", "attrs_block", "attrs_inline", "colon_fence"]
myst_dmath_double_inline = True

html_theme = "furo"
html_static_path = [str(Path(__file__).resolve().parent / "_static")]
html_css_files = ["course.css"]
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {"navigation_with_keys": True, "top_of_page_buttons": []}
html_favicon = str(
    Path(__file__).resolve().parent / "_static" / "favicon.svg"
)  # else browsers ask for /favicon.ico
html_use_index = False  # no domain objects: the general index would be empty
