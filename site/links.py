"""Links between the pages: nbdev's doc links and `NN_name.ipynb` links become local page links."""

from __future__ import annotations

import re

from process import _text, api_label

_re_nblink = re.compile(r"\]\((?![a-z]+:)(?:\./)?([\w.-]+)\.ipynb(#[^)\s]*)?\)")


def _doc_prefix() -> str:
    "What nbdev puts before `page.html` in doc links (settings of interpcourse/_modidx.py)."
    from importlib.metadata import entry_points

    from nbdev.doclinks import _qual_sym

    # NbdevLookup reads the index through the package's nbdev entry point: so do we.
    ep = [e for e in entry_points(group="nbdev") if e.name == "interpcourse"]
    if not ep:
        return ""
    settings = ep[0].load()["settings"]
    if "doc_host" not in settings:
        return ""
    return _qual_sym(("PAGE.html", "x.py"), settings)[0].removesuffix("PAGE.html")


class LinkMap:
    "nbdev doc links (`<prefix>page.html#anchor`) -> MyST links to the local pages' API labels."

    def __init__(self, nb_pages: dict[str, str], labels: set[str]):
        base = _doc_prefix()
        self.nb_pages, self.pages, self.labels = nb_pages, set(nb_pages.values()), labels
        pat = r"\]\(" + re.escape(base) + r"([\w.-]+)\.html(?:#([^)\s]*))?\)"
        self.re = re.compile(pat) if base else None

    def _sub(self, m):
        page, anchor = m.group(1), (m.group(2) or "")
        if page not in self.pages:
            return m.group(0)
        while anchor:  # `Report.show` without its own block -> `Report`
            if api_label(page, anchor) in self.labels:
                return f"](#{api_label(page, anchor)})"
            anchor = anchor.rpartition(".")[0]
        return f"]({page}.ipynb)"

    def _nb_sub(self, m):
        "`[text](01_target.ipynb#x)` -> `[text](target.ipynb#x)`: lessons link by file name."
        page = self.nb_pages.get(m.group(1))
        return f"]({page}.ipynb{m.group(2) or ''})" if page else m.group(0)

    def __call__(self, md: str) -> str:
        md = _re_nblink.sub(self._nb_sub, md)
        return self.re.sub(self._sub, md) if self.re else md

    def apply(self, nb: dict) -> dict:
        for c in nb["cells"]:
            if c["cell_type"] == "markdown":
                c["source"] = self(c["source"])
            for o in c.get("outputs", []):
                if "text/markdown" in o.get("data", {}):
                    o["data"]["text/markdown"] = self(_text(o["data"]["text/markdown"]))
        return nb
