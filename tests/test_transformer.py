"Tests for Lesson 11: the forward pass against tensor algebra; the readings on hand-made waves."

import math

import pytest
import torch

from interpcourse.activations import record_activations
from interpcourse.grokking import filter_waves, grokking_data, key_frequencies
from interpcourse.interventions import intervene, zero_ablation
from interpcourse.training import seed_everything
from interpcourse.transformer import (
    ModularTransformer,
    as_grid,
    distance_irrelevance,
    embedding_spectrum,
    frequency_concentration,
    gradient_symmetricity,
    grid_spectrum,
    logit_fit,
    modular_tokens,
    progress_measures,
    restrict_embedding,
    restrict_logits,
    sum_share,
    train_transformer,
)

P = 11


def by_hand(model, tokens):
    "Logits from the weights alone: every position computed, the last read; no module calls."
    W = {k: v.detach().double() for k, v in model.state_dict().items()}
    H = model.attn.n_heads
    x = W["embed.weight"][tokens] + W["pos.weight"]
    n, t, d = x.shape
    dh = d // H
    q = (x @ W["attn.query.weight"].T).view(n, t, H, dh)
    k = (x @ W["attn.key.weight"].T).view(n, t, H, dh)
    v = (x @ W["attn.value.weight"].T).view(n, t, H, dh)
    scores = torch.einsum("nihd,njhd->nhij", q, k) / math.sqrt(dh)
    z = torch.einsum("nhij,njhd->nihd", torch.softmax(scores, -1), v).reshape(n, t, d)
    r = x + z @ W["attn.output.weight"].T
    hidden = torch.clamp(r @ W["mlp.into.weight"].T + W["mlp.into.bias"], min=0)
    r = r + hidden @ W["mlp.out.weight"].T + W["mlp.out.bias"]
    return (r @ W["unembed.weight"].T)[:, -1]


@pytest.mark.parametrize("scale,dtype", [(1.0, torch.float32), (3.0, torch.float64)])
def test_forward_matches_tensor_algebra(scale, dtype):
    seed_everything(1)
    model = ModularTransformer(P, d_model=16, n_heads=4, d_mlp=32).to(dtype)
    with torch.no_grad():
        for w in model.parameters():
            w.mul_(scale)  # larger weights (logits ~70, in float64): sharper attention
    tokens, _ = modular_tokens(P)
    ours = model(tokens).detach().double()
    assert (ours - by_hand(model, tokens)).abs().max().item() < 1e-5


def test_modular_tokens_order_and_split():
    tokens, y = modular_tokens(P)
    assert tokens.shape == (P * P, 3) and tokens.dtype == torch.long
    assert tokens[3 * P + 5].tolist() == [3, 5, P]
    assert torch.equal(y, (tokens[:, 0] + tokens[:, 1]) % P)
    X, y9, _, _ = grokking_data(P, 0.4, 0)  # Lesson 9's rows are the same pairs
    assert torch.equal(y9, y)


def test_errors_name_the_argument():
    model = ModularTransformer(P, d_model=8, n_heads=2, d_mlp=8)
    tokens, _ = modular_tokens(P)
    with pytest.raises(ValueError, match="n_heads must divide d_model"):
        ModularTransformer(P, d_model=8, n_heads=3)
    with pytest.raises(ValueError, match="tokens must have shape"):
        model(tokens[:, :2])
    with pytest.raises(ValueError, match="tokens must be in 0"):
        model(tokens + 1)
    with pytest.raises(ValueError, match="tokens must be in 0"):
        model(tokens - 1)
    with pytest.raises(TypeError, match="tokens must be a torch tensor"):
        model(tokens.tolist())
    with pytest.raises(TypeError, match="tokens must be whole numbers"):
        model(tokens.float() + 0.5)
    with pytest.raises(TypeError, match="tokens must be integer"):
        model(tokens.bool())
    with pytest.raises(ValueError, match="p must be at least 3"):
        modular_tokens(2)
    with pytest.raises(TypeError, match="model must be a ModularTransformer"):
        embedding_spectrum(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="steps"):
        train_transformer(p=P, steps=0)


def test_embedding_of_exact_waves_is_read_as_those_waves():
    model = ModularTransformer(P, d_model=8, n_heads=2, d_mlp=8)
    t = torch.arange(P)
    waves = [torch.cos(2 * math.pi * 2 * t / P), torch.sin(2 * math.pi * 2 * t / P)]
    waves += [3 * torch.cos(2 * math.pi * 4 * t / P + 0.3)]
    with torch.no_grad():
        model.embed.weight.zero_()
        model.embed.weight[:P, :3] = torch.stack(waves, 1)
        model.embed.weight[P] = 5.0  # the "=" row is not read by the spectrum
    energy = embedding_spectrum(model)
    assert key_frequencies(energy, 0.999) == [2, 4]
    assert torch.allclose(energy[[2, 4]], torch.tensor([1.0 * P, 9 * P / 2]), rtol=1e-4)


