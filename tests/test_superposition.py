"Lesson 10 (interpcourse.superposition): bad input names the argument; metrics match hand cases."

import math

import numpy as np
import pytest
import torch
from torch import nn

from interpcourse.superposition import (
    SparseAutoencoder,
    ToyModel,
    dictionary_recovery,
    feature_dimensionality,
    frequency_purity,
    initial_dictionary,
    loss_recovered,
    max_cosine_similarity,
    planted_features,
    plot_dimensionality,
    plot_interference,
    plot_toy_geometry,
    plot_tradeoff,
    random_dictionary,
    sae_metrics,
    train_sae,
    train_toy_models,
)

torch.set_num_threads(1)


# ---------------------------------------------------------------- toy models
@pytest.mark.parametrize("probability", [0.0, -0.1, 1.5, [0.5, 2.0], []])
def test_probability_outside_0_1(probability):
    with pytest.raises(ValueError, match="probability"):
        ToyModel(probability=probability)


def test_probability_nan():
    with pytest.raises(ValueError, match="probability"):
        ToyModel(probability=[float("nan")])


def test_importance_wrong_length():
    with pytest.raises(ValueError, match="importance"):
        ToyModel(5, 2, importance=[1.0, 0.5, 0.2])


def test_importance_decay_out_of_range():
    with pytest.raises(ValueError, match="importance"):
        ToyModel(importance=1.5)
    with pytest.raises(TypeError, match="n_features"):
        ToyModel(n_features=2.5)


def test_toy_is_batched_and_deterministic():
    a = train_toy_models(sparsities=(0.0, 0.9), seeds=2, steps=20, seed=3)
    b = train_toy_models(sparsities=(0.0, 0.9), seeds=2, steps=20, seed=3)
    assert a.W.shape == (4, 2, 5)
    torch.testing.assert_close(a.W, b.W)
    torch.testing.assert_close((1 - a.probability), torch.tensor([0.0, 0.0, 0.9, 0.9]))


def test_toy_dense_keeps_the_important_features():
    toy = train_toy_models(sparsities=(0.0,), seeds=1, seed=0)
    norms = toy.W.detach().norm(dim=1)[0]
    assert (norms[:2] > 0.8).all() and (norms[2:] < 0.5).all()


# ---------------------------------------------------------------- dimensionality
def test_dimensionality_hand_cases():
    angles = 2 * math.pi * torch.arange(5) / 5
    pentagon = torch.stack([angles.cos(), angles.sin()]) * 3.0  # scale does not matter for D_i
    dims, _ = feature_dimensionality(pentagon)
    torch.testing.assert_close(dims, torch.full((5,), 0.4))
    dims, per = feature_dimensionality(torch.tensor([[1.0, -1.0, 0.0]]))
    torch.testing.assert_close(dims, torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(per, torch.tensor(0.5))
    dims, per = feature_dimensionality(torch.eye(3)[None].repeat(2, 1, 1))
    torch.testing.assert_close(dims, torch.ones(2, 3))
    torch.testing.assert_close(per, torch.ones(2))


def test_dimensionality_bad_input():
    with pytest.raises(
        ValueError, match=r"W must have 2 or 3 dimensions, got shape \(2, 2, 2, 2\)"
    ):
        feature_dimensionality(torch.ones(2, 2, 2, 2))
    with pytest.raises(TypeError, match="W must be a NumPy array or torch tensor, got str"):
        feature_dimensionality("W")


# ---------------------------------------------------------------- SAE
@pytest.mark.parametrize("k", [0, -1, 65])
def test_k_out_of_range(k):
    with pytest.raises(ValueError, match="k must be"):
        SparseAutoencoder(10, 64, k=k)
    with pytest.raises(ValueError, match="k must be"):
        train_sae(torch.randn(20, 10), n_latents=64, k=k, steps=1)


def test_k_not_int():
    with pytest.raises(TypeError, match="k"):
        SparseAutoencoder(10, 64, k=2.5)


@pytest.mark.parametrize("acts", [torch.randn(10), torch.randn(2, 3, 4)])
def test_activations_not_2d(acts):
    with pytest.raises(ValueError, match="activations"):
        train_sae(acts, steps=1)
    with pytest.raises(ValueError, match="activations"):
        sae_metrics(SparseAutoencoder(4, 8, k=2), acts)


def test_activations_nan():
    acts = torch.randn(20, 4)
    acts[3, 1] = float("nan")
    with pytest.raises(ValueError, match="activations"):
        train_sae(acts, n_latents=8, k=2, steps=1)


def test_topk_and_unit_decoder():
    sae = train_sae(torch.randn(200, 6), n_latents=16, k=3, steps=20)
    assert ((sae.encode(torch.randn(50, 6)) > 0).sum(1) <= 3).all()
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(16))


