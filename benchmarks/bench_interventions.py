"""Lesson 8 benchmark: what the lesson's interventions cost, and batched vs per-sample patching.

Times, on the trained p = 7 target of Lesson 7 (49 pairs, 3 hidden layers of 16 units):

1. per-unit mean ablation of every hidden unit (`ablation_effects`, 48 forward passes);
2. per-unit activation patching (`patching_effects`, 48 forward passes);
3. the same per-unit patching done one input at a time (49 × 48 forward passes), the loop the
   lesson avoids;
4. amnesic probing of `a` in one layer (two rounds, five random subspaces per round).

Run: `python benchmarks/bench_interventions.py` (one thread, as the lessons use). CPU times are
reported next to wall times, since the machine may be shared.
"""

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)
from interpcourse.interventions import (  # noqa: E402
    ablation_effects,
    amnesic_probing,
    intervene,
    patch_from,
    patching_effects,
)
from interpcourse.activations import record_activations  # noqa: E402
from interpcourse.controls import ControlConfig, target_networks  # noqa: E402
from interpcourse.target import all_pairs, encode_pairs, inputs_of  # noqa: E402


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
    shift = torch.randint(1, 7, (49,), generator=torch.Generator().manual_seed(0))
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


if __name__ == "__main__":
    main()
