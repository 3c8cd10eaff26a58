"""Lesson 9 benchmark: how long `train_grokking` takes to generalise, against p, and what the
first layer looks like for other widths and weight decays.

1. Timing (always): `train_grokking` with the lesson's settings (x², 128 units, 30% of the pairs,
   AdamW lr 3e-3, weight decay 1.0, betas (0.9, 0.98), full batch, a record every 10 steps) for
   p = 31, 59, 97 and training fractions 30% and 50% (`--fracs`), stopping as soon as test accuracy
   reaches 99% (`hold=0`) or after `--max-steps`. Printed per run: the step at which the training
   pairs are all right, the step at which 99% of the test pairs are ("-": not within the steps),
   wall and CPU seconds of the whole call (records included), and milliseconds per step. `--width`
   changes the width, `--relu` adds the ReLU network (256 units, 50% of the pairs, p = 59).
2. `--sweep`: for p = 59, widths 32/64/128/256 and weight decays 0/0.3/1/2/3 (the lesson's table),
   each trained as in the lesson (`hold=100`, at most `--max-steps`): steps to 99% test accuracy,
   the median concentration of the units, the share with the same top frequency over a and b, the
   number of key frequencies (90% and 80% of the energy), and test accuracy with the first layer
   restricted to its key frequencies or stripped of them.

Run: `python benchmarks/bench_grokking.py [--sweep]` (one thread, as the lessons use). Timings are
noisy when other processes share the machine: compare CPU seconds, and say what else was running.
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch

torch.set_num_threads(1)
from interpcourse.grokking import (
    first_step,
    grokking_data,
    key_frequencies,
    restrict_frequencies,
    train_grokking,
    unit_frequencies,
)
from interpcourse.training import accuracy


def timed(**kwargs):
    "Run `train_grokking(**kwargs)`; return the model, its history, wall and CPU seconds."
    wall, cpu = time.perf_counter(), time.process_time()
    model, history = train_grokking(**kwargs)
    return model, history, time.perf_counter() - wall, time.process_time() - cpu


def timing_row(p, frac, **kwargs):
    "One line of the timing table."
    model, history, wall, cpu = timed(p=p, frac=frac, hold=0, **kwargs)
    steps = int(history.step.iloc[-1])
    fitted, grokked = first_step(history, "train_acc", 1.0), first_step(history, "test_acc", 0.99)
    return dict(
        p=p,
        frac=frac,
        train_100=fitted,
        test_99=grokked,
        steps_run=steps,
        wall_s=wall,
        cpu_s=cpu,
        ms_per_step=1000 * cpu / steps,
    )


def sweep_row(label, max_steps, **kwargs):
    "One line of the width / weight-decay table (p = 59, as in the lesson)."
    model, history, wall, cpu = timed(p=59, steps=max_steps, **kwargs)
    X, y, _, test = grokking_data(59, kwargs.get("frac", 0.3), 0)
    units, key = unit_frequencies(model), key_frequencies(model)
    return dict(
        setting=label,
        test_99=first_step(history, "test_acc", 0.99),
        steps_run=int(history.step.iloc[-1]),
        test_acc=history.test_acc.iloc[-1],
        concentration=units.concentration_a.median(),
        same_a_b=(units.freq_a == units.freq_b).mean(),
        key_90=len(key),
        key_80=len(key_frequencies(model, 0.8)),
        kept=accuracy(restrict_frequencies(model, key), X[test], y[test]),
        removed=accuracy(restrict_frequencies(model, key, keep=False), X[test], y[test]),
        cpu_s=cpu,
    )


def show(rows, formats):
    "Print rows of dicts as an aligned table."
    keys = list(rows[0])
    cells = [
        [formats.get(k, "{}").format(r[k]) if r[k] is not None else "-" for k in keys] for r in rows
    ]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.rjust(w) for k, w in zip(keys, widths)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fracs", type=float, nargs="+", default=[0.3, 0.5], help="train fractions"
    )
    parser.add_argument("--width", type=int, default=128, help="hidden units")
    parser.add_argument("--max-steps", type=int, default=6000, help="the most steps per run")
    parser.add_argument("--relu", action="store_true", help="also time ReLU, 256 units, 50%%")
    parser.add_argument("--sweep", action="store_true", help="also the width/weight-decay table")
    args = parser.parse_args()
    common = dict(width=args.width, steps=args.max_steps)
    print(f"train_grokking to 99% test accuracy: x², {args.width} units")
    rows = [timing_row(p, frac, **common) for p in (31, 59, 97) for frac in args.fracs]
    if args.relu:
        relu = timing_row(59, 0.5, width=256, activation="relu", steps=args.max_steps)
        rows.append(dict(relu, p="59 relu"))
    show(rows, dict(frac="{:.0%}", wall_s="{:.1f}", cpu_s="{:.1f}", ms_per_step="{:.2f}"))
    if args.sweep:
        print("\np = 59, 30% of the pairs, trained as in the lesson (hold 100 steps at 99%)")
        settings = [(f"{w} units", dict(width=w)) for w in (32, 64, 128, 256)]
        settings += [(f"weight decay {wd}", dict(weight_decay=wd)) for wd in (0.0, 0.3, 2.0, 3.0)]
        rows = [sweep_row(label, args.max_steps, **kw) for label, kw in settings]
        show(
            rows,
            dict(
                test_acc="{:.3f}",
                concentration="{:.2f}",
                same_a_b="{:.2f}",
                kept="{:.3f}",
                removed="{:.3f}",
                cpu_s="{:.1f}",
            ),
        )


if __name__ == "__main__":
    main()
