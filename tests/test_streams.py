"""Random streams (Lesson 0's `stream`): data, initial weights, batch order and controls never share
one, whatever seeds are passed.

Two kinds of check. The source: every draw in the package goes through `stream`, `np_stream` or
`seed_everything` with a named purpose, and the purposes are the ones listed here (adding a draw
means adding it to PURPOSES, where a reviewer sees it). The draws: each drawing function, at equal
seeds, draws something other than a plain generator of that seed and other than the other
functions' draws, so a model can never start from its data's own draw.
"""

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from interpcourse.training import fit, seed_everything, stream, stream_seed

PACKAGE = Path(__file__).resolve().parent.parent / "interpcourse"
DRAWERS = {"stream", "np_stream", "seed_everything"}

# Every purpose the package draws for: a purpose names one kind of draw. Two call sites share one
# only where they draw the same thing (the target's initial weights in Lessons 2 and 7; a fresh
# probe's initial weights in Lessons 7 and 8).
PURPOSES = {
    "batch order",  # fit: the order of the mini-batches
    "dropout",  # fit: what dropout layers draw
    "target pairs",  # Lesson 1: the random (a, b) pairs
    "example order",  # Lesson 1: the hand-written network's per-sample SGD order
    "target weights",  # Lessons 2 and 7: the target network's initial weights
    "classifier weights",  # Lessons 5-6: an image classifier's initial weights
    "shape images",  # Lesson 5: squares and diamonds
    "train/test split",  # Lesson 6: the MNIST split
    "held-out pairs",  # Lesson 7: input pairs held out from a probe
    "control task",  # Lesson 7: Hewitt & Liang's shuffled labels
    "probe weights",  # Lessons 7-8: a probe's initial weights
    "resampled rows",  # Lesson 8: resample ablation's reference rows
    "random directions",  # Lesson 8: the random-subspace control of amnesic probing
    "grokking split",  # Lessons 9-11: the training pairs
    "grokking weights",  # Lesson 9: the MLP's initial weights
    "toy model weights",  # Lesson 10: the toy models of superposition
    "toy model features",  # Lesson 10: the sparse features they are trained on
    "plot jitter",  # Lesson 10: horizontal jitter in the dimensionality figure
    "SAE weights",  # Lesson 10: a sparse autoencoder's initial dictionary
    "SAE batches",  # Lesson 10: its mini-batches
    "planted features",  # Lesson 10: the planted directions and the features' values
    "random dictionary",  # Lesson 10: random unit directions, the chance baseline of a dictionary
    "transformer weights",  # Lesson 11: the transformer's initial weights
    "gradient triples",  # Lesson 11: the triples of gradient symmetricity
    "copy sequences",  # Lesson 12: random tokens with a copied segment
    "repeated tokens",  # Lesson 12: the [r, r] diagnostic sequences
    "induction weights",  # Lesson 12: the attention-only model's initial weights
    "random composition matrices",  # Lesson 12: the composition scores' random baseline
    "corrupted sequences",  # Lesson 12: the shuffles of path and attribution patching
}


def _calls(tree):
    "Every call in `tree` to a function named in DRAWERS, as (name, call node)."
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in DRAWERS:
                yield node.func.id, node


def _package_sources():
    return {p.name: p.read_text() for p in sorted(PACKAGE.glob("*.py")) if p.name != "_modidx.py"}


def test_no_draw_bypasses_the_streams():
    "Only Lesson 0's stream functions seed a generator; nothing draws from a raw seed."
    raw = ("manual_seed(", "default_rng(", "np.random.seed(", "random.seed(", "SeedSequence(")
    for name, src in _package_sources().items():
        for line_no, line in enumerate(src.splitlines(), 1):
            if any(r in line for r in raw) and name != "training.py":
                pytest.fail(f"{name}:{line_no} seeds a generator directly: {line.strip()}")


def test_every_draw_names_a_listed_purpose():
    found = set()
    for name, src in _package_sources().items():
        for fn, call in _calls(ast.parse(src)):
            if name == "training.py" and fn == "seed_everything" and len(call.args) < 2:
                continue  # the definition's own docs and tests call it plainly
            args = call.args[1:2] or [k.value for k in call.keywords if k.arg == "purpose"]
            assert args and isinstance(args[0], ast.Constant), f"{name}: {fn}() without a purpose"
            found.add(args[0].value)
    assert found == PURPOSES, (found - PURPOSES, PURPOSES - found)


@pytest.mark.parametrize("seed", [0, 1, 7, 2**40])
def test_purposes_never_share_a_seed(seed):
    seeds = {stream_seed(seed, p) for p in PURPOSES}
    assert len(seeds) == len(PURPOSES)
    assert seed not in seeds  # no purpose draws from the plain seed itself


