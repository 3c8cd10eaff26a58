"""Lesson 3 (interpcourse.probe): the convolutional probe, decoding accuracy, kernels CSV,
bad input, determinism."""

import re

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from interpcourse.probe import (
    ConvProbe,
    decode_accuracy,
    default_head_names,
    fit_probe,
    held_out_pairs,
    load_kernels,
    majority_baseline,
    save_kernels,
)
from interpcourse.training import accuracy, fit, load_model, predict, save_model, seed_everything


def probe(**kw):
    seed_everything(0)
    kw.setdefault("image_shape", (5, 5))
    return ConvProbe(**kw).eval()


def toy_data(n=64, shape=(5, 5), seed=0):
    "Images whose labels are a function of the image (three 2-class heads)."
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, *shape, generator=g)
    T = torch.stack(
        [(images[:, 0, 0] > 0), (images[:, -1, -1] > 0), (images.sum((1, 2)) > 0)], 1
    ).long()
    return images, T


# ---------------------------------------------------------------- construction
@pytest.mark.parametrize(
    "kw, match",
    [
        (
            dict(kernel_size=(6, 2)),
            r"kernel_size \(6, 2\) is larger than the image \(image_shape \(5, 5\)\)",
        ),
        (dict(kernel_size=(2, 9)), r"kernel_size \(2, 9\) is larger than the image"),
        (dict(image_shape=(3, 8), kernel_size=4), r"kernel_size \(4, 4\) is larger than the image"),
        (dict(kernel_size=0), "kernel_size must be a positive int or a pair"),
        (dict(kernel_size=(2, 2, 2)), "kernel_size must be a positive int or a pair"),
        (dict(image_shape=(5,)), "image_shape must be a positive int or a pair"),
        (dict(image_shape=(5, 0)), "image_shape must be a positive int or a pair"),
        (dict(n_kernels=0), "n_kernels must be a positive int"),
        (dict(n_kernels=2.0), "n_kernels must be a positive int"),
        (dict(hidden=(30, 0)), "hidden must be a sequence of positive ints"),
        (dict(hidden="30"), "hidden must be a sequence of positive ints"),
        (dict(heads=()), "heads must not be empty"),
        (dict(heads=(2, 1)), "heads must give each head at least 2 classes"),
        (dict(heads=(2, 2.5)), "heads must be a sequence of positive ints"),
        (dict(dropout=1.0), r"dropout must be a probability in \[0, 1\)"),
        (dict(dropout=-0.1), r"dropout must be a probability in \[0, 1\)"),
        (dict(head_names=["a", "b"]), "head_names must be 3 distinct strings"),
        (dict(head_names=["a", "a", "b"]), "head_names must be 3 distinct strings"),
        (dict(head_names="abc"), "head_names must be 3 distinct strings"),
        (dict(dropout="0.5"), r"dropout must be a probability in \[0, 1\)"),
        (dict(dropout=float("nan")), r"dropout must be a probability in \[0, 1\)"),
    ],
)
def test_probe_bad_arguments(kw, match):
    kw.setdefault("image_shape", (5, 5))
    with pytest.raises(ValueError, match=match):
        ConvProbe(**kw)


def test_probe_shapes_and_options():
    p = probe(image_shape=(5, 8), n_kernels=4, kernel_size=(3, 2), hidden=(7,), heads=5)
    assert p.response_shape == (3, 7) and p.kernels.shape == (4, 3, 2)
    out = p(torch.zeros(6, 5, 8))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(6, 5)] * 3
    assert p.head_names == ["a", "b", "output"]
    assert p.conv.bias is None
    no_hidden = probe(hidden=(), heads=(3, 4))
    assert [o.shape for o in no_hidden(torch.zeros(2, 5, 5))] == [(2, 3), (2, 4)]
    assert no_hidden.head_names == default_head_names(2) == ["head0", "head1"]
    assert probe(kernel_size=5).response_shape == (
        1,
        1,
    )  # a kernel as large as the image still fits


@pytest.mark.parametrize(
    "images, match",
    [
        (torch.zeros(3, 25), "images must have 3 dimensions"),
        (torch.zeros(3, 1, 5, 5), "images must have 3 dimensions"),
        (
            torch.zeros(3, 5, 4),
            re.escape("images must have shape (n, 5, 5) for this probe, got (3, 5, 4)"),
        ),
        (torch.full((2, 5, 5), float("nan")), "images contains NaN"),
        (torch.full((2, 5, 5), float("inf")), "images contains NaN or infinite"),
    ],
)
def test_probe_bad_images(images, match):
    p = probe()
    for f in (
        p,
        p.responses,
        p.winners,
        lambda x: decode_accuracy(p, x, torch.zeros(len(x), 3, dtype=torch.long)),
    ):
        with pytest.raises(ValueError, match=match):
            f(images)


