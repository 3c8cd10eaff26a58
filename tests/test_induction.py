"Tests for Lesson 12: the forward pass against tensor algebra, the scores, patching, bad inputs."

import math

import pytest
import torch

from interpcourse.activations import record_activations
from interpcourse.induction import (
    AttentionOnly,
    activation_patching,
    attribution_patching,
    composition_score,
    composition_scores,
    copy_sequences,
    in_context_score,
    induction_score,
    ov_copying,
    path_patching,
    previous_token_score,
    qk_ov,
    random_composition_scores,
    repeated_tokens,
    second_half_loss,
    shuffled_first_half,
    token_losses,
    train_induction,
)
from interpcourse.interventions import intervene
from interpcourse.training import load_model, save_model, seed_everything
from interpcourse.transformer import Attention


def tiny(n_layers=2, seed=0):
    seed_everything(seed, "induction weights")
    return AttentionOnly(vocab=11, seq_len=12, n_layers=n_layers, n_heads=2, d_model=8)


def by_hand(model, toks):
    "Embeddings, then per layer per head: masked softmax(q k^T / sqrt(dh)) v W_O^T, added."
    W = {k: v.detach().double() for k, v in model.state_dict().items()}
    x = W["embed.weight"][toks] + W["pos.weight"][: toks.shape[1]]
    T, H = toks.shape[1], model.config["n_heads"]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for layer in range(model.config["n_layers"]):
        Wq, Wk, Wv, Wo = (
            W[f"attn.{layer}.{m}.weight"] for m in ("query", "key", "value", "output")
        )
        dh = Wq.shape[0] // H
        added = torch.zeros_like(x)
        for h in range(H):
            r = slice(h * dh, (h + 1) * dh)
            s = torch.einsum("ntd,nsd->nts", x @ Wq[r].T, x @ Wk[r].T) / math.sqrt(dh)
            a = s.masked_fill(mask, -math.inf).softmax(-1)
            added += (a @ (x @ Wv[r].T)) @ Wo[:, r].T
        x = x + added
    return x @ W["unembed.weight"].T


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_forward_is_the_formula(n_layers):
    model = tiny(n_layers)
    toks = torch.randint(11, (5, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(toks)
    torch.testing.assert_close(out.double(), by_hand(model, toks), atol=1e-5, rtol=0)
    assert out.shape == (5, 12, 11)


def test_causal_and_shorter_sequences():
    model = tiny()
    toks = torch.randint(11, (3, 12), generator=torch.Generator().manual_seed(2))
    changed = toks.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 11
    with torch.no_grad():
        a, b, short = model(toks), model(changed), model(toks[:, :7])
    torch.testing.assert_close(a[:, :7], b[:, :7])  # the future does not leak
    torch.testing.assert_close(a[:, :7], short, atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_lesson11_attention_unchanged_by_default():
    torch.manual_seed(0)
    attn = Attention(8, 2)
    x = torch.randn(4, 3, 8)
    assert not attn.causal and attn(x).shape == (4, 8)
    causal = Attention(8, 2, causal=True)
    causal.load_state_dict(attn.state_dict())
    torch.testing.assert_close(causal(x)[:, -1], attn(x), atol=1e-6, rtol=0)  # last row: same
    with pytest.raises(TypeError, match="causal must be True or False"):
        Attention(8, 2, causal=1)


def test_named_points():
    model = tiny()
    toks = torch.randint(11, (4, 12))
    names = ["resid.0", "attn.0.pattern", "attn.1.heads", "attn.1.key_in", "resid.2"]
    rec = record_activations(model, toks, names)
    assert rec["attn.0.pattern"].shape == (4, 2, 12, 12)
    assert rec["attn.1.heads"].shape == (4, 12, 8)
    torch.testing.assert_close(rec["attn.0.pattern"].sum(-1), torch.ones(4, 2, 12))
    assert (rec["attn.0.pattern"].triu(1) == 0).all()
    with torch.no_grad():
        torch.testing.assert_close(model.unembed(rec["resid.2"]), model(toks))


def test_bad_inputs():
    model = tiny()
    with pytest.raises(ValueError, match="tokens must be in 0 ... 10"):
        model(torch.full((2, 5), 11))
    with pytest.raises(ValueError, match="tokens must be in"):
        model(torch.full((2, 5), -1))
    with pytest.raises(ValueError, match="T <= 12"):
        model(torch.zeros(2, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens must have shape"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match="tokens must be whole numbers"):
        model(torch.full((2, 5), 0.5))
    with pytest.raises(TypeError, match="tokens must be integer"):
        model(torch.zeros(2, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="tokens must be a torch tensor"):
        model([[1, 2]])
    with pytest.raises(ValueError, match="n_heads must divide"):
        AttentionOnly(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="n_layers must be"):
        AttentionOnly(n_layers=0)
    with pytest.raises(ValueError, match="copy must satisfy"):
        copy_sequences(3, seq_len=10, copy=(8, 19))
    with pytest.raises(TypeError, match="copy must be a pair"):
        copy_sequences(3, copy=8)
    with pytest.raises(ValueError, match="half must be"):
        repeated_tokens(3, half=1)
    with pytest.raises(ValueError, match="pattern must have shape"):
        previous_token_score(torch.ones(2, 3, 3))
    with pytest.raises(TypeError, match="pattern must be a float"):
        induction_score(torch.ones(1, 1, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="even length"):
        induction_score(torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match="early < late"):
        composition_scores(model, early=1, late=0)
    with pytest.raises(ValueError, match="head must be <"):
        qk_ov(model.attn[0], 2)
    with pytest.raises(ValueError, match="layer must be <"):
        ov_copying(model, 2, 0)
    with pytest.raises(ValueError, match="steps must be"):
        train_induction(steps=0)
    with pytest.raises(TypeError, match="checkpoints must"):
        train_induction(steps=1, checkpoints=())
    with pytest.raises(ValueError, match="tokens must be a tensor"):
        shuffled_first_half(torch.zeros(2, 5, dtype=torch.long))


def test_copy_sequences():
    toks, copied = copy_sequences(200, seq_len=40, vocab=48, copy=(8, 19), seed=3)
    assert toks.shape == copied.shape == (200, 40) and copied.dtype == torch.bool
    counts = copied.sum(1)
    assert counts.min() >= 7 and counts.max() <= 18  # the segment minus its first token
    for row, mask in zip(toks.tolist(), copied.tolist()):
        for t in [i for i, m in enumerate(mask) if m]:
            assert any(row[i] == row[t - 1] and row[i + 1] == row[t] for i in range(t - 1))
    again, _ = copy_sequences(200, seed=3)
    assert torch.equal(toks, again) and not torch.equal(toks, copy_sequences(200, seed=4)[0])


def test_score_hand_cases():
    T = 8
    prev = torch.zeros(2, 1, T, T)
    prev[:, 0, 0, 0] = 1
    prev[:, 0, torch.arange(1, T), torch.arange(T - 1)] = 1
    torch.testing.assert_close(previous_token_score(prev), torch.ones(1))
    uniform = torch.ones(T, T).tril()
    uniform = (uniform / uniform.sum(1, keepdim=True)).expand(1, 3, T, T)
    want = sum(1 / (q + 1) for q in range(1, T)) / (T - 1)
    torch.testing.assert_close(previous_token_score(uniform), torch.full((3,), want))
    want = sum(1 / (q + 1) for q in range(T // 2, T)) / (T // 2)
    torch.testing.assert_close(induction_score(uniform), torch.full((3,), want))
    ind = torch.zeros(1, 1, T, T)
    ind[0, 0, torch.arange(4, T), torch.arange(1, 5)] = 1
    torch.testing.assert_close(induction_score(ind), torch.ones(1))
    torch.testing.assert_close(previous_token_score(ind), torch.zeros(1))
    diag = torch.eye(T)[None, None]  # attends to itself: neither
    assert previous_token_score(diag).item() == induction_score(diag).item() == 0


def test_in_context_score_and_losses():
    losses = torch.tensor([[3.0, 2.0, 1.0], [5.0, 2.0, 3.0]])
    assert in_context_score(losses, 0, 2) == pytest.approx(-2.0)
    assert in_context_score(losses, [0, 1], [2]) == pytest.approx(2.0 - 3.0)
    model = tiny()
    toks = torch.randint(11, (4, 12))
    with torch.no_grad():
        logits = model(toks)
        ce = torch.nn.functional.cross_entropy(logits[0, 3], toks[0, 4])
        torch.testing.assert_close(token_losses(model, toks)[0, 3], ce)


def test_composition_scores():
    torch.manual_seed(0)
    A = torch.randn(8, 8)
    assert composition_score(A, torch.eye(8)) == pytest.approx(1 / math.sqrt(8), rel=1e-5)
    u = torch.randn(8, 1)
    assert composition_score(u @ u.T, u @ u.T) == pytest.approx(1.0, rel=1e-5)  # rank one, aligned
    v = torch.linalg.qr(torch.cat([u, torch.randn(8, 1)], 1)).Q[:, 1:]
    assert composition_score(u @ u.T, v @ v.T) == pytest.approx(0.0, abs=1e-5)  # orthogonal
    model = tiny()
    comp = composition_scores(model)
    assert comp.shape == (3, 2, 2) and (comp >= 0).all() and (comp <= 1).all()
    qk, ov = qk_ov(model.attn[1], 1)
    _, ov0 = qk_ov(model.attn[0], 0)
    assert comp[1, 0, 1].item() == pytest.approx(composition_score(qk, ov0), rel=1e-6)
    assert comp[0, 0, 1].item() == pytest.approx(composition_score(qk.T, ov0), rel=1e-6)
    base = random_composition_scores(8, 4, n=20, seed=0)
    assert base.shape == (3, 20) and torch.equal(base, random_composition_scores(8, 4, 20, 0))


def test_ov_copying_hand_case():
    model = tiny()
    with torch.no_grad():  # OV = identity, W_U = W_E: the full circuit is W_E W_E^T, copying
        attn = model.attn[1]
        attn.value.weight.copy_(torch.eye(8))
        attn.output.weight.copy_(torch.eye(8))
        model.embed.weight.copy_(torch.eye(11, 8) * 3)
        model.unembed.weight.copy_(model.embed.weight)
    got = ov_copying(model, 1, 0)  # head 0 reads and writes dimensions 0 ... 3
    assert got["eigen"] == pytest.approx(1.0, abs=1e-5)
    assert 0 < got["diagonal"] < 1  # tokens 0-3 copy; the others get no logit at all


def test_path_patching_identities():
    model = tiny()
    clean = repeated_tokens(6, 6, vocab=11, seed=0)
    corrupted = shuffled_first_half(clean, seed=0)
    assert not torch.equal(clean, corrupted) and torch.equal(clean[:, 6:], corrupted[:, 6:])
    everything = ["embed", (0, 0), (0, 1)]
    receivers = ["attn.1.query_in", "attn.1.key_in", "attn.1.value_in", "resid.2"]
    with torch.no_grad():
        with intervene(model, path_patching(model, clean, corrupted, everything, receivers)):
            patched = model(clean)
        torch.testing.assert_close(patched, model(corrupted), atol=1e-5, rtol=0)
        with intervene(model, path_patching(model, clean, clean, everything, receivers)):
            same = model(clean)
        torch.testing.assert_close(same, model(clean), atol=1e-6, rtol=0)
        # only the keys patched: layer 1's pattern changes, layer 0's cannot
        edits = path_patching(model, clean, corrupted, [(0, 0)], ["attn.1.key_in"])
        with intervene(model, edits):
            rec = record_activations(model, clean, ["attn.0.pattern", "attn.1.pattern"])
        ref = record_activations(model, clean, ["attn.0.pattern", "attn.1.pattern"])
        assert torch.equal(rec["attn.0.pattern"], ref["attn.0.pattern"])
        assert not torch.allclose(rec["attn.1.pattern"], ref["attn.1.pattern"])
        # values only: no pattern moves
        edits = path_patching(model, clean, corrupted, [(0, 0)], ["attn.1.value_in"])
        with intervene(model, edits):
            rec = record_activations(model, clean, ["attn.1.pattern"])
        torch.testing.assert_close(rec["attn.1.pattern"], ref["attn.1.pattern"])
    with pytest.raises(ValueError, match="receivers"):
        path_patching(model, clean, corrupted, [(1, 0)], ["attn.1.key_in"])
    with pytest.raises(ValueError, match="receivers"):
        path_patching(model, clean, corrupted, [(0, 0)], ["attn.1.keys"])
    with pytest.raises(ValueError, match="senders"):
        path_patching(model, clean, corrupted, [(0, 5)], ["attn.1.key_in"])
    with pytest.raises(TypeError, match="senders"):
        path_patching(model, clean, corrupted, (0, 0), ["attn.1.key_in"])
    with pytest.raises(ValueError, match="one shape"):
        path_patching(model, clean, corrupted[:2], [(0, 0)], ["attn.1.key_in"])


def test_activation_and_attribution_patching():
    model = tiny()
    clean = repeated_tokens(6, 6, vocab=11, seed=0)
    corrupted = shuffled_first_half(clean, seed=0)
    metric = second_half_loss(clean)
    exact = activation_patching(model, clean, corrupted, metric)
    assert exact.shape == (2, 2) and exact.abs().max() > 0
    zero = activation_patching(model, clean, clean, metric)
    torch.testing.assert_close(zero, torch.zeros(2, 2), atol=1e-6, rtol=0)
    est = attribution_patching(model, clean, corrupted, metric)
    assert est.shape == (2, 2) and est.abs().max() > 0
    torch.testing.assert_close(
        attribution_patching(model, clean, clean, metric), torch.zeros(2, 2), atol=1e-6, rtol=0
    )

    # a metric linear in the last layer's head outputs: the first-order estimate is exact
    def linear(logits):
        return logits[:, :, 0].mean()

    exact1 = activation_patching(model, clean, corrupted, linear)[1]
    est1 = attribution_patching(model, clean, corrupted, linear)[1]
    torch.testing.assert_close(est1, exact1, atol=1e-5, rtol=1e-4)


def test_train_induction_records_and_is_deterministic():
    kw = dict(steps=6, every=3, seq_len=12, vocab=11, copy=(2, 6), d_model=8, n_heads=2, batch=4)
    checkpoints = []
    model, history = train_induction(**kw, checkpoints=checkpoints)
    assert history.step.tolist() == [0, 3, 6] and len(checkpoints) == 3
    assert {"copied_loss", "other_loss", "prev_0.1", "ind_1.0"} <= set(history)
    _, again = train_induction(**kw)
    assert history.equals(again)
    _, other = train_induction(**kw, seed=1)
    assert not history.equals(other)
    assert history.copied_loss.iloc[0] != history.copied_loss.iloc[-1]  # it trained


def test_save_and_load(tmp_path):
    model = tiny()
    save_model(model, tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    toks = torch.randint(11, (2, 12))
    with torch.no_grad():
        torch.testing.assert_close(back(toks), model(toks))
