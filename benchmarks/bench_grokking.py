"""Lesson 9 benchmark: how fast `train_grokking` generalises, and whether the lesson's findings
hold beyond its one seed, beyond its training length and for other settings.

Each part prints its table and writes it to `benchmarks/results/` (the lesson shows the CSV files):

1. `--timing` (the default when no part is named): `train_grokking` with the lesson's settings
   (x², 128 units, 30% of the pairs, AdamW lr 3e-3, weight decay 1.0, betas (0.9, 0.98), full
   batch, a record every 10 steps) for p = 31, 59, 97 and training fractions 30% and 50%
   (`--fracs`), stopping as soon as test accuracy reaches 99% (`hold=0`) or after `--max-steps`:
   the step at which the training pairs are all right, the step at which 99% of the test pairs
   are ("-": not within the steps), wall and CPU seconds of the whole call (records included),
   milliseconds per step. -> `grokking_timing.csv`.
2. `--seeds`: the lesson's run (p = 59, `train_grokking`'s defaults, which stop 100 steps after
   99% test accuracy) for seeds 0-4 (the seed draws the split, the initial weights and the
   training), with every number the lesson reads from its one run: steps to 100% train, 10% and
   99% test accuracy; median concentration; share of units with the same top frequency over a
   and b; key frequencies (90%, 80% and 50% of the energy); test accuracy with only the key
   frequencies and without them; the step at which test accuracy and the median concentration
   have covered 10% of their rise; a linear probe's accuracy on the answer on unseen pairs; CPU
   seconds of the training. -> `grokking_seeds.csv`.
3. `--long`: seeds 0-2 trained for `--long-steps` (12,000) steps without stopping: key
   frequencies, median concentration and test accuracy at the step of 99% test accuracy, at the
   lesson's stop (the step at which the lesson's rule, 99% held for 100 steps, stops) and at
   3,000, 6,000 and 12,000 steps. -> `grokking_long.csv`.
4. `--settings`: p = 59, seeds 0-2, each trained as in the lesson (`hold=100`, at most
   `--max-steps` = 6,000): 40% and 50% of the pairs; ReLU with 128 units on 30% and with 256
   units on 50%; widths 32/64/256; weight decays 0/0.3/2/3. The same columns as `--seeds`,
   without the probe. -> `grokking_settings.csv`.

Run: `python benchmarks/bench_grokking.py [--timing] [--seeds] [--long] [--settings] [--all]`
(one thread, as the lessons use; `--all` takes about 10 minutes of one core). Timings are noisy
when other processes share the machine: compare CPU seconds, and say what else was running.
Everything else in the files is deterministic.
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
from interpcourse.activations import record_activations  # noqa: E402
from interpcourse.controls import LinearProbe  # noqa: E402
from interpcourse.grokking import (  # noqa: E402
    first_step,
    grokking_data,
    key_frequencies,
    restrict_frequencies,
    train_grokking,
    unit_frequencies,
)
from interpcourse.probe import decode_accuracy  # noqa: E402
from interpcourse.target import inputs_of  # noqa: E402
from interpcourse.training import accuracy, fit, seed_everything  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STEP_COLUMNS = {"train_100", "test_10", "test_99"}  # None where the run never got there


def timed(**kwargs):
    "Run `train_grokking(**kwargs)`; return the model, its history, wall and CPU seconds."
    wall, cpu = time.perf_counter(), time.process_time()
    model, history = train_grokking(**kwargs)
    return model, history, time.perf_counter() - wall, time.process_time() - cpu


def starts_moving(history, values) -> int:
    "The first recorded step at which `values` covered 10% of its way from first to last value."
    values = np.asarray(values)
    moved = (values - values[0]) / (values[-1] - values[0]) >= 0.1
    return int(history.step.iloc[np.argmax(moved)])


def lesson_stop(history, goal=0.99, hold=100) -> int:
    "The step at which `train_grokking`'s default rule stops: `goal` held for `hold` steps."
    first = None  # the first step of the current run of records at `goal` or above
    for step, acc in zip(history.step, history.test_acc):
        first = None if acc < goal else (step if first is None else first)
        if first is not None and step - first >= hold:
            return int(step)
    raise ValueError("history never holds the goal for `hold` steps")


def probe_unseen(model, X, y, train, test) -> float:
    "The lesson's linear probe on the hidden layer: its accuracy on the answer on unseen pairs."
    a, b = inputs_of(X)
    truth = torch.stack([a, b, y], 1)
    hidden = record_activations(model, X, "act")["act"]
    seed_everything(0)
    probe = LinearProbe(hidden.shape[1], heads=(model.p,) * 3)
    fit(probe, hidden[train], truth[train], epochs=100, lr=0.02, seed=0)
    return decode_accuracy(probe, hidden[test], truth[test])["output"].item()


def findings(model, history, frac, seed) -> dict:
    "What the lesson reads from one trained network and its history."
    X, y, train, test = grokking_data(model.p, frac, seed)
    units, key = unit_frequencies(model), key_frequencies(model)
    return dict(
        train_100=first_step(history, "train_acc", 1.0),
        test_10=first_step(history, "test_acc", 0.1),
        test_99=first_step(history, "test_acc", 0.99),
        steps_run=int(history.step.iloc[-1]),
        test_acc=history.test_acc.iloc[-1],
        concentration=units.concentration_a.median(),
        same_a_b=(units.freq_a == units.freq_b).mean(),
        key_90=len(key),
        key_80=len(key_frequencies(model, 0.8)),
        key_50=len(key_frequencies(model, 0.5)),
        kept=accuracy(restrict_frequencies(model, key), X[test], y[test]),
        removed=accuracy(restrict_frequencies(model, key, keep=False), X[test], y[test]),
        test_moves=starts_moving(history, history.test_acc),
        concentration_moves=starts_moving(history, history.concentration),
    )


def save(rows, name, formats):
    "Print `rows` as an aligned table and write them to results/`name` (floats rounded)."
    table = pd.DataFrame(rows)
    for column in STEP_COLUMNS & set(table.columns):  # steps: whole numbers, or missing
        table[column] = table[column].astype("Int64")
    shown = table.copy()
    for column, fmt in formats.items():
        shown[column] = [fmt.format(v) if pd.notna(v) else "-" for v in table[column]]
    print(shown.to_string(index=False))
    RESULTS.mkdir(exist_ok=True)
    digits = {c: 4 for c in table.columns if table[c].dtype.kind == "f"}
    table.round(digits).to_csv(RESULTS / name, index=False)
    print(f"-> {RESULTS / name}\n")
    return table


def timing(fracs, width, max_steps):
    "Part 1: steps and seconds to 99% test accuracy for p = 31, 59, 97."
    print(f"train_grokking to 99% test accuracy: x², {width} units")
    rows = []
    for p in (31, 59, 97):
        for frac in fracs:
            model, history, wall, cpu = timed(p=p, frac=frac, width=width, steps=max_steps, hold=0)
            steps = int(history.step.iloc[-1])
            rows.append(
                dict(
                    p=p,
                    frac=frac,
                    train_100=first_step(history, "train_acc", 1.0),
                    test_99=first_step(history, "test_acc", 0.99),
                    steps_run=steps,
                    wall_s=wall,
                    cpu_s=cpu,
                    ms_per_step=1000 * cpu / steps,
                )
            )
    formats = dict(frac="{:.0%}", wall_s="{:.1f}", cpu_s="{:.1f}", ms_per_step="{:.2f}")
    save(rows, "grokking_timing.csv", formats)


FINDINGS = dict(test_acc="{:.3f}", concentration="{:.2f}", same_a_b="{:.2f}", kept="{:.3f}")
FINDINGS |= dict(removed="{:.3f}")


def seeds(n_seeds):
    "Part 2: the lesson's run for several seeds."
    print(f"p = 59, the lesson's run (train_grokking's defaults), seeds 0-{n_seeds - 1}")
    rows = []
    for seed in range(n_seeds):
        model, history, _, cpu = timed(seed=seed)
        X, y, train, test = grokking_data(59, 0.3, seed)
        rows.append(
            dict(
                seed=seed,
                **findings(model, history, 0.3, seed),
                probe_unseen=probe_unseen(model, X, y, train, test),
                cpu_s=cpu,
            )
        )
    save(rows, "grokking_seeds.csv", FINDINGS | dict(probe_unseen="{:.3f}", cpu_s="{:.1f}"))


def long(n_seeds, steps):
    "Part 3: the lesson's settings trained far past generalising."
    print(f"p = 59, the lesson's settings trained {steps} steps without stopping")
    rows = []
    for seed in range(n_seeds):
        _, history = train_grokking(seed=seed, steps=steps, stop_at=None)
        checkpoints = {
            "99% test": first_step(history, "test_acc", 0.99),
            "lesson's stop": lesson_stop(history),
            **{f"{s:,}": s for s in (3000, 6000, steps)},
        }
        for moment, step in checkpoints.items():
            row = history[history.step == step].iloc[0]
            energy = row.filter(like="energy_").to_numpy()
            rows.append(
                dict(
                    seed=seed,
                    moment=moment,
                    step=step,
                    test_acc=row.test_acc,
                    concentration=row.concentration,
                    key_90=len(key_frequencies(energy)),
                    key_80=len(key_frequencies(energy, 0.8)),
                )
            )
    save(rows, "grokking_long.csv", dict(test_acc="{:.3f}", concentration="{:.2f}"))


SETTINGS = {  # short labels: the lesson shows them as a table's rows
    "40% of pairs": dict(frac=0.4),
    "50% of pairs": dict(frac=0.5),
    "ReLU 128, 30%": dict(activation="relu"),
    "ReLU 256, 50%": dict(activation="relu", width=256, frac=0.5),
    "32 units": dict(width=32),
    "64 units": dict(width=64),
    "256 units": dict(width=256),
    "decay 0": dict(weight_decay=0.0),
    "decay 0.3": dict(weight_decay=0.3),
    "decay 2": dict(weight_decay=2.0),
    "decay 3": dict(weight_decay=3.0),
}


def settings(n_seeds, max_steps):
    "Part 4: other fractions, activations, widths and weight decays."
    print(f"p = 59, trained as in the lesson (hold 100 steps at 99%), at most {max_steps} steps")
    rows = []
    for label, kwargs in SETTINGS.items():
        for seed in range(n_seeds):
            model, history, _, cpu = timed(seed=seed, steps=max_steps, **kwargs)
            frac = kwargs.get("frac", 0.3)
            rows.append(
                dict(setting=label, seed=seed, **findings(model, history, frac, seed), cpu_s=cpu)
            )
    save(rows, "grokking_settings.csv", FINDINGS | dict(cpu_s="{:.1f}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for part in ("timing", "seeds", "long", "settings", "all"):
        parser.add_argument(f"--{part}", action="store_true", help=f"run part {part}")
    parser.add_argument("--fracs", type=float, nargs="+", default=[0.3, 0.5], help="fractions")
    parser.add_argument("--width", type=int, default=128, help="hidden units (timing)")
    parser.add_argument("--max-steps", type=int, default=6000, help="the most steps per run")
    parser.add_argument("--n-seeds", type=int, default=5, help="seeds of --seeds")
    parser.add_argument("--long-seeds", type=int, default=3, help="seeds of --long, --settings")
    parser.add_argument("--long-steps", type=int, default=12000, help="steps of --long")
    args = parser.parse_args()
    chosen = {p for p in ("timing", "seeds", "long", "settings") if getattr(args, p) or args.all}
    if args.timing or args.all or not chosen:
        timing(args.fracs, args.width, args.max_steps)
    if "seeds" in chosen:
        seeds(args.n_seeds)
    if "long" in chosen:
        long(args.long_seeds, args.long_steps)
    if "settings" in chosen:
        settings(args.long_seeds, args.max_steps)


if __name__ == "__main__":
    main()
