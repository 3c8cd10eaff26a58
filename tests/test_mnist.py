"""Small MNIST: the checksum-checked loader, the seeded split, confused pairs, weights by ink."""

import hashlib
import shutil

import numpy as np
import pytest
from torch import nn

from interpcourse.classify import make_classifier
from interpcourse.mnist import (
    SMALL_MNIST_PATH,
    SMALL_MNIST_SHA256,
    load_small_mnist,
    most_confused_pairs,
    split_train_test,
    weight_size_by_ink,
)


def test_shipped_file_matches_recorded_checksum():
    assert SMALL_MNIST_PATH.is_file()
    assert hashlib.sha256(SMALL_MNIST_PATH.read_bytes()).hexdigest() == SMALL_MNIST_SHA256


def test_load_small_mnist_contents_and_determinism():
    X, T = load_small_mnist()
    assert (
        X.shape == (5000, 784)
        and X.dtype == np.float32
        and T.shape == (5000, 1)
        and T.dtype == np.int64
    )
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.allclose(X * 255, np.round(X * 255), atol=1e-4)  # grey levels k/255
    np.testing.assert_array_equal(np.bincount(T[:, 0]), np.full(10, 500))
    X2, T2 = load_small_mnist(str(SMALL_MNIST_PATH))
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(T, T2)


def test_load_small_mnist_refuses_a_corrupted_copy(tmp_path):
    copy = tmp_path / "small_mnist.npz"
    shutil.copy(SMALL_MNIST_PATH, copy)
    assert load_small_mnist(copy)[0].shape == (5000, 784)  # an intact copy loads from anywhere
    raw = bytearray(copy.read_bytes())
    raw[1000] ^= 0x10
    copy.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="corrupted.*python data/build_small_mnist.py"):
        load_small_mnist(copy)
    copy.write_bytes(b"")
    with pytest.raises(ValueError, match="sha256"):
        load_small_mnist(copy)


def test_load_small_mnist_missing_or_bad_path(tmp_path):
    rebuild = "not found. Rebuild it with `python data/build_small_mnist.py`"
    with pytest.raises(FileNotFoundError, match=rebuild):
        load_small_mnist(tmp_path / "nothing.npz")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_small_mnist(tmp_path)  # a folder is not the file
    with pytest.raises(TypeError, match="path must be a file path"):
        load_small_mnist(3)


def test_split_train_test_is_a_seeded_partition():
    ids = np.arange(50)[:, None]
    a, ta, b, tb = split_train_test(ids, ids * 10, 0.6, seed=3)
    assert (len(a), len(b)) == (30, 20)
    assert sorted(np.r_[a[:, 0], b[:, 0]]) == list(range(50))
    np.testing.assert_array_equal(ta, a * 10)  # rows of X and T stay together
    np.testing.assert_array_equal(split_train_test(ids, ids, 0.6, seed=3)[0], a)
    assert not np.array_equal(split_train_test(ids, ids, 0.6, seed=4)[0], a)


