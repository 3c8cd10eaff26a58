"""Lesson 4 (interpcourse.heatmaps): kernel responses against a direct convolution, the max over
kernels, the figures, bad input."""

import re
import warnings

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from interpcourse.activations import record_activations  # noqa: E402
from interpcourse.heatmaps import (
    kernel_responses,
    plot_kernel_heatmaps,
    plot_kernels,
    separating_positions,
)  # noqa: E402
from interpcourse.probe import ConvProbe  # noqa: E402
from interpcourse.target import TargetMLP  # noqa: E402
from interpcourse.training import seed_everything  # noqa: E402


def probe(shape=(5, 5), **kw):
    seed_everything(0)
    return ConvProbe(shape, **kw).eval()


def direct_responses(images, kernels):
    "Valid cross-correlation by explicit loops over positions, independent of the probe's code."
    n, H, W = images.shape
    K, kh, kw = kernels.shape
    out = torch.zeros(n, K, H - kh + 1, W - kw + 1)
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            window = images[:, i : i + kh, j : j + kw]
            out[:, :, i, j] = torch.einsum("nhw,khw->nk", window, kernels)
    return out


@pytest.mark.parametrize(
    "shape, kw",
    [
        ((5, 5), dict()),
        ((5, 8), dict(n_kernels=4, kernel_size=3)),
        ((3, 7), dict(kernel_size=(1, 4))),
    ],
)
def test_kernel_responses_equal_direct_convolution(shape, kw):
    p = probe(shape, **kw)
    images = torch.randn(6, *shape, generator=torch.Generator().manual_seed(1))
    r = kernel_responses(p, images)
    assert not r.requires_grad
    torch.testing.assert_close(r, direct_responses(images, p.kernels), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(r, F.conv2d(images[:, None], p.conv.weight.detach()))


def test_max_over_kernels_matches_the_probe():
    p = probe(n_kernels=3)
    images = torch.randn(9, 5, 5, generator=torch.Generator().manual_seed(2))
    r = kernel_responses(p, images)
    # the first hidden layer gets tanh(max over kernels): recompute its output from the responses
    recorded = record_activations(p, images, layers="body.0")["body.0"]
    torch.testing.assert_close(recorded, p.body[0](torch.tanh(r.max(1).values).flatten(1)).detach())
    assert not torch.allclose(
        recorded, p.body[0](torch.tanh(r.mean(1)).flatten(1)).detach()
    )  # not the mean
    w = p.winners(images)
    assert torch.equal(w, r.argmax(1))
    torch.testing.assert_close(r.gather(1, w[:, None])[:, 0], r.max(1).values)


def test_kernel_responses_bad_input():
    with pytest.raises(TypeError, match="probe must be a ConvProbe"):
        kernel_responses(TargetMLP(), torch.zeros(2, 5, 5))
    with pytest.raises(ValueError, match=re.escape("images must have shape (n, 5, 5)")):
        kernel_responses(probe(), torch.zeros(2, 5, 6))
    with pytest.raises(ValueError, match="images must have 3 dimensions"):
        kernel_responses(probe(), torch.zeros(5, 5))
    with pytest.raises(ValueError, match="images contains NaN"):
        kernel_responses(probe(), torch.full((1, 5, 5), float("nan")))


def test_plot_kernels():
    p = probe(n_kernels=4)
    fig = plot_kernels(p)
    assert isinstance(fig, plt.Figure)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    lim = p.kernels.abs().max().item()
    assert all(
        np.allclose(ax.images[0].get_clim(), (-lim, lim)) for ax in panels
    )  # one shared, zero-centred scale
    assert [ax.get_title() for ax in panels] == [f"kernel {k}" for k in range(4)]  # 0-based
    plt.close(fig)
    with pytest.raises(TypeError, match="probe must be a ConvProbe"):
        plot_kernels("probe")


def test_plot_kernel_heatmaps_scales_and_labels():
    p = probe(n_kernels=3)
    images = torch.randn(4, 5, 5, generator=torch.Generator().manual_seed(3))
    T = torch.tensor([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]])
    fig = plot_kernel_heatmaps(p, images, T)
    assert isinstance(fig, plt.Figure)
    columns = [ax for ax in fig.axes if ax.images]  # one image per column: the 4 cases stacked
    assert [ax.get_title() for ax in columns] == [
        "kernel 0",
        "kernel 1",
        "kernel 2",
        "kernel 0",
        "kernel 1",
        "kernel 2",
        "winning kernel",
    ]
    blocks = [t.get_text() for t in fig.texts]
    assert "responses" in blocks and "minus the mean over cases" in blocks
    assert fig.get_size_inches()[0] <= 8.0 + 1e-9  # drawn for the site's column (FIGURE_WIDTH)
    assert [t.get_text() for t in columns[0].get_yticklabels()] == [
        "0 + 0 = 0",
        "0 + 1 = 1",
        "1 + 0 = 1",
        "1 + 1 = 0",
    ]
    r = kernel_responses(p, images).numpy()
    d = r - r.mean(0, keepdims=True)

    def cases_of(ax):
        "The 4 stacked 4x4 maps of a column (rows of NaN between them)."
        a = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
        assert a.shape == (4 * 5 - 1, 4) and np.isnan(a[4::5]).all()
        return np.stack([a[i * 5 : i * 5 + 4] for i in range(4)])

    for k in range(3):
        np.testing.assert_allclose(cases_of(columns[k]), r[:, k], rtol=1e-6)
        np.testing.assert_allclose(cases_of(columns[3 + k]), d[:, k], rtol=1e-5, atol=1e-6)
        lim, dlim = np.abs(r[:, k]).max(), np.abs(d[:, k]).max()
        np.testing.assert_allclose(
            columns[k].images[0].get_clim(), (-lim, lim), rtol=1e-6
        )  # one scale per kernel column
        np.testing.assert_allclose(columns[3 + k].images[0].get_clim(), (-dlim, dlim), rtol=1e-6)
    np.testing.assert_array_equal(cases_of(columns[6]), p.winners(images).numpy())
    colorbars = [ax for ax in fig.axes if not ax.images]
    assert len(colorbars) == 7  # a colour bar under every column
    plt.close(fig)
    fig = plot_kernel_heatmaps(p, images, ["w", "x", "y", "z"], title="t")
    assert fig._suptitle.get_text() == "t"
    plt.close(fig)


