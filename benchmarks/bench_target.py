"""Lesson 1 benchmark: train the post's target (mod-2 addition, 7 layers, width 5) three ways.

Each way trains on 10,000 pairs until the test set is 100% right, and we compare wall times:

1. torch, batched, through the course's `fit` (full batch, Adam);
2. the hand-written NumPy network, per-sample SGD with correct derivatives (`NumpyMLP`);
3. the post's own recipe in NumPy (`PostStyleMLP`: its derivative mistakes, squared error,
   lr 1e-4, per-sample), capped at `--post-epochs` passes (default 60; run fresh, it needs 56).

It also times one pass over the 10,000 examples for the per-sample loop and for a batched torch
epoch (the like-for-like speed ratio), the one-off cost of the first `torch.optim` optimiser in a
process, and `fit`'s Adam (fused) against torch's default Adam on Lesson 1's mod-7 table.
Run: `python benchmarks/bench_target.py` (one thread, as the lessons use).
"""

import argparse
import functools
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
from interpcourse.target import NumpyMLP, PostStyleMLP, TargetMLP, all_pairs  # noqa: E402
from interpcourse.target import modular_data  # noqa: E402
from interpcourse.training import accuracy, fit, seed_everything  # noqa: E402


def timed(f):
    "`(f(), seconds)`."
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def first_optimizer_cost():
    "Seconds to build the first torch.optim optimiser in this process, then a second one."
    x = torch.zeros(3, requires_grad=True)
    _, first = timed(lambda: torch.optim.Adam([x], lr=0.1))
    _, second = timed(lambda: torch.optim.Adam([x], lr=0.1))
    return first, second


def adam_variants(reps=3):
    "Best-of-`reps` seconds for 400 full-batch epochs on the mod-7 table, per Adam variant."
    X, y = all_pairs(7, "add")
    variants = {"fit's 'adam' (fused)": "adam", "torch.optim.Adam default": torch.optim.Adam}
    variants["foreach=True"] = functools.partial(torch.optim.Adam, foreach=True)
    best = {}
    for name, opt in variants.items():
        times = []
        for _ in range(reps):
            seed_everything(0)
            m = TargetMLP(7, n_layers=7, width=5)
            times.append(timed(lambda: fit(m, X, y, epochs=400, lr=0.01, optimizer=opt))[1])
        best[name] = min(times)
    return best


def main(post_epochs=60, seed=0):
    first, second = first_optimizer_cost()
    print(f"first torch.optim optimiser in this process: {first:.2f} s (the next: {second:.4f} s)")

    X, y = modular_data(2, 10_000, seed=0)
    Xt, yt = modular_data(2, 10_000, seed=1)
    Xn, yn, Xtn, ytn = X.numpy(), y.numpy(), Xt.numpy(), yt.numpy()

    def perfect(net):
        return (net.predict(Xtn) == ytn).all()

    seed_everything(seed)
    net = TargetMLP()
    curve, t_torch = timed(
        lambda: fit(
            net, X, y, epochs=1000, lr=0.01, seed=seed, until=lambda m: accuracy(m, Xt, yt) == 1.0
        )
    )
    acc = accuracy(net, Xt, yt)
    print(
        f"torch fit (full batch, Adam):        {t_torch:7.2f} s, {len(curve)} epochs, acc {acc:.3f}"
    )

    seed_everything(seed)
    hand = NumpyMLP.from_torch(TargetMLP(init="post"))
    c, t_hand = timed(
        lambda: hand.train_per_sample(Xn, yn, lr=0.03, epochs=20, seed=seed, until=perfect)
    )
    acc = (hand.predict(Xtn) == ytn).mean()
    print(f"NumPy per-sample SGD, correct grads: {t_hand:7.2f} s, {len(c)} epoch(s), acc {acc:.3f}")

    seed_everything(seed)
    post = PostStyleMLP.from_torch(TargetMLP(init="post"))
    c, t_post = timed(
        lambda: post.train_per_sample(Xn, yn, lr=1e-4, epochs=post_epochs, seed=seed, until=perfect)
    )
    acc = (post.predict(Xtn) == ytn).mean()
    note = "" if acc == 1 else f" (not yet 100% after {post_epochs} epochs)"
    line = f"{t_post:7.2f} s, {len(c)} epoch(s), acc {acc:.3f}{note}"
    print(f"NumPy per-sample, the post's recipe: {line}")

    seed_everything(seed)
    m = TargetMLP()
    _, t_epoch_torch = timed(lambda: fit(m, X, y, epochs=20, lr=0.01))
    t_epoch_torch /= 20
    seed_everything(seed)
    h = NumpyMLP.from_torch(TargetMLP())
    _, t_epoch_np = timed(lambda: h.train_per_sample(Xn, yn, epochs=1))
    print(
        f"\none pass over 10,000 examples: torch batched {t_epoch_torch * 1e3:.1f} ms, "
        f"NumPy per-sample {t_epoch_np * 1e3:.0f} ms -> {t_epoch_np / t_epoch_torch:.0f}x"
    )
    print(
        f"to 100% test accuracy: torch is {t_hand / t_torch:.1f}x faster than correct per-sample "
        f"NumPy, {t_post / t_torch:.0f}x faster than the post's recipe"
    )

    print("\n400 full-batch epochs on the mod-7 table (7 layers, width 5), best of 3:")
    for name, t in adam_variants().items():
        print(f"  {name:26s} {t:.2f} s")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--post-epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    main(a.post_epochs, a.seed)
