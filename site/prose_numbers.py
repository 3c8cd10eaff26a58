"""Find the numbers in a lesson's prose that its page does not compute.

    python site/prose_numbers.py EXECUTED.ipynb [...]   # exit status 1 if any number is untraceable

A number written in a lesson's markdown must be printed by a cell on the page (an output), or
stand in the code on the page (an assert, an argument), so that a reader can trace it. This script
reads an *executed* notebook and lists every number of its markdown that appears in none of the
visible code cells' sources and outputs (`#| hide` cells are on no page, so they do not count).

What counts as the same number:
- the same value, however written: `3,481` = `3481` = `3_481`, `1e-2` = `0.01`, `0.90` = `0.9`,
  a sign ignored (`−0.5` in prose, `-0.5` printed), `95%` = `0.95` = `95.0%`;
- a rounding of a printed number: prose `0.92` (two significant digits or more) is traced by a
  printed `0.9167` (`round(0.9167, 2) == 0.92`); a one-digit prose number (`0.9`, `4`) must be
  printed as such.

What is not checked (not a measurement):
- integers from 0 to 10 (counts of things, list items, "2-D", "layer 3");
- lesson, exercise and section numbers (`Lesson 11`, `Lessons 3, 7 and 8`, `Exercise 2`);
- years of citations (`(Power et al., 2022)`, `Nanda et al. 2023`, `"Grokking", 2022`);
- numbers in link targets and HTML tags;
- numbers a cell lists in an HTML comment, `<!-- numbers: 113, 2 ** 12 -->`: the explicit
  allowlist, for numbers quoted from elsewhere (a paper's modulus); keep it short.

Counts in words are numbers too. "seven sparsities", "three heads", "five seeds": a count word
(three to twenty) before a word for something lessons count (`_COUNTED`: seeds, heads, units,
frequencies, ...; one word may sit between) is traced when one line of the code or output holds
the count in digits and the counted word's stem (its first four letters: `len(sparsities) == 6`
does not trace "seven sparsities"; `n_heads=4` traces "four heads"). The allowlist takes words too.

Claims about every seed ("in every seed", "all five seeds", "most seeds", "each seed") must sit
beside their count: a code cell within two cells of the claim mentions seeds in its code or output
(the table or the count the claim reads).
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

# A number: thousands with commas or underscores, decimals, an exponent, a percent sign.
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?(?:\d{1,3}(?:[,_]\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+−]?\d+)?%?(?![\w])"
)
_REFERENCE = re.compile(
    r"\b(?:Lessons?|Exercises?|Ex\.|Sections?|Chapters?|Figures?|Fig\.|Issues?)\s+"
    r"\d+(?:\s*(?:,|and|or|to|–|-)\s*\d+)*"
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_TAG = re.compile(r"<(?!!--)[^>]*>")
_ALLOW = re.compile(r"<!--\s*numbers:(.*?)-->", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"```.*?```", re.S)
_COUNT_WORDS = "three four five six seven eight nine ten eleven twelve thirteen fourteen".split()
_COUNT_WORDS += "fifteen sixteen seventeen eighteen nineteen twenty".split()
_WORD_VALUE = {w: i for i, w in enumerate(_COUNT_WORDS, start=3)}
# What a lesson counts by computing: a count word before one of these (one word may sit between,
# "three key frequencies") is a measurement. "Two" is left out: "the two differ" is no count.
_COUNTED = "seeds runs networks models sparsities heads units layers features frequencies latents"
_COUNTED += " dimensions kernels probes epochs steps directions instances pixels images"
_COUNT = re.compile(
    r"\b("
    + "|".join(_COUNT_WORDS)
    + r")[\s-]+(?:[a-zA-Z-]+\s+)?("
    + "|".join(_COUNTED.split())
    + r")\b",
    re.I,
)
_SEED_CLAIM = re.compile(
    r"\b(?:every|each|all(?:\s+\w+)?|most(?:\s+of\s+the)?|none\s+of\s+the)\s+seeds?\b", re.I
)


@dataclass(frozen=True)
class Number:
    "A number as written: its text, its value, its decimals and significant digits."

    text: str
    value: float  # the absolute value; a percentage as written (95% -> 95)
    percent: bool
    decimals: int
    digits: int  # significant digits


def parse(text: str) -> Number:
    "One number as `_NUMBER` matches it (`3,481`, `−0.50`, `1e-2`, `95%`)."
    clean = text.replace("−", "-").replace(",", "").replace("_", "").lstrip("-")
    percent = clean.endswith("%")
    mantissa = re.split("[eE]", clean.rstrip("%"))[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    digits = len(mantissa.replace(".", "").lstrip("0")) or 1
    return Number(text, abs(float(clean.rstrip("%"))), percent, decimals, digits)


def numbers_in(text: str) -> list[Number]:
    "Every number in `text`."
    return [parse(m.group()) for m in _NUMBER.finditer(text)]


def _readings(n: Number) -> list[tuple[float, int]]:
    "(value, decimals) pairs `n` can stand for: 95% is 95 or 0.95; 0.95 is 0.95 or 95 (in %)."
    if n.percent:
        return [(n.value, n.decimals), (n.value / 100, n.decimals + 2)]
    return [(n.value, n.decimals), (n.value * 100, max(n.decimals - 2, 0))]


def traced(prose: Number, printed: list[Number]) -> bool:
    "Whether `prose` is one of the `printed` numbers, or a rounding of one (2+ digits)."
    want = prose.value
    for p in printed:
        for got, decimals in _readings(p):
            if math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
                return True
            rounding = prose.digits >= 2 and decimals > prose.decimals
            if rounding and math.isclose(round(got, prose.decimals), want, abs_tol=1e-9):
                return True
    return False


def _ignored(n: Number, start: int, text: str, references: list[range]) -> bool:
    "Small integers, lesson/exercise references and citation years."
    if n.value.is_integer() and not n.percent and n.value <= 10 and n.decimals == 0:
        return True
    if any(start in r for r in references):
        return True
    if n.decimals == 0 and not n.percent and _YEAR.fullmatch(n.text):
        before, after = text[max(0, start - 12) : start], text[start + len(n.text) :][:1]
        if after in (")", ";", "]") or re.search(r"(et al\.?,?|[\"”],)\s*$", before):
            return True
    return False


def prose_numbers(markdown: str) -> list[Number]:
    "The numbers of one markdown cell that must be traced (see the module's docstring)."
    allowed = {parse(t).value for m in _ALLOW.finditer(markdown) for t in _allowed(m.group(1))}
    text = _COMMENT.sub(" ", _FENCE.sub(" ", markdown))
    text = _TAG.sub(" ", _LINK_TARGET.sub("]", text))
    references = [range(m.start(), m.end()) for m in _REFERENCE.finditer(text)]
    found = []
    for m in _NUMBER.finditer(text):
        n = parse(m.group())
        if not _ignored(n, m.start(), text, references) and n.value not in allowed:
            found.append(n)
    return found


def _allowed(listing: str) -> list[str]:
    return [m.group() for m in _NUMBER.finditer(listing)]


def _is_hidden(cell: dict) -> bool:
    first = "".join(cell.get("source", "")).lstrip().splitlines()[:3]
    return any(re.match(r"#\|\s*hide\b", line) for line in first)


def _output_text(output: dict) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    parts = [data.get(k, "") for k in ("text/plain", "text/markdown", "text/html", "text/latex")]
    if output.get("output_type") == "error":
        parts.append("\n".join(output.get("traceback", [])))
    return _TAG.sub(" ", "\n".join("".join(p) for p in parts))


def page_text(nb: dict) -> str:
    "The visible code cells' sources and every output on the page, as one text."
    chunks = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or _is_hidden(cell):
            continue
        chunks.append("".join(cell["source"]))
        chunks.extend(_output_text(o) for o in cell.get("outputs", []))
    return "\n".join(chunks)


def counts_in_words(markdown: str) -> list[tuple[str, int, str]]:
    "(phrase, count, counted word) for each count written in words, allowlisted ones left out."
    allowed = {w.lower() for m in _ALLOW.finditer(markdown) for w in m.group(1).split()}
    text = _COMMENT.sub(" ", _FENCE.sub(" ", markdown))
    text = _TAG.sub(" ", _LINK_TARGET.sub("]", text))
    found = []
    for m in _COUNT.finditer(text):
        word, noun = m.group(1).lower(), m.group(2)
        if word not in allowed and m.group().lower() not in allowed:
            found.append((m.group(), _WORD_VALUE[word], noun))
    return found


def count_traced(count: int, noun: str, lines: list[str]) -> bool:
    "Whether one line holds `count` in digits and `noun`'s stem."
    stem = noun.lower()[:4]
    digits = re.compile(rf"(?<![\w.]){count}(?![\w.])")
    return any(stem in line.lower() and digits.search(line) for line in lines)


def _code_text(cell: dict) -> str:
    outputs = [_output_text(o) for o in cell.get("outputs", [])]
    return "\n".join(["".join(cell["source"]), *outputs])


def _seeds_beside(cells: list[dict], i: int) -> bool:
    "Whether a visible code cell within two cells of cell `i` mentions seeds."
    near = cells[max(0, i - 2) : i + 3]
    code = [c for c in near if c["cell_type"] == "code" and not _is_hidden(c)]
    return any("seed" in _code_text(c).lower() for c in code)


def untraceable(nb: dict) -> list[tuple[int, str, str]]:
    "(cell index, number, its sentence) for every prose number the page does not compute."
    text = page_text(nb)
    printed, lines = numbers_in(text), text.splitlines()
    missing = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"])
        untraced = {n.text: n for n in prose_numbers(source) if not traced(n, printed)}
        for phrase, count, noun in counts_in_words(source):
            if not count_traced(count, noun, lines):
                untraced[phrase] = count
        if not _seeds_beside(nb["cells"], i):
            untraced.update({m.group(): 0 for m in _SEED_CLAIM.finditer(source)})
        missing += [(i, text, _context(source, text)) for text in untraced]
    return missing


def _context(text: str, number: str, width: int = 60) -> str:
    at = text.find(number)
    snippet = text[max(0, at - width) : at + len(number) + width]
    return " ".join(snippet.split())


def main(paths: list[str]) -> int:
    bad = 0
    for path in paths:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        missing = untraceable(nb)
        bad += len(missing)
        for cell, number, context in missing:
            print(f"{Path(path).name}: cell {cell}: {number!r} not on the page: …{context}…")
    if bad:
        print(f"{bad} prose number(s) appear in no code or output of their page")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
