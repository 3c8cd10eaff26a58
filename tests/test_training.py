"""The shared training loop and input checks: errors name the argument; runs are deterministic."""

import functools

import numpy as np
import pytest
import torch
from torch import nn

from interpcourse.training import (
    OPTIMIZERS,
    make_optimizer,
    accuracy,
    as_float_tensor,
    as_label_tensor,
    fit,
    load_model,
    predict,
    save_model,
    saveable,
    seed_everything,
)


def blobs(n=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.cat([torch.randn(n, 2, generator=g) - 4, torch.randn(n, 2, generator=g) + 4])
    return X, torch.cat([torch.zeros(n), torch.ones(n)]).long()


@pytest.mark.parametrize(
    "bad, match",
    [
        ("text", "X must be a NumPy array or torch tensor"),
        (np.array([[1.0, np.inf]]), "X contains NaN or infinite"),
        (np.array([True, False]), "X must hold real numbers"),
    ],
)
def test_as_float_tensor_rejects(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        as_float_tensor(bad)


def test_as_float_tensor_checks_ndim_and_names_argument():
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        as_float_tensor(np.zeros((2, 2)), "images", ndim=3)


@pytest.mark.parametrize(
    "bad, kw, match",
    [
        ([0, 1, 5], dict(n_classes=3), "labels must be < 3"),
        ([-1, 0], {}, "labels must be >= 0"),
        ([0.5, 1.0], {}, "whole-number"),
        ([0, 1], dict(n=3), "must have 3 rows"),
        ({"a": 1}, {}, "must be a NumPy array or torch tensor"),
    ],
)
def test_as_label_tensor_rejects(bad, kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        as_label_tensor(bad, **kw)


def test_fit_learns_and_returns_curve():
    X, y = blobs()
    seed_everything(0)
    m = nn.Linear(2, 2)
    curve = fit(m, X, y, epochs=20, lr=0.1)
    assert curve.shape == (20,) and curve[-1] < curve[0]
    assert accuracy(m, X, y) == 1.0
    assert not m.training  # left in eval mode


def test_fit_is_deterministic_with_minibatches():
    X, y = blobs()
    curves = []
    for _ in range(2):
        seed_everything(3)
        m = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
        curves.append(fit(m, X, y, epochs=5, lr=0.05, batch_size=16, seed=7))
    np.testing.assert_array_equal(curves[0], curves[1])


def test_fit_different_seed_shuffles_differently():
    X, y = blobs()
    out = []
    for s in (1, 2):
        seed_everything(0)
        m = nn.Linear(2, 2)
        out.append(fit(m, X, y, epochs=3, lr=0.05, batch_size=16, seed=s))
    assert not np.array_equal(out[0], out[1])


def test_fit_until_stops_early():
    X, y = blobs()
    seed_everything(0)
    m = nn.Linear(2, 2)
    curve = fit(m, X, y, epochs=500, lr=0.1, until=lambda mod: accuracy(mod, X, y) == 1.0)
    assert 1 <= len(curve) < 500


def test_fit_sgd_option():
    X, y = blobs()
    seed_everything(0)
    m = nn.Linear(2, 2)
    fit(m, X, y, epochs=50, lr=0.5, optimizer="sgd")
    assert accuracy(m, X, y) == 1.0


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(epochs=0), "epochs must be at least 1"),
        (dict(lr=0), "lr must be positive"),
        (dict(batch_size=0), "batch_size must be at least 1"),
        (dict(optimizer="lbfgs"), "optimizer must be one of"),
    ],
)
def test_fit_rejects_bad_settings(kw, match):
    X, y = blobs()
    with pytest.raises(ValueError, match=match):
        fit(nn.Linear(2, 2), X, y, **kw)


def test_fit_rejects_bad_data():
    X, y = blobs()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fit(lambda x: x, X, y)
    with pytest.raises(ValueError, match="y labels must be < 2"):
        fit(nn.Linear(2, 2), X, y + 1)
    with pytest.raises(ValueError, match="X contains NaN"):
        fit(nn.Linear(2, 2), X * float("nan"), y)
    with pytest.raises(ValueError, match="y must have 200 rows"):
        fit(nn.Linear(2, 2), X, y[:-1])


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 2), nn.Linear(2, 3)

    def forward(self, x):
        return self.a(x), self.b(x)


def test_multihead_fit_predict_accuracy():
    X, y = blobs()
    Y = torch.stack([y, 2 * y], 1)
    seed_everything(0)
    m = TwoHeads()
    fit(m, X, Y, epochs=60, lr=0.1)
    assert predict(m, X).shape == (200, 2)
    assert accuracy(m, X, Y) == 1.0
    with pytest.raises(ValueError, match="labels must be < 2"):
        fit(TwoHeads(), X, torch.stack([2 * y, y], 1))
    with pytest.raises(ValueError, match="one column per head"):
        fit(TwoHeads(), X, y)


def test_accuracy_counts_wrong_answers():
    X, y = blobs()
    seed_everything(0)
    m = nn.Linear(2, 2)
    fit(m, X, y, epochs=20, lr=0.1)
    flipped = y.clone()
    flipped[:50] = 1 - flipped[:50]
    assert accuracy(m, X, flipped) == pytest.approx(0.75)


