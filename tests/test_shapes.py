"""Squares and diamonds: the image generator, the parity tools, unit summaries and run_again."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from torch import nn

from interpcourse.classify import make_classifier, train_for_classification
from interpcourse.shapes import (
    SHAPE_NAMES,
    checkerboard,
    make_images,
    output_weight_titles,
    parity_contrast,
    run_again,
    unit_summary,
)


def test_make_images_shapes_labels_and_determinism():
    X, T = make_images(50, size=16, seed=4)
    assert X.shape == (100, 1, 16, 16) and X.dtype == np.float32 and T.shape == (100, 1)
    assert T[:50].sum() == 0 and (T[50:] == 1).all()
    X2, T2 = make_images(50, size=16, seed=4)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(T, T2)
    assert not np.array_equal(X, make_images(50, size=16, seed=5)[0])


def test_outlines_are_squares_and_diamonds():
    X, _ = make_images(200, seed=0)
    ink = X.reshape(len(X), -1).sum(1)
    # a square outline of radius r: 8r pixels, in a (2r+1)^2 box
    for img, n in zip(X[:200, 0], ink[:200]):
        rows, cols = np.nonzero(img)
        side = rows.max() - rows.min() + 1
        assert side == cols.max() - cols.min() + 1 and n == 4 * (side - 1)
    # a diamond of radius r: 4r pixels, |dr| + |dc| = r
    for img, n in zip(X[200:, 0], ink[200:]):
        rows, cols = np.nonzero(img)
        r = (rows.max() - rows.min()) // 2
        cr, cc = rows.min() + r, cols.min() + r
        assert n == 4 * r and (np.abs(rows - cr) + np.abs(cols - cc) == r).all()
    assert set(ink[:200]) <= {24, 32, 40, 48, 56} and set(ink[200:]) <= {12, 16, 20, 24, 28}


def test_border_is_never_inked_and_noise_keeps_the_shapes():
    X, _ = make_images(300, seed=2)
    assert X[:, 0, [0, -1], :].max() == 0 and X[:, 0, :, [0, -1]].max() == 0
    clean, noisy = make_images(20, seed=2)[0], make_images(20, seed=2, noise=0.25)[0]
    assert abs((noisy - clean).std() - 0.25) < 0.03 and abs((noisy - clean).mean()) < 0.03


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(n_each=0), "n_each must be at least 1"),
        (dict(n_each=2.0), "n_each must be an int"),
        (dict(n_each=2, size=11), "size must be at least 12"),
        (dict(n_each=2, seed=-1), "seed must be at least 0"),
        (dict(n_each=2, noise=-0.1), "noise must be a number >= 0"),
        (dict(n_each=2, noise="a lot"), "noise must be a number >= 0"),
        (dict(n_each=2, noise=float("nan")), "noise must be a number >= 0"),
    ],
)
def test_make_images_rejects_bad_input(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make_images(**kw)


def test_parity_contrast_separates_diamonds_from_squares():
    X, T = make_images(100, seed=3)
    pc = parity_contrast(X)
    np.testing.assert_allclose(np.abs(pc[100:]), 1.0)
    np.testing.assert_allclose(pc[:100], 0.0, atol=1e-7)
    np.testing.assert_allclose(parity_contrast(X[:, 0]), pc)  # (n, size, size) works too
    shifted = np.roll(X[100:], 1, axis=3)  # one pixel right: the parity flips
    np.testing.assert_allclose(parity_contrast(shifted), -pc[100:])


def test_checkerboard():
    cb = checkerboard(3)
    np.testing.assert_array_equal(cb, [[1, -1, 1], [-1, 1, -1], [1, -1, 1]])
    with pytest.raises(ValueError, match="size must be at least 1"):
        checkerboard(0)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 400)), "X must have 3 or 4 dimensions"),
        (np.zeros((2, 1, 20, 20)), "X must have some ink in every image"),
        ("images", "X must be a NumPy array"),
    ],
)
def test_parity_contrast_rejects_bad_input(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        parity_contrast(bad)


def test_output_weight_titles():
    net = make_classifier(400, [3], 2)
    titles = output_weight_titles(net)
    w = net[2].weight.detach().numpy()
    assert titles[1] == f"unit 1\nsq {w[0, 1]:+.1f} di {w[1, 1]:+.1f}"
    assert output_weight_titles(make_classifier(400, [3, 2], 2)) == ["unit 0", "unit 1", "unit 2"]


@pytest.fixture(scope="module")
def small_run():
    X, T = make_images(100, seed=0)
    net, _ = train_for_classification(X, T, [4], n_epochs=60, learning_rate=0.01, seed=0)
    return X, T, net


def test_unit_summary(small_run):
    X, T, net = small_run
    table = unit_summary(net, X, T)
    columns = ["checkerboard cosine", "squares", "even diamonds", "odd diamonds", "vote (di − sq)"]
    assert list(table.columns) == columns
    assert len(table) == 4 and (table["checkerboard cosine"].abs() <= 1).all()
    table_flat = unit_summary(net, X.reshape(len(X), -1), T[:, 0])  # flat: the same table
    np.testing.assert_allclose(table.values, table_flat.values)
    with pytest.raises(ValueError, match="T must have 200 rows"):
        unit_summary(net, X, T[:10])
    with pytest.raises(ValueError, match="X must have 400 pixels per image"):
        unit_summary(net, X[:, :, :10, :10], T)


def test_run_again_trains_and_reports():
    rep = run_again([2], n_epochs=20, n_each=60, seed=1)
    assert rep.nnet[0].out_features == 2 and len(rep.learning_curve) == 20
    assert 0 <= rep.test_percent <= 100
    assert rep.weight_figure.axes[0].get_title().startswith("unit 0\nsq ")
    rep2 = run_again([2], n_epochs=20, n_each=60, seed=1)
    np.testing.assert_array_equal(rep.learning_curve, rep2.learning_curve)
    with pytest.raises(TypeError, match="hidden_layers must be a list"):
        run_again(2)
    assert SHAPE_NAMES == ("square", "diamond")


# --- issue 12: inputs a new user tries ------------------------------------------------------------


def test_make_images_accepts_numpy_numbers():
    X, T = make_images(np.int64(3), size=np.int32(14), noise=np.float32(0.1))
    assert X.shape == (6, 1, 14, 14) and T.shape == (6, 1)


def test_parity_contrast_other_image_shapes():
    X, _ = make_images(20, seed=1)
    wide = np.concatenate([X[:, 0], np.zeros((40, 20, 3), np.float32)], axis=2)  # 20 x 23
    np.testing.assert_allclose(parity_contrast(wide), parity_contrast(X))
    with pytest.raises(ValueError, match="X must have one channel"):
        parity_contrast(np.ones((2, 3, 4, 4)))


@pytest.mark.parametrize(
    "nnet, error, match",
    [
        (None, TypeError, "nnet must be a torch.nn.Sequential"),
        (nn.Linear(3, 2), TypeError, "nnet must be a torch.nn.Sequential"),
        (nn.Sequential(nn.Tanh()), ValueError, "nnet must contain a torch.nn.Linear"),
    ],
)
def test_output_weight_titles_rejects_bad_networks(nnet, error, match):
    with pytest.raises(error, match=match):
        output_weight_titles(nnet)


def test_unit_summary_more_bad_input(small_run):
    X, T, net = small_run
    with pytest.raises(ValueError, match="nnet must have a hidden layer"):
        unit_summary(make_classifier(400, [], 2), X, T)
    with pytest.raises(ValueError, match=r"T must hold 0 \(square\) and 1 \(diamond\) only"):
        unit_summary(net, X, np.where(np.arange(len(T)) == 5, 2, T[:, 0]))
    with pytest.raises(TypeError, match=r"^T must hold integer class labels"):
        unit_summary(net, X, np.array(["square"] * len(T)))
    with pytest.raises(ValueError, match="X must hold square images"):
        unit_summary(make_classifier(50, [2], 2), np.ones((4, 50)), [0, 1, 0, 1])