def test_fvu_is_about_the_mean():
    "An SAE that answers the mean has FVU 1 (not 0), whatever the offset of the data."
    X = torch.randn(100, 4) + 10.0
    sae = SparseAutoencoder(4, 8, k=1)
    with torch.no_grad():
        sae.W_enc.zero_()
        sae.b_enc.fill_(-1.0)  # no latent ever active: reconstruction = b_dec
        sae.b_dec.copy_(X.mean(0))
    m = sae_metrics(sae, X)
    assert m["l0"] == 0 and m["dead"] == 8
    assert abs(m["fvu"] - 1.0) < 1e-4


def test_sae_recovers_planted_directions():
    g = torch.Generator().manual_seed(0)
    dirs = torch.linalg.qr(torch.randn(8, 8, generator=g))[0][:6]  # 6 orthonormal directions
    on = torch.rand(3000, 6, generator=g) < 0.1
    acts = (torch.rand(3000, 6, generator=g) * on) @ dirs
    sae = train_sae(acts, n_latents=12, k=1, steps=300)
    assert max_cosine_similarity(dirs, sae)["mmcs"] > 0.9
    shuffled = torch.linalg.qr(torch.randn(8, 8, generator=g))[0][:6]
    assert max_cosine_similarity(shuffled, sae)["mmcs"] < 0.9


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_planted_directions_are_not_an_sae_start(seed):
    "The trap of Lesson 10: at equal seeds, no SAE starts on the planted (or random) directions."
    acts, dirs = planted_features(seed=seed)
    assert acts.shape == (8000, 10) and dirs.shape == (32, 10)
    plain = torch.randn(32, 10, generator=torch.Generator().manual_seed(seed))
    assert max_cosine_similarity(dirs, plain)["recovered"] < 0.2
    for start in (SparseAutoencoder(10, 64, k=2, seed=seed), random_dictionary(64, 10, seed)):
        assert max_cosine_similarity(dirs, start)["recovered"] < 0.2
    rand = random_dictionary(64, 10, seed)
    assert max_cosine_similarity(rand, SparseAutoencoder(10, 64, k=2, seed=seed))["recovered"] < 0.2


def test_planted_features_are_sparse_sums():
    acts, dirs = planted_features(n_features=6, d=4, p=0.1, n=3000, seed=2)
    torch.testing.assert_close(dirs.norm(dim=1), torch.ones(6))
    assert acts.shape == (3000, 4)  # a row is 0 when none of its 6 features is on: 0.9**6
    assert abs(float((acts.norm(dim=1) == 0).float().mean()) - 0.9**6) < 0.03
    a, d = planted_features(seed=3)
    b, e = planted_features(seed=3)
    assert torch.equal(a, b) and torch.equal(d, e)
    with pytest.raises(ValueError, match="p"):
        planted_features(p=1.5)
    with pytest.raises(ValueError, match="n_features"):
        planted_features(n_features=0)