@saveable
class Small(nn.Linear):
    def __init__(self, n_in=2, n_out=2):
        super().__init__(n_in, n_out)
        self.config = dict(n_in=n_in, n_out=n_out)


def test_save_load_roundtrip(tmp_path):
    seed_everything(0)
    m = Small(2, 3)
    path = save_model(m, tmp_path / "m.safetensors")
    m2 = load_model(path)
    assert type(m2) is Small and m2.config == m.config
    torch.testing.assert_close(m2.weight, m.weight)


def test_save_load_errors(tmp_path):
    with pytest.raises(TypeError, match="registered with @saveable"):
        save_model(nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")


def test_seed_everything_type():
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything("0")


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "adamw", torch.optim.Adam, torch.optim.SGD])
def test_fit_trains_with_each_optimizer(optimizer):
    X, y = blobs()
    seed_everything(0)
    m = nn.Linear(2, 2)
    curve = fit(m, X, y, epochs=30, lr=0.1, optimizer=optimizer)
    assert curve[-1] < curve[0]
    assert accuracy(m, X, y) == 1.0


def test_fit_accepts_a_partial_and_passes_lr_and_weight_decay():
    X, y = blobs()
    built = []

    def factory(params, lr, weight_decay):
        opt = functools.partial(torch.optim.AdamW, betas=(0.9, 0.98))(
            params, lr=lr, weight_decay=weight_decay
        )
        built.append(opt)
        return opt

    seed_everything(0)
    m = nn.Linear(2, 2)
    fit(m, X, y, epochs=20, lr=0.05, weight_decay=0.5, optimizer=factory)
    (opt,) = built
    assert opt.defaults["betas"] == (0.9, 0.98)
    assert opt.defaults["lr"] == 0.05 and opt.defaults["weight_decay"] == 0.5
    assert accuracy(m, X, y) == 1.0
    seed_everything(0)
    m = nn.Linear(2, 2)
    fit(
        m,
        X,
        y,
        epochs=20,
        lr=0.05,
        optimizer=functools.partial(torch.optim.AdamW, betas=(0.9, 0.98)),
    )
    assert accuracy(m, X, y) == 1.0


def test_make_optimizer_builds_the_named_torch_optimizer():
    x = torch.zeros(2, requires_grad=True)
    classes = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}
    assert list(OPTIMIZERS) == list(classes)
    for name, cls in classes.items():
        opt = make_optimizer(name, [x], lr=0.1, weight_decay=0.01)
        assert type(opt) is cls and opt.defaults["weight_decay"] == 0.01


@pytest.mark.parametrize(
    "bad, err, match",
    [
        (
            "rmsprop",
            ValueError,
            r"optimizer must be one of \['adam', 'sgd', 'adamw'\], got 'rmsprop'",
        ),
        (3, TypeError, "optimizer must be one of .* or a callable .*got int"),
        (None, TypeError, "optimizer must be one of"),
        (
            torch.optim.Adam([torch.zeros(1, requires_grad=True)]),
            TypeError,
            "Adam instance: pass its class",
        ),
        (lambda params, lr, weight_decay: "not an optimiser", TypeError, "returned str"),
    ],
)
def test_fit_rejects_bad_optimizer(bad, err, match):
    X, y = blobs()
    with pytest.raises(err, match=match):
        fit(nn.Linear(2, 2), X, y, optimizer=bad)


def test_fit_rejects_empty_x_naming_it():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"X must hold at least one example, got shape \(0, 2\)"):
        fit(nn.Linear(2, 2), X[:0], y[:0])
    with pytest.raises(ValueError, match="X must hold at least one example"):
        fit(nn.Linear(2, 2), np.zeros((0, 2)), np.zeros(0))


@pytest.mark.parametrize("labels", [np.array(["a", "b"]), ["a", "b"], np.array([None, 1])])
def test_string_labels_name_the_argument(labels):
    X, _ = blobs(1)
    with pytest.raises(TypeError, match="y must hold integer class labels, got dtype"):
        fit(nn.Linear(2, 2), X, labels)
    with pytest.raises(TypeError, match="targets must hold integer class labels"):
        as_label_tensor(labels, "targets")


def test_load_model_rejects_files_that_are_not_models(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a model\n")
    with pytest.raises(ValueError, match=r"notes.txt is not a course model file \(safetensors\)"):
        load_model(text)
    seed_everything(0)
    good = save_model(Small(2, 3), tmp_path / "m.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ValueError, match="cut.safetensors is not a course model file .* truncated"):
        load_model(cut)
    with pytest.raises(IsADirectoryError, match="is a directory, not a course model file"):
        load_model(tmp_path)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="holds no known course model"):
        load_model(tmp_path / "other.safetensors")


def test_save_model_into_missing_folder_names_it(tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError, match=f"the folder {missing} does not exist"):
        save_model(Small(), missing / "m.safetensors")
    with pytest.raises(IsADirectoryError, match="is a directory; give a file name"):
        save_model(Small(), tmp_path)
