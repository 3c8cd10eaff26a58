"""Lesson 7 (interpcourse.controls): bad input, control labels, held-out pairs, selectivity,
the summary table, the figures, documented parameters, determinism."""

import dataclasses
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from fastcore.docments import docments

from interpcourse.controls import (
    LinearProbe,
    unseen_pair_split,
    control_targets,
    selectivity,
    ControlConfig,
    target_networks,
    run_controls,
    summarise_controls,
    format_summary,
    layer_features,
    layer_probes,
    HEADS,
    plot_controls,
    plot_layer_probes,
)
from interpcourse.target import all_pairs, inputs_of, TargetMLP
from interpcourse.training import fit, accuracy, predict, save_model, load_model, seed_everything

torch.set_num_threads(1)


def truth(p=7, op="add", reps=1):
    X, y = all_pairs(p, op)
    T = torch.stack([*inputs_of(X), y], 1)
    return torch.cat([T] * reps)


def pair_ids(T, p):
    return (T[:, 0] * p + T[:, 1]).tolist()


# ---------------------------------------------------------------- LinearProbe
@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(in_shape=0), "in_shape must be a sequence of positive ints"),
        (dict(in_shape=(3, -1)), "in_shape must be a sequence of positive ints"),
        (dict(in_shape="16"), "in_shape must be a sequence of positive ints"),
        (dict(in_shape=16, heads=()), "heads must not be empty"),
        (dict(in_shape=16, heads=(7, 1)), "heads must give each head at least 2 classes"),
        (dict(in_shape=16, heads=(7, True)), "heads must be a sequence of positive ints"),
    ],
)
def test_linear_probe_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(")):
        LinearProbe(**kwargs)


def test_linear_probe_shapes_and_bad_input():
    probe = LinearProbe((3, 16), heads=(7, 5, 2))
    out = probe(torch.zeros(4, 3, 16))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(4, 7), (4, 5), (4, 2)]
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3, 16\)"):
        probe(torch.zeros(4, 48))
    with pytest.raises(ValueError, match="X contains NaN"):
        probe(torch.full((1, 3, 16), float("nan")))
    with pytest.raises(TypeError, match="X must be"):
        probe("images")


def test_linear_probe_learns_a_linear_rule_and_round_trips(tmp_path):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 2, 3, generator=g)
    y = torch.stack([(X[:, 0, 0] > 0).long(), (X[:, 1, 2] - X[:, 0, 1] > 0).long()], 1)
    probe = LinearProbe((2, 3), heads=(2, 2))
    fit(probe, X, y, epochs=200, lr=0.1, seed=0)
    assert accuracy(probe, X, y) > 0.97
    again = load_model(save_model(probe, tmp_path / "p.safetensors"))
    assert isinstance(again, LinearProbe) and again.in_shape == (2, 3) and again.heads == (2, 2)
    assert torch.equal(predict(again, X), predict(probe, X))


# ---------------------------------------------------------------- control task
@pytest.mark.parametrize("p, op", [(2, "add"), (5, "mul"), (7, "add")])
def test_control_labels_consistent_per_pair_with_same_label_sets(p, op):
    T = truth(p, op, reps=3)[torch.randperm(3 * p * p, generator=torch.Generator().manual_seed(1))]
    C = control_targets(T, seed=3)
    assert C.shape == T.shape and C.dtype == torch.int64
    ids = pair_ids(T, p)
    for pid in set(ids):  # one label per pair and column
        rows = [i for i, q in enumerate(ids) if q == pid]
        assert (C[rows] == C[rows[0]]).all()
    first = {pid: i for i, pid in reversed(list(enumerate(ids)))}
    per_pair_true, per_pair_ctl = T[list(first.values())], C[list(first.values())]
    for j in range(3):  # same label set, same counts over the distinct pairs
        assert torch.equal(
            torch.bincount(per_pair_ctl[:, j], minlength=p),
            torch.bincount(per_pair_true[:, j], minlength=p),
        )