def test_probe_images_type():
    with pytest.raises(TypeError, match="images must be a NumPy array or torch tensor"):
        probe()("images")


# ---------------------------------------------------------------- the forward pass
def test_responses_are_a_valid_convolution_and_forward_uses_their_max():
    p = probe(image_shape=(4, 6), n_kernels=3, kernel_size=(2, 3), hidden=(5,))
    images = torch.randn(7, 4, 6)
    r = p.responses(images).detach()
    torch.testing.assert_close(r, F.conv2d(images[:, None], p.kernels[:, None]))
    for i in range(3):  # one position by hand
        for j in range(4):
            torch.testing.assert_close(
                r[:, 1, i, j], (images[:, i : i + 2, j : j + 3] * p.kernels[1]).sum((1, 2))
            )
    seen = {}
    handle = p.body[0].register_forward_pre_hook(
        lambda m, inp: seen.setdefault("x", inp[0].detach())
    )
    try:
        p(images)
    finally:
        handle.remove()
    torch.testing.assert_close(seen["x"], torch.tanh(r.amax(1)).flatten(1))
    w = p.winners(images)
    assert w.dtype == torch.int64 and w.shape == (7, 3, 4)
    assert torch.equal(r.gather(1, w[:, None])[:, 0], r.amax(1))


def test_dropout_only_in_training():
    p = probe(dropout=0.5)
    x = torch.randn(16, 5, 5)
    p.eval()
    assert all(torch.equal(a, b) for a, b in zip(p(x), p(x)))
    p.train()
    assert not all(torch.equal(a, b) for a, b in zip(p(x), p(x)))


# ---------------------------------------------------------------- decode_accuracy and the baseline
def test_decode_accuracy_values():
    p = probe()
    images, T = toy_data(40)
    acc = decode_accuracy(p, images, T)
    assert (
        isinstance(acc, pd.DataFrame)
        and list(acc.columns) == ["a", "b", "output", "all"]
        and len(acc) == 1
    )
    pred = predict(p, images)
    for i, name in enumerate(["a", "b", "output"]):
        assert acc[name].item() == pytest.approx((pred[:, i] == T[:, i]).float().mean().item())
    assert acc["all"].item() == pytest.approx(accuracy(p, images, T))
    named = probe(head_names=["x", "y", "z"])
    assert list(decode_accuracy(named, images, T).columns) == ["x", "y", "z", "all"]


def test_decode_accuracy_single_head_and_other_models():
    p = probe(heads=(3,))
    images = torch.randn(9, 5, 5)
    y = predict(p, images)
    assert decode_accuracy(p, images, y).iloc[0].tolist() == [1.0, 1.0]
    assert decode_accuracy(p, images, y[:, None])["all"].item() == 1.0
    lin = nn.Sequential(nn.Flatten(), nn.Linear(25, 2))
    acc = decode_accuracy(lin, images, torch.zeros(9, dtype=torch.long))
    assert list(acc.columns) == ["head0", "all"]


@pytest.mark.parametrize(
    "targets, match",
    [
        (
            torch.zeros(8, 2, dtype=torch.long),
            re.escape("targets must have one column per head of the probe, shape (n, 3)"),
        ),
        (
            torch.zeros(8, dtype=torch.long),
            re.escape("targets must have one column per head of the probe, shape (n, 3)"),
        ),
        (
            torch.tensor([[0, 0, 2]] * 8),
            re.escape("targets column 2 ('output') has label 2, but that head has only 2 classes"),
        ),
        (torch.zeros(7, 3, dtype=torch.long), "targets must have 8 rows"),
        (torch.full((8, 3), -1), "targets labels must be >= 0"),
        (torch.full((8, 3), 0.5), "targets must hold whole-number class labels"),
    ],
)
def test_decode_accuracy_bad_targets(targets, match):
    with pytest.raises(ValueError, match=match):
        decode_accuracy(probe(), torch.zeros(8, 5, 5), targets)


def test_decode_accuracy_bad_probe():
    with pytest.raises(TypeError, match="probe must be a torch.nn.Module"):
        decode_accuracy("probe", torch.zeros(2, 5, 5), torch.zeros(2, 3, dtype=torch.long))


