"""Lesson 1 over seeds: how often does the post's network (mod-2 addition, 7 layers, width 5)
reach 100% on the test set?

Lesson 1 trains one network (weights seed 0) and it reaches 100%. One seed is one draw. Here the
same recipe runs for weight seeds 0-29 on the lesson's own data (train pairs seed 0, test pairs
seed 1): `fit` full batch, Adam, lr 0.01, for the lesson's 150 epochs, with PyTorch's default
initialisation (`init="torch"`, the lesson's) and with the post's (`init="post"`). For each run:
the test accuracy after 100 epochs (`fit`'s default) and after 150, and the last epoch at which
the test accuracy was below 1.0 (how long the run stalls).

Run: `python benchmarks/bench_target_seeds.py` (one thread, about a minute);
writes `benchmarks/results/target_seeds.csv`, which Lesson 1 reads.
"""

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import pandas as pd  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
from interpcourse.target import TargetMLP, modular_data  # noqa: E402
from interpcourse.training import accuracy, fit, seed_everything  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SEEDS = range(30)
EPOCHS = 150  # the lesson's
CHECKPOINT = 100  # fit's default number of epochs


def run(seed: int, init: str, Xtr, ytr, Xte, yte) -> dict:
    "Train one network as Lesson 1 does; its test accuracy at 100 and 150 epochs."
    seed_everything(seed)
    net = TargetMLP(p=2, n_layers=7, init=init)
    test_acc = []

    def record(model) -> bool:
        "After every epoch: the test accuracy; never stop early."
        test_acc.append(accuracy(model, Xte, yte))
        return False

    fit(
        net,
        Xtr,
        ytr,
        epochs=EPOCHS,
        lr=0.01,
        seed=seed,
        progress=False,
        until=record,
    )
    below = [e for e, a in enumerate(test_acc, 1) if a < 1.0]
    return dict(
        seed=seed,
        init=init,
        test_acc_100=test_acc[CHECKPOINT - 1],
        test_acc_150=test_acc[-1],
        last_epoch_below_1=below[-1] if below else 0,
    )


if __name__ == "__main__":
    Xtr, ytr = modular_data(p=2, n=10_000, seed=0)
    Xte, yte = modular_data(p=2, n=10_000, seed=1)
    rows = [run(s, init, Xtr, ytr, Xte, yte) for init in ("torch", "post") for s in SEEDS]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    for init, g in table.groupby("init", sort=False):
        print(
            f"{init}: 100% at epoch 100 on {(g.test_acc_100 == 1).sum()} of {len(g)},"
            f" at epoch 150 on {(g.test_acc_150 == 1).sum()} of {len(g)}"
        )
    RESULTS.mkdir(exist_ok=True)
    table.round(4).to_csv(RESULTS / "target_seeds.csv", index=False)
    print(f"-> {RESULTS / 'target_seeds.csv'}")
