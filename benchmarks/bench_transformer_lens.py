"""Lesson 11's ModularTransformer, weights loaded into TransformerLens's HookedTransformer: same
logits? (benchmark only; TransformerLens is not a dependency of the course)

    /work/venvs/tl/bin/python benchmarks/bench_transformer_lens.py    # from the repo root

Writes benchmarks/results/transformer_lens.csv: for an untrained model (`seed_everything(0)`, as
Lesson 11 builds its control) and for train_transformer(seed=0) with its defaults (Lesson 11's
network, lr 1e-2, 1,650 steps; about 25 s CPU), over all
p² = 3481 pairs, the largest |difference| of the logits at "=", of the attention pattern at "="
(hook_pattern) and of the residual stream after attention at "=" (hook_resid_mid), and the share
of pairs whose predicted answer (argmax) is the same. A control loads the query, key and value
weights without transposing nn.Linear's (out, in) layout: the logits must then differ by far
more, or the check would show nothing. The script stops with an error if the logits differ by
more than 1e-4 or the control's by less than 1e-2. Whole run: about 1 min wall on one thread.

Why a separate environment. HookedTransformer was removed in transformer-lens 4.0 (the newest,
4.3.0, raises ImportError for it and points to TransformerBridge, which wraps Hugging Face
models). 2.x (2.18.0) pins numpy < 2 and, on Python < 3.12, pandas < 2.1, while the course needs
pandas >= 2.1 and its venv has numpy 2. 3.9.0, the last 3.x, still has HookedTransformer (it
warns that it is deprecated) and imports with numpy 2, but it pulls in transformers, datasets,
accelerate and wandb (hundreds of MB), which the course must not depend on. So the check runs in
its own venv, made with:

    python3.11 -m venv /work/venvs/tl
    /work/venvs/tl/bin/pip install torch==2.13.0          # first, pinned: CPU build
    /work/venvs/tl/bin/pip install torch==2.13.0 transformer-lens==3.9.0 "numpy>=2" \\
        "pandas>=2.1" "matplotlib>=3.8" "safetensors>=0.4" fastprogress fastcore
    /work/venvs/tl/bin/pip install --no-deps -e .   # interpcourse, from this tree

(torch is named again in the second install so pip cannot replace it by another build. Here pip
finds torch 2.13.0+cpu in the machine's local wheel folder; elsewhere point pip at PyTorch's CPU
wheel index for that first install, or it fetches the multi-GB CUDA build.)
Versions measured: torch 2.13.0+cpu, transformer-lens 3.9.0, transformers 5.25.0, numpy 2.4.6,
pandas 3.1.1, Python 3.11.7. Nothing is downloaded at run time (no pretrained model, no
tokenizer: HookedTransformer is built from a config and fed token ids). Without the editable
install, `PYTHONPATH=. /work/venvs/tl/bin/python benchmarks/bench_transformer_lens.py` imports the
tree's package the same way.

An earlier version of this check (in bench_transformer.py, never run) loaded with strict=False,
so a misspelt or missing key would have left TransformerLens's random initial weights in place
without an error; here every key of lens.state_dict() must be assigned, or a KeyError names the
missing ones, and the load is strict. The attention pattern and the residual stream at "=" are
compared too, and a wrong-layout control shows the check can fail.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import torch

from interpcourse.training import seed_everything
from interpcourse.transformer import ModularTransformer, modular_tokens, train_transformer

RESULTS = Path(__file__).parent / "results"


def lens_model(model: ModularTransformer, transpose: bool = True):
    """A HookedTransformer with `model`'s weights. transpose=False is the control: Q, K, V read
    as if nn.Linear stored (in, out) instead of (out, in)."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    c = model.config
    cfg = HookedTransformerConfig(
        n_layers=1, d_model=c["d_model"], d_head=c["d_model"] // c["n_heads"],
        n_heads=c["n_heads"], d_mlp=c["d_mlp"], d_vocab=c["p"] + 1, d_vocab_out=c["p"],
        n_ctx=3, act_fn="relu", normalization_type=None, attn_only=False,
        positional_embedding_type="standard",
    )  # fmt: skip
    lens = HookedTransformer(cfg)
    W = {k: v.detach() for k, v in model.state_dict().items()}
    H, dh, d = cfg.n_heads, cfg.d_head, cfg.d_model
    sd = {k: v for k, v in lens.state_dict().items() if k.endswith((".mask", ".IGNORE"))}
    sd["embed.W_E"] = W["embed.weight"]  # (p + 1, d): a row per token
    sd["pos_embed.W_pos"] = W["pos.weight"]  # (3, d)
    for ours, theirs in (("query", "Q"), ("key", "K"), ("value", "V")):
        w = W[f"attn.{ours}.weight"]  # nn.Linear: (out = heads * d_head, in = d_model)
        w = w.T if transpose else w
        sd[f"blocks.0.attn.W_{theirs}"] = w.reshape(d, H, dh).permute(1, 0, 2)  # (H, d, dh)
        sd[f"blocks.0.attn.b_{theirs}"] = torch.zeros(H, dh)  # ours have no bias
    sd["blocks.0.attn.W_O"] = W["attn.output.weight"].T.reshape(H, dh, d)  # (H, dh, d)
    sd["blocks.0.attn.b_O"] = torch.zeros(d)
    sd["blocks.0.mlp.W_in"] = W["mlp.into.weight"].T  # (d, d_mlp)
    sd["blocks.0.mlp.b_in"] = W["mlp.into.bias"]
    sd["blocks.0.mlp.W_out"] = W["mlp.out.weight"].T  # (d_mlp, d)
    sd["blocks.0.mlp.b_out"] = W["mlp.out.bias"]
    sd["unembed.W_U"] = W["unembed.weight"].T  # (d, p)
    sd["unembed.b_U"] = torch.zeros(c["p"])
    missing = set(lens.state_dict()) - set(sd)
    if missing:
        raise KeyError(f"no weights given for {sorted(missing)}")
    lens.load_state_dict(sd, strict=True)
    return lens.eval()