def test_restriction_to_all_frequencies_changes_nothing():
    seed_everything(0)
    model = ModularTransformer(P, d_model=8, n_heads=2, d_mlp=8)
    W = model.embed.weight.detach()[:P]
    assert torch.allclose(filter_waves(W, list(range(1, P // 2 + 1)), True, dim=0), W, atol=1e-6)
    assert torch.allclose(filter_waves(W, [], False, dim=0), W, atol=1e-6)


def test_course_tools_work_on_named_points():
    seed_everything(0)
    model = ModularTransformer(P, d_model=8, n_heads=2, d_mlp=16)
    tokens, _ = modular_tokens(P)
    rec = record_activations(model, tokens, ["attn.pattern", "attn.heads", "mlp.hidden", "resid"])
    assert rec["attn.pattern"].shape == (P * P, 2, 3)
    assert torch.allclose(rec["attn.pattern"].sum(-1), torch.ones(P * P, 2))
    assert rec["attn.heads"].shape == (P * P, 8) and rec["mlp.hidden"].shape == (P * P, 16)
    assert torch.allclose(model.unembed(rec["resid"]), model(tokens).detach(), atol=1e-6)
    with intervene(model, {"mlp.hidden": zero_ablation()}):
        no_mlp = model(tokens).detach()
    mid = record_activations(model, tokens, "resid_mid")["resid_mid"]
    bias = model.mlp.out.bias.detach()
    assert torch.allclose(no_mlp, model.unembed(mid + bias).detach(), atol=1e-5)


def test_train_transformer_history_columns():
    model, history = train_transformer(p=P, steps=4, every=2, d_model=8, n_heads=2, d_mlp=8)
    assert history.step.tolist() == [0, 2, 4]
    for col in ("train_loss", "test_loss", "train_acc", "test_acc", "weight_norm", "energy_0"):
        assert col in history.columns
    assert f"energy_{P // 2}" in history.columns
    again = train_transformer(p=P, steps=4, every=2, d_model=8, n_heads=2, d_mlp=8)[1]
    assert history.equals(again)  # deterministic


def grid(P=P):
    return torch.arange(P)[:, None].float(), torch.arange(P)[None, :].float()


def test_grid_spectrum_on_hand_made_waves():
    a, b = grid()
    w = 2 * math.pi * 3 / P
    waves = torch.stack([torch.sin(w * a) + 0 * b, torch.cos(w * (a - b)), 2 + 0 * a * b])
    E = grid_spectrum(waves)
    assert E.shape == (3, P // 2 + 1, P // 2 + 1)
    assert torch.allclose(E.sum((-2, -1)), (waves**2).sum((-2, -1)), rtol=1e-5)
    assert torch.allclose(E[0, 3, 0], torch.tensor(P * P / 2.0), rtol=1e-5)
    assert torch.allclose(E[1, 3, 3], torch.tensor(P * P / 2.0), rtol=1e-5)
    assert torch.allclose(E[2, 0, 0], torch.tensor(4.0 * P * P), rtol=1e-5)
    assert torch.allclose(sum_share(waves[1], [3]), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(sum_share(torch.sin(w * (a + b)), 3), torch.tensor(1.0))


def test_as_grid_puts_a_on_rows_and_b_on_columns():
    tokens, y = modular_tokens(P)
    g = as_grid(torch.stack([tokens[:, 0], y], 1), P)
    assert g.shape == (2, P, P)
    assert g[0, 4, 7] == 4 and g[1, 4, 7] == (4 + 7) % P
    with pytest.raises(ValueError, match="values must have p"):
        as_grid(y[:-1], P)
    with pytest.raises(ValueError, match="grid must have shape"):
        grid_spectrum(torch.zeros(P, P + 1))


def test_frequency_concentration_finds_each_units_frequency():
    a, b = grid()
    units = torch.stack([torch.relu(torch.cos(2 * math.pi * k * a / P) + 0 * b) for k in (1, 4)])
    table = frequency_concentration(units)
    assert table.freq.tolist() == [1, 4]
    assert (table.share < 1).all() and (table.share > 0.8).all()  # ReLU adds harmonics
    assert (table.products.abs() < 1e-6).all()  # waves of a alone: no products
    with pytest.raises(ValueError, match="grids must have shape"):
        frequency_concentration(units[0])


@pytest.mark.parametrize("k", [2, 4, 5])  # 2k = 10 folds to 1 at P = 11: read as p - 2k
def test_frequency_concentration_counts_a_squares_second_harmonic(k):
    a, b = grid()
    w = 2 * math.pi * k / P
    square = (torch.cos(w * a) + torch.cos(w * b)) ** 2  # a product at [k, k], waves at 2k
    table = frequency_concentration(square[None])
    assert table.freq.tolist() == [k]
    assert abs(table.share[0] - 0.8) < 1e-5 and abs(table.harmonic[0] - 0.2) < 1e-5
    plain = frequency_concentration((torch.cos(w * a) + torch.cos(w * b))[None])
    assert abs(plain.harmonic[0]) < 1e-6  # a wave at k alone has nothing at 2k


def test_restrict_logits_splits_logits_into_two_parts():
    tokens, y = modular_tokens(P)
    d = tokens[:, :1] + tokens[:, 1:2] - torch.arange(P)
    logits = torch.cos(2 * math.pi * 2 * d / P) + 0.5 * torch.sin(2 * math.pi * 5 * d / P)
    kept = restrict_logits(logits, [2])
    assert torch.allclose(kept, torch.cos(2 * math.pi * 2 * d / P), atol=1e-5)
    assert (kept.argmax(1) == y).all()  # cos(w(a + b − c)) peaks at the answer
    removed = restrict_logits(logits, [2], keep=False)
    assert torch.allclose(removed, 0.5 * torch.sin(2 * math.pi * 5 * d / P), atol=1e-5)
    with pytest.raises(TypeError, match="keep must be True or False"):
        restrict_logits(logits, [2], keep="yes")
    with pytest.raises(ValueError, match="logits must have shape"):
        restrict_logits(logits[:, :3], [2])


def test_logit_fit_recovers_known_amplitudes():
    model = ModularTransformer(P, d_model=8, n_heads=2, d_mlp=8)
    alphas = {1: 2.0, 3: -0.5}

    class Known(ModularTransformer):
        def forward(self, tokens):
            d = tokens[:, :1] + tokens[:, 1:2] - torch.arange(P)
            return sum(a * torch.cos(2 * math.pi * k * d / P) for k, a in alphas.items())

    known = Known(P, d_model=8, n_heads=2, d_mlp=8)
    alpha, explained = logit_fit(known, [1, 3])
    assert torch.allclose(alpha, torch.tensor([2.0, -0.5]), atol=1e-4)
    assert explained > 0.9999
    assert logit_fit(known, [2])[1] < 1e-4  # the wrong frequency explains nothing
    with pytest.raises(TypeError, match="model must be a ModularTransformer"):
        logit_fit(torch.nn.Linear(2, 2), [1])
    assert restrict_embedding(model, list(range(1, P // 2 + 1))).state_dict().keys() == (
        model.state_dict().keys()
    )


def test_clock_and_pizza_measures_on_hand_cases():
    seed_everything(0)
    model = ModularTransformer(P, d_model=8, n_heads=2, d_mlp=8)
    sym = gradient_symmetricity(model, n=200)
    assert -1 <= sym <= 1
    assert sym == gradient_symmetricity(model, n=200)  # the draw is seeded
    with torch.no_grad():  # works inside no_grad, and leaves no hooks behind
        gradient_symmetricity(model, n=10)
    assert not model.embed._forward_hooks

    class Symmetric(ModularTransformer):  # logits from E_a + E_b alone: gradients agree
        def forward(self, tokens):
            e = self.embed(tokens)
            return self.unembed(torch.tanh(e[:, 0] + e[:, 1]))

    assert gradient_symmetricity(Symmetric(P, d_model=8, n_heads=2, d_mlp=8)) > 0.999
    irr = distance_irrelevance(model)
    assert 0 <= irr <= 1.5


def test_checkpoints_and_progress_measures():
    checkpoints = []
    kw = dict(p=P, steps=4, every=2, d_model=8, n_heads=2, d_mlp=8)
    model, history = train_transformer(checkpoints=checkpoints, **kw)
    assert [s for s, _ in checkpoints] == history.step.tolist()
    final = ModularTransformer(**model.config)
    final.load_state_dict(checkpoints[-1][1])
    tokens, _ = modular_tokens(P)
    assert torch.equal(final(tokens), model(tokens))  # the last checkpoint is the model
    _, _, train, _ = grokking_data(P, 0.4, 0)
    progress = progress_measures(model, checkpoints, [1, 2], train)
    assert progress.step.tolist() == history.step.tolist()
    assert (progress[["restricted_loss", "excluded_loss"]] > 0).all().all()
    with pytest.raises(TypeError, match="checkpoints must be a list"):
        train_transformer(checkpoints=(), **kw)


def test_token_ids_takes_whole_floats_and_refuses_the_rest():
    from interpcourse.transformer import token_ids

    ids = token_ids(torch.tensor([[1.0, 2.0, 59.0]]))
    assert ids.dtype == torch.int64 and ids.tolist() == [[1, 2, 59]]
    assert token_ids(torch.tensor([3, 4])).tolist() == [3, 4]
    with pytest.raises(TypeError, match="tokens must be whole numbers"):
        token_ids(torch.tensor([1.5]))
    with pytest.raises(TypeError, match="got dtype torch.bool"):
        token_ids(torch.tensor([True]))