def test_control_labels_are_random_and_deterministic():
    T = truth(7)
    C0, C0b, C1 = control_targets(T, 0), control_targets(T, 0), control_targets(T, 1)
    assert torch.equal(C0, C0b) and not torch.equal(C0, C1)
    for j in range(3):  # unrelated to the real labels: about 1/7 agreement
        assert (C0[:, j] == T[:, j]).float().mean() < 0.5


def test_control_labels_bad_input():
    T = truth(3)
    with pytest.raises(ValueError, match=r"targets must have shape \(n, k\)"):
        control_targets(T[:, 0])
    bad = torch.cat([T, T[:1]])
    bad[-1, 2] = (bad[0, 2] + 1) % 3
    with pytest.raises(
        ValueError, match=r"targets column\(s\) \[2\] must be a function of the input pair"
    ):
        control_targets(bad)
    with pytest.raises(ValueError, match="targets labels must be >= 0"):
        control_targets(T - 1)
    with pytest.raises(TypeError, match="targets must be"):
        control_targets("labels")


# ---------------------------------------------------------------- held-out pairs
@pytest.mark.parametrize(
    "p, op, frac", [(7, "add", 0.25), (7, "mul", 0.4), (5, "sub", 0.2), (2, "add", 0.25)]
)
def test_unseen_pairs_are_unseen_and_labels_covered(p, op, frac):
    T = truth(p, op, reps=2)
    train, test = unseen_pair_split(T, frac, seed=2)
    assert len(train) + len(test) == len(T) and len(
        set(train.tolist()) | set(test.tolist())
    ) == len(T)
    assert not set(pair_ids(T[train], p)) & set(pair_ids(T[test], p))
    assert len(set(pair_ids(T[test], p))) == max(1, round(frac * p * p))
    for j in range(3):
        assert set(T[test, j].tolist()) <= set(T[train, j].tolist())
    again = unseen_pair_split(T, frac, seed=2)
    assert torch.equal(again[0], train) and torch.equal(again[1], test)


def test_unseen_pairs_bad_input():
    T = truth(7)
    for frac in (0, 1, 1.5, -0.1, "0.2"):
        with pytest.raises(ValueError, match="test_frac must lie strictly between 0 and 1"):
            unseen_pair_split(T, frac)
    with pytest.raises(ValueError, match="more distinct input pairs"):
        unseen_pair_split(T[:1])
    with pytest.raises(ValueError, match="only among held-out pairs"):
        unseen_pair_split(torch.tensor([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 2]]), 0.5)


# ---------------------------------------------------------------- selectivity and the table
def test_selectivity_arithmetic_and_bad_input():
    assert selectivity(0.9, 0.4) == pytest.approx(0.5)
    np.testing.assert_allclose(
        selectivity([1.0, 0.5, 0.2], np.array([1.0, 0.75, 0.0])), [0.0, -0.25, 0.2]
    )
    with pytest.raises(ValueError, match=r"task accuracies must lie in \[0, 1\]"):
        selectivity(1.2, 0.5)
    with pytest.raises(ValueError, match=r"control accuracies must lie in \[0, 1\]"):
        selectivity(0.5, [0.2, np.nan])


def fake_results(rng):
    rows = []
    for seed in range(5):
        for network in ("trained", "untrained"):
            for probe in ("conv", "linear"):
                for split, targets in (
                    ("seen", ("model answer", "true answer", "control")),
                    ("unseen", ("model answer",)),
                ):
                    for target in targets:
                        acc = rng.uniform(0, 1, 4)
                        rows.append(
                            dict(
                                seed=seed,
                                split=split,
                                network=network,
                                target=target,
                                probe=probe,
                                a=acc[0],
                                b=acc[1],
                                output=acc[2],
                                all=acc[3],
                                network_accuracy=rng.uniform(),
                            )
                        )
    return pd.DataFrame(rows)


