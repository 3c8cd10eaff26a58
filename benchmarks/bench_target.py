"""Lesson 1 benchmark: train the post's target (mod-2 addition, 7 layers, width 5, 10,000 training pairs) to 100%
test accuracy three ways and compare wall times.

1. torch, batched, through the course's `fit` (full batch, Adam);
2. the hand-written NumPy network, per-sample SGD with correct derivatives (`NumpyMLP`);
3. the post's own recipe in NumPy (`PostStyleMLP`: its derivative mistakes, squared error, lr 1e-4, per-sample),
   capped at `--post-epochs` passes (default 60; run fresh, the post needs 56).

It also times one pass over the 10,000 examples for the per-sample loop and for a batched torch epoch, the
like-for-like speed ratio. Run: `python benchmarks/bench_target.py` (one thread, as the lessons use).
"""
import argparse, os, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch
torch.set_num_threads(1)
from interpcourse.target import NumpyMLP, PostStyleMLP, TargetMLP, modular_data
from interpcourse.training import accuracy, fit, seed_everything


def timed(f):
    t = time.perf_counter(); out = f(); return out, time.perf_counter() - t


def main(post_epochs=60, seed=0):
    X, y = modular_data(2, 10_000, seed=0); Xt, yt = modular_data(2, 10_000, seed=1)
    Xn, yn, Xtn, ytn = X.numpy(), y.numpy(), Xt.numpy(), yt.numpy()
    perfect = lambda net: (net.predict(Xtn) == ytn).all()

    seed_everything(seed); net = TargetMLP()
    curve, t_torch = timed(lambda: fit(net, X, y, epochs=1000, lr=0.01, seed=seed, until=lambda m: accuracy(m, Xt, yt) == 1.0))
    print(f"torch fit (full batch, Adam):        {t_torch:7.2f} s, {len(curve)} epochs, test acc {accuracy(net, Xt, yt):.3f}")

    seed_everything(seed); hand = NumpyMLP.from_torch(TargetMLP(init="post"))
    c, t_hand = timed(lambda: hand.train_per_sample(Xn, yn, lr=0.03, epochs=20, seed=seed, until=perfect))
    print(f"NumPy per-sample SGD, correct grads: {t_hand:7.2f} s, {len(c)} epoch(s), test acc {(hand.predict(Xtn) == ytn).mean():.3f}")

    seed_everything(seed); post = PostStyleMLP.from_torch(TargetMLP(init="post"))
    c, t_post = timed(lambda: post.train_per_sample(Xn, yn, lr=1e-4, epochs=post_epochs, seed=seed, until=perfect))
    post_acc = (post.predict(Xtn) == ytn).mean()
    print(f"NumPy per-sample, the post's recipe: {t_post:7.2f} s, {len(c)} epoch(s), test acc {post_acc:.3f}"
          + ("" if post_acc == 1 else f" (not yet 100% after {post_epochs} epochs)"))

    seed_everything(seed); m = TargetMLP(); _, t_epoch_torch = timed(lambda: fit(m, X, y, epochs=20, lr=0.01))
    seed_everything(seed); h = NumpyMLP.from_torch(TargetMLP()); _, t_epoch_np = timed(lambda: h.train_per_sample(Xn, yn, epochs=1))
    t_epoch_torch /= 20
    print(f"\none pass over 10,000 examples: torch batched {t_epoch_torch * 1e3:.1f} ms, NumPy per-sample {t_epoch_np * 1e3:.0f} ms"
          f" -> {t_epoch_np / t_epoch_torch:.0f}x")
    print(f"to 100% test accuracy: torch is {t_hand / t_torch:.1f}x faster than correct per-sample NumPy, "
          f"{t_post / t_torch:.0f}x faster than the post's recipe")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--post-epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(); main(a.post_epochs, a.seed)