def test_initial_dictionary_is_the_start_of_training():
    acts, dirs = planted_features(n=2000, seed=0)
    for kwargs in (dict(k=2), dict(l1=0.3)):
        start = SparseAutoencoder(10, 16, seed=4, **kwargs).W_dec.detach()
        sae = train_sae(acts, n_latents=16, steps=30, seed=4, **kwargs)
        assert torch.equal(initial_dictionary(sae), start)
        assert not torch.allclose(sae.W_dec.detach(), start)  # training moved it
        scores = dictionary_recovery(dirs, sae)
        assert scores["mmcs_init"] == max_cosine_similarity(dirs, start)["mmcs"]
        assert scores["mmcs"] == max_cosine_similarity(dirs, sae)["mmcs"]
    # an SAE whose decoder starts on the answer scores 1 before training: the trap, measured
    cheat = SparseAutoencoder(10, 32, k=2)
    with torch.no_grad():
        cheat.W_dec.copy_(dirs)
    assert max_cosine_similarity(dirs, cheat) == dict(mmcs=pytest.approx(1.0), recovered=1.0)


def test_max_cosine_similarity_bad_input():
    with pytest.raises(ValueError, match="decoder"):
        max_cosine_similarity(torch.eye(3), torch.eye(4))
    with pytest.raises(ValueError, match="true_directions"):
        max_cosine_similarity(torch.ones(3), torch.eye(3))


def test_frequency_purity_bad_groups():
    with pytest.raises(ValueError, match="groups"):
        frequency_purity(torch.eye(3), [1, 2])


# ---------------------------------------------------------------- loss_recovered
def test_loss_recovered_unknown_layer_and_perfect_sae():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    X, y = torch.randn(64, 4), torch.randint(3, (64,))
    sae = SparseAutoencoder(8, 16, k=8)
    with pytest.raises(ValueError, match="layer"):
        loss_recovered(model, "nope", sae, X, y)

    class Identity(SparseAutoencoder):
        def forward(self, x):
            return x

    out = loss_recovered(model, "1", Identity(8, 16, k=8), X, y)
    assert abs(out["loss_recovered"] - 1.0) < 1e-6
    assert out["spliced_acc"] == out["clean_acc"]
    with pytest.raises(ValueError, match="ablation"):
        loss_recovered(model, "1", sae, X, y, ablation="mode")


def test_loss_recovered_zero_and_mean_ablation():
    "An SAE that answers 0 recovers exactly 0 of the zero-ablation gap; its mean, of the mean one."
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    X, y = torch.randn(64, 4), torch.randint(3, (64,))
    mean = model[1](model[0](X)).mean(0).detach()

    class Constant(SparseAutoencoder):
        def __init__(self, value):
            super().__init__(8, 16, k=8)
            self.value = value

        def forward(self, x):
            return self.value.expand_as(x)

    zero = loss_recovered(model, "1", Constant(torch.zeros(8)), X, y, ablation="zero")
    assert abs(zero["loss_recovered"]) < 1e-6
    by_mean = loss_recovered(model, "1", Constant(mean), X, y)
    assert abs(by_mean["loss_recovered"]) < 1e-5
    assert zero["ablated_loss"] != by_mean["ablated_loss"]


# ---------------------------------------------------------------- figures
def test_figures_return_figures():
    import matplotlib.figure
    import pandas as pd

    toy = train_toy_models(sparsities=(0.0, 0.9), seeds=2, steps=5)
    table = pd.DataFrame({"kind": ["TopK", "L1"], "l0": [1.0, 2.0], "fvu": [0.5, 0.2]})
    scored = table.assign(mmcs=[0.9, 0.7], mmcs_init=[0.6, 0.6])
    assert len(plot_tradeoff(scored).axes) == 2 and len(plot_tradeoff(table).axes) == 1
    for fig in (
        plot_toy_geometry(toy),
        plot_interference(toy),
        plot_dimensionality(toy),
        plot_tradeoff(table),
    ):
        assert isinstance(fig, matplotlib.figure.Figure)
    with pytest.raises(ValueError, match="n_hidden"):
        plot_toy_geometry(train_toy_models(4, 3, sparsities=(0.5,), seeds=1, steps=1))


def test_lesson_10_loads_exactly_the_network_train_grokking_gives():
    "The shipped grokked network is train_grokking() with its defaults (data/build_grokked.py)."
    from interpcourse.grokking import grokked_network, train_grokking

    saved = grokked_network()
    trained, _ = train_grokking()
    for name, weight in trained.state_dict().items():
        assert torch.equal(weight, saved.state_dict()[name]), name
