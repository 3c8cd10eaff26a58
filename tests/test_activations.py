"""Lesson 2 (interpcourse.activations): hooks, activation images, probe targets, the npz round trip,
bad input."""

import re

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from interpcourse.activations import (  # noqa: E402
    activation_images,
    activation_names,
    case_titles,
    layer_distances,
    load_activations,
    mosaic,
    plot_activation_images,
    probe_targets,
    record_activations,
    save_activations,
    trained_target,
)
from interpcourse.target import TargetMLP, all_pairs, modular_data  # noqa: E402
from interpcourse.training import seed_everything  # noqa: E402


def net(p=2, **kw):
    seed_everything(0)
    return TargetMLP(p, **kw).eval()


def no_hooks(model):
    return all(
        len(m._forward_hooks) == 0 and len(m._forward_pre_hooks) == 0 for m in model.modules()
    )


# ---------------------------------------------------------------- record_activations
def test_record_default_layers_match_manual_forward():
    m, (X, _) = net(3, n_layers=5, width=4), all_pairs(3)
    acts = record_activations(m, X)
    assert list(acts) == ["tanh1", "tanh2", "tanh3"]
    h = X
    for i in (1, 2, 3):
        h = torch.tanh(getattr(m, f"linear{i}")(h))
        torch.testing.assert_close(acts[f"tanh{i}"], h.detach())
        assert not acts[f"tanh{i}"].requires_grad
    assert no_hooks(m)


def test_record_any_module_and_named_layers():
    seed_everything(0)
    seq = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Sigmoid(), nn.Linear(3, 2))
    X = torch.randn(5, 4)
    assert activation_names(seq) == ["1", "3"]
    acts = record_activations(seq, X)
    torch.testing.assert_close(acts["3"], torch.sigmoid(seq[2](torch.relu(seq[0](X)))).detach())
    one = record_activations(seq, X, layers="2")
    assert list(one) == ["2"] and one["2"].shape == (5, 3)
    both = record_activations(seq, X, layers=["4", "0"])
    assert list(both) == ["4", "0"]
    torch.testing.assert_close(both["4"], seq(X).detach())


def test_record_runs_in_eval_mode_and_restores_training_flag():
    seed_everything(0)
    m = nn.Sequential(nn.Linear(4, 50), nn.Tanh(), nn.Dropout(0.5), nn.Linear(50, 2))
    m.train()
    X = torch.randn(8, 4)
    a = record_activations(m, X, layers="2")["2"]
    b = record_activations(m, X, layers="2")["2"]
    assert torch.equal(a, b)  # dropout off while recording
    assert m.training


def test_hooks_removed_when_forward_raises():
    m = net()
    m.train()
    with pytest.raises(ValueError, match="X must have 2p = 4 columns"):
        record_activations(m, torch.zeros(3, 6))
    assert no_hooks(m) and m.training

    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.Tanh()

        def forward(self, x):
            self.act(x)
            raise RuntimeError("boom")

    b = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        record_activations(b, torch.zeros(2, 3))
    assert no_hooks(b) and b.training

    class Interrupted(Boom):
        def forward(self, x):
            self.act(x)
            raise KeyboardInterrupt  # a student stopping a long forward pass

    k = Interrupted().eval()
    with pytest.raises(KeyboardInterrupt):
        record_activations(k, torch.zeros(2, 3))
    assert no_hooks(k) and not k.training
    # the model still works, and records only what it is asked to, afterwards
    m.eval()
    assert list(record_activations(m, all_pairs(2)[0], layers="tanh2")) == ["tanh2"]
    assert no_hooks(m)


def test_hooks_removed_when_a_hook_raises():
    class TupleOut(nn.Module):
        def forward(self, x):
            return x, x

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair, self.act = TupleOut(), nn.ReLU()

        def forward(self, x):
            return self.act(self.pair(x)[0])

    m = M()
    with pytest.raises(TypeError, match="layers: module 'pair' returned tuple"):
        record_activations(m, torch.zeros(2, 3), layers=["act", "pair"])
    assert no_hooks(m)


def test_module_that_runs_twice_is_refused():
    "One module reused for several layers: its outputs cannot be told apart, so it is refused."

    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second, self.act = nn.Linear(3, 3), nn.Linear(3, 3), nn.ReLU()

        def forward(self, x):
            return self.act(self.second(self.act(self.first(x))))

    m = Reused()
    with pytest.raises(ValueError, match="layers: module 'act' ran more than once"):
        record_activations(m, torch.zeros(2, 3))
    assert no_hooks(m)
    assert list(record_activations(m, torch.zeros(2, 3), layers="second")) == ["second"]


