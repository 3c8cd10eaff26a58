"""Lesson 12's recipe over seeds, and its forward pass against TransformerLens.

    python benchmarks/bench_induction.py                          # the course's venv; ~2 min
    /work/venvs/tl/bin/python benchmarks/bench_induction.py --lens   # TransformerLens's venv

The first writes benchmarks/results/induction_seeds.csv: for seeds 0-4, `train_induction(seed=s)`
with its defaults (the lesson's recipe), then per seed: the phase-change step (the first recorded
step whose held-out copied-position loss is below half its step-0 value), wall seconds to it and
in all, the copied-position loss at step 0 and at the end, the other positions' loss, the
previous-token head (layer 0, highest score) and its score, the best and the mean layer-1
induction score, the previous-token head's largest K-, Q- and V-composition score into a layer-1
head against the 95th percentile of random heads (`random_composition_scores`), path patching of
the previous-token head into the layer-1 keys, queries and values (the mean induction score of the
layer-1 heads on clean [r, r], the first half shuffled in the corrupted run), the correlation of
attribution patching with exact activation patching over the 8 heads, and a one-layer control.

The second (`--lens`, run in the venv that bench_transformer_lens.py describes, with this
repository on PYTHONPATH) loads the weights of an untrained and a trained model (seed 0) into an
attention-only `HookedTransformer` and writes benchmarks/results/induction_lens.csv: the largest
|difference| of the logits and of each layer's attention pattern on 100 [r, r] sequences, and a
control (W_Q, W_K, W_V loaded without transposing nn.Linear's (out, in) layout) that must differ.
"""

from __future__ import annotations

import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from interpcourse.activations import record_activations
from interpcourse.induction import (
    AttentionOnly,
    activation_patching,
    attribution_patching,
    composition_scores,
    induction_score,
    path_patching,
    previous_token_score,
    random_composition_scores,
    repeated_tokens,
    second_half_loss,
    shuffled_first_half,
    train_induction,
)
from interpcourse.interventions import intervene
from interpcourse.training import seed_everything

RESULTS = Path(__file__).parent / "results"
SEEDS = range(5)


def phase_change(history: pd.DataFrame) -> int:
    "The first recorded step whose copied-position loss is below half the loss at step 0."
    below = history.step[history.copied_loss < history.copied_loss.iloc[0] / 2]
    return int(below.iloc[0]) if len(below) else -1


@torch.no_grad()
def path_scores(model, rep, corrupted, sender) -> dict:
    "Mean layer-1 induction score with `sender` patched into each of keys, queries, values."
    out = {}
    for name in ("key_in", "query_in", "value_in"):
        edits = path_patching(model, rep, corrupted, [(0, sender)], [f"attn.1.{name}"])
        with intervene(model, edits):
            pat = record_activations(model, rep, "attn.1.pattern")["attn.1.pattern"]
        out[f"{name[0]}_patch"] = round(induction_score(pat).mean().item(), 3)
    return out


def seed_row(seed: int, random_q95) -> dict:
    t0 = time.time()
    model, history = train_induction(seed=seed)
    wall = time.time() - t0
    step = phase_change(history)
    rep = repeated_tokens(100, 20, seed=seed)
    pats = record_activations(model, rep, ["attn.0.pattern", "attn.1.pattern"])
    prev = previous_token_score(pats["attn.0.pattern"])
    ind = induction_score(pats["attn.1.pattern"])
    prev_head = int(prev.argmax())
    comp = composition_scores(model)[:, prev_head]  # (3, layer-1 heads)
    corrupted = shuffled_first_half(rep, seed=seed)
    metric = second_half_loss(rep)
    exact = activation_patching(model, rep, corrupted, metric).flatten()
    estimate = attribution_patching(model, rep, corrupted, metric).flatten()
    _, one = train_induction(n_layers=1, seed=seed)
    return dict(
        seed=seed,
        phase_step=step,
        secs_to_phase=round(wall * step / history.step.iloc[-1], 1),
        secs=round(wall, 1),
        copied_before=round(history.copied_loss.iloc[0], 3),
        copied_after=round(history.copied_loss.iloc[-1], 3),
        other_after=round(history.other_loss.iloc[-1], 3),
        prev_head=f"0.{prev_head}",
        prev_score=round(prev[prev_head].item(), 3),
        ind_head=f"1.{int(ind.argmax())}",
        ind_score=round(ind.max().item(), 3),
        ind_mean=round(ind.mean().item(), 3),
        k_comp=round(comp[1].max().item(), 3),
        q_comp=round(comp[0].max().item(), 3),
        v_comp=round(comp[2].max().item(), 3),
        k_random95=round(random_q95[1], 3),
        **path_scores(model, rep, corrupted, prev_head),
        attr_corr=round(float(np.corrcoef(exact, estimate)[0, 1]), 3),
        one_layer_copied=round(one.copied_loss.iloc[-1], 3),
    )


