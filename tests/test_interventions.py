"Lesson 8 (interpcourse.interventions): bad input names the argument, no hook survives an error."

import pytest
import torch
from torch import nn

from interpcourse.interventions import intervene
from interpcourse.target import TargetMLP, all_pairs
from interpcourse.training import seed_everything

torch.set_num_threads(1)


def n_hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


@pytest.fixture
def net():
    seed_everything(0)
    return TargetMLP(7, n_layers=5, width=16)


@pytest.fixture
def X():
    return all_pairs(7)[0]


# ---------------------------------------------------------------- intervene
def test_intervene_edits_and_restores(net, X):
    clean = net(X).detach()
    with intervene(net, {"tanh3": torch.zeros_like}) as edited:
        assert edited is net
        assert n_hooks(net) == 1
        out = net(X).detach()
    torch.testing.assert_close(out, net.readout.bias.detach().expand(len(X), 7))
    assert n_hooks(net) == 0
    torch.testing.assert_close(net(X).detach(), clean)


def test_intervene_empty_edits_is_a_no_op(net, X):
    with intervene(net, {}):
        torch.testing.assert_close(net(X), net(X))
    assert n_hooks(net) == 0


def test_intervene_nested_outer_edit_runs_first(net, X):
    seen = {}

    def record(h):
        seen["tanh2"] = h.clone()
        return h

    with intervene(net, {"tanh2": torch.zeros_like}):
        with intervene(net, {"tanh2": lambda h: h + 1, "tanh3": torch.zeros_like}):
            with intervene(net, {"tanh2": record}):
                assert n_hooks(net) == 4
                net(X)
        assert n_hooks(net) == 1
    assert n_hooks(net) == 0
    torch.testing.assert_close(seen["tanh2"], torch.ones(len(X), 16))


def test_intervene_removes_hooks_when_the_body_raises(net, X):
    with pytest.raises(RuntimeError, match="boom"):
        with intervene(net, {"tanh1": torch.zeros_like, "linear2": lambda h: h}):
            assert n_hooks(net) == 2
            raise RuntimeError("boom")
    assert n_hooks(net) == 0


def test_intervene_removes_hooks_when_an_edit_raises(net, X):
    def broken(h):
        raise ArithmeticError("edit failed")

    with pytest.raises(ArithmeticError, match="edit failed"):
        with intervene(net, {"tanh1": torch.zeros_like, "tanh2": broken}):
            net(X)
    assert n_hooks(net) == 0
    with pytest.raises(ValueError):
        with intervene(net, {"tanh2": lambda h: h[:, :3]}):
            net(X)
    assert n_hooks(net) == 0


def test_intervene_unknown_layer_lists_valid_names(net):
    with pytest.raises(ValueError, match=r"unknown layers \['tanh9'\]") as err:
        with intervene(net, {"tanh1": torch.zeros_like, "tanh9": torch.zeros_like}):
            pass
    for name in ("linear1", "tanh1", "linear3", "tanh3", "readout"):
        assert f"'{name}'" in str(err.value)
    assert n_hooks(net) == 0
    with pytest.raises(ValueError, match="valid layer names"):
        with intervene(net, {"": torch.zeros_like}):
            pass


@pytest.mark.parametrize(
    "edit, got",
    [
        (lambda h: h[:, :3], r"\(49, 3\)"),
        (lambda h: h[:10], r"\(10, 16\)"),
        (lambda h: h.sum(), r"\(\)"),
        (lambda h: h.detach().numpy(), "ndarray"),
        (lambda h: None, "NoneType"),
    ],
)
def test_intervene_shape_changing_edit_names_the_layer(net, X, edit, got):
    with pytest.raises(ValueError, match=rf"for layer 'tanh2' it returned {got}"):
        with intervene(net, {"tanh2": edit}):
            net(X)
    assert n_hooks(net) == 0


@pytest.mark.parametrize(
    "model, edits, exc, msg",
    [
        ("net", {}, TypeError, "model must be a torch.nn.Module"),
        (None, [("tanh1", torch.zeros_like)], TypeError, "edits must be a dict"),
        (None, {"tanh1": 0.0}, TypeError, r"edits\['tanh1'\] must be a function"),
    ],
)
def test_intervene_bad_arguments(net, model, edits, exc, msg):
    with pytest.raises(exc, match=msg):
        with intervene(net if model is None else model, edits):
            pass
    assert n_hooks(net) == 0


def test_intervene_works_on_any_module(X):
    seq = nn.Sequential(nn.Linear(14, 8), nn.ReLU(), nn.Linear(8, 3))
    with intervene(seq, {"1": torch.zeros_like}):
        out = seq(X).detach()
    torch.testing.assert_close(out, seq[2].bias.detach().expand(len(X), 3))
    assert n_hooks(seq) == 0