def test_layer_that_does_not_run():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Tanh(), nn.ReLU()

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match=re.escape("layers ['unused'] did not run")):
        record_activations(Skip(), torch.zeros(2, 3))


@pytest.mark.parametrize(
    "layers, err, match",
    [
        (["tanh9"], ValueError, r"layers \['tanh9'\] are not submodules"),
        ([], ValueError, "layers must name at least one"),
        ([1, 2], TypeError, "layers must be a submodule name or a sequence"),
        (3, TypeError, "layers must be a submodule name or a sequence"),
    ],
)
def test_record_bad_layers(layers, err, match):
    with pytest.raises(err, match=match):
        record_activations(net(), all_pairs(2)[0], layers=layers)


def test_record_bad_model_and_X():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        record_activations("net", torch.zeros(2, 4))
    with pytest.raises(ValueError, match="model Linear has no activation modules"):
        record_activations(nn.Linear(4, 2), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="X contains NaN"):
        record_activations(net(), torch.full((2, 4), float("nan")))
    with pytest.raises(TypeError, match="X must be a NumPy array or torch tensor"):
        record_activations(net(), "X")


# ---------------------------------------------------------------- activation_images
@pytest.mark.parametrize(
    "p, n_layers, width, shape", [(2, 7, None, (5, 5)), (3, 5, 7, (3, 7)), (5, 9, 2, (7, 2))]
)
def test_activation_images_shape_and_rows(p, n_layers, width, shape):
    m = net(p, n_layers=n_layers, width=width)
    X, _ = all_pairs(p)
    images = activation_images(m, X)
    assert images.shape == (p * p, *shape) and images.dtype == torch.float32
    acts = record_activations(m, X)
    for i, name in enumerate(m.hidden_names):
        assert torch.equal(images[:, i], acts[name])


def test_activation_images_rounding():
    m, (X, _) = net(), all_pairs(2)
    raw, rounded = activation_images(m, X), activation_images(m, X, decimals=2)
    assert (raw - rounded).abs().max() <= 0.005 + 1e-6
    assert torch.equal(rounded, torch.round(rounded * 100) / 100)
    assert torch.equal(activation_images(m, X, decimals=0), torch.round(raw))


@pytest.mark.parametrize(
    "decimals, error, message",
    [
        (-1, ValueError, "decimals must be at least 0, got -1"),
        (1.5, TypeError, "decimals must be an int, got float"),
        (True, TypeError, "decimals must be an int, got bool"),
        ("2", TypeError, "decimals must be an int, got str"),
    ],
)
def test_activation_images_bad_decimals(decimals, error, message):
    with pytest.raises(error, match=message):
        activation_images(net(), all_pairs(2)[0], decimals=decimals)


def test_activation_images_bad_model_and_X():
    with pytest.raises(TypeError, match="model must be a TargetMLP"):
        activation_images(nn.Sequential(nn.Linear(4, 2), nn.Tanh()), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="X must have 2p = 4 columns"):
        activation_images(net(), torch.zeros(2, 6))
    with pytest.raises(ValueError, match="X contains NaN"):
        activation_images(net(), torch.full((1, 4), float("nan")))


# ---------------------------------------------------------------- probe_targets
def test_probe_targets_inputs_and_model_answer():
    p = 3
    m = net(p, n_layers=4, width=6)
    with (
        torch.no_grad()
    ):  # force the model to answer 2 whatever the input: its answer differs from the truth
        m.readout.weight.zero_()
        m.readout.bias.copy_(torch.tensor([0.0, 0.0, 5.0]))
    X, y = all_pairs(p)
    T = probe_targets(m, X)
    assert T.shape == (9, 3) and T.dtype == torch.int64
    assert torch.equal(T[:, 0], torch.arange(3).repeat_interleave(3)) and torch.equal(
        T[:, 1], torch.arange(3).repeat(3)
    )
    assert torch.equal(T[:, 2], torch.full((9,), 2))
    assert not torch.equal(T[:, 2], y)


@pytest.mark.parametrize(
    "X, err, match",
    [
        (torch.zeros(2, 6), ValueError, "X must have 2p = 4 columns"),
        (torch.tensor([[1.0, 1.0, 0.0, 1.0]]), ValueError, "X must be one-hot pairs"),
        (torch.tensor([[0.5, 0.5, 0.0, 1.0]]), ValueError, "X must be one-hot pairs"),
        (torch.tensor([[0.0, 0.0, 0.0, 1.0]]), ValueError, "X must be one-hot pairs"),
        (torch.zeros(4), ValueError, "X must have 2 dimensions"),
        (torch.tensor([[float("nan"), 0, 0, 1]]), ValueError, "X contains NaN"),
    ],
)
def test_probe_targets_bad_X(X, err, match):
    with pytest.raises(err, match=match):
        probe_targets(net(), X)


