"Lesson 8 (interpcourse.interventions): bad input names the argument, no hook survives an error."

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from interpcourse.interventions import (
    ABLATIONS,
    ablation,
    ablation_effects,
    amnesic_probing,
    intervene,
    logit_difference,
    mean_ablation,
    patch_from,
    patching_effects,
    plot_decodable_vs_used,
    plot_unit_effects,
    probe_directions,
    project_out,
    resample_ablation,
    zero_ablation,
)
from interpcourse.controls import ControlConfig, LinearProbe, target_networks
from interpcourse.target import TargetMLP, all_pairs, encode_pairs, inputs_of
from interpcourse.training import seed_everything, stream

torch.set_num_threads(1)


def n_hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


@pytest.fixture
def net():
    seed_everything(0, "target weights")
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


# ---------------------------------------------------------------- ablations
@pytest.fixture(scope="module")
def trained():
    # Lesson 7's trained p = 7 target, as the lesson uses it
    return target_networks(ControlConfig(networks=("trained",)), seed=0)["trained"]


@pytest.fixture(scope="module")
def corrupted():
    X, y = all_pairs(7)
    a, b = inputs_of(X)
    shift = torch.randint(1, 7, (len(X),), generator=stream(0, "corrupted sequences"))
    return X, y, encode_pairs((a + shift) % 7, b, 7), (a + shift + b) % 7


def test_ablations_change_only_their_units():
    h = torch.randn(10, 6)
    ref = torch.randn(20, 6)
    for edit in (zero_ablation([1, 4]), mean_ablation(ref, [1, 4]), resample_ablation(ref, [1, 4])):
        out = edit(h)
        torch.testing.assert_close(out[:, [0, 2, 3, 5]], h[:, [0, 2, 3, 5]])
        assert not torch.equal(out[:, [1, 4]], h[:, [1, 4]])
    torch.testing.assert_close(zero_ablation()(h), torch.zeros(10, 6))
    torch.testing.assert_close(mean_ablation(ref)(h), ref.mean(0).expand(10, 6))
    assert torch.isin(resample_ablation(ref, 2)(h)[:, 2], ref[:, 2]).all()
    assert zero_ablation(np.int64(3))(h)[:, 3].abs().sum() == 0
    assert set(ABLATIONS) == {"zero", "mean", "resample"}


def test_resample_ablation_is_deterministic_per_seed():
    h, ref = torch.randn(30, 4), torch.randn(50, 4)
    torch.testing.assert_close(resample_ablation(ref, seed=3)(h), resample_ablation(ref, seed=3)(h))
    assert not torch.equal(resample_ablation(ref, seed=3)(h), resample_ablation(ref, seed=4)(h))


@pytest.mark.parametrize("units", [-1, "1", [], [1.5], [True], (0, -2), {"a": 1}])
def test_ablation_bad_units(units):
    with pytest.raises(ValueError, match="units must be None, a unit index or a sequence"):
        zero_ablation(units)


def test_ablation_units_out_of_range():
    ref = torch.randn(5, 16)
    for make in (mean_ablation, resample_ablation):
        with pytest.raises(
            ValueError, match=r"units \[16, 20\] are out of range for a layer of 16"
        ):
            make(ref, [3, 16, 20])
    with pytest.raises(ValueError, match=r"units \[16\] are out of range"):
        zero_ablation(16)(torch.randn(3, 16))


def test_zero_ablation_out_of_range_inside_intervene_names_the_layer(net, X):
    with pytest.raises(ValueError, match="out of range") as err:
        with intervene(net, {"tanh2": zero_ablation(30)}):
            net(X)
    assert "layer 'tanh2'" in err.value.__notes__[0]
    assert n_hooks(net) == 0


