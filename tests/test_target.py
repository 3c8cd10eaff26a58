"""Lesson 1: data, target network and hand-written backprop, beyond what the lesson shows."""

import numpy as np
import pytest
import torch

from interpcourse.target import (
    NumpyMLP,
    PostStyleMLP,
    TargetMLP,
    all_pairs,
    encode_pairs,
    inputs_of,
    modular_data,
    plot_prediction_table,
    prediction_table,
)
from interpcourse.training import plot_learning_curve
from interpcourse.training import accuracy, fit, load_model, save_model, seed_everything


@pytest.mark.parametrize(
    "op, f", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b)]
)
@pytest.mark.parametrize("p", [2, 5, 11])
def test_modular_data_labels(op, f, p):
    X, y = modular_data(p=p, n=500, op=op, seed=1)
    a, b = inputs_of(X, p)
    assert X.shape == (500, 2 * p) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(y, f(a, b) % p)
    assert ((0 <= y) & (y < p)).all()


def test_modular_data_seeded():
    assert torch.equal(modular_data(3, 50, seed=4)[0], modular_data(3, 50, seed=4)[0])
    assert not torch.equal(modular_data(3, 50, seed=4)[0], modular_data(3, 50, seed=5)[0])


def test_all_pairs_is_full_table():
    X, y = all_pairs(4, "add")
    assert len(torch.unique(X, dim=0)) == 16
    a, b = inputs_of(X)
    assert torch.equal(a, torch.arange(4).repeat_interleave(4)) and torch.equal(
        b, torch.arange(4).repeat(4)
    )


@pytest.mark.parametrize(
    "kw, err, match",
    [
        (dict(p=1), ValueError, "p must be at least 2"),
        (dict(p=2.0), TypeError, "p must be an int"),
        (dict(op="pow"), ValueError, "op must be one of"),
        (dict(n=0), ValueError, "n must be at least 1"),
    ],
)
def test_modular_data_errors(kw, err, match):
    with pytest.raises(err, match=match):
        modular_data(**kw)


def test_encode_pairs_range_and_inputs_of_width():
    with pytest.raises(ValueError, match="b must lie in"):
        encode_pairs([0], [2], 2)
    with pytest.raises(ValueError, match="X must have 2p columns"):
        inputs_of(torch.zeros(3, 5))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(n_layers=2), "n_layers must be at least 3"),
        (dict(p=1), "p must be at least 2"),
        (dict(width=0), "width must be at least 1"),
        (dict(init="xavier"), "init must be 'torch' or 'post'"),
    ],
)
def test_target_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        TargetMLP(**kw)


def test_target_shapes_and_names():
    m = TargetMLP(p=3, n_layers=5, width=7)
    assert m.n_hidden == 3 and m.hidden_names == ["tanh1", "tanh2", "tanh3"]
    assert [l.out_features for l in m.linears] == [7, 7, 7, 3]
    assert m(all_pairs(3)[0]).shape == (9, 3)
    with pytest.raises(ValueError, match="X must have 2p = 6 columns"):
        m(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="X must have 2 dimensions"):
        m(torch.zeros(6))
    with pytest.raises(ValueError, match="NaN"):
        m(torch.full((1, 6), float("nan")))


def test_fit_rejects_labels_out_of_range_for_target():
    X, y = modular_data(3, 30)
    with pytest.raises(ValueError, match="y labels must be < 3"):
        fit(TargetMLP(3, 4, 4), X, y + 3)


def test_post_init():
    seed_everything(0)
    m = TargetMLP(init="post")
    assert all(l.bias is None for l in m.linears)
    w1 = m.linear1.weight
    assert (w1 >= 0).all() and (w1 < 2).all() and w1.mean() > 0.7
    rest = torch.cat([l.weight.flatten() for l in m.linears[1:]])
    assert (rest.abs() <= 1).all() and rest.min() < -0.5


def test_post_config_learns_mod2_add():
    X, y = modular_data(2, 2000, seed=0)
    Xt, yt = modular_data(2, 1000, seed=1)
    seed_everything(0)
    m = TargetMLP()
    fit(m, X, y, epochs=150, lr=0.01)
    assert accuracy(m, Xt, yt) == 1.0


def test_save_load_target(tmp_path):
    seed_everything(0)
    m = TargetMLP(p=3, n_layers=4, width=6, init="post")
    m2 = load_model(save_model(m, tmp_path / "t.safetensors"))
    X, _ = all_pairs(3)
    assert m2.config == m.config
    torch.testing.assert_close(m2(X), m(X))