def test_probe_targets_bad_model():
    with pytest.raises(TypeError, match="model must be a TargetMLP"):
        probe_targets(nn.Linear(4, 2), all_pairs(2)[0])


# ---------------------------------------------------------------- npz round trip
def test_save_load_round_trip(tmp_path):
    m = net()
    X, _ = modular_data(2, 50, seed=1)
    images, T = activation_images(m, X, decimals=2), probe_targets(m, X)
    path = save_activations(tmp_path / "acts", images, T)
    assert path == tmp_path / "acts.npz" and path.exists()
    with np.load(path, allow_pickle=False) as f:  # plain numeric arrays, no object arrays
        assert set(f.files) == {"images", "targets"}
        assert f["images"].dtype == np.float32 and f["targets"].dtype == np.int64
    images2, T2 = load_activations(path)
    assert torch.equal(images2, images) and torch.equal(T2, T)
    assert save_activations(tmp_path / "b.npz", images, T).name == "b.npz"


def test_save_load_errors(tmp_path):
    images, T = torch.zeros(4, 5, 5), torch.zeros(4, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        save_activations(tmp_path / "x", images[0], T)
    with pytest.raises(ValueError, match="targets must have 4 rows"):
        save_activations(tmp_path / "x", images, T[:3])
    with pytest.raises(ValueError, match=re.escape("targets must have shape (n, heads)")):
        save_activations(tmp_path / "x", images, T[:, 0])
    bad = images.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="images contains NaN"):
        save_activations(tmp_path / "x", bad, T)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_activations(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", X=np.zeros(3))
    with pytest.raises(ValueError, match="expected arrays 'images' and 'targets'"):
        load_activations(tmp_path / "other.npz")
    np.savez(
        tmp_path / "obj.npz", images=np.array([None, 1], dtype=object), targets=np.zeros((2, 3))
    )
    with pytest.raises(ValueError):  # object arrays need pickle, which load_activations refuses
        load_activations(tmp_path / "obj.npz")


def test_save_load_bad_paths(tmp_path):
    "Paths a new user might pass: each error names the path and says what is wrong."
    images, T = torch.zeros(2, 5, 5), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(FileNotFoundError, match="the folder .*no_such_folder does not exist"):
        save_activations(tmp_path / "no_such_folder" / "x.npz", images, T)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got NoneType"):
        save_activations(None, images, T)
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_activations(tmp_path / "d.npz", images, T)
    with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
        load_activations(tmp_path)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_activations(3)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="is not an activation file"):
        load_activations(tmp_path / "notes.txt")
    whole = save_activations(tmp_path / "whole", images, T).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="is not an activation file .* or it is truncated"):
        load_activations(tmp_path / "cut.npz")


# ---------------------------------------------------------------- titles, figures, distances
def test_case_titles():
    assert case_titles(torch.tensor([[1, 0, 1], [2, 3, 0]])) == ["1 + 0 = 1", "2 + 3 = 0"]
    assert case_titles([[1, 1, 1]], "×") == ["1 × 1 = 1"]
    assert case_titles(torch.zeros(0, 3, dtype=torch.long)) == []
    with pytest.raises(ValueError, match=re.escape("targets must have shape (n, 3)")):
        case_titles(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="symbol must be a str"):
        case_titles([[1, 1, 1]], 5)


def test_mosaic():
    images = np.arange(12.0).reshape(3, 2, 2)
    tiled, oy, ox = mosaic(images, ncols=2, gap=(2, 0))
    assert tiled.shape == (6, 4) and list(oy) == [0, 4] and list(ox) == [0, 2]
    np.testing.assert_array_equal(tiled[:2], np.hstack([images[0], images[1]]))
    np.testing.assert_array_equal(tiled[4:, :2], images[2])
    assert np.isnan(tiled[2:4]).all() and np.isnan(tiled[4:, 2:]).all()
    tiled1, _, _ = mosaic(torch.ones(1, 3, 2), ncols=4)  # fewer images than columns
    assert tiled1.shape == (3, 2 + 3 * 3)