def test_ablation_bad_reference(net, X):
    with pytest.raises(ValueError, match="reference contains NaN"):
        mean_ablation(torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(ValueError, match="reference must have 2 dimensions"):
        resample_ablation(torch.zeros(4))
    with pytest.raises(TypeError, match="reference must be a NumPy array or torch tensor"):
        mean_ablation("activations")
    with pytest.raises(ValueError, match="reference has 8 units per row"):
        with intervene(net, {"tanh1": mean_ablation(torch.zeros(3, 8))}):
            net(X)
    assert n_hooks(net) == 0
    with pytest.raises(ValueError, match="how must be one of"):
        ablation("shuffle", torch.zeros(3, 8))


# ---------------------------------------------------------------- ablation_effects
def test_ablation_effects_tables(trained):
    X, y = all_pairs(7)
    layers = ablation_effects(trained, X, y, per="layer")
    assert list(layers.columns) == ["layer", "accuracy", "accuracy_drop", "loss_change"]
    np.testing.assert_allclose(layers.accuracy, 1 / 7, atol=1e-6)
    units = ablation_effects(trained, X, y, how="resample", layers=["tanh1", "tanh3"])
    assert list(units.columns) == ["layer", "unit", "accuracy", "accuracy_drop", "loss_change"]
    assert len(units) == 32 and units.attrs["how"] == "resample"
    assert units.attrs["clean_accuracy"] == 1.0
    np.testing.assert_allclose(units.accuracy + units.accuracy_drop, 1.0, atol=1e-6)
    again = ablation_effects(trained, X, y, how="resample", layers=["tanh1", "tanh3"])
    pd.testing.assert_frame_equal(units, again)
    assert n_hooks(trained) == 0


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(how="shuffle"), ValueError, "how must be one of"),
        (dict(per="neuron"), ValueError, "per must be one of"),
        (dict(layers=["tanh9"]), ValueError, r"layers \['tanh9'\] are not submodules"),
        (dict(y=torch.zeros(3, dtype=torch.long)), ValueError, "y must have 49 rows"),
        (dict(X=torch.full((49, 14), float("nan"))), ValueError, "X contains NaN"),
        (dict(model="net"), TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_ablation_effects_bad_input(net, X, kwargs, exc, msg):
    args = dict(model=net, X=X, y=all_pairs(7)[1]) | kwargs
    with pytest.raises(exc, match=msg):
        ablation_effects(**args)
    assert n_hooks(net) == 0


# ---------------------------------------------------------------- patching
def test_logit_difference():
    logits = torch.tensor([[1.0, 3.0, 0.0], [2.0, 0.0, 5.0]])
    assert logit_difference(logits, [1, 2], [0, 0]) == pytest.approx((2.0 + 3.0) / 2)


def test_patching_identities(trained, corrupted):
    X, y, Xc, yc = corrupted
    whole = patching_effects(trained, X, Xc, y, yc)
    np.testing.assert_allclose(whole.restored, 1.0, atol=1e-5)
    units = patching_effects(trained, X, Xc, y, yc, per="unit", layers="tanh3")
    assert units.restored.sum() == pytest.approx(1.0, abs=1e-4)
    assert units.attrs["clean_logit_diff"] > 0 > units.attrs["corrupt_logit_diff"]
    assert n_hooks(trained) == 0


@pytest.mark.parametrize(
    "change, exc, msg",
    [
        (
            dict(X_corrupt=slice(0, 10)),
            ValueError,
            "X_clean and X_corrupt must have the same shape",
        ),
        (dict(X_clean=slice(0, 10)), ValueError, "y must have 10 rows"),
        (dict(y_corrupt=slice(0, 3)), ValueError, "y_corrupt must have 49 rows"),
        (dict(nan="X_clean"), ValueError, "X contains NaN"),
        (dict(nan="X_corrupt"), ValueError, "X_corrupt contains NaN"),
        (dict(same=True), ValueError, "nothing to restore"),
        (dict(layers=["tanh1", "tanh8"]), ValueError, r"layers \['tanh8'\] are not submodules"),
        (dict(per="head"), ValueError, "per must be one of"),
    ],
)
def test_patching_effects_bad_input(trained, corrupted, change, exc, msg):
    X, y, Xc, yc = corrupted
    args = dict(model=trained, X_clean=X, X_corrupt=Xc, y_clean=y, y_corrupt=yc)
    for key in ("X_clean", "X_corrupt", "y_corrupt"):
        if isinstance(change.get(key), slice):
            args[key] = args[key][change[key]]
    if "nan" in change:
        args[change["nan"]] = args[change["nan"]].clone()
        args[change["nan"]][0, 0] = float("nan")
    if change.get("same"):
        args["X_corrupt"] = X
    args |= {k: v for k, v in change.items() if k in ("layers", "per")}
    with pytest.raises(exc, match=msg):
        patching_effects(**args)
    assert n_hooks(trained) == 0


def test_patch_from_checks_shapes(net, X):
    source = torch.zeros(len(X), 16)
    with pytest.raises(ValueError, match=r"source has shape \(49, 16\), the layer \(10, 16\)"):
        with intervene(net, {"tanh1": patch_from(source)}):
            net(X[:10])
    with pytest.raises(ValueError, match=r"units \[16\] are out of range"):
        patch_from(source, 16)
    assert n_hooks(net) == 0


# ---------------------------------------------------------------- amnesic probing
def test_probe_directions_and_project_out():
    probe = LinearProbe(16, heads=(7, 3))
    V = probe_directions(probe)
    assert V.shape == (6, 16)
    torch.testing.assert_close(V @ V.T, torch.eye(6), atol=1e-5, rtol=0)
    assert probe_directions(probe, head=1).shape == (2, 16)
    h, mean = torch.randn(20, 16), torch.randn(16)
    out = project_out(V, mean)(h)
    torch.testing.assert_close((out - mean) @ V.T, torch.zeros(20, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(project_out(V, mean)(out), out, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="head must be < 2"):
        probe_directions(probe, head=2)
    with pytest.raises(TypeError, match="probe must be a LinearProbe"):
        probe_directions(nn.Linear(16, 7))
    with pytest.raises(ValueError, match="directions must have 2 dimensions"):
        project_out(torch.zeros(16), mean)


def test_amnesic_probing(trained):
    X, y = all_pairs(7)
    a, _ = inputs_of(X)
    table = amnesic_probing(trained, X, y, a, "tanh3", rounds=1, n_random=2)
    assert list(table["removed"]) == [0, 6]
    assert table.loc[0, "network accuracy"] == 1.0 and table.loc[0, "answers changed"] == 0
    again = amnesic_probing(trained, X, y, a, "tanh3", rounds=1, n_random=2)
    pd.testing.assert_frame_equal(table, again)
    assert n_hooks(trained) == 0


@pytest.mark.parametrize(
    "kwargs, exc, msg",
    [
        (dict(layer="tanh7"), ValueError, r"layers \['tanh7'\] are not submodules"),
        (dict(rounds=0), ValueError, "rounds must be at least 1"),
        (dict(n_random=0), ValueError, "n_random must be at least 1"),
        (dict(labels=torch.zeros(5, dtype=torch.long)), ValueError, "labels must have 49 rows"),
        (dict(labels=-torch.ones(49)), ValueError, "labels labels must be >= 0"),
    ],
)
def test_amnesic_probing_bad_input(net, X, kwargs, exc, msg):
    args = dict(model=net, X=X, y=all_pairs(7)[1], labels=inputs_of(X)[0], layer="tanh1") | kwargs
    with pytest.raises(exc, match=msg):
        amnesic_probing(**args)


# ---------------------------------------------------------------- plots and docs
def test_plots(trained):
    import matplotlib.pyplot as plt

    X, y = all_pairs(7)
    effects = {
        "mean": ablation_effects(trained, X, y),
        "zero": ablation_effects(trained, X, y, how="zero"),
    }
    fig = plot_unit_effects(effects)
    assert len(fig.axes) == 3  # two panels and a colour bar
    assert fig.axes[0].images[0].get_clim() == fig.axes[1].images[0].get_clim()
    assert fig.axes[0].images[0].get_array().shape == (3, 16)
    with pytest.raises(ValueError, match="effects must hold per-unit tables"):
        plot_unit_effects({"layers": ablation_effects(trained, X, y, per="layer")})
    index = pd.MultiIndex.from_product(
        [["trained"], ["tanh1", "tanh2"]], names=["network", "layer"]
    )
    cols = [
        "a",
        "b",
        "answer",
        "layer ablated",
        "unit ablated (max)",
        "unit ablated (mean)",
        "layer patched",
        "unit patched (max)",
    ]
    fig = plot_decodable_vs_used(pd.DataFrame(0.5, index=index, columns=cols))
    assert len(fig.axes) == 3
    plt.close("all")


def test_every_parameter_is_documented():
    from fastcore.docments import docments
    import interpcourse.interventions as mod

    for name in mod.__all__:
        obj = getattr(mod, name)
        if not callable(obj):
            continue
        target = obj.__init__ if isinstance(obj, type) else getattr(obj, "__wrapped__", obj)
        for param, info in docments(target, full=True).items():
            if param in ("self", "return", "args", "kwargs"):
                continue
            assert info["docment"], f"{name}: parameter {param} has no docment"