def test_summary_selectivity_is_task_minus_control_per_seed():
    res = fake_results(np.random.default_rng(0))
    s = summarise_controls(res)
    assert list(s.index.names) == ["split", "network", "target", "probe"]
    assert len(s) == 2 * 2 * 3 + 2 * 2 * 1
    assert list(s.columns.get_level_values(0).unique()) == [
        *HEADS,
        "selectivity",
        "network_accuracy",
    ]
    for network in ("trained", "untrained"):
        for probe in ("conv", "linear"):
            sub = res[(res.split == "seen") & (res.network == network) & (res.probe == probe)]
            ctl = sub[sub.target == "control"].set_index("seed")["all"]
            for target in ("model answer", "true answer"):
                task = sub[sub.target == target].set_index("seed")["all"]
                diff = (task - ctl).to_numpy()
                row = s.loc[("seen", network, target, probe)]
                assert row[("selectivity", "mean")] == pytest.approx(diff.mean())
                assert row[("selectivity", "std")] == pytest.approx(diff.std(ddof=1))
                assert row[("all", "mean")] == pytest.approx(task.mean())
            assert np.isnan(s.loc[("seen", network, "control", probe), ("selectivity", "mean")])
            assert np.isnan(
                s.loc[("unseen", network, "model answer", probe), ("selectivity", "mean")]
            )
    f = format_summary(s, digits=3)
    assert f.shape == (len(s), 6) and all(" ± " in v for v in f["all"])
    assert (f.loc[("seen", slice(None), "control", slice(None)), "selectivity"] == "").all()