@pytest.mark.parametrize(
    "labels, err, match",
    [
        (["a", "b"], ValueError, re.escape("labels must have one entry per image (4)")),
        (5, TypeError, "labels must be a sequence of strings"),
        (
            torch.zeros(4, 2, dtype=torch.long),
            ValueError,
            re.escape("targets must have shape (n, 3)"),
        ),
    ],
)
def test_plot_kernel_heatmaps_bad_labels(labels, err, match):
    with pytest.raises(err, match=match):
        plot_kernel_heatmaps(probe(), torch.zeros(4, 5, 5), labels)


@pytest.mark.parametrize(
    "labels", [[], (), torch.tensor([]), np.array([]), torch.zeros(0, 3, dtype=torch.long)]
)
@pytest.mark.parametrize("n_images", [4, 0])
def test_plot_kernel_heatmaps_empty_labels(labels, n_images):
    "Empty labels (issue 12): a ValueError naming `labels`, not `targets`, and no NumPy warnings."
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="labels must hold one label per image, got none") as e:
            plot_kernel_heatmaps(probe(), torch.zeros(n_images, 5, 5), labels)
    assert "targets" not in str(e.value)


def test_plot_kernel_heatmaps_labels_errors_name_labels():
    with pytest.raises(ValueError, match=re.escape("labels must be strings or probe targets")):
        plot_kernel_heatmaps(probe(), torch.zeros(4, 5, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must hold whole-number class labels"):
        plot_kernel_heatmaps(probe(), torch.zeros(4, 5, 5), np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="images must hold at least one image, got 0"):
        plot_kernel_heatmaps(probe(), torch.zeros(0, 5, 5), ["a"])


@pytest.mark.parametrize(
    "kw, err, match",
    [
        (dict(panel_size=0), ValueError, re.escape("panel_size must be positive (> 0), got 0")),
        (dict(panel_size=-1.0), ValueError, re.escape("panel_size must be positive (> 0)")),
        (dict(panel_size="1"), TypeError, "panel_size must be a real number"),
        (dict(probe="probe"), TypeError, "probe must be a ConvProbe"),
        (dict(images=torch.zeros(4, 5)), ValueError, "images must have 3 dimensions"),
    ],
)
def test_plot_kernel_heatmaps_bad_arguments(kw, err, match):
    args = {"probe": probe(), "images": torch.zeros(4, 5, 5), "labels": ["a", "b", "c", "d"]}
    args.update(kw)
    with pytest.raises(err, match=match):
        plot_kernel_heatmaps(**args)


def test_plots_return_closed_figures():
    "Plot functions close their Figure, so a notebook shows it once."
    before = plt.get_fignums()
    figs = [plot_kernels(probe()), plot_kernel_heatmaps(probe(), torch.randn(2, 5, 5), ["x", "y"])]
    assert plt.get_fignums() == before
    assert all(isinstance(f, plt.Figure) for f in figs)


def test_plot_kernel_heatmaps_many_kernels():
    "More kernels than tab10 has colours: the winner map still gets one colour per kernel."
    p = probe(n_kernels=12, kernel_size=1)
    fig = plot_kernel_heatmaps(p, torch.randn(3, 5, 5), ["x", "y", "z"])
    winners = [ax for ax in fig.axes if ax.get_title() == "winning kernel"]
    assert len(winners) == 1 and winners[0].images[0].cmap.N == 12


def test_separating_positions():
    r = torch.tensor([0.0, 1.0, 2.0, 3.0]).view(4, 1, 1, 1).repeat(1, 2, 1, 3)
    r[:, 1, 0, 1] = torch.tensor([0.0, 2.0, 1.0, 3.0])  # overlapping ranges
    r[:, 1, 0, 2] = torch.tensor([3.0, 2.0, 1.0, 0.0])  # separates, in reverse order
    s = separating_positions(r, [0, 0, 1, 1])
    assert s.shape == (2, 1, 3) and s.dtype == torch.bool
    assert s.tolist() == [[[True, True, True]], [[True, False, True]]]
    three = torch.tensor([5.0, 0.0, 9.0, 5.5]).view(4, 1, 1, 1)
    assert separating_positions(three, [1, 0, 2, 1]).item()
    assert not separating_positions(
        three, [1, 0, 1, 2]
    ).item()  # class 1 spans 5..9, class 2 (5.5) inside it
    with pytest.raises(ValueError, match="labels must contain at least two different values"):
        separating_positions(r, [1, 1, 1, 1])
    with pytest.raises(ValueError, match="labels must have 4 rows"):
        separating_positions(r, [0, 1])
    with pytest.raises(ValueError, match="responses must have 4 dimensions"):
        separating_positions(r[0], [0, 1])
    with pytest.raises(
        ValueError, match=re.escape("labels must be one label per image, shape (n,)")
    ):
        separating_positions(r, torch.zeros(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must hold whole-number class labels"):
        separating_positions(r, [0.5, 0, 1, 1])
