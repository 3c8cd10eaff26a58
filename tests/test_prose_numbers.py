"The prose-numbers check (site/prose_numbers.py) on hand-made pages: what it traces, what it flags."

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "site"))
from prose_numbers import numbers_in, parse, prose_numbers, traced, untraceable  # noqa: E402


def page(markdown: str, code: str = "", output: str = "", hidden: bool = False) -> dict:
    "A notebook of one markdown cell and one code cell with one printed output."
    source = ("#| hide\n" if hidden else "") + code
    out = {"output_type": "stream", "name": "stdout", "text": output}
    return {
        "cells": [
            {"cell_type": "markdown", "source": markdown},
            {"cell_type": "code", "source": source, "outputs": [out]},
        ]
    }


def flagged(markdown: str, code: str = "", output: str = "", hidden: bool = False) -> list[str]:
    return [number for _, number, _ in untraceable(page(markdown, code, output, hidden))]


def test_parse_reads_every_way_of_writing_a_number():
    assert parse("3,481").value == 3481
    assert parse("12_000").value == 12000
    assert parse("−0.50").value == 0.5 and parse("−0.50").decimals == 2
    assert parse("1e-2").value == pytest.approx(0.01)
    assert parse("95%").percent and parse("95%").value == 95
    assert parse("0.0470").digits == 3
    assert [n.text for n in numbers_in("tanh2 x² 2-D 0.82–0.88 v(3)")] == ["2", "0.82", "0.88", "3"]


def test_a_printed_number_traces_the_prose():
    assert flagged("accuracy 0.94 on 1,044 pairs", output="acc 0.94 n=1044") == []
    assert flagged("accuracy 0.94", code="assert acc > 0.94") == []
    assert flagged("loss falls to −0.5", output="-0.5") == []


def test_a_missing_or_different_number_is_flagged():
    assert flagged("about 95% of units", output="94%") == ["95%"]
    assert flagged("accuracy 0.97", output="accuracy 0.92") == ["0.97"]
    assert flagged("after 12,000 steps", output="after 6000 steps") == ["12,000"]


def test_percentages_and_fractions_trace_each_other():
    assert flagged("95% of the pairs", output="0.95") == []
    assert flagged("a share of 0.95", output="95%") == []
    assert flagged("95% of the pairs", output="0.947") == []  # a rounding of 94.7%


def test_rounding_needs_two_digits_and_a_more_precise_print():
    assert flagged("0.92 on unseen pairs", output="0.9167") == []
    assert flagged("about 0.9", output="0.87") == ["0.9"]  # one digit: must be printed as such
    assert flagged("0.917", output="0.92") == ["0.917"]  # more precise than the page


def test_hidden_cells_are_not_on_the_page():
    assert flagged("seed 1234", code="seed = 1234", hidden=True) == ["1234"]
    assert flagged("seed 1234", code="seed = 1234") == []


def test_what_is_not_a_measurement_is_not_checked():
    assert prose_numbers("3 layers of width 5, 2-D, 10 seeds") == []
    assert prose_numbers("Lesson 11 and Lessons 3, 7 and 8; Exercise 12") == []
    assert prose_numbers('(Power et al., 2022); Nanda et al. 2023; "Grokking", 2022') == []
    assert prose_numbers("[the post](https://example.org/p/4711) <img width=640>") == []
    assert [n.text for n in prose_numbers("trained for 2022 steps")] == ["2022"]


def test_the_allowlist_is_explicit_and_per_cell():
    text = "Nanda et al. trained on p = 113 <!-- numbers: 113 -->"
    assert prose_numbers(text) == []
    assert [n.text for n in prose_numbers("p = 113")] == ["113"]


def test_traced_compares_values_not_text():
    assert traced(parse("0.90"), [parse("0.9")])
    assert traced(parse("3,481"), [parse("3481")])
    assert not traced(parse("3,481"), [parse("3480")])


def test_every_lesson_page_computes_the_numbers_its_prose_quotes():
    "Every lesson as executed for this run: each prose number printed, asserted or allowlisted."
    import json
    import os

    from lessons import executed_notebooks, lessons

    executed = executed_notebooks()
    pages = [nb for nb in lessons() if nb.name != "index.ipynb"]
    missing = [nb.name for nb in pages if nb.name not in executed]
    if missing and not os.environ.get("INTERPCOURSE_SITE_BUILT"):
        pytest.skip(f"no current execution of {missing}: run `python site/execute.py` first")
    assert not missing, f"the test command executed no current copy of {missing}"
    untraced = {}
    for nb in pages:
        found = untraceable(json.loads(executed[nb.name].read_text(encoding="utf-8")))
        if found:
            untraced[nb.name] = [
                f"cell {cell}: {number} in …{context}…" for cell, number, context in found
            ]
    assert not untraced, "prose numbers no cell on the page computes:\n" + json.dumps(
        untraced, indent=1, ensure_ascii=False
    )


def test_counts_in_words_are_traced_like_digits():
    assert flagged("we train seven sparsities", code="sparsities = [0.1] * 6") == [
        "seven sparsities"
    ]
    assert flagged("we train six sparsities", code="test_eq(len(sparsities), 6)") == []
    assert flagged("four heads attend", code="model = Attention(n_heads=4)") == []
    assert flagged("three key frequencies", output="3 key frequencies: [4, 11, 17]") == []
    assert flagged("over five seeds", output="5 runs") == ["five seeds"]  # the stem must match
    assert flagged("the two differ, in three ways") == []  # not counts of measured things
    assert flagged("five seeds <!-- numbers: five -->") == []  # the allowlist takes words


def test_a_claim_about_every_seed_sits_beside_its_count():
    assert flagged("it groks in every seed", output="train 1.0") == ["every seed"]
    assert flagged("it groks in every seed", output="5 of 5 seeds grok") == []
    assert flagged("most seeds grok", code="seeds = table.seed") == []