def test_summary_bad_input():
    with pytest.raises(TypeError, match="results must be a pandas DataFrame"):
        summarise_controls({"a": 1})
    with pytest.raises(ValueError, match=r"missing \['seed'\]"):
        summarise_controls(fake_results(np.random.default_rng(0)).drop(columns="seed"))
    with pytest.raises(
        TypeError, match="summary must be the DataFrame returned by summarise_controls"
    ):
        format_summary(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(p=1), "p must be at least 2"),
        (dict(op="pow"), "op must be one of"),
        (dict(width=0), "width must be at least 1"),
        (dict(seeds=[]), "seeds must be a non-empty sequence of ints"),
        (dict(seeds=[0.5]), "seeds must be a non-empty sequence of ints"),
        (dict(splits=("train",)), "splits must be a non-empty selection"),
        (dict(probes=()), "probes must be a non-empty selection"),
        (dict(networks=("random",)), "networks must be a non-empty selection"),
        (dict(targets=("sum",)), "targets must be a non-empty selection"),
        (dict(test_frac=1.0), "test_frac must lie strictly between 0 and 1"),
        (dict(partial_accuracy=0), "partial_accuracy must lie strictly"),
        (dict(probe_epochs=0), "probe_epochs must be a positive int"),
        (dict(init="xavier"), "init must be"),
    ],
)
def test_config_bad_values_name_the_field(kwargs, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        ControlConfig(**kwargs)


def test_config_orders_and_normalises_selections():
    c = ControlConfig(probes="linear", networks=("partial", "trained"), seeds=[3, 1])
    assert c.probes == ("linear",) and c.networks == ("trained", "partial") and c.seeds == (3, 1)


TINY = dict(
    p=3, n_layers=4, width=8, seeds=(0, 1), probe_epochs=40, target_epochs=200, test_frac=0.3
)


def test_target_networks_are_one_run_at_three_moments():
    c = ControlConfig(**TINY)
    nets = target_networks(c, seed=1)
    assert list(nets) == ["trained", "untrained", "partial"]
    X, y = all_pairs(3)
    assert accuracy(nets["trained"], X, y) == 1.0
    assert c.partial_accuracy <= accuracy(nets["partial"], X, y) < 1.0
    seed_everything(1, "target weights")
    init = TargetMLP(3, 4, 8)  # the untrained network is the run's starting point
    for name in ("untrained", "partial", "trained"):
        same = all(
            torch.equal(u, v)
            for u, v in zip(nets[name].state_dict().values(), init.state_dict().values())
        )
        assert same == (name == "untrained"), name
    again = target_networks(c, seed=1)
    assert all(
        torch.equal(u, v)
        for n in nets
        for u, v in zip(nets[n].state_dict().values(), again[n].state_dict().values())
    )


def test_run_controls_table_shape_columns_and_determinism():
    c = ControlConfig(**TINY, probes=("linear",))
    r1, r2 = run_controls(c), run_controls(c)
    pd.testing.assert_frame_equal(r1, r2)
    assert {
        "seed",
        "split",
        "network",
        "target",
        "probe",
        *HEADS,
        "network_accuracy",
        "epochs",
    } <= set(r1.columns)
    assert len(r1) == 2 * (3 * 3 + 3 * 2)  # seeds × (seen: nets × targets + unseen: nets × 2)
    assert not ((r1.split == "unseen") & (r1.target == "control")).any()
    assert r1[list(HEADS)].stack().between(0, 1).all()
    assert (r1["all"] <= r1[["a", "b", "output"]].min(axis=1) + 1e-9).all()
    tr = r1[r1.network == "trained"].set_index(["seed", "split", "probe", "target"])[list(HEADS)]
    pd.testing.assert_frame_equal(
        tr.xs("model answer", level="target"), tr.xs("true answer", level="target")
    )  # trained: same labels
    s = summarise_controls(r1)
    assert len(s) == 3 * 3 + 3 * 2 and s.attrs["n_seeds"] == 2 and s.attrs["config"]["p"] == 3
    with pytest.raises(TypeError, match="config must be a ControlConfig"):
        run_controls({"p": 3})


def test_layer_features_and_layer_probes():
    c = ControlConfig(**TINY)
    net = target_networks(c, 0)["trained"]
    X, _ = all_pairs(3)
    f = layer_features(net, X)
    assert list(f) == ["input", *net.hidden_names] and torch.equal(f["input"], X)
    with pytest.raises(TypeError, match="model must be a TargetMLP"):
        layer_features(torch.nn.Linear(6, 3), X)
    r = layer_probes(c)
    assert len(r) == 2 * 2 * 3 and set(r.network) == {"trained", "untrained"}
    assert r.groupby(["seed", "network"]).depth.apply(list).map(lambda d: d == [0, 1, 2]).all()
    assert r[list(HEADS)].stack().between(0, 1).all()
    pd.testing.assert_frame_equal(r, layer_probes(c))


# ---------------------------------------------------------------- bad input a new user tries
@pytest.mark.parametrize("seed", ["a", 0.5, None, True])
def test_seeds_of_split_and_control_must_be_ints(seed):
    T = truth(5)
    with pytest.raises(TypeError, match="seed must be an int"):
        unseen_pair_split(T, 0.25, seed=seed)
    with pytest.raises(TypeError, match="seed must be an int"):
        control_targets(T, seed=seed)


def test_negative_seeds_name_the_argument():
    with pytest.raises(ValueError, match="seed must be at least 0"):
        unseen_pair_split(truth(5), 0.25, seed=-1)
    with pytest.raises(ValueError, match="seed must be at least 0"):
        control_targets(truth(5), seed=-1)
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of ints >= 0"):
        ControlConfig(seeds=(0, -1))


@pytest.mark.parametrize(
    "task, control, err, msg",
    [
        ("high", 0.5, TypeError, "task must be an accuracy or an array of accuracies"),
        (None, 0.5, TypeError, "task must be an accuracy"),
        ({"a": 1.0}, 0.5, TypeError, "task must be an accuracy"),
        (True, 0.5, TypeError, "task must be an accuracy"),
        (0.5, [[0.1], [0.2, 0.3]], TypeError, "control must be an accuracy"),
        (
            [0.9, 0.8],
            [0.5, 0.5, 0.5],
            ValueError,
            r"control must have the shape of task, \(2,\), got \(3,\)",
        ),
        (float("inf"), 0.5, ValueError, r"task accuracies must lie in \[0, 1\]"),
    ],
)
def test_selectivity_bad_types_and_shapes(task, control, err, msg):
    with pytest.raises(err, match=msg):
        selectivity(task, control)


@pytest.mark.parametrize(
    "kwargs, err, msg",
    [
        (dict(seeds=3), ValueError, "seeds must be a non-empty sequence of ints"),
        (dict(seeds="01"), ValueError, "seeds must be a non-empty sequence of ints"),
        (dict(splits=None), ValueError, "splits must be a non-empty selection"),
        (dict(test_frac="0.2"), ValueError, "test_frac must lie strictly between 0 and 1"),
        (dict(test_frac=None), ValueError, "test_frac must lie strictly between 0 and 1"),
        (dict(target_epochs=10.0), ValueError, "target_epochs must be a positive int"),
        (dict(target_lr=0), ValueError, "target_lr must be positive"),
        (dict(target_lr="0.01"), TypeError, "target_lr must be a real number"),
        (dict(conv_lr=-1), ValueError, "conv_lr must be positive"),
        (dict(linear_lr=float("nan")), ValueError, "linear_lr must be a finite number"),
        (dict(n_kernels=0), ValueError, "n_kernels must be a positive int"),
        (dict(kernel_size=(9, 9)), ValueError, r"kernel_size \(9, 9\) is larger than the image"),
        (dict(width=1), ValueError, "width = 1 columns"),
        (dict(hidden=(-1,)), ValueError, "hidden must be a sequence of positive ints"),
        (dict(dropout=1.0), ValueError, "dropout must be a probability"),
        (dict(dropout="a"), ValueError, "dropout must be a probability"),
        (dict(decimals=-1), ValueError, "decimals must be at least 0"),
        (dict(decimals="2"), TypeError, "decimals must be an int"),
        (dict(stop_when_fit="no"), TypeError, "stop_when_fit must be True or False"),
        (
            dict(p=2, n_layers=7, width=5, test_frac=0.9),
            ValueError,
            "would hold out all 4 input pairs",
        ),
    ],
)
def test_config_more_bad_values_name_the_field(kwargs, err, msg):
    with pytest.raises(err, match=msg):
        ControlConfig(**kwargs)


def test_config_conv_settings_only_checked_when_the_conv_probe_runs():
    c = ControlConfig(p=3, n_layers=3, width=4, probes=("linear",), kernel_size=(2, 2))
    assert c.probes == ("linear",)
    with pytest.raises(ValueError, match="n_layers - 2 = 1 rows"):
        ControlConfig(p=3, n_layers=3, width=4)
    assert ControlConfig(kernel_size=2, hidden=30).kernel_size == 2  # ConvProbe takes ints too


def test_experiments_name_a_config_of_the_wrong_type():
    for f in (target_networks, run_controls, layer_probes):
        with pytest.raises(TypeError, match="config must be a ControlConfig, got dict"):
            f({"p": 3})


def test_layer_features_bad_input():
    net = TargetMLP(3, 4, 8)
    with pytest.raises(ValueError, match="X must have 2p = 6 columns"):
        layer_features(net, torch.zeros(5, 4))
    with pytest.raises(ValueError, match="X contains NaN"):
        layer_features(net, torch.full((2, 6), float("nan")))
    with pytest.raises(TypeError, match="X must be"):
        layer_features(net, "x")
    X, _ = all_pairs(3)
    assert torch.equal(layer_features(net, X.tolist())["input"], X)  # lists are fine


@pytest.fixture(scope="module")
def tiny_summary():
    c = ControlConfig(**TINY, probes=("linear",), networks=("trained", "untrained"))
    return summarise_controls(run_controls(replace(c, seeds=(0,))))


def test_format_summary_bad_digits(tiny_summary):
    with pytest.raises(TypeError, match="digits must be an int"):
        format_summary(tiny_summary, digits="2")
    with pytest.raises(ValueError, match="digits must be at least 0"):
        format_summary(tiny_summary, digits=-1)
    assert format_summary(tiny_summary, digits=0).iloc[0, 0] in ("1 ± 0", "0 ± 0")


def test_plot_controls_figure_and_bad_input(tiny_summary):
    fig = plot_controls(tiny_summary, heads="output")  # one head by name
    assert isinstance(fig, plt.Figure) and fig.number not in plt.get_fignums()  # closed
    axes = fig.axes
    assert len(axes) == 2 and all(ax.get_title() and ax.get_ylim() == (0, 1.1) for ax in axes)
    assert axes[0].get_ylabel() == "accuracy on the pairs\nit was trained on"
    assert axes[1].get_ylabel() == "accuracy on\nunseen pairs" and axes[-1].get_xlabel()
    with pytest.raises(ValueError, match="heads must be a non-empty selection"):
        plot_controls(tiny_summary, heads=("sum",))
    with pytest.raises(ValueError, match="heads must be a non-empty selection"):
        plot_controls(tiny_summary, heads=())
    with pytest.raises(ValueError, match="heads must be a non-empty selection"):
        plot_controls(tiny_summary, heads=None)
    for chance in (0, 2, -1):
        with pytest.raises(ValueError, match=r"chance must be in \(0, 1\)"):
            plot_controls(tiny_summary, chance=chance)
    with pytest.raises(TypeError, match="chance must be a real number"):
        plot_controls(tiny_summary, chance="1/7")
    with pytest.raises(ValueError, match="summary has no rows"):
        plot_controls(tiny_summary.iloc[:0])
    with pytest.raises(
        TypeError, match="summary must be the DataFrame returned by summarise_controls"
    ):
        plot_controls({})


def test_plot_layer_probes_figure_and_bad_input():
    r = layer_probes(ControlConfig(**dict(TINY, seeds=(0,))))
    fig = plot_layer_probes(r)
    assert isinstance(fig, plt.Figure) and fig.number not in plt.get_fignums()
    assert [ax.get_title() for ax in fig.axes] == [
        "decoding a",
        "decoding b",
        "decoding the true answer",
    ]
    assert len({ax.get_ylim() for ax in fig.axes}) == 1  # one shared scale
    with pytest.raises(TypeError, match="results must be the DataFrame returned by layer_probes"):
        plot_layer_probes({})
    with pytest.raises(ValueError, match="results has no rows"):
        plot_layer_probes(r.iloc[:0])
    with pytest.raises(ValueError, match=r"chance must be in \(0, 1\)"):
        plot_layer_probes(r, chance=-1)


def test_every_public_parameter_is_documented():
    import interpcourse.controls as m

    for name in m.__all__:
        obj = getattr(m, name)
        if not callable(obj):
            continue
        doc = docments(obj, full=True)
        missing = [k for k, v in doc.items() if k not in ("self", "return") and not v["docment"]]
        assert not missing, f"{name}: undocumented {missing}"
    fields = docments(ControlConfig, full=True)
    assert all(fields[f.name]["docment"] for f in dataclasses.fields(ControlConfig))


def test_error_bars_stay_inside_the_accuracy_range(tiny_summary):
    from interpcourse.controls import _error_bars

    bars = _error_bars([1.0, 0.05, 0.5], [0.1, 0.1, 0.1])
    assert np.allclose(bars, [[0.1, 0.05, 0.1], [0.0, 0.1, 0.1]])
    for ax in plot_controls(tiny_summary).axes:
        for container in ax.containers:
            if getattr(container, "errorbar", None) is not None:
                for segment in container.errorbar.lines[2][0].get_segments():
                    assert 0 <= segment[:, 1].min() and segment[:, 1].max() <= 1
