"""Lesson 9 (grokking): bad inputs name the argument, determinism, round trips and invariants."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from interpcourse.grokking import (
    GrokMLP,
    energy_share,
    first_step,
    fourier_spectrum,
    grokking_data,
    key_frequencies,
    layer_spectrum,
    offset_profile,
    plot_grokking,
    plot_progress,
    plot_spectrum,
    plot_waves,
    plot_weights,
    restrict_frequencies,
    train_grokking,
    unit_frequencies,
)
from interpcourse.interventions import intervene, zero_ablation
from interpcourse.training import load_model, save_model, seed_everything

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def small():
    "A small network trained for a few steps, and its history."
    return train_grokking(p=11, width=16, frac=0.5, steps=60, every=10, stop_at=None)


# grokking_data


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(p=2), ValueError, "p must be at least 3"),
        (dict(p=0), ValueError, "p must be at least 3"),
        (dict(p=5.0), TypeError, "p must be an int"),
        (dict(p="59"), TypeError, "p must be an int"),
        (dict(p=True), TypeError, "p must be an int"),
        (dict(frac=0.0), ValueError, "frac must be in (0, 1)"),
        (dict(frac=1.0), ValueError, "frac must be in (0, 1)"),
        (dict(frac=-0.5), ValueError, "frac must be in (0, 1)"),
        (dict(frac=float("nan")), ValueError, "frac must be a finite number"),
        (dict(frac="0.3"), TypeError, "frac must be a real number"),
        (dict(frac=None), TypeError, "frac must be a real number"),
        (dict(p=3, frac=0.01), ValueError, "frac must leave at least one training and one test"),
        (dict(p=3, frac=0.99), ValueError, "frac must leave at least one training and one test"),
        (dict(seed=-1), ValueError, "seed must be at least 0"),
        (dict(seed=1.5), TypeError, "seed must be an int"),
    ],
)
def test_grokking_data_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        grokking_data(**kwargs)


def test_grokking_data_split():
    X, y, train, test = grokking_data(13, 0.4, seed=3)
    assert X.shape == (169, 26) and y.shape == (169,)
    assert len(train) == round(0.4 * 169) and len(train) + len(test) == 169
    assert not set(train.tolist()) & set(test.tolist())
    assert torch.equal(train, train.sort().values)
    again = grokking_data(13, 0.4, seed=3)
    assert all(torch.equal(u, v) for u, v in zip((X, y, train, test), again))
    assert not torch.equal(grokking_data(13, 0.4, seed=4)[2], train)


# GrokMLP


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(p=2), ValueError, "p must be at least 3"),
        (dict(p="7"), TypeError, "p must be an int"),
        (dict(width=0), ValueError, "width must be at least 1"),
        (dict(width=2.0), TypeError, "width must be an int"),
        (dict(activation="tanh"), ValueError, "activation must be one of"),
        (dict(activation=None), ValueError, "activation must be one of"),
    ],
)
def test_grokmlp_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message):
        GrokMLP(**kwargs)


def test_grokmlp_forward_and_names():
    seed_everything(0)
    model = GrokMLP(7, width=5, activation="relu")
    X, _, _, _ = grokking_data(7, 0.5)
    assert model(X).shape == (49, 7)
    assert dict(model.named_modules()).keys() == {"", "first", "act", "readout"}
    assert isinstance(model.act, nn.ReLU)
    assert torch.equal(model.w_b, model.first.weight.detach()[:, 7:])
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2p\) = \(n, 14\)"):
        model(X[:, :7])
    with pytest.raises(TypeError, match="X must be a torch tensor"):
        model(X.numpy())


def test_grokmlp_save_load_round_trip(tmp_path, small):
    model, _ = small
    again = load_model(save_model(model, tmp_path / "grok.safetensors"))
    assert isinstance(again, GrokMLP) and again.config == model.config
    X = grokking_data(11, 0.5)[0]
    assert torch.equal(again(X), model(X))


# fourier_spectrum, unit_frequencies, layer_spectrum


def test_fourier_spectrum_parseval_and_pure_waves():
    g = torch.Generator().manual_seed(0)
    for p in (7, 8, 59):
        W = torch.randn(5, p, generator=g)
        energy = fourier_spectrum(W, p)
        assert energy.shape == (5, p // 2 + 1)
        torch.testing.assert_close(energy.sum(1), (W**2).sum(1), rtol=1e-4, atol=1e-4)
        x = torch.arange(p)
        for k in range(1, p // 2 + 1):
            wave = torch.cos(2 * torch.pi * k * x / p + 0.3)
            e = fourier_spectrum(wave, p)
            assert int(e[1:].argmax()) + 1 == k
            torch.testing.assert_close(e[k], (wave**2).sum(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "weights, p, error, message",
    [
        (torch.zeros(3, 10), 11, ValueError, "weights must have p = 11 columns"),
        (torch.zeros(10), 11, ValueError, "weights must have p = 11 columns"),
        (torch.zeros(2, 3, 11), 11, ValueError, "weights must have 1 or 2 dimensions"),
        (torch.zeros(3, 11), 2, ValueError, "p must be at least 3"),
        (torch.zeros(3, 11), 11.0, TypeError, "p must be an int"),
        ("weights", 11, TypeError, "weights must be"),
        (np.array([["a"] * 11]), 11, TypeError, "weights must hold real numbers"),
        (torch.full((1, 11), float("nan")), 11, ValueError, "weights contains NaN"),
    ],
)
def test_fourier_spectrum_bad_inputs(weights, p, error, message):
    with pytest.raises(error, match=message):
        fourier_spectrum(weights, p)


def test_unit_frequencies_and_layer_spectrum(small):
    model, _ = small
    units = unit_frequencies(model)
    assert list(units.columns) == ["freq_a", "concentration_a", "freq_b", "concentration_b"]
    assert len(units) == 16 and units.freq_a.between(1, 5).all()
    assert units.concentration_a.between(0, 1).all()
    spectrum = layer_spectrum(model)
    torch.testing.assert_close(
        spectrum.sum(), (model.first.weight.detach() ** 2).sum(), rtol=1e-4, atol=1e-4
    )
    for bad in (unit_frequencies, layer_spectrum):
        with pytest.raises(TypeError, match="model must be a GrokMLP, got Linear"):
            bad(nn.Linear(22, 16))


# train_grokking


def test_train_grokking_history_and_determinism(small):
    model, history = small
    assert history.step.tolist() == [0, 10, 20, 30, 40, 50, 60]
    expected = {"step", "train_loss", "test_loss", "train_acc", "test_acc", "concentration"}
    assert expected <= set(history.columns)
    assert [c for c in history.columns if c.startswith("energy_")] == [
        f"energy_{k}" for k in range(6)
    ]
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0]
    median = unit_frequencies(model).concentration_a.median()
    assert abs(history.concentration.iloc[-1] - median) < 1e-5
    np.testing.assert_allclose(
        history.filter(like="energy_").iloc[-1], layer_spectrum(model), rtol=1e-5
    )
    again, history2 = train_grokking(p=11, width=16, frac=0.5, steps=60, every=10, stop_at=None)
    pd.testing.assert_frame_equal(history, history2)
    assert torch.equal(again.first.weight, model.first.weight)


def test_train_grokking_stops_once_held():
    _, history = train_grokking(p=7, width=16, frac=0.5, steps=400, every=5, stop_at=0.0, hold=20)
    assert history.step.iloc[-1] == 20  # 0.0 is reached at once, held from step 0 to step 20
    _, history = train_grokking(p=7, width=8, steps=30, every=10, stop_at=0.0, hold=0)
    assert history.step.tolist() == [0, 10]
    assert first_step(history, "test_acc", 0.0) == 0
    assert first_step(history, "test_acc", 2.0) is None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(p=2), ValueError, "p must be at least 3"),
        (dict(frac=1.5), ValueError, "frac must be in (0, 1)"),
        (dict(width=0), ValueError, "width must be at least 1"),
        (dict(activation="gelu"), ValueError, "activation must be one of"),
        (dict(steps=0), ValueError, "steps must be at least 1"),
        (dict(steps=10.0), TypeError, "steps must be an int"),
        (dict(every=0), ValueError, "every must be at least 1"),
        (dict(hold=-1), ValueError, "hold must be at least 0"),
        (dict(stop_at=1.5), ValueError, "stop_at must be in [0, 1]"),
        (dict(stop_at="0.99"), TypeError, "stop_at must be a real number"),
        (dict(lr=0.0), ValueError, "lr must be"),
        (dict(weight_decay=-1.0), ValueError, "weight_decay must be"),
        (dict(seed=-1), ValueError, "seed must be at least 0"),
    ],
)
def test_train_grokking_bad_inputs(kwargs, error, message):
    pattern = message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    with pytest.raises(error, match=pattern.replace("]", r"\]")):
        train_grokking(**{"p": 7, "width": 4, "steps": 2, **kwargs})


# key_frequencies


def test_key_frequencies_rule(small):
    model, history = small
    energy = [0.0, 1.0, 5.0, 2.0, 2.0]
    assert key_frequencies(energy, share=0.5) == [2]
    assert key_frequencies(energy, share=0.6) == [2, 3]
    assert key_frequencies(energy, share=1.0) == [1, 2, 3, 4]
    assert key_frequencies(np.array(energy), share=0.0) == [2]
    assert key_frequencies(model) == key_frequencies(history.filter(like="energy_").iloc[-1])
    assert key_frequencies(model, share=1.0) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "source, share, error, message",
    [
        ([0.0, 1.0, 2.0], 1.5, ValueError, "share must be in [0, 1]"),
        ([0.0, 1.0, 2.0], "0.9", TypeError, "share must be a real number"),
        ([0.0, -1.0, 2.0], 0.9, ValueError, "source must be energies"),
        ([1.0, 0.0, 0.0], 0.9, ValueError, "source must be energies"),
        ([1.0], 0.9, ValueError, "source must be energies"),
        ([[0.0, 1.0]], 0.9, ValueError, "source must have 1 dimensions"),
        ("model", 0.9, TypeError, "source must be"),
        (nn.Linear(2, 2), 0.9, TypeError, "source must be"),
    ],
)
def test_key_frequencies_bad_inputs(source, share, error, message):
    pattern = message.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(error, match=pattern):
        key_frequencies(source, share)


# restrict_frequencies


def test_restrict_frequencies(small):
    model, _ = small
    before = model.first.weight.detach().clone()
    kept = restrict_frequencies(model, [2, 4])
    removed = restrict_frequencies(model, [2, 4], keep=False)
    assert torch.equal(model.first.weight.detach(), before)  # the original is untouched
    assert kept is not model and kept.readout.weight.data_ptr() != model.readout.weight.data_ptr()
    torch.testing.assert_close(kept.readout.weight, model.readout.weight)
    for side in ("w_a", "w_b"):
        e_kept = fourier_spectrum(getattr(kept, side), 11)
        e_removed = fourier_spectrum(getattr(removed, side), 11)
        e_model = fourier_spectrum(getattr(model, side), 11)
        assert torch.all(e_kept[:, [1, 3, 5]] < 1e-8) and torch.all(e_removed[:, [2, 4]] < 1e-8)
        torch.testing.assert_close(
            e_kept[:, [0, 2, 4]], e_model[:, [0, 2, 4]], atol=1e-5, rtol=1e-4
        )
        torch.testing.assert_close(e_removed[:, 0], e_model[:, 0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(
        kept.first.weight + removed.first.weight,
        model.first.weight + restrict_frequencies(model, []).first.weight,
        atol=1e-5,
        rtol=1e-4,
    )
    everything = restrict_frequencies(model, range(1, 6))
    torch.testing.assert_close(everything.first.weight, model.first.weight, atol=1e-5, rtol=1e-4)
    assert torch.equal(
        restrict_frequencies(model, 3).first.weight, restrict_frequencies(model, [3]).first.weight
    )
    assert torch.equal(
        restrict_frequencies(model, np.int64(3)).first.weight,
        restrict_frequencies(model, [3]).first.weight,
    )


def test_restrict_frequencies_even_p():
    seed_everything(0)
    model = GrokMLP(8, width=3)
    torch.testing.assert_close(
        restrict_frequencies(model, range(1, 5)).first.weight,
        model.first.weight,
        atol=1e-5,
        rtol=1e-4,
    )


@pytest.mark.parametrize(
    "freqs, keep, error, message",
    [
        ([0], True, ValueError, r"freqs must be frequencies in 1 \.\.\. 5 \(p // 2\), got \[0\]"),
        ([6], True, ValueError, r"freqs must be frequencies in 1 \.\.\. 5"),
        ([1, -2], False, ValueError, r"got \[-2\]"),
        ([1.0], True, ValueError, "freqs must be frequencies"),
        ([True], True, ValueError, "freqs must be frequencies"),
        (2.5, True, TypeError, "freqs must be an int or a sequence of ints"),
        ("12", True, TypeError, "freqs must be an int or a sequence of ints"),
        ({1, 2}, True, TypeError, "freqs must be an int or a sequence of ints"),
        ([1], "no", TypeError, "keep must be True or False"),
        ([1], 1, TypeError, "keep must be True or False"),
    ],
)
def test_restrict_frequencies_bad_inputs(small, freqs, keep, error, message):
    model, _ = small
    with pytest.raises(error, match=message):
        restrict_frequencies(model, freqs, keep=keep)


def test_restrict_frequencies_needs_a_grokmlp():
    with pytest.raises(TypeError, match="model must be a GrokMLP"):
        restrict_frequencies(nn.Linear(22, 4), [1])


# energy_share, offset_profile


def test_energy_share(small):
    model, history = small
    share = energy_share(history, [1, 2])
    assert share.shape == (len(history),) and ((0 <= share) & (share <= 1)).all()
    np.testing.assert_allclose(energy_share(history, range(1, 6)), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        energy_share(history, [1, 2]) + energy_share(history, [3, 4, 5]), 1.0, rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"freqs must be frequencies in 1 \.\.\. 5"):
        energy_share(history, [6])
    with pytest.raises(TypeError, match="history must be the DataFrame returned by train_grokking"):
        energy_share(history[["step", "test_acc"]], [1])
    with pytest.raises(TypeError, match="history must be the DataFrame"):
        energy_share(history.to_numpy(), [1])


def test_offset_profile():
    p = 7
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    offset = (torch.arange(p)[None] - (a + b)[:, None]) % p
    ideal = torch.cos(2 * torch.pi * 2 * offset / p) + 3.0 * (offset == 0)
    profile, explained = offset_profile(ideal, p)
    assert int(profile.argmax()) == 0 and abs(explained - 1.0) < 1e-5
    noise = torch.randn(p * p, p, generator=torch.Generator().manual_seed(0))
    assert offset_profile(noise, p)[1] < 0.3
    shifted, _ = offset_profile(ideal + torch.arange(p * p)[:, None].float(), p)
    torch.testing.assert_close(shifted, profile)  # a shift per pair changes nothing
    with pytest.raises(ValueError, match=r"logits must have shape \(p², p\) = \(49, 7\)"):
        offset_profile(ideal[:10], p)
    with pytest.raises(ValueError, match="p must be at least 3"):
        offset_profile(ideal, 2)
    with pytest.raises(TypeError, match="logits must be"):
        offset_profile("logits", p)


# figures


def test_figures_are_closed_and_labelled(small):
    import matplotlib.pyplot as plt

    model, history = small
    figures = [
        plot_grokking(history),
        plot_weights(model),
        plot_waves(model, [0, 1]),
        plot_spectrum(model),
        plot_progress(history, key_frequencies(model)),
    ]
    for fig in figures:
        assert not plt.fignum_exists(fig.number)
        assert fig._suptitle is not None and fig._suptitle.get_text()
        panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert all(ax.get_title() for ax in panels)
        assert any(ax.get_xlabel() for ax in panels) and any(ax.get_ylabel() for ax in panels)


def test_plot_weights_rereads_each_row_along_its_wave(small):
    from interpcourse.grokking import _along_wave

    model, _ = small
    fig = plot_weights(model)
    stored, reread = (ax.images[0].get_array() for ax in fig.axes[:2])
    freqs = unit_frequencies(model).freq_a.to_numpy()
    # the same numbers in each row, only in another order
    np.testing.assert_array_equal(np.sort(stored, 1), np.sort(reread, 1))
    order = [np.flatnonzero((model.w_a.numpy() == row).all(1))[0] for row in np.asarray(stored)]
    np.testing.assert_array_equal(reread, _along_wave(np.asarray(stored), freqs[order]))
    x = np.arange(11)
    wave = np.cos(2 * np.pi * 3 * x / 11 + 0.5)  # frequency 3, read along its wave: one turn
    np.testing.assert_allclose(_along_wave(wave, 3), np.cos(2 * np.pi * x / 11 + 0.5), atol=1e-12)


def test_plot_progress_axes_and_reference_line(small):
    model, history = small
    fig = plot_progress(history, [1, 2])
    assert all(ax.get_ylim() == (0, 1.02) for ax in fig.axes)  # every share on its full range
    share_ax = fig.axes[2]
    assert share_ax.get_legend() is None  # the reference line is labelled on the line itself
    assert "2 of 5 frequencies at equal shares: 0.40" in [t.get_text() for t in share_ax.texts]


def test_plot_waves_units(small):
    model, _ = small
    assert len(plot_waves(model, units=3).axes) == 2  # one unit: over a and over b
    assert plot_waves(model, units=[3, 5]).axes[2].get_title().startswith("unit 5 over a")


def test_plot_bad_inputs(small):
    model, _ = small
    with pytest.raises(ValueError, match=r"units must be unit numbers in \[0, 16\)"):
        plot_waves(model, [16])
    with pytest.raises(ValueError, match="units must be unit numbers"):
        plot_waves(model, ["0"])
    with pytest.raises(TypeError, match="model must be a GrokMLP"):
        plot_weights(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"share must be in \[0, 1\]"):
        plot_spectrum(model, share=2.0)


# interventions reach the hidden layer


def test_intervene_reaches_the_hidden_layer(small):
    model, _ = small
    X = grokking_data(11, 0.5)[0]
    with intervene(model, {"act": zero_ablation()}):
        silent = model(X)
    torch.testing.assert_close(silent, torch.zeros_like(silent))  # no biases: all logits 0