def test_prediction_table_and_plots():
    seed_everything(0)
    m = TargetMLP(p=3, n_layers=4, width=4)
    pred, conf, truth = prediction_table(m, "mul")
    assert pred.shape == conf.shape == truth.shape == (3, 3)
    assert np.array_equal(truth, np.outer(range(3), range(3)) % 3)
    assert ((conf >= 1 / 3) & (conf <= 1)).all()
    fig = plot_prediction_table(m, "mul")
    assert fig.axes[0].get_xlabel() == "b" and fig.axes[0].get_ylabel() == "a"
    with pytest.raises(TypeError, match="model must be a TargetMLP"):
        prediction_table(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="curve must be a non-empty 1-D"):
        plot_learning_curve([])


@pytest.mark.parametrize("init", ["torch", "post"])
def test_numpy_gradients_match_autograd(init):
    seed_everything(3)
    m = TargetMLP(p=4, n_layers=5, width=6, init=init).double()
    X, y = modular_data(4, 40, op="mul", seed=2)
    torch.nn.functional.cross_entropy(m(X.double()), y).backward()
    gW, gb = NumpyMLP.from_torch(m).gradients(X.numpy(), y.numpy())
    for ours, lin in zip(gW, m.linears):
        np.testing.assert_allclose(ours, lin.weight.grad.numpy().T, atol=1e-10)
    if init == "torch":
        for ours, lin in zip(gb, m.linears):
            np.testing.assert_allclose(ours, lin.bias.grad.numpy(), atol=1e-10)


def test_numpy_step_decreases_loss_and_errors():
    seed_everything(0)
    net = NumpyMLP.from_torch(TargetMLP(p=3, n_layers=4, width=8))
    X, y = all_pairs(3)
    before = net.loss(X.numpy(), y.numpy())
    for _ in range(20):
        net.step(X.numpy(), y.numpy(), lr=0.5)
    assert net.loss(X.numpy(), y.numpy()) < before
    with pytest.raises(ValueError, match="weights\\[1\\] has 3 rows"):
        NumpyMLP([np.zeros((2, 4)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match="y must hold"):
        net.gradients(X.numpy(), np.full(9, 3))


def test_post_style_gradient_differs_from_true_gradient():
    seed_everything(0)
    m = TargetMLP(init="post")
    X, y = modular_data(2, 64, seed=0)
    post = PostStyleMLP.from_torch(m).gradients(X.numpy(), y.numpy())[0]
    true = NumpyMLP.from_torch(m).gradients(X.numpy(), y.numpy())[0]
    assert any(not np.allclose(a, b) for a, b in zip(post, true))


@pytest.mark.parametrize(
    "op, match",
    [
        (
            lambda a, b: a / b,
            "op must give a whole number for every pair, got nan for a = 0, b = 0",
        ),
        (
            lambda a, b: a**0.5,
            "op must give a whole number for every pair, got 1.41421 for a = 2, b = 0",
        ),
        (lambda a, b: 3, r"op must give one value per pair, shape \(25,\), got \(\)"),
        (lambda a, b: a + 0.5j, "op must give whole numbers for every pair, got dtype"),
    ],
)
def test_callable_op_must_give_whole_numbers(op, match):
    with pytest.raises(ValueError, match=match):
        all_pairs(5, op)
    with pytest.raises(ValueError, match=match.split(",")[0]):
        modular_data(5, 100, op=op)


def test_callable_op_with_whole_float_values_is_fine():
    X, y = all_pairs(5, lambda a, b: (a * b).double())
    assert torch.equal(y, all_pairs(5, "mul")[1])


@pytest.mark.parametrize("p", [2, 5, 7, 11])
def test_div_is_multiplication_by_the_inverse(p):
    X, y = all_pairs(p, "div")
    a, b = inputs_of(X, p)
    assert len(X) == p * (p - 1) and (b != 0).all()
    assert torch.equal((y * b) % p, a)
    Xr, yr = modular_data(p, 500, op="div", seed=3)
    ar, br = inputs_of(Xr, p)
    assert (br >= 1).all() and torch.equal((yr * br) % p, ar)


@pytest.mark.parametrize("p", [4, 6, 9])
def test_div_needs_a_prime(p):
    with pytest.raises(ValueError, match=f'op="div" needs a prime p, .* got p = {p}'):
        all_pairs(p, "div")
    with pytest.raises(ValueError, match='op="div" needs a prime p'):
        modular_data(p, op="div")


def test_prediction_table_for_div_marks_b_zero_undefined():
    seed_everything(0)
    m = TargetMLP(p=5, n_layers=4, width=4)
    pred, conf, truth = prediction_table(m, "div")
    assert (truth[:, 0] == -1).all() and (truth[:, 1:] >= 0).all()
    fig = plot_prediction_table(m, "div")
    assert "/20 right" in fig.axes[0].get_title()
