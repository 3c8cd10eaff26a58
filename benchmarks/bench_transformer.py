"""Lesson 11 across seeds: grokking steps and seconds, key frequencies, restriction/exclusion,
the cos(w(a+b-c)) logit fit and Zhong et al.'s clock/pizza measures; TransformerLens check.

    python benchmarks/bench_transformer.py [--seeds 0 1 2] [--mlp] [--lens]

Writes benchmarks/results/transformer_seeds.csv (one row per seed). --mlp adds Lesson 9's MLP
(train_grokking, ReLU, width 128) on the same split; --lens loads seed 0's weights into
TransformerLens's HookedTransformer (benchmark only) and compares logits. transformer-lens 4.3.0
no longer has HookedTransformer (4.0 replaced it by TransformerBridge, which wraps Hugging Face
models), and 2.x needs numpy < 2 while this environment's pandas/pyarrow need numpy 2: the check
runs where a 2.x install imports, and otherwise prints why it was skipped.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from interpcourse.grokking import filter_waves, first_step, key_frequencies, train_grokking
from interpcourse.transformer import (
    ModularTransformer,
    embedding_spectrum,
    modular_tokens,
    train_transformer,
)

RESULTS = Path(__file__).parent / "results"


def with_embedding(model, freqs, keep):
    "A copy whose number-token embedding keeps (or loses) `freqs` over the token axis."
    edited = ModularTransformer(**model.config)
    edited.load_state_dict(model.state_dict())
    W = edited.embed.weight.data
    W[: model.p] = filter_waves(W[: model.p], freqs, keep, dim=0)
    return edited


@torch.no_grad()
def accuracy(model, tokens, y):
    return (model(tokens).argmax(1) == y).float().mean().item()


@torch.no_grad()
def cosine_fit(model, tokens, freqs):
    "Share of the centred logits' variance explained by cos(2πk(a+b−c)/p), k in freqs."
    p = model.p
    L = model(tokens)
    L = L - L.mean(1, keepdim=True)
    d = (tokens[:, :2].sum(1, keepdim=True) - torch.arange(p)) % p
    basis = torch.stack([torch.cos(2 * math.pi * k * d / p).flatten() for k in freqs], 1)
    alpha = torch.linalg.lstsq(basis, L.flatten()[:, None]).solution
    residual = L.flatten() - (basis @ alpha).squeeze(1)
    return 1 - (residual**2).sum().item() / (L**2).sum().item()


def gradient_symmetricity(model, tokens, y, n=100, seed=0):
    """Zhong et al. (2023): mean cosine similarity between the gradients of the logit of c
    with respect to the input vectors of a (position 0) and of b (position 1), over n triples."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(len(tokens), (n,), generator=g)
    c = torch.randint(model.p, (n,), generator=g)
    x = (model.embed(tokens[rows]) + model.pos.weight).detach().requires_grad_(True)
    mid = x[:, -1] + model.attn(x)
    logits = model.unembed(mid + model.mlp(mid))
    logits[torch.arange(n), c].sum().backward()
    return nn.functional.cosine_similarity(x.grad[:, 0], x.grad[:, 1], dim=1).mean().item()


@torch.no_grad()
def distance_irrelevance(model, tokens, y):
    """Zhong et al. (2023): the correct logit's std within each distance d = a − b mod p,
    averaged over d, divided by its std over all pairs (near 1: distance does not matter)."""
    p = model.p
    correct = model(tokens)[torch.arange(len(y)), y]
    d = (tokens[:, 0] - tokens[:, 1]) % p
    within = torch.stack([correct[d == k].std() for k in range(p)]).mean()
    return (within / correct.std()).item()


def lens_check(model, tokens):
    "Max |logit difference| between our model and HookedTransformer with the same weights."
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    c = model.config
    cfg = HookedTransformerConfig(
        n_layers=1, d_model=c["d_model"], d_head=c["d_model"] // c["n_heads"],
        n_heads=c["n_heads"], d_mlp=c["d_mlp"], d_vocab=c["p"] + 1, d_vocab_out=c["p"],
        n_ctx=3, act_fn="relu", normalization_type=None, attn_only=False,
    )  # fmt: skip
    lens = HookedTransformer(cfg)
    W = {k: v.detach() for k, v in model.state_dict().items()}
    H, dh, d = cfg.n_heads, cfg.d_head, cfg.d_model
    sd = lens.state_dict()
    sd["embed.W_E"] = W["embed.weight"]
    sd["pos_embed.W_pos"] = W["pos.weight"]
    for ours, theirs in (("query", "W_Q"), ("key", "W_K"), ("value", "W_V")):
        w = W[f"attn.{ours}.weight"].T.reshape(d, H, dh)
        sd[f"blocks.0.attn.{theirs}"] = w.permute(1, 0, 2)
    sd["blocks.0.attn.W_O"] = W["attn.output.weight"].T.reshape(H, dh, d)
    for name in ("b_Q", "b_K", "b_V"):
        sd[f"blocks.0.attn.{name}"] = torch.zeros(H, dh)
    sd["blocks.0.attn.b_O"] = torch.zeros(d)
    sd["blocks.0.mlp.W_in"] = W["mlp.into.weight"].T
    sd["blocks.0.mlp.b_in"] = W["mlp.into.bias"]
    sd["blocks.0.mlp.W_out"] = W["mlp.out.weight"].T
    sd["blocks.0.mlp.b_out"] = W["mlp.out.bias"]
    sd["unembed.W_U"] = W["unembed.weight"].T
    sd["unembed.b_U"] = torch.zeros(c["p"])
    lens.load_state_dict(sd, strict=False)
    with torch.no_grad():
        theirs = lens(tokens)[:, -1]
        ours = model(tokens)
    return (theirs - ours).abs().max().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mlp", action="store_true")
    parser.add_argument("--lens", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "transformer_seeds.csv"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokens, y = modular_tokens(59)
    rows = []
    for seed in args.seeds:
        wall, cpu = time.time(), time.process_time()
        model, history = train_transformer(seed=seed)
        wall, cpu = time.time() - wall, time.process_time() - cpu
        energy = embedding_spectrum(model)
        key = key_frequencies(energy)
        share = (energy[key].sum() / energy[1:].sum()).item()
        row = dict(
            seed=seed,
            train_099=first_step(history, "train_acc", 0.99),
            test_099=first_step(history, "test_acc", 0.99),
            steps=int(history.step.iloc[-1]),
            cpu_s=round(cpu, 1),
            wall_s=round(wall, 1),
            key=" ".join(map(str, key)),
            key_share=round(share, 3),
            acc=round(accuracy(model, tokens, y), 4),
            keep_acc=round(accuracy(with_embedding(model, key, True), tokens, y), 4),
            remove_acc=round(accuracy(with_embedding(model, key, False), tokens, y), 4),
            logit_fit=round(cosine_fit(model, tokens, key), 3),
            grad_sym=round(gradient_symmetricity(model, tokens, y), 3),
            dist_irr=round(distance_irrelevance(model, tokens, y), 3),
        )
        if args.mlp:
            t = time.process_time()
            _, mlp_history = train_grokking(activation="relu", frac=0.4, seed=seed)
            row["mlp_test_099"] = first_step(mlp_history, "test_acc", 0.99)
            row["mlp_cpu_s"] = round(time.process_time() - t, 1)
        if args.lens and seed == args.seeds[0]:
            try:
                row["lens_max_diff"] = lens_check(model, tokens)
            except ImportError as e:
                print(f"TransformerLens check skipped: {e}")
        print(row, flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