@pytest.mark.parametrize(
    "images, kw, err, match",
    [
        (np.zeros((3, 3)), {}, ValueError, "images must have 3 dimensions"),
        (np.zeros((0, 2, 2)), {}, ValueError, "images must hold at least one image, got 0"),
        ("images", {}, TypeError, "images must be a NumPy array or torch tensor"),
        (np.zeros((3, 2, 2)), dict(ncols=0), ValueError, "ncols must be at least 1"),
        (np.zeros((3, 2, 2)), dict(ncols=2.0), TypeError, "ncols must be an int"),
        (np.zeros((3, 2, 2)), dict(gap=1), ValueError, "gap must be a pair of ints"),
        (np.zeros((3, 2, 2)), dict(gap=(-1, 1)), ValueError, "gap must be at least 0"),
    ],
)
def test_mosaic_bad_input(images, kw, err, match):
    kw = {"ncols": 2, **kw}
    with pytest.raises(err, match=match):
        mosaic(images, **kw)


def test_plot_activation_images_shared_scale():
    images = torch.linspace(-0.5, 0.9, 6 * 3 * 4).view(6, 3, 4)
    fig = plot_activation_images(images, [f"case {i}" for i in range(6)], ncols=4)
    assert isinstance(fig, plt.Figure)
    (ax,) = [
        ax for ax in fig.axes if ax.images
    ]  # every panel in one mosaic image: one colour scale
    assert np.allclose(ax.images[0].get_clim(), (-0.9, 0.9))  # symmetric around zero
    mosaic = np.ma.filled(ax.images[0].get_array(), np.nan)
    found = [
        any(
            np.array_equal(mosaic[r : r + 3, c : c + 4], img.numpy())
            for r in range(mosaic.shape[0] - 2)
            for c in range(mosaic.shape[1] - 3)
        )
        for img in images
    ]
    assert all(found)
    assert ax.get_ylabel() == "hidden layer" and ax.get_xlabel() == "unit"
    assert [t.get_text() for t in ax.texts] == [f"case {i}" for i in range(6)]
    plt.close(fig)
    with pytest.raises(ValueError, match=re.escape("titles must have one entry per image (6)")):
        plot_activation_images(images, ["x"])
    with pytest.raises(ValueError, match="ncols must be at least 1"):
        plot_activation_images(images, ncols=0)
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        plot_activation_images(images[0])
    with pytest.raises(ValueError, match="images must hold at least one image"):
        plot_activation_images(images[:0])
    with pytest.raises(TypeError, match="titles must be a sequence of strings, got str"):
        plot_activation_images(images[:2], titles="ab")
    for size in (0, -1.0):
        with pytest.raises(ValueError, match=re.escape("panel_size must be positive (> 0)")):
            plot_activation_images(images, panel_size=size)
    with pytest.raises(TypeError, match="panel_size must be a real number"):
        plot_activation_images(images, panel_size="big")


def test_plot_functions_close_their_figures():
    "A plot function returns a closed Figure, so a notebook shows it once."
    before = plt.get_fignums()
    fig = plot_activation_images(torch.zeros(2, 3, 3), ["a", "b"], annotate=True, suptitle="s")
    assert plt.get_fignums() == before and isinstance(fig, plt.Figure)


def test_layer_distances():
    images = torch.zeros(4, 2, 3)
    images[2:, 1] = 1.0  # layer 2 separates the labels, layer 1 does not
    d = layer_distances(images, [0, 0, 1, 1])
    assert d.loc[1].tolist() == [0.0, 0.0]
    assert d.loc[2, "same answer"] == 0.0 and d.loc[2, "different answer"] == pytest.approx(
        3**0.5, abs=1e-3
    )
    with pytest.raises(ValueError, match="labels must have 4 rows"):
        layer_distances(images, [0, 1])
    with pytest.raises(ValueError, match="labels must give two images the same label"):
        layer_distances(images, [0, 1, 2, 3])


# ---------------------------------------------------------------- trained_target
def test_trained_target_is_reproducible_and_perfect():
    X, y = modular_data(2, 10_000, seed=0)
    t1, t2 = trained_target(2), trained_target(2)
    assert t1.config == dict(p=2, n_layers=7, width=5, init="torch")
    for a, b in zip(t1.state_dict().values(), t2.state_dict().values()):
        assert torch.equal(a, b)
    assert (t1(X).argmax(1) == y).all()
    t3 = trained_target(3, seed=1)
    X3, y3 = all_pairs(3)
    assert t3.width == 8 and (t3(X3).argmax(1) == y3).all()


def test_trained_target_bad_input():
    with pytest.raises(ValueError, match="p must be at least 2"):
        trained_target(1)
    with pytest.raises(TypeError, match="seed must be an int"):
        trained_target(2, seed=0.5)
