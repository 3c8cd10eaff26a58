"""The image-classifier tools: scores, confusion matrices, training through `fit`, `use`,
`forward_all_layers`, figures. Bad inputs name the argument; results are deterministic."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from interpcourse.training import plot_learning_curve
from interpcourse.classify import (
    Report,
    class_labels,
    confusion_matrix,
    first_linear,
    flat_images,
    forward_all_layers,
    make_classifier,
    percent_correct,
    plot_examples,
    plot_unit_activations,
    plot_weight_images,
    report,
    rmse,
    styled_confusion_matrix,
    train_for_classification,
    use,
)


def bars(n_each=100, size=6, seed=0):
    "Images with one horizontal bar (label 0) or one vertical bar (label 1)."
    rng = np.random.default_rng(seed)
    X = np.zeros((2 * n_each, 1, size, size), dtype=np.float32)
    pos = rng.integers(0, size, 2 * n_each)
    X[np.arange(n_each), 0, pos[:n_each], :] = 1.0
    X[np.arange(n_each, 2 * n_each), 0, :, pos[n_each:]] = 1.0
    return X, np.repeat([0, 1], n_each)[:, None]


@pytest.fixture(scope="module")
def trained():
    X, T = bars()
    return (X, T) + train_for_classification(X, T, [4], n_epochs=100, learning_rate=0.01, seed=0)


# --- scores ---------------------------------------------------------------------------------------


def test_rmse_and_percent_correct():
    assert rmse([0.0, 0.0], [3.0, 4.0]) == pytest.approx(np.sqrt(12.5))
    assert percent_correct(np.array([[1], [1], [0]]), [1, 0, 0]) == pytest.approx(200 / 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rmse([1.0], [1.0, 2.0]), "b must have the same shape as a"),
        (lambda: rmse("x", [1.0]), "a must be a NumPy array"),
        (lambda: rmse([], []), "a must not be empty"),
        (lambda: percent_correct([0, 1], [0]), "T must have 2 rows"),
        (lambda: percent_correct([], []), "Y_classes must not be empty"),
        (lambda: percent_correct([0.5], [0]), "Y_classes must hold whole-number"),
        (lambda: percent_correct([[0, 1]], [0]), "Y_classes must have shape"),
    ],
)
def test_scores_reject_bad_input(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_confusion_matrix_rows_are_percentages_of_the_true_class():
    rng = np.random.default_rng(0)
    T = rng.integers(0, 4, 500)
    Y = np.where(rng.random(500) < 0.7, T, rng.integers(0, 4, 500))
    cm = confusion_matrix(Y, T[:, None], class_names=list("abcd"))
    assert list(cm.index) == list("abcd") and list(cm.columns) == list("abcd")
    np.testing.assert_allclose(cm.sum(axis=1), 100.0)
    for k, name in enumerate("abcd"):  # the diagonal is each class's own percent correct
        assert cm.loc[name, name] == pytest.approx(percent_correct(Y[T == k], T[T == k]))
    assert np.trace(cm.values) < 400


def test_confusion_matrix_labels_and_empty_rows():
    cm = confusion_matrix([3, 7, 7], [3, 3, 7])
    assert list(cm.index) == [3, 7] and cm.loc[3, 7] == 50.0
    cm2 = confusion_matrix([0, 0], [0, 0], class_names=["x", "y"])
    assert np.isnan(cm2.loc["y"]).all() and cm2.loc["x", "x"] == 100.0


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: confusion_matrix([0, 2], [0, 1], class_names=["a", "b"]),
            "class_names must name every label",
        ),
        (lambda: confusion_matrix([0, 1], [0, 1], class_names="ab"), "class_names must be a list"),
        (
            lambda: confusion_matrix([0, 1], [0, 1], class_names=["a", "a"]),
            "class_names must be distinct",
        ),
        (lambda: confusion_matrix([0, 1], [0, 1, 1]), "T must have 2 rows"),
        (lambda: confusion_matrix([-1, 1], [0, 1]), "Y_classes labels must be >= 0"),
        (lambda: styled_confusion_matrix([0], "0"), "T must be a NumPy array"),
    ],
)
def test_confusion_matrix_rejects_bad_input(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_styled_confusion_matrix_renders_html():
    table = styled_confusion_matrix([0, 1, 1, 1], [0, 1, 0, 1], ["no", "yes"], caption="Demo")
    html = table.to_html()
    assert "Demo: 75.0% correct" in html and "background-color" in html and "50.0" in html


# --- the network ----------------------------------------------------------------------------------


def test_make_classifier_structure():
    net = make_classifier(36, [5, 4], 3)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear", "LogSoftmax"]
    assert (net[0].in_features, net[4].out_features) == (36, 3)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0, [4], 2), "n_inputs must be at least 1"),
        ((36, "4", 2), "hidden_layers must be a list"),
        ((36, [4, -1], 2), "each entry of hidden_layers must be at least 1"),
        ((36, [4.0], 2), "each entry of hidden_layers must be an int"),
        ((36, [4], 1), "n_classes must be at least 2"),
    ],
)
def test_make_classifier_rejects_bad_input(args, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make_classifier(*args)


def test_training_learns_and_is_deterministic(trained):
    X, T, net, curve = trained
    assert curve[-1] < curve[0] / 5
    assert percent_correct(use(net, X).argmax(1), T) == 100.0
    net2, curve2 = train_for_classification(
        X.reshape(len(X), -1), T[:, 0], [4], n_epochs=100, learning_rate=0.01, seed=0
    )
    np.testing.assert_array_equal(curve, curve2)  # flat images and flat labels: the same run
    assert torch.equal(net[0].weight, net2[0].weight)
    _, curve3 = train_for_classification(X, T, [4], n_epochs=100, learning_rate=0.01, seed=1)
    assert not np.array_equal(curve, curve3)


def test_training_uses_the_shared_fit_loop(monkeypatch):
    import interpcourse.classify as classify

    calls = []
    real_fit = classify.fit
    monkeypatch.setattr(classify, "fit", lambda *a, **kw: calls.append(kw) or real_fit(*a, **kw))
    X, T = bars(5)
    train_for_classification(
        X, T, [2], n_epochs=3, learning_rate=0.01, batch_size=4, optimizer="sgd", weight_decay=0.1
    )
    assert calls and calls[0]["epochs"] == 3 and calls[0]["batch_size"] == 4
    assert calls[0]["optimizer"] == "sgd" and calls[0]["weight_decay"] == 0.1


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(X=np.zeros((4, 6))[:, :, None]), "X must have 2 or 4 dimensions"),
        (dict(X=np.zeros((4, 2, 3, 3))), "X must have one channel"),
        (dict(X=np.zeros((0, 36))), "X must hold at least one image"),
        (dict(T=[0, 1, 0]), "T must have 4 rows"),
        (dict(T=[1, 1, 1, 1]), "T must hold at least two different classes"),
        (dict(T=[[0, 1], [0, 1], [0, 1], [0, 1]]), "T must have shape"),
        (dict(hidden_layers=3), "hidden_layers must be a list"),
        (dict(n_epochs=0), "n_epochs must be at least 1"),
        (dict(learning_rate=-0.1), "learning_rate must be a positive number"),
        (dict(n_classes=1), "n_classes must be at least 2"),
        (dict(n_classes=2, T=[0, 1, 2, 0]), r"T labels must be < n_classes \(2\)"),
        (dict(batch_size=0), "batch_size must be at least 1"),
        (dict(optimizer="lbfgs"), "optimizer must be one of"),
    ],
)
def test_train_for_classification_rejects_bad_input(kw, match):
    args = dict(X=np.zeros((4, 36)), T=[0, 1, 0, 1], hidden_layers=[2], n_epochs=2) | kw
    with pytest.raises((TypeError, ValueError), match=match):
        train_for_classification(**args)


def test_use_returns_probabilities(trained):
    X, T, net, _ = trained
    P = use(net, X)
    assert P.shape == (len(X), 2) and isinstance(P, np.ndarray)
    np.testing.assert_allclose(P.sum(1), 1.0, rtol=1e-5)
    assert (P >= 0).all()
    log_P = net(torch.as_tensor(X.reshape(len(X), -1))).detach().numpy()
    np.testing.assert_allclose(np.log(P), log_P, atol=1e-4)


def test_forward_all_layers(trained):
    X, T, net, _ = trained
    Ys = forward_all_layers(net, X[:5])
    assert len(Ys) == len(net) + 1 and all(isinstance(Y, np.ndarray) for Y in Ys)
    np.testing.assert_array_equal(Ys[0], X[:5].reshape(5, -1))
    np.testing.assert_allclose(Ys[2], np.tanh(Ys[1]), atol=1e-6)
    np.testing.assert_allclose(np.exp(Ys[-1]), use(net, X[:5]), atol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda net: use(net, np.zeros((2, 35))), "X must have 36 pixels per image"),
        (
            lambda net: use(nn.Linear(36, 2), np.zeros((2, 36))),
            "nnet must be a torch.nn.Sequential",
        ),
        (
            lambda net: use(nn.Sequential(nn.Tanh()), np.zeros((2, 36))),
            "nnet must contain a torch.nn.Linear",
        ),
        (lambda net: use(net[:-1], np.zeros((2, 36))), "nnet must end with nn.LogSoftmax"),
        (lambda net: forward_all_layers(net, np.full((2, 36), np.nan)), "X contains NaN"),
        (
            lambda net: forward_all_layers("net", np.zeros((2, 36))),
            "nnet must be a torch.nn.Sequential",
        ),
    ],
)
def test_use_and_forward_reject_bad_input(trained, call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call(trained[2])


# --- figures --------------------------------------------------------------------------------------


def test_weight_images_share_one_scale_and_one_colour_bar(trained):
    net = trained[2]
    fig = plot_weight_images(net, titles=["a", "b", "c", "d"])
    panels, bar = fig.axes[:4], fig.axes[-1]
    assert len({ax.images[0].get_clim() for ax in panels}) == 1
    lo, hi = panels[0].images[0].get_clim()
    assert lo == -hi == pytest.approx(-float(net[0].weight.detach().abs().max()))
    assert all(bar.get_position().x0 > ax.get_position().x1 for ax in panels)  # overlaps none
    unit_1 = net[0].weight[1].detach().numpy().reshape(6, 6)
    np.testing.assert_allclose(panels[1].images[0].get_array(), unit_1)


def test_unit_activations_and_examples(trained):
    X, T, net, _ = trained
    H = forward_all_layers(net, X)[2]
    fig = plot_unit_activations(H, T, class_names=["h", "v"])
    assert len([ax for ax in fig.axes if ax.axison]) == 4
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["h", "v"]
    fig = plot_examples(X, T, 4, class_names=["h", "v"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["h", "v"]


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda X, T, net: plot_weight_images(net, titles=["x"]),
            r"titles must have one entry per unit \(4\)",
        ),
        (lambda X, T, net: plot_weight_images(net, image_shape=(3, 3)), "image_shape must be"),
        (lambda X, T, net: plot_weight_images(net, ncols=0), "ncols must be at least 1"),
        (lambda X, T, net: plot_unit_activations(np.zeros(5), T), "H must have 2 dimensions"),
        (
            lambda X, T, net: plot_unit_activations(np.zeros((0, 3)), T[:0]),
            "H must hold at least one",
        ),
        (
            lambda X, T, net: plot_unit_activations(np.zeros((len(T), 2)), T, titles=["a"]),
            "titles must have one entry per unit",
        ),
        (lambda X, T, net: plot_examples(X, T[:3]), "T must have 200 rows"),
        (
            lambda X, T, net: plot_examples(X.reshape(len(X), -1)[:, :30], T),
            "image_shape must be given",
        ),
        (lambda X, T, net: plot_learning_curve([]), "curve must be a non-empty"),
        (
            lambda X, T, net: report(net, [1.0], X, T, X, T, n_per_class=0),
            "n_per_class must be at least 1",
        ),
    ],
)
def test_figures_reject_bad_input(trained, call, match):
    X, T, net, _ = trained
    with pytest.raises((TypeError, ValueError), match=match):
        call(X, T, net)


def test_report(trained):
    X, T, net, curve = trained
    rep = report(net, curve, X, T, X, T, ["h", "v"], n_per_class=3, name="toy")
    assert rep.train_percent == rep.test_percent == 100.0
    assert rep.curve_figure.axes[0].get_yscale() == "log"
    assert isinstance(rep.train_table.data, pd.DataFrame)
    assert "toy: training data" in rep.train_table.to_html()
    dots = rep.activation_figure.axes[0].collections[0].get_offsets()
    assert len(dots) == 6  # 3 examples of each class
    assert (
        isinstance(rep, Report)
        and repr(rep) == "Report(train_percent=100.0, test_percent=100.0, epochs=100)"
    )


# --- issue 12: inputs a new user tries ------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [np.array(["a", "b", "a", "b"]), ["a", "b", "a", "b"], [None, 1, 0, 1]],
    ids=["str array", "str list", "object"],
)
def test_string_or_object_labels_name_the_argument(labels):
    X = np.zeros((4, 36))
    with pytest.raises(TypeError, match=r"^T must hold integer class labels"):
        train_for_classification(X, labels, [2], n_epochs=1)
    with pytest.raises(TypeError, match=r"^T must hold integer class labels"):
        percent_correct([0, 1, 0, 1], labels)
    with pytest.raises(TypeError, match=r"^Y_classes must hold integer class labels"):
        confusion_matrix(labels, [0, 1, 0, 1])
    with pytest.raises(TypeError, match=r"^T must hold integer class labels"):
        plot_unit_activations(np.zeros((4, 2)), labels)


@pytest.mark.parametrize(
    "kw, error, match",
    [
        (dict(learning_rate="0.1"), TypeError, "learning_rate must be a real number"),
        (dict(learning_rate=float("nan")), ValueError, "learning_rate must be a finite number"),
        (dict(learning_rate=float("inf")), ValueError, "learning_rate must be a finite number"),
        (dict(n_epochs=True), TypeError, "n_epochs must be an int"),
        (dict(hidden_layers=np.array([3])), TypeError, "hidden_layers must be a list"),
        (dict(X=None), TypeError, "X must be a NumPy array"),
        (dict(T=None), TypeError, "T must be a NumPy array"),
        (dict(T=np.array(1)), ValueError, r"T must have shape \(n,\) or \(n, 1\)"),
        (dict(weight_decay=-1), ValueError, "weight_decay must be"),
        (dict(optimizer=None), TypeError, "optimizer must be one of"),
    ],
)
def test_train_for_classification_more_bad_input(kw, error, match):
    args = dict(X=np.zeros((4, 36)), T=[0, 1, 0, 1], hidden_layers=[2], n_epochs=2) | kw
    with pytest.raises(error, match=match):
        train_for_classification(**args)


def test_numpy_numbers_and_float64_tensors_are_accepted(trained):
    X, T, net, _ = trained
    net2, _ = train_for_classification(
        X, T, [4], n_epochs=np.int64(3), learning_rate=np.float32(0.01)
    )
    assert net2[0].out_features == 4
    X64 = torch.as_tensor(X.reshape(len(X), -1), dtype=torch.float64)  # not the network's dtype
    np.testing.assert_allclose(use(net, X64), use(net, X), atol=1e-6)
    np.testing.assert_allclose(
        forward_all_layers(net, X64)[2], forward_all_layers(net, X)[2], atol=1e-6
    )


def test_public_helpers_for_the_other_lessons(trained):
    X, T, net, _ = trained
    np.testing.assert_array_equal(class_labels(T), T[:, 0])
    assert class_labels(torch.tensor([2, 0]), "y").dtype == np.int64
    with pytest.raises(ValueError, match=r"labels must have 3 rows"):
        class_labels([0, 1], "labels", n=3)
    with pytest.raises(ValueError, match=r"y must have shape \(n,\) or \(n, 1\)"):
        class_labels(np.zeros((2, 2)), "y")
    assert flat_images(X).shape == (len(X), 36)
    with pytest.raises(ValueError, match="images must have one channel"):
        flat_images(np.zeros((2, 3, 4, 4)), "images")
    assert first_linear(net) is net[0]
    with pytest.raises(ValueError, match="nnet must contain a torch.nn.Linear"):
        first_linear(nn.Sequential(nn.Tanh()))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda X, T, net: plot_weight_images(net, titles="abcd"),
            TypeError,
            "titles must be a list",
        ),
        (
            lambda X, T, net: plot_weight_images(net, image_shape=(-6, -6)),
            ValueError,
            "image_shape",
        ),
        (
            lambda X, T, net: plot_weight_images(None),
            TypeError,
            "nnet must be a torch.nn.Sequential",
        ),
        (lambda X, T, net: report(None, [1.0], X, T, X, T), TypeError, "nnet must be a torch.nn"),
        (lambda X, T, net: report(nn.Linear(36, 2), [1.0], X, T, X, T), TypeError, "nnet must be"),
        (lambda X, T, net: report(net, "abc", X, T, X, T), TypeError, "learning_curve must be"),
        (
            lambda X, T, net: report(net, [1.0], X, T, X[:, :, :5], T),
            ValueError,
            "Xtest must have 36",
        ),
        (lambda X, T, net: report(net, [1.0], X[:, :, :5], T, X, T), ValueError, "X must have 36"),
    ],
)
def test_figures_and_report_more_bad_input(trained, call, error, match):
    X, T, net, _ = trained
    with pytest.raises(error, match=match):
        call(X, T, net)
