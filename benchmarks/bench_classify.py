"""Lessons 5-6 benchmark: time the lessons' trainings; compare CS545's full-batch MNIST recipe.

1. squares vs diamonds, [10] network, 500 full-batch Adam epochs (Lesson 5), over a few seeds:
   time and test accuracy;
2. small MNIST, [20, 20, 20] network: the CS545 recipe (1,000 full-batch epochs, lr 0.01) against
   Lesson 6's (40 epochs of mini-batches of 200, lr 0.005): time and test accuracy.

Run: `python benchmarks/bench_classify.py [--seeds 3] [--skip-full-batch]` (one thread, as the
lessons use). Training uses torch.optim (Adam by default), through the course's `fit`.
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch

torch.set_num_threads(1)
from interpcourse.classify import percent_correct, train_for_classification, use
from interpcourse.mnist import load_small_mnist, split_train_test
from interpcourse.shapes import make_images


def timed(f):
    "`f()` and the seconds it took."
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def test_percent(net, X, T):
    "Percent of test images `X` that `net` classifies as `T`."
    return percent_correct(use(net, X).argmax(1), T)


def main(seeds=3, full_batch=True):
    # Warm-up: the first torch.optim optimiser of a process imports torch's compiler stack.
    train_for_classification(np.eye(4), [0, 1, 0, 1], [2], n_epochs=2)
    X, T = make_images(1000, seed=0)
    Xt, Tt = make_images(1000, seed=1)
    print("Lesson 5: squares vs diamonds, [10], 500 full-batch epochs, lr 0.01")
    for seed in range(seeds):
        kw = dict(n_epochs=500, learning_rate=0.01, seed=seed)
        (net, _), dt = timed(lambda: train_for_classification(X, T, [10], **kw))
        print(f"  seed {seed}: {dt:5.2f} s, test {test_percent(net, Xt, Tt):.2f}%")

    Xm, Tm = load_small_mnist()
    Xtr, Ttr, Xte, Tte = split_train_test(Xm, Tm, 0.6, seed=0)
    lesson = dict(n_epochs=40, learning_rate=0.005, batch_size=200)
    recipes = {"Lesson 6: 40 epochs, batches of 200, lr 0.005": lesson}
    if full_batch:
        recipes["CS545: 1,000 full-batch epochs, lr 0.01"] = dict(n_epochs=1000, learning_rate=0.01)
    print("Lesson 6: small MNIST, [20, 20, 20], 3,000 training / 2,000 test digits")
    for name, kw in recipes.items():
        for seed in range(seeds if "Lesson" in name else 1):
            (net, _), dt = timed(
                lambda: train_for_classification(Xtr, Ttr, [20, 20, 20], seed=seed, **kw)
            )
            print(f"  {name}, seed {seed}: {dt:5.2f} s, test {test_percent(net, Xte, Tte):.2f}%")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    skip_help = "skip the slow CS545 full-batch MNIST run"
    ap.add_argument("--skip-full-batch", action="store_true", help=skip_help)
    a = ap.parse_args()
    main(a.seeds, not a.skip_full_batch)