@torch.no_grad()
def lens_check(model: ModularTransformer, tokens, transpose: bool = True) -> dict:
    "Max |difference| between `model` and its HookedTransformer: logits, pattern, resid_mid."
    lens = lens_model(model, transpose)
    seen = {}
    handles = [
        model.attn.pattern.register_forward_hook(lambda m, i, o: seen.__setitem__("pattern", o)),
        model.resid_mid.register_forward_hook(lambda m, i, o: seen.__setitem__("resid_mid", o)),
    ]
    try:
        ours = model(tokens)
    finally:
        for h in handles:
            h.remove()
    theirs, cache = lens.run_with_cache(tokens)
    return dict(
        max_abs_diff=(theirs[:, -1] - ours).abs().max().item(),
        pattern_max_diff=(cache["blocks.0.attn.hook_pattern"][:, :, -1] - seen["pattern"])
        .abs()
        .max()
        .item(),
        resid_mid_max_diff=(cache["blocks.0.hook_resid_mid"][:, -1] - seen["resid_mid"])
        .abs()
        .max()
        .item(),
        max_abs_logit=ours.abs().max().item(),
        same_argmax=(theirs[:, -1].argmax(1) == ours.argmax(1)).float().mean().item(),
    )


def main():
    torch.set_num_threads(1)
    tokens, y = modular_tokens(59)
    seed_everything(0)  # as Lesson 11 builds its untrained control
    untrained = ModularTransformer()
    t_wall, t_cpu = time.time(), time.process_time()
    trained, history = train_transformer(seed=0)
    t_wall, t_cpu = time.time() - t_wall, time.process_time() - t_cpu
    print(f"train_transformer(seed=0): {t_wall:.1f} s wall, {t_cpu:.1f} s CPU", flush=True)
    rows = []
    for name, model, steps in (
        ("untrained (seed 0)", untrained, 0),
        ("train_transformer(seed=0)", trained, int(history.step.iloc[-1])),
    ):
        model.eval()
        with torch.no_grad():
            acc = (model(tokens).argmax(1) == y).float().mean().item()
        check = lens_check(model, tokens)
        control = lens_check(model, tokens, transpose=False)["max_abs_diff"]
        row = dict(
            model=name,
            steps=steps,
            acc=round(acc, 4),
            transformer_lens_version=version("transformer-lens"),
            torch_version=torch.__version__,
            n_pairs=len(tokens),
            **{k: float(f"{v:.3g}") for k, v in check.items()},
            control_max_abs_diff=float(f"{control:.3g}"),
        )
        if check["max_abs_diff"] > 1e-4 or control < 1e-2:
            raise AssertionError(f"TransformerLens check failed: {row}")
        print(row, flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "transformer_lens.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