def seeds_table():
    torch.set_num_threads(1)
    q95 = random_composition_scores(seed=0).quantile(0.95, dim=1).tolist()
    rows = []
    for seed in SEEDS:
        rows.append(seed_row(seed, q95))
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "induction_seeds.csv", index=False)
    print(table.to_string(index=False))


def lens_model(model: AttentionOnly, transpose: bool = True):
    "A HookedTransformer with `model`'s weights; transpose=False is the wrong-layout control."
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    c = model.config
    H, d = c["n_heads"], c["d_model"]
    dh = d // H
    cfg = HookedTransformerConfig(
        n_layers=c["n_layers"], d_model=d, d_head=dh, n_heads=H, d_vocab=c["vocab"],
        n_ctx=c["seq_len"], attn_only=True, normalization_type=None, act_fn="relu",
        positional_embedding_type="standard",
    )  # fmt: skip
    lens = HookedTransformer(cfg)
    W = {k: v.detach() for k, v in model.state_dict().items()}
    sd = {k: v for k, v in lens.state_dict().items() if k.endswith((".mask", ".IGNORE"))}
    sd["embed.W_E"] = W["embed.weight"]
    sd["pos_embed.W_pos"] = W["pos.weight"]
    for layer in range(c["n_layers"]):
        for ours, theirs in (("query", "Q"), ("key", "K"), ("value", "V")):
            w = W[f"attn.{layer}.{ours}.weight"]  # (out = heads * d_head, in = d_model)
            w = w.T if transpose else w
            sd[f"blocks.{layer}.attn.W_{theirs}"] = w.reshape(d, H, dh).permute(1, 0, 2)
            sd[f"blocks.{layer}.attn.b_{theirs}"] = torch.zeros(H, dh)
        sd[f"blocks.{layer}.attn.W_O"] = W[f"attn.{layer}.output.weight"].T.reshape(H, dh, d)
        sd[f"blocks.{layer}.attn.b_O"] = torch.zeros(d)
    sd["unembed.W_U"] = W["unembed.weight"].T
    sd["unembed.b_U"] = torch.zeros(c["vocab"])
    missing = set(lens.state_dict()) - set(sd)
    if missing:
        raise KeyError(f"no weights given for {sorted(missing)}")
    lens.load_state_dict(sd, strict=True)
    return lens.eval()


@torch.no_grad()
def lens_row(name: str, model: AttentionOnly, tokens) -> dict:
    ours = model(tokens)
    pats = record_activations(model, tokens, ["attn.0.pattern", "attn.1.pattern"])
    theirs, cache = lens_model(model).run_with_cache(tokens)
    control = lens_model(model, transpose=False)(tokens)
    row = dict(
        model=name,
        logits_max_diff=float(f"{(theirs - ours).abs().max().item():.3g}"),
        **{
            f"pattern{L}_max_diff": float(
                f"{(cache[f'blocks.{L}.attn.hook_pattern'] - pats[f'attn.{L}.pattern']).abs().max().item():.3g}"  # noqa: E501
            )
            for L in (0, 1)
        },
        max_abs_logit=float(f"{ours.abs().max().item():.3g}"),
        control_max_diff=float(f"{(control - ours).abs().max().item():.3g}"),
        transformer_lens=version("transformer-lens"),
        torch=torch.__version__,
    )
    if row["logits_max_diff"] > 1e-4 or row["control_max_diff"] < 1e-2:
        raise AssertionError(f"TransformerLens check failed: {row}")
    return row


def lens_table():
    torch.set_num_threads(1)
    tokens = repeated_tokens(100, 20, seed=0)
    seed_everything(0, "induction weights")
    untrained = AttentionOnly()
    trained, _ = train_induction(seed=0)
    rows = [lens_row("untrained (seed 0)", untrained, tokens)]
    rows.append(lens_row("train_induction(seed=0)", trained, tokens))
    table = pd.DataFrame(rows)
    table.to_csv(RESULTS / "induction_lens.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    lens_table() if "--lens" in sys.argv[1:] else seeds_table()
