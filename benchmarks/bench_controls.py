"""Lesson 7 benchmark: wall and CPU time of the lesson's experiments, default configuration.

1. `run_controls` + `summarise_controls` (p = 7, add, 5 seeds, both splits, conv and linear
   probes, trained/untrained/partial targets): the summary table of the lesson, with the number
   of probes trained and the epochs they ran;
2. `layer_probes` (linear probes per layer, trained and untrained target, 5 seeds);
3. the exercises' experiments: the full-budget probes of Exercise 1 and the per-layer probes for
   multiplication of Exercise 3 (3 seeds).

Run: `python benchmarks/bench_controls.py [--seeds N]` (one thread, as the lessons use).
"""

import argparse
import os
import time
from dataclasses import replace

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)
from interpcourse.controls import ControlConfig, run_controls, summarise_controls  # noqa: E402
from interpcourse.controls import layer_probes  # noqa: E402


def timed(f):
    "`f()`, its wall time and its CPU time in seconds."
    w, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w, time.process_time() - c


def main(n_seeds=5):
    cfg = ControlConfig(seeds=tuple(range(n_seeds)))
    results, wall, cpu = timed(lambda: run_controls(cfg))
    table = summarise_controls(results)
    cols = ["seed", "split", "network", "probe", "a", "b", "output", "all", "epochs"]
    trained = results.drop_duplicates(cols)
    print(
        f"summary table ({len(table)} rows, {len(results)} result rows, ~{len(trained)} probes"
        f" trained, {int(trained.epochs.sum())} epochs): wall {wall:.1f} s, cpu {cpu:.1f} s"
    )
    print(trained.groupby("probe").epochs.agg(["count", "mean", "max"]).round(1).to_string())
    per_layer, wall, cpu = timed(lambda: layer_probes(cfg))
    print(f"layer_probes ({len(per_layer)} rows): wall {wall:.1f} s, cpu {cpu:.1f} s")
    ex1_cfg = replace(
        cfg,
        splits=("unseen",),
        probes=("linear",),
        networks=("trained", "untrained"),
        targets=("true answer",),
        stop_when_fit=False,
    )
    _, wall, cpu = timed(lambda: run_controls(ex1_cfg))
    print(f"Exercise 1 (full-budget linear probes): wall {wall:.1f} s, cpu {cpu:.1f} s")
    _, wall, cpu = timed(lambda: layer_probes(replace(cfg, op="mul", seeds=(0, 1, 2))))
    print(f"Exercise 3 (layer_probes, mul, 3 seeds): wall {wall:.1f} s, cpu {cpu:.1f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--seeds", type=int, default=5, help="number of seeds (default 5, as in the lesson)"
    )
    main(ap.parse_args().seeds)
