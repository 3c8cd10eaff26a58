"""Lesson 10 benchmark: how long the toy models and the SAEs take, and whether the lesson's
findings hold beyond its one seed.

Writes `benchmarks/results/superposition.csv` (one row per measurement: part, setting, seed,
value columns) and prints it:

1. timing: `train_toy_models` with the lesson's settings (5 features, 2 dimensions, 6
   sparsities x 3 seeds, 500 steps of batch 512) and `train_sae` on the planted data (64
   latents, k = 2, 500 steps of batch 256): wall and CPU seconds.
2. toy seeds: the lesson's toy for seeds 0-4 (each 3 instances per sparsity): per sparsity,
   how many instances represent 2, 3, 4 or 5 features, and the mean D of the kept features.
3. planted seeds: the lesson's planted data and TopK SAE (k = 2) for seeds 0-4, with both
   controls (a random dictionary; an SAE trained on re-drawn directions): MMCS and recovery.
   FVU is cross-checked against scikit-learn's `r2_score` (variance-weighted) where installed.
4. grokked seeds: `train_grokking` with its defaults for seeds 0-2, the lesson's SAE (128
   latents, k = 8): FVU, loss recovered, spliced accuracy, median frequency purity of the
   latents and of random directions.

SAELens is not run: installing it pulls in TransformerLens, datasets and their dependencies
(several hundred MB), too much for the shared environment; its training loop also expects a
model and a token data set rather than a tensor of activations. The FVU formula we pin (sum of
squares about the mean) is the one SAELens settled on (its PR #443 and issue #659).

Run: `python benchmarks/bench_superposition.py` (one thread, about a minute of one core).
Timings are noisy when other processes share the machine: compare CPU seconds.
"""

import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from interpcourse.grokking import grokking_data, train_grokking, unit_frequencies  # noqa: E402
from interpcourse.activations import record_activations  # noqa: E402
from interpcourse.superposition import (  # noqa: E402
    feature_dimensionality,
    frequency_purity,
    dictionary_recovery,
    loss_recovered,
    max_cosine_similarity,
    planted_features,
    random_dictionary,
    sae_metrics,
    train_sae,
    train_toy_models,
)

torch.set_num_threads(1)
OUT = Path(__file__).parent / "results" / "superposition.csv"


def timed(f):
    w, c = time.perf_counter(), time.process_time()
    r = f()
    return r, time.perf_counter() - w, time.process_time() - c


def main():
    rows = []
    toy, w, c = timed(lambda: train_toy_models(seed=0))
    rows.append(dict(part="timing", setting="train_toy_models", seed=0, wall_s=w, cpu_s=c))
    acts, dirs = planted_features(seed=0)
    _, w, c = timed(lambda: train_sae(acts, n_latents=64, k=2))
    rows.append(dict(part="timing", setting="train_sae k=2", seed=0, wall_s=w, cpu_s=c))

    for seed in range(5):
        toy = train_toy_models(seed=seed)
        W = toy.W.detach()
        kept = (W.norm(dim=1) > 0.5).sum(1)
        dims, _ = feature_dimensionality(W)
        d_kept = torch.where(W.norm(dim=1) > 0.5, dims, torch.nan).nanmean(1)
        for s in torch.unique(1 - toy.probability):
            m = (1 - toy.probability) == s
            counts = {f"kept_{k}": int((kept[m] == k).sum()) for k in range(2, 6)}
            alive = W.norm(dim=1)[m] > 0.5  # the kept ones are the most important ones:
            counts["kept_top"] = int((alive == (torch.arange(5) < alive.sum(1, True))).all(1).sum())
            rows.append(
                dict(
                    part="toy",
                    setting=f"S={float(s):.2f}",
                    seed=seed,
                    **counts,
                    mean_D_kept=float(d_kept[m].mean()),
                )
            )

    for seed in range(10):  # seed 0 is the page's: data 0, re-drawn data 1, SAEs and dictionary 0
        acts, dirs = planted_features(seed=seed)
        acts2, _ = planted_features(seed=seed + 1)
        sae = train_sae(acts, n_latents=64, k=2, seed=seed)
        sae2 = train_sae(acts2, n_latents=64, k=2, seed=seed)
        rand = max_cosine_similarity(dirs, random_dictionary(64, 10, seed=seed))
        row = dict(part="planted", setting="TopK k=2", seed=seed, **sae_metrics(sae, acts))
        row.update(dictionary_recovery(dirs, sae))
        try:
            from sklearn.metrics import r2_score

            with torch.no_grad():
                r2 = r2_score(acts.numpy(), sae(acts).numpy(), multioutput="variance_weighted")
            row["fvu_sklearn"] = 1 - r2
        except ImportError:
            pass
        rows.append(row)
        init = {f"{k}_init": v for k, v in rand.items()}  # untrained: it starts where it ends
        rows.append(dict(part="planted", setting="random dictionary", seed=seed, **rand, **init))
        rows.append(
            dict(
                part="planted",
                setting="SAE on re-drawn directions",
                seed=seed,
                **dictionary_recovery(dirs, sae2),
            )
        )
        if seed < 5:  # the page's k comparison, every k trained 500 steps
            for k in (1, 2, 4, 8):
                sae_k = sae if k == 2 else train_sae(acts, n_latents=64, k=k, seed=seed)
                rows.append(
                    dict(
                        part="k sweep",
                        setting=f"k={k}",
                        seed=seed,
                        **sae_metrics(sae_k, acts),
                        **dictionary_recovery(dirs, sae_k),
                    )
                )

    for seed in range(3):
        (model, _), w, c = timed(lambda: train_grokking(seed=seed))
        X, y, _, _ = grokking_data(59, 0.3, seed)
        hidden = record_activations(model, X, "act")["act"]
        sae = train_sae(hidden, n_latents=128, k=8, steps=400)
        freqs = unit_frequencies(model)["freq_a"].to_numpy()
        rand = random_dictionary(128, 128, seed=seed)
        lr = loss_recovered(model, "act", sae, X, y)
        lr_zero = loss_recovered(model, "act", sae, X, y, ablation="zero")
        rows.append(
            dict(
                part="grokked",
                setting="128 latents k=8",
                seed=seed,
                **sae_metrics(sae, hidden),
                loss_recovered=lr["loss_recovered"],
                loss_recovered_zero=lr_zero["loss_recovered"],
                spliced_acc=lr["spliced_acc"],
                purity_sae=float(frequency_purity(sae.W_dec.detach(), freqs).median()),
                purity_random=float(frequency_purity(rand, freqs).median()),
                grok_cpu_s=c,
            )
        )
    table = pd.DataFrame(rows).round(4)
    OUT.parent.mkdir(exist_ok=True)
    table.to_csv(OUT, index=False)
    print(table.to_string())


if __name__ == "__main__":
    main()
