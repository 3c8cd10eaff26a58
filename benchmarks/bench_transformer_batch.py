"""Would Lesson 11 train its seeds faster as one batched ensemble? Milliseconds per full-batch
AdamW step on one thread: one model; three models one after another; three models stacked
with torch.func (stack_module_state + vmap), the usual way to batch small networks.

    python benchmarks/bench_transformer_batch.py [--steps 60]

Writes benchmarks/results/transformer_batch.csv. The network is compute-bound at this size (about
1,400 training pairs a step), so batching seeds saves nothing: the lesson trains one seed and
reads the others from bench_transformer.py's table.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import pandas as pd
import torch
from torch.func import functional_call, stack_module_state, vmap

from interpcourse.grokking import ADAMW, grokking_data
from interpcourse.transformer import ModularTransformer, modular_tokens

RESULTS = Path(__file__).parent / "results"
LR, WEIGHT_DECAY = 1e-2, 1.0  # the lesson's recipe


def one_after_another(models, X, y, steps) -> float:
    "Milliseconds per step for `models` trained one after another."
    optimizers = [ADAMW(m.parameters(), lr=LR, weight_decay=WEIGHT_DECAY) for m in models]
    start = time.process_time()
    for _ in range(steps):
        for model, optimizer in zip(models, optimizers):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X), y).backward()
            optimizer.step()
    return (time.process_time() - start) / steps * 1000


def stacked(models, X, y, steps) -> float:
    "Milliseconds per step for `models` stacked into one vmapped ensemble."
    params, buffers = stack_module_state(models)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    base = copy.deepcopy(models[0]).to("meta")

    def forward(p, b, x):
        return functional_call(base, (p, b), (x,))

    optimizer = ADAMW(params.values(), lr=LR, weight_decay=WEIGHT_DECAY)
    start = time.process_time()
    for _ in range(steps):
        optimizer.zero_grad()
        logits = vmap(forward, in_dims=(0, 0, None))(params, buffers, X)
        sum(torch.nn.functional.cross_entropy(out, y) for out in logits).backward()
        optimizer.step()
    return (time.process_time() - start) / steps * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokens, answers = modular_tokens(59)
    _, _, train, _ = grokking_data(59, 0.4, 0)
    X, y = tokens[train], answers[train]
    rows = []
    for name, models, run in [
        ("one model", 1, one_after_another),
        ("three, one after another", 3, one_after_another),
        ("three, stacked (vmap)", 3, stacked),
    ]:
        ms = run([ModularTransformer(59) for _ in range(models)], X, y, args.steps)
        rows.append(dict(setup=name, models=models, ms_per_step=round(ms, 1)))
        print(rows[-1], flush=True)
    pd.DataFrame(rows).to_csv(RESULTS / "transformer_batch.csv", index=False)


if __name__ == "__main__":
    main()
