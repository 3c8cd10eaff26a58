"Tests for Lesson 11's transformer: the forward pass against tensor algebra, hand-made waves."

import math

import pytest
import torch

from interpcourse.activations import record_activations
from interpcourse.grokking import filter_waves, grokking_data, key_frequencies
from interpcourse.interventions import intervene, zero_ablation
from interpcourse.training import seed_everything
from interpcourse.transformer import (
    ModularTransformer,
    embedding_spectrum,
    modular_tokens,
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