def test_majority_baseline():
    T = torch.tensor([[0, 1, 1], [1, 1, 0], [1, 0, 1], [1, 1, 0], [1, 1, 0]])
    b = majority_baseline(T)
    assert b.iloc[0].tolist() == [0.8, 0.8, 0.6, 0.6]
    assert list(majority_baseline(T, ["x", "y", "z"]).columns) == ["x", "y", "z", "all"]
    with pytest.raises(ValueError, match="head_names must have one name per column"):
        majority_baseline(T, ["x"])
    with pytest.raises(ValueError, match=re.escape("targets must have shape (n, heads)")):
        majority_baseline(T[:, 0])
    with pytest.raises(
        ValueError, match=re.escape("targets must have shape (n, heads) with n >= 1")
    ):
        majority_baseline(T[:0])
    with pytest.raises(TypeError, match="head_names must be a sequence of strings, got str"):
        majority_baseline(T, "xyz")


def test_decode_accuracy_no_images():
    with pytest.raises(ValueError, match="images must hold at least one image, got 0"):
        decode_accuracy(probe(), torch.zeros(0, 5, 5), torch.zeros(0, 3, dtype=torch.long))


# ---------------------------------------------------------------- training with fit
def test_fit_checks_targets_against_heads():
    images, T = toy_data(16)
    with pytest.raises(ValueError, match="y must have one column per head"):
        fit(probe(), images, T[:, :2], epochs=1)
    with pytest.raises(ValueError, match="labels must be < 2"):
        fit(probe(), images, T * 2, epochs=1)
    with pytest.raises(ValueError, match=re.escape("images must have shape (n, 5, 5)")):
        fit(probe(), torch.zeros(16, 4, 4), T, epochs=1)
    bad = images.clone()
    bad[3, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        fit(probe(), bad, T, epochs=1)


def test_probe_learns_toy_labels():
    images, T = toy_data(256)
    seed_everything(0)
    p = ConvProbe((5, 5), dropout=0.0)
    curve = fit(p, images, T, epochs=200, lr=0.01, seed=0)
    assert curve[-1] < curve[0] / 3
    assert decode_accuracy(p, images, T)["all"].item() > 0.9


def train(seed_init, seed_fit, epochs=3):
    images, T = toy_data(200)
    seed_everything(seed_init)
    p = ConvProbe((5, 5))
    return p, fit(p, images, T, epochs=epochs, lr=0.01, batch_size=32, seed=seed_fit)


def test_training_is_deterministic():
    (p1, c1), (p2, c2) = train(1, 2), train(1, 2)
    assert (c1 == c2).all()
    for (k, v1), v2 in zip(p1.state_dict().items(), p2.state_dict().values()):
        assert torch.equal(v1, v2), k
    p3, c3 = train(1, 3)  # another shuffling/dropout seed, same start
    assert not (c1 == c3).all()
    p4, _ = train(4, 2)
    assert not torch.equal(p4.kernels, p1.kernels)


# ---------------------------------------------------------------- saving
def test_kernels_csv_round_trip(tmp_path):
    p, _ = train(0, 0)
    path = save_kernels(p, tmp_path / "kernels.csv")
    df = pd.read_csv(path, index_col="kernel")
    assert list(df.columns) == ["r0c0", "r0c1", "r1c0", "r1c1"] and len(df) == 3
    torch.testing.assert_close(
        torch.tensor(df.to_numpy(), dtype=torch.float32).view(3, 2, 2), p.kernels, rtol=0, atol=1e-7
    )
    fresh = probe()
    assert not torch.equal(fresh.kernels, p.kernels)
    assert load_kernels(fresh, path) is fresh
    torch.testing.assert_close(fresh.kernels, p.kernels, rtol=0, atol=1e-7)


def test_kernels_csv_errors(tmp_path):
    p = probe()
    path = save_kernels(p, tmp_path / "k.csv")
    with pytest.raises(ValueError, match="this probe needs 2 kernels"):
        load_kernels(probe(n_kernels=2), path)
    with pytest.raises(ValueError, match=re.escape("columns ['r0c0', 'r0c1', 'r0c2'")):
        load_kernels(probe(kernel_size=3), path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_kernels(p, tmp_path / "missing.csv")
    with pytest.raises(TypeError, match="probe must be a ConvProbe"):
        save_kernels(nn.Linear(2, 2), tmp_path / "x.csv")
    with pytest.raises(TypeError, match="probe must be a ConvProbe"):
        load_kernels(nn.Linear(2, 2), path)
    text = path.read_text().splitlines()
    text[1] = text[1].rsplit(",", 1)[0] + ",nan"
    (tmp_path / "nan.csv").write_text("\n".join(text))
    with pytest.raises(ValueError, match="contains NaN"):
        load_kernels(p, tmp_path / "nan.csv")


def test_kernels_csv_bad_paths(tmp_path):
    "Files and folders a new user might pass: each error names the path and says what is wrong."
    p = probe()
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        save_kernels(p, tmp_path / "missing" / "k.csv")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got NoneType"):
        save_kernels(p, None)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_kernels(p, tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_kernels(p, tmp_path)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    for name in ("empty.csv", "notes.txt"):
        with pytest.raises(ValueError, match="is not a kernels CSV written by save_kernels"):
            load_kernels(p, tmp_path / name)
    (tmp_path / "words.csv").write_text("kernel,r0c0,r0c1,r1c0,r1c1\n" + "0,a,b,c,d\n" * 3)
    with pytest.raises(TypeError, match="must hold real numbers"):
        load_kernels(p, tmp_path / "words.csv")


def test_save_model_round_trip(tmp_path):
    p, _ = train(0, 0)
    p2 = load_model(save_model(p, tmp_path / "probe.safetensors"))
    assert isinstance(p2, ConvProbe) and p2.config == p.config
    images, T = toy_data(30, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(p.eval()(images), p2(images)))
    pd.testing.assert_frame_equal(decode_accuracy(p, images, T), decode_accuracy(p2, images, T))


# ---------------------------------------------------------------- held-out pairs
@pytest.mark.parametrize(
    "p, slope, sums_distinct",
    [(3, 2, False), (5, 2, True), (7, 2, True), (7, 3, True), (9, 4, True)],
)
def test_held_out_pairs(p, slope, sums_distinct):
    held = held_out_pairs(p, slope=slope)
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    assert held.sum() == p
    assert torch.equal(b[held], (slope * a[held] + 1) % p)
    for v in (a, b):  # one held-out pair per value of a and of b
        assert torch.equal(torch.bincount(v[held], minlength=p), torch.ones(p, dtype=torch.long))
    assert (
        len(torch.unique((a + b)[held] % p)) == p
    ) == sums_distinct  # distinct sums iff slope + 1 is coprime to p


def test_held_out_pairs_errors():
    with pytest.raises(ValueError, match="p must be an int >= 2"):
        held_out_pairs(1)
    with pytest.raises(ValueError, match="slope must be coprime to p = 6"):
        held_out_pairs(6)
    with pytest.raises(TypeError, match="slope must be an int"):
        held_out_pairs(5, slope=2.0)


# ---------------------------------------------------------------- fit_probe
def test_fit_probe_stops_once_everything_is_decoded():
    images, T = toy_data(32)
    seed_everything(0)
    p = ConvProbe((5, 5), dropout=0.0)
    curve = fit_probe(p, images, T, max_epochs=2000, lr=0.01, batch_size=None)
    assert decode_accuracy(p, images, T)["all"].item() == 1.0
    assert len(curve) < 2000
    seed_everything(0)
    p2 = ConvProbe((5, 5), dropout=0.0)
    short = fit_probe(p2, images, T, max_epochs=len(curve) - 1, lr=0.01, batch_size=None)
    assert len(short) == len(curve) - 1 and decode_accuracy(p2, images, T)["all"].item() < 1.0
    assert (short == curve[:-1]).all()  # the same run, cut one epoch earlier


def test_fit_probe_bad_input():
    images, T = toy_data(8)
    with pytest.raises(ValueError, match=re.escape("images must have shape (n, 5, 5)")):
        fit_probe(probe(), images[:, :4], T)
    with pytest.raises(ValueError, match="y must have one column per head"):
        fit_probe(probe(), images, T[:, :1])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        fit_probe(probe(), images, T, max_epochs=0)
    with pytest.raises(ValueError, match="max_epochs must be a positive int, got 2.0"):
        fit_probe(probe(), images, T, max_epochs=2.0)
    with pytest.raises(ValueError, match="images must hold at least one image, got 0"):
        fit_probe(probe(), images[:0], T[:0])
    with pytest.raises(TypeError, match="probe must be a torch.nn.Module"):
        fit_probe("probe", images, T)