def test_stream_seed_is_pinned():
    "The derivation is part of every number in the course: it must not drift across versions."
    assert stream_seed(0, "target pairs") == stream_seed(0, "target pairs")
    a = np.random.SeedSequence(0, spawn_key=(0,)).generate_state(1, np.uint64)[0]
    assert isinstance(int(a), int)
    first = torch.randn(3, generator=stream(0, "SAE weights"))
    again = torch.randn(3, generator=stream(0, "SAE weights"))
    torch.testing.assert_close(first, again, rtol=0, atol=0)


def _plain(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------- the draws
@pytest.mark.parametrize("seed", [0, 3])
def test_target_pairs_are_not_a_plain_draw(seed):
    from interpcourse.target import modular_data

    X, _ = modular_data(p=7, n=200, seed=seed)
    a = X[:, :7].argmax(1)
    assert not torch.equal(a, torch.randint(0, 7, (200,), generator=_plain(seed)))


@pytest.mark.parametrize("seed", [0, 3])
def test_grokking_split_is_not_a_plain_draw(seed):
    from interpcourse.grokking import grokking_data

    _, _, train, _ = grokking_data(p=11, frac=0.5, seed=seed)
    plain = torch.randperm(121, generator=_plain(seed))[: len(train)].sort().values
    assert not torch.equal(train, plain)


@pytest.mark.parametrize("seed", [0, 3])
def test_toy_and_sae_weights_are_neither_plain_nor_each_other(seed):
    from interpcourse.superposition import SparseAutoencoder, ToyModel

    toy = ToyModel(5, 2, seed=seed).W.detach()[0]  # (2, 5)
    std = (2 / 7) ** 0.5
    assert not torch.allclose(toy, torch.randn(1, 2, 5, generator=_plain(seed))[0] * std)
    sae = SparseAutoencoder(10, 64, k=2, seed=seed).W_dec.detach()
    plain = torch.randn(64, 10, generator=_plain(seed))
    cos = torch.nn.functional.cosine_similarity(sae[:, None], plain[None], dim=-1).abs()
    assert cos.max(1).values.max() < 0.99  # no row of the dictionary is a plain draw's row


@pytest.mark.parametrize("seed", [0, 3])
def test_control_draws_are_not_the_data_draws(seed):
    from interpcourse.controls import control_targets, unseen_pair_split
    from interpcourse.target import all_pairs

    _, y = all_pairs(7)
    a, b = torch.arange(7).repeat_interleave(7), torch.arange(7).repeat(7)
    T = torch.stack([a, b, y], 1)
    shuffled = control_targets(T, seed=seed)
    plain = T[torch.randperm(49, generator=_plain(seed)), 0]
    assert not torch.equal(shuffled[:, 0], plain)
    train, test = unseen_pair_split(T, 0.25, seed=seed)
    assert len(test) == 12 and len(train) == 37


@pytest.mark.parametrize("seed", [0, 3])
def test_images_and_splits_are_not_a_plain_draw(seed):
    from interpcourse.mnist import split_train_test
    from interpcourse.shapes import make_images

    X, _ = make_images(5, seed=seed)
    r = np.random.default_rng(seed).integers(3, 7, size=10, endpoint=True)
    radii = (X[:, 0] > 0).any(2).sum(1) // 2  # half the outline's height
    assert not np.array_equal(radii, r)
    rows = np.arange(40)[:, None].astype(np.float32)
    Xtr, _, _, _ = split_train_test(rows, np.zeros((40, 1)), 0.5, seed=seed)
    plain = np.random.default_rng(seed).permutation(40)[:20]
    assert not np.array_equal(Xtr[:, 0].astype(int), plain)


@pytest.mark.parametrize("seed", [0, 3])
def test_fit_does_not_reuse_the_weights_stream(seed):
    "fit(seed=s) after seed_everything(s, purpose): batch order and weights on their own streams."
    orders = []
    for batch_seed in (seed, seed):
        seed_everything(seed, "target weights")
        model = torch.nn.Linear(1, 2)
        X = torch.arange(8.0)[:, None]
        seen = []
        model.register_forward_hook(lambda m, i, o: seen.append(i[0][:, 0].tolist()))
        fit(model, X, torch.zeros(8).long(), epochs=1, batch_size=8 - 1, seed=batch_seed)
        orders.append(seen[1])  # seen[0] is fit's one-row check of the labels
    assert orders[0] == orders[1]
    plain = torch.randperm(8, generator=_plain(seed))[:7].float().tolist()
    assert orders[0] != plain


def test_streams_differ_between_purposes_at_equal_seeds():
    draws = {p: torch.randn(16, generator=stream(5, p)) for p in PURPOSES}
    for p, q in itertools.combinations(PURPOSES, 2):
        assert not torch.allclose(draws[p], draws[q]), (p, q)