@pytest.mark.parametrize(
    "args, kw, match",
    [
        ((np.zeros((5, 2)), np.zeros(4)), {}, "T must have one row per row of X"),
        (
            (np.zeros((5, 2)), np.zeros(5)),
            dict(train_fraction=0),
            "train_fraction must be a number between 0 and 1",
        ),
        (
            (np.zeros((5, 2)), np.zeros(5)),
            dict(train_fraction="0.5"),
            "train_fraction must be a number",
        ),
        (
            (np.zeros((5, 2)), np.zeros(5)),
            dict(train_fraction=0.05),
            "leaves an empty training or test set",
        ),
        ((np.zeros((5, 2)), np.zeros(5)), dict(seed=1.5), "seed must be an int"),
    ],
)
def test_split_train_test_rejects_bad_input(args, kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        split_train_test(*args, **kw)


def test_most_confused_pairs():
    T = [0, 0, 0, 0, 1, 1, 2, 2, 2]
    Y = [1, 1, 2, 0, 1, 2, 1, 1, 1]
    table = most_confused_pairs(Y, T, k=10)
    pairs = table[["true", "predicted", "count"]].values.tolist()
    assert pairs == [[2, 1, 3], [0, 1, 2], [0, 2, 1], [1, 2, 1]]
    assert table["percent of true class"].tolist() == [100.0, 50.0, 25.0, 50.0]
    assert len(most_confused_pairs(Y, T, k=2)) == 2
    with pytest.raises(ValueError, match="k must be at least 1"):
        most_confused_pairs(Y, T, k=0)
    with pytest.raises(ValueError, match="T must have 9 rows"):
        most_confused_pairs(Y, T[:3])


def test_weight_size_by_ink():
    net = make_classifier(4, [3], 2)
    X = np.array([[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 1, 0]], dtype=np.float32)
    # pixels inked 0, 1, 4 and 0 times
    table = weight_size_by_ink(net, X, edges=(0.5,))
    assert table["pixels"].tolist() == [2, 1, 1]
    W = net[0].weight.detach().abs().numpy()
    sizes = [W[:, [0, 3]].mean(), W[:, 1].mean(), W[:, 2].mean()]
    np.testing.assert_allclose(table["mean |weight|"], sizes, rtol=1e-6)
    with pytest.raises(ValueError, match="X must have 4 pixels per image"):
        weight_size_by_ink(net, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="edges must be increasing fractions"):
        weight_size_by_ink(net, X, edges=(0.5, 1.5))


# --- issue 12: inputs a new user tries ------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((None, None), ValueError, "X must be an array with one row per example"),
        ((1, 1), ValueError, "X must be an array with one row per example"),
        (
            (np.zeros((5, 2)), np.zeros(5), float("nan")),
            ValueError,
            "train_fraction must be a number",
        ),
    ],
)
def test_split_train_test_more_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        split_train_test(*args)


def test_split_train_test_accepts_numpy_numbers_and_lists():
    a, ta, b, tb = split_train_test(list(range(10)), list(range(10)), np.float32(0.6), np.int64(2))
    assert (len(a), len(b)) == (6, 4)
    np.testing.assert_array_equal(a, ta)


@pytest.mark.parametrize("edges", [None, 0.5, "ab", (0.5, 0.5), (0.0, 0.5), [[0.1, 0.2]], (True,)])
def test_weight_size_by_ink_rejects_bad_edges(edges):
    with pytest.raises(ValueError, match="edges must be increasing fractions between 0 and 1"):
        weight_size_by_ink(make_classifier(4, [3], 2), np.eye(4), edges=edges)


def test_weight_size_by_ink_groups():
    net = make_classifier(4, [3], 2)
    table = weight_size_by_ink(net, np.eye(4)[[0, 0, 1, 2]], edges=np.array([0.3]))
    assert list(table.index) == ["never", "under 30%", "30% or more"]
    assert table["pixels"].tolist() == [1, 2, 1]
    assert list(weight_size_by_ink(net, np.eye(4), edges=()).index) == ["never", "at least once"]
    assert "0.5%" in weight_size_by_ink(net, np.eye(4), edges=(0.005,)).index[1]
    with pytest.raises(TypeError, match="nnet must be a torch.nn.Sequential"):
        weight_size_by_ink(None, np.eye(4))
    with pytest.raises(ValueError, match="nnet must contain a torch.nn.Linear"):
        weight_size_by_ink(nn.Sequential(nn.Tanh()), np.eye(4))


def test_most_confused_pairs_names_label_arguments():
    with pytest.raises(TypeError, match=r"^Y_classes must hold integer class labels"):
        most_confused_pairs(["3", "5"], [3, 5])
    with pytest.raises(TypeError, match=r"^T must hold integer class labels"):
        most_confused_pairs([3, 5], np.array(["3", "5"]))
    with pytest.raises(ValueError, match="Y_classes must not be empty"):
        most_confused_pairs([], [])
