"""Lesson 8 benchmark: what the lesson's interventions cost, and batched vs per-sample patching.

Times, on the trained p = 7 target of Lesson 7 (49 pairs, 3 hidden layers of 16 units):

1. per-unit mean ablation of every hidden unit (`ablation_effects`, 48 forward passes);
2. per-unit activation patching (`patching_effects`, 48 forward passes);
3. the same per-unit patching done one input at a time (49 × 48 forward passes), the loop the
   lesson avoids;
4. amnesic probing of `a` in one layer (two rounds, five random subspaces per round).

Run: `python benchmarks/bench_interventions.py` (one thread, as the lessons use). CPU times are
reported next to wall times, since the machine may be shared.

`python benchmarks/bench_interventions.py --seeds` instead repeats the lesson's decodable-vs-used
comparison for the trained target of each of Lesson 7's seeds (0-4) and writes one row per seed
and hidden layer to `benchmarks/results/interventions_seeds.csv`, which Lesson 8 shows.

`python benchmarks/bench_interventions.py --post-units` ablates each of the 25 hidden units of the
post's mod-2 network (`trained_target(2, seed)`, seeds 0-4) with each of the three ablations, on
the lesson's 10,000 pairs, and writes one row per seed and unit to
`benchmarks/results/interventions_post_units.csv`, which Lesson 8 shows, with each network's
smallest logit margin (correct logit minus the best wrong one) over the pairs.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402
from dataclasses import replace  # noqa: E402

torch.set_num_threads(1)
from interpcourse.interventions import (  # noqa: E402
    ablation_effects,
    amnesic_probing,
    intervene,
    patch_from,
    patching_effects,
)
from interpcourse.activations import record_activations, trained_target  # noqa: E402
from interpcourse.controls import ControlConfig, layer_probes, target_networks  # noqa: E402
from interpcourse.target import all_pairs, encode_pairs, inputs_of, modular_data  # noqa: E402
from interpcourse.training import accuracy, stream  # noqa: E402


def timed(label, f):
    "Run `f`, print its wall and CPU seconds, return its result."
    wall, cpu = time.perf_counter(), time.process_time()
    out = f()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<48} {wall:6.3f} s wall {cpu:6.3f} s cpu")
    return out


def per_sample_patching(net, X, Xc, y, yc):
    "Per-unit patching restorations computed one input at a time (the slow way)."
    clean = record_activations(net, X)
    out = {}
    with torch.no_grad():
        for layer in net.hidden_names:
            for unit in range(clean[layer].shape[1]):
                total = 0.0
                for i in range(len(X)):
                    with intervene(net, {layer: patch_from(clean[layer][i : i + 1], unit)}):
                        logits = net(Xc[i : i + 1])[0]
                    total += (logits[y[i]] - logits[yc[i]]).item()
                out[(layer, unit)] = total / len(X)
    return out


def main():
    X, y = all_pairs(7)
    # Lesson 7's trained p = 7 target, as the lesson uses it
    net = target_networks(ControlConfig(networks=("trained",)), seed=0)["trained"]
    a, b = inputs_of(X)
    shift = torch.randint(1, 7, (49,), generator=stream(0, "corrupted sequences"))
    Xc, yc = encode_pairs((a + shift) % 7, b, 7), (a + shift + b) % 7
    timed("ablation_effects, 48 units (batched)", lambda: ablation_effects(net, X, y))
    batched = timed(
        "patching_effects, 48 units (batched)",
        lambda: patching_effects(net, X, Xc, y, yc, per="unit"),
    )
    slow = timed(
        "per-unit patching, one input at a time", lambda: per_sample_patching(net, X, Xc, y, yc)
    )
    diffs = [abs(r.logit_diff - slow[(r.layer, r.unit)]) for r in batched.itertuples()]
    print(f"largest difference batched vs per-sample logit difference: {max(diffs):.2e}")
    timed("amnesic_probing of a, tanh1, 2 rounds", lambda: amnesic_probing(net, X, y, a, "tanh1"))


RESULTS = Path(__file__).resolve().parent / "results" / "interventions_seeds.csv"


def across_seeds(config=ControlConfig()):
    "Per seed and hidden layer of the trained target: decodable (unseen pairs) vs used."
    import pandas as pd

    X, y = all_pairs(config.p, config.op)
    a, b = inputs_of(X)
    shift = torch.randint(1, config.p, (len(X),), generator=stream(0, "corrupted sequences"))
    Xc, yc = encode_pairs((a + shift) % config.p, b, config.p), (a + shift + b) % config.p
    probes = layer_probes(config)
    probes = probes[(probes.network == "trained") & probes.layer.str.startswith("tanh")]
    rows = []
    for seed in config.seeds:
        net = target_networks(replace(config, networks=("trained",)), seed)["trained"]
        drops = ablation_effects(net, X, y).groupby("layer").accuracy_drop.max()
        patched = patching_effects(net, X, Xc, y, yc, per="unit").groupby("layer").restored.max()
        for layer in net.hidden_names:
            amnesic = amnesic_probing(net, X, y, a, layer, rounds=1, seed=seed).iloc[1]
            probe = probes[(probes.seed == seed) & (probes.layer == layer)].iloc[0]
            rows.append(
                {
                    "seed": seed,
                    "layer": layer,
                    "a decodable": probe.a,
                    "answer decodable": probe.output,
                    "unit ablated (max)": drops[layer],
                    "unit patched (max)": patched[layer],
                    "a removed: accuracy": amnesic["network accuracy"],
                    "random removed: accuracy": amnesic["random accuracy"],
                }
            )
    return pd.DataFrame(rows)


POST_UNITS = RESULTS.with_name("interventions_post_units.csv")


def post_units(seeds=(0, 1, 2, 3, 4)):
    "Per seed of the post's mod-2 network and hidden unit: accuracy drop under each ablation."
    import pandas as pd

    X, y = modular_data(p=2, n=10_000, seed=0)
    tables = []
    for seed in seeds:
        net = trained_target(2, seed)
        drops = {
            how: ablation_effects(net, X, y, how=how).set_index(["layer", "unit"]).accuracy_drop
            for how in ("mean", "resample", "zero")
        }
        t = pd.DataFrame(drops).reset_index()
        with torch.no_grad():
            logits = net(X)
        right = logits.gather(1, y[:, None])[:, 0]
        best_wrong = logits.scatter(1, y[:, None], float("-inf")).max(1).values
        t.insert(0, "smallest margin", (right - best_wrong).min().item())  # on its closest pair
        t.insert(0, "network accuracy", accuracy(net, X, y))
        t.insert(0, "seed", seed)
        tables.append(t)
    return pd.concat(tables, ignore_index=True)


if __name__ == "__main__":
    if "--seeds" in sys.argv:
        table = timed("decodable vs used, seeds 0-4", across_seeds)
        RESULTS.parent.mkdir(exist_ok=True)
        table.round(4).to_csv(RESULTS, index=False)
        print(table.groupby("layer").agg(["mean", "std"]).round(2).T.to_string())
    elif "--post-units" in sys.argv:
        table = timed("the post's 25 units, seeds 0-4", post_units)
        POST_UNITS.parent.mkdir(exist_ok=True)
        table.round(4).to_csv(POST_UNITS, index=False)
        needed = table.assign(needed=table["mean"] > 0.05).groupby(["seed", "layer"]).needed.sum()
        print(needed.unstack("layer").to_string())
    else:
        main()
