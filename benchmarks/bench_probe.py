"""Lesson 3 benchmark: train the convolutional probe on the post's setup to 100% decoding, two ways,
and compare wall times.

The setup (as in the post and Lesson 3): the mod-2 target network (7 layers, 5 hidden layers of
width 5) trained to 100%; the activation images of 10,000 random pairs, rounded to 2 decimals;
labels a, b and the target's answer; the first 9,000 images train the probe, the last 1,000 test it.
Probe: 3 kernels of 2x2, max over kernels, tanh, hidden layers (30, 30), dropout 0.5, three 2-class
heads.

1. the course: `ConvProbe` trained by `fit_probe` (the course's `fit`: Adam, mini-batches of 256,
   batched torch) until it decodes every training image; then checked on the 1,000 test images;
2. a per-sample NumPy loop like the post's: for every image, its 2x2 frames are cut out one position
   at a time, each kernel is applied with its own matmul, the max and the winning kernel are taken,
   the fully connected layers run on a single row, derivatives are formed as np.diag matrices and
   the weights are updated by outer products, and each kernel's gradient is formed from the
   positions it won. Unlike the post, the derivatives are right (1 - tanh^2, the full softmax
   Jacobian, the dropout mask in the derivative; checked against autograd before timing). As in the
   post: squared error on the softmax outputs, a 0/2 dropout mask on the hidden layers, no biases,
   learning rate 1e-3. It trains until it decodes the test split perfectly (at most
   `--numpy-epochs`, default 14 = the post's count: it printed "converged at iteration 13" after 14
   passes).

Printed: both times and their ratios, against (a) the post's 14 epochs at the per-sample loop's
measured speed (extrapolated from the epochs actually run) and the post's own ~21 s, (b) the
per-sample loop stopped as soon as it reaches 100% (with correct derivatives it needs far fewer
epochs than the post), (c) one epoch against one epoch.

Run: `python benchmarks/bench_probe.py` (one thread, as the lessons use).
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch

torch.set_num_threads(1)
from interpcourse.activations import activation_images, probe_targets, trained_target
from interpcourse.probe import ConvProbe, decode_accuracy, fit_probe
from interpcourse.target import modular_data
from interpcourse.training import accuracy, seed_everything

POST_EPOCHS = 14  # the post printed 'converged at iteration 13' after 14 passes
POST_SECONDS = 21.0  # the post's own probe loop, 14 epochs, measured here (COURSE_DESIGN.md)


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def post_setup(seed=0):
    "The post's data: activation images (10,000, 5, 5), labels (10,000, 3) of a mod-2 target."
    X, y = modular_data(2, 10_000, seed=0)
    target = trained_target(2, seed=seed)
    assert accuracy(target, X, y) == 1.0
    return activation_images(target, X, decimals=2), probe_targets(target, X)


# -------------------------------------------------- the per-sample NumPy probe, in the post's style
def frames_of(image, fr, fc):
    "Every fr x fc window of `image`, one column per position, cut out one position at a time."
    rows, cols = image.shape
    pos = [(i, j) for i in range(rows - fr + 1) for j in range(cols - fc + 1)]
    out = np.zeros((fr * fc, len(pos)))
    for k, (i, j) in enumerate(pos):
        out[:, k] = image[i : i + fr, j : j + fc].ravel()
    return out


def softmax_heads(z, n_heads):
    "A softmax over each head's slice of the output row."
    out = []
    for part in np.split(z, n_heads):
        e = np.exp(part - part.max())
        out.append(e / e.sum())
    return np.concatenate(out)


class PerSampleProbe:
    "The post's probe, per sample in NumPy: kernels, max over kernels, tanh layers, softmax heads."

    def __init__(
        self,
        image_shape=(5, 5),
        n_kernels=3,
        frame=(2, 2),
        hidden=30,
        n_hidden=2,
        heads=(2, 2, 2),
        seed=3,
    ):
        rng = np.random.default_rng(seed)
        self.frame, self.heads, self.rng = frame, heads, rng
        n_pos = (image_shape[0] - frame[0] + 1) * (image_shape[1] - frame[1] + 1)
        self.kernels = rng.random((n_kernels, frame[0] * frame[1])) - 0.5
        sizes = [n_pos] + [hidden] * n_hidden + [sum(heads)]
        self.W = [rng.random((a, b)) - 0.5 for a, b in zip(sizes[:-1], sizes[1:])]

    def forward(self, image, dropout=False):
        frames = frames_of(image, *self.frame)
        pre = np.zeros((len(self.kernels), frames.shape[1]))
        for k in range(len(self.kernels)):
            pre[k] = self.kernels[k] @ frames
        which = pre.argmax(0)
        layers = [np.tanh(pre.max(0))]
        grads = [1.0 - layers[0] ** 2]  # d layer / d pre-activation, per unit
        for W in self.W[:-1]:
            t = np.tanh(layers[-1] @ W)
            scale = (
                2.0 * self.rng.integers(0, 2, t.shape) if dropout else 1.0
            )  # the post's dropout: keep half, double them
            layers.append(scale * t)
            grads.append(scale * (1.0 - t**2))
        layers.append(softmax_heads(layers[-1] @ self.W[-1], len(self.heads)))
        return frames, which, layers, grads

    def train_epoch(self, images, targets, lr=1e-3):
        "One pass of per-sample gradient descent; returns the mean squared error."
        err = 0.0
        onehot = np.concatenate([np.eye(h)[targets[:, i]] for i, h in enumerate(self.heads)], 1)
        for n in range(len(images)):
            frames, which, layers, slopes = self.forward(images[n], dropout=True)
            delta = (layers[-1] - onehot[n])[None]  # squared error on the softmax outputs
            diags = [np.diag(g) for g in slopes]  # tanh'(z) = 1 - tanh(z)^2, times the dropout mask
            diags.append(
                self.softmax_jacobian(layers[-1])
            )  # the full Jacobian (the post kept only its diagonal)
            back = [delta @ diags[-1]]  # error at each layer's pre-activation, output first
            for j in range(len(self.W) - 1, 0, -1):
                back.append(back[-1] @ self.W[j].T @ diags[j])
            back.append(back[-1] @ self.W[0].T @ diags[0])  # through the tanh after the max
            grads = [np.outer(layers[j], back[len(self.W) - 1 - j]) for j in range(len(self.W))]
            for k in range(len(self.kernels)):  # each kernel sees only the positions it won
                masked = frames * (which == k)
                self.kernels[k] -= lr * (back[-1] @ masked.T)[0]
            for j, g in enumerate(grads):
                self.W[j] -= lr * g
            err += float((delta**2).sum())
        return err / len(images)

    def softmax_jacobian(self, s):
        "Block-diagonal Jacobian of the per-head softmaxes: diag(s) - s s^T within each head."
        J, start = np.zeros((len(s), len(s))), 0
        for h in self.heads:
            part = s[start : start + h]
            J[start : start + h, start : start + h] = np.diag(part) - np.outer(part, part)
            start += h
        return J

    def predict(self, images):
        out = []
        for image in images:
            z = self.forward(image)[2][-1]
            out.append([part.argmax() for part in np.split(z, len(self.heads))])
        return np.array(out)


def check_per_sample_gradient(seed=0):
    "One step of the per-sample loop (no dropout) equals an autograd step on the same loss."
    rng = np.random.default_rng(seed)
    net = PerSampleProbe(seed=seed)
    image, target = rng.standard_normal((5, 5)), np.array([1, 0, 1])
    K = torch.tensor(net.kernels, requires_grad=True)
    W = [torch.tensor(w, requires_grad=True) for w in net.W]
    frames = torch.tensor(frames_of(image, *net.frame))
    h = torch.tanh((K @ frames).amax(0))
    for w in W[:-1]:
        h = torch.tanh(h @ w)
    z = h @ W[-1]
    s = torch.cat([torch.softmax(part, 0) for part in torch.split(z, list(net.heads))])
    onehot = torch.tensor(np.concatenate([np.eye(2)[t] for t in target]))
    (0.5 * ((s - onehot) ** 2).sum()).backward()
    before_K, before_W = net.kernels.copy(), [w.copy() for w in net.W]
    forward = net.forward
    net.forward = lambda img, dropout=False: forward(img, dropout=False)
    net.train_epoch(image[None], target[None], lr=1.0)
    np.testing.assert_allclose(before_K - net.kernels, K.grad.numpy(), rtol=1e-6, atol=1e-10)
    for b, a, w in zip(before_W, net.W, W):
        np.testing.assert_allclose(b - a, w.grad.numpy(), rtol=1e-6, atol=1e-10)


def main(numpy_epochs=POST_EPOCHS, seed=0, batch_size=256, lr=0.01):
    images, T = post_setup(seed)
    train, test = slice(0, 9000), slice(9000, 10_000)
    print(
        f"setup: {len(images)} activation images {tuple(images.shape[1:])},"
        f" {len(torch.unique(images, dim=0))} distinct; 9,000 train / 1,000 test"
    )

    # 1. the course's probe
    def course():
        seed_everything(seed)
        probe = ConvProbe((5, 5), heads=(2, 2, 2))
        curve = fit_probe(
            probe, images[train], T[train], max_epochs=100, lr=lr, batch_size=batch_size, seed=seed
        )
        return probe, curve

    course()  # warm-up: first calls of torch kernels
    runs = [timed(course) for _ in range(5)]
    (probe, curve), _ = runs[0]
    t_course = float(np.median([t for _, t in runs]))
    acc = decode_accuracy(probe, images[test], T[test])
    print(
        f"course ConvProbe + fit_probe (batched torch, batch {batch_size}, Adam lr {lr}):"
        f" {t_course:6.3f} s (median of 5), {len(curve)} epoch(s);"
        f" test decoding a {acc['a'].item():.3f}, b {acc['b'].item():.3f}, "
        f"output {acc['output'].item():.3f}, all {acc['all'].item():.3f}"
    )
    assert acc["all"].item() == 1.0, "the course probe should decode the test split perfectly"

    # 2. the per-sample NumPy loop, until it decodes the test split perfectly (or `numpy_epochs`)
    check_per_sample_gradient()
    Xn, Tn = images.numpy().astype(np.float64), T.numpy()
    net = PerSampleProbe(seed=3)
    epoch_times, np_acc = [], 0.0
    while len(epoch_times) < numpy_epochs and np_acc < 1.0:
        err, t = timed(lambda: net.train_epoch(Xn[train], Tn[train]))
        epoch_times.append(t)
        np_acc = (net.predict(Xn[test]) == Tn[test]).all(1).mean()  # not timed
        print(
            f"  per-sample NumPy epoch {len(epoch_times)}: {t:6.2f} s, squared error {err:.4f},"
            f" all-heads test decoding {np_acc:.3f}"
        )
    t_numpy, per_epoch = sum(epoch_times), float(np.mean(epoch_times))
    print(
        f"per-sample NumPy probe to {np_acc:.0%} test decoding: {t_numpy:6.2f} s,"
        f" {len(epoch_times)} epoch(s)"
    )
    t_post = per_epoch * POST_EPOCHS
    print(
        f"the post's {POST_EPOCHS} epochs at this per-sample speed: {t_post:6.2f} s"
        f" (extrapolated; the post's own code: about {POST_SECONDS:.0f} s measured on these"
        " machines)"
    )

    print(f"\nspeed-up of the course probe (to 100%, {len(curve)} epoch(s)):")
    print(
        f"  vs the post's {POST_EPOCHS}-epoch training at per-sample speed:"
        f" {t_post / t_course:5.0f}x   "
        f"(vs the post's measured {POST_SECONDS:.0f} s: {POST_SECONDS / t_course:.0f}x)"
    )
    print(f"  vs the per-sample loop run only until 100%:        {t_numpy / t_course:5.0f}x")
    print(
        "  one epoch vs one epoch (like for like):            ",
        f"{per_epoch / (t_course / len(curve)):5.0f}x",
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument(
        "--numpy-epochs", type=int, default=POST_EPOCHS, help="at most this many per-sample epochs"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args()
    main(a.numpy_epochs, a.seed, a.batch_size, a.lr)
