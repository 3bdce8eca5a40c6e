"""Losses against real Keras 3 (torch backend): values and gradients w.r.t. y_pred.

Both sides run the same torch kernels in the same order, so the results agree to float
rounding; rtol 1e-5 leaves room for a last-bit difference in a reduction, atol 1e-6 covers
values that are (close to) zero. Inputs deliberately include probabilities at and near 0 and 1
(clipping), exact ties of ``maximum`` (hinge margins of 0, ``y_pred == epsilon``), labels to
ignore and 3-D ``(N, T, C)`` tensors.
"""
import inspect

import numpy as np
import pytest
import torch

from torchkeras_lite import losses

N, C = 8, 5
REDUCTIONS = ["sum_over_batch_size", "sum", "none"]
EXTRA_REDUCTIONS = ["mean", "mean_with_sample_weight", None]


def _rng(seed):
    return np.random.default_rng(seed)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def probs(shape, seed=0):
    """Class probabilities with rows at the clipping limits (exact 0 and 1, 1e-9, 1-1e-8)."""
    p = _softmax(_rng(seed).normal(size=shape) * 2)
    flat = p.reshape(-1, shape[-1])
    flat[0] = 0.0
    flat[0, 0] = 1.0
    flat[1] = 1e-9
    flat[1, 1] = 1.0 - 1e-8
    return p


def one_hot(shape, seed=1):
    idx = _rng(seed).integers(0, shape[-1], size=shape[:-1])
    return np.eye(shape[-1])[idx]


def labels(shape, classes=C, seed=2):
    return _rng(seed).integers(0, classes, size=shape)


def normal(shape, seed=3, scale=1.0):
    return _rng(seed).normal(size=shape) * scale


def binary(shape, seed=4):
    return _rng(seed).integers(0, 2, size=shape).astype(np.float64)


def bin_probs(shape, seed=5):
    p = _rng(seed).uniform(0.01, 0.99, size=shape).reshape(-1)
    p[:4] = [0.0, 1.0, 1e-9, 1.0 - 1e-9]
    return p.reshape(shape)


def positive(shape, seed=6):
    p = _rng(seed).uniform(0.0, 3.0, size=shape).reshape(-1)
    p[:2] = [0.0, np.float32(1e-7)]  # below / exactly at epsilon
    return p.reshape(shape)


def with_ignored(y, value, seed=7):
    y = y.copy().reshape(-1)
    y[_rng(seed).choice(y.size, size=max(1, y.size // 4), replace=False)] = value
    return y


def signed_preds(shape, seed=8):
    p = normal(shape, seed).reshape(-1)
    p[:3] = [1.0, -1.0, 1.0]  # margins of exactly 0 with labels of +-1
    return p.reshape(shape)


def hinge_labels(shape, signed, seed=9):
    y = binary(shape, seed).reshape(-1)
    y[:3] = [1.0, 0.0, 1.0]
    y = y.reshape(shape)
    return 2 * y - 1 if signed else y


def cat_hinge_data():
    yt = one_hot((N, C))
    yp = normal((N, C), seed=10)
    yt[0] = 0
    yt[0, 0] = 1
    yp[0] = [1.5, 0.5, 0.25, -1.0, 0.0]  # margin exactly 0
    return yt, yp


CCE, SCCE, BCE = "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy"
LOGITS = {"from_logits": True}
T3 = (4, 3, C)  # sequence shape (N, T, C)

# id: (Keras class name, kwargs, y_true, y_pred)
CASES = {
    "cce_probs": (CCE, {}, one_hot((N, C)), probs((N, C))),
    "cce_logits": (CCE, LOGITS, one_hot((N, C)), normal((N, C), scale=3)),
    "cce_smoothing": (CCE, {"label_smoothing": 0.1}, one_hot((N, C)), probs((N, C))),
    "cce_logits_smoothing_3d": (
        CCE, {**LOGITS, "label_smoothing": 0.2}, one_hot(T3), normal(T3, scale=3)
    ),
    "cce_soft_targets": (CCE, {}, probs((N, C), seed=11), probs((N, C))),
    "cce_axis1": (
        CCE, {"axis": 1}, np.moveaxis(one_hot(T3), -1, 1), np.moveaxis(probs(T3), -1, 1)
    ),
    "scce_probs": (SCCE, {}, labels((N,)), probs((N, C))),
    "scce_logits_trailing1": (SCCE, LOGITS, labels((N, 1)), normal((N, C), scale=3)),
    "scce_float_labels": (SCCE, {}, labels((N,)).astype(np.float32), probs((N, C))),
    "scce_ignore_probs": (
        SCCE, {"ignore_class": -1}, with_ignored(labels((N,)), -1), probs((N, C))
    ),
    "scce_ignore_logits": (
        SCCE, {**LOGITS, "ignore_class": 0}, labels((N,)), normal((N, C), scale=3)
    ),
    "scce_ignore_3d": (
        SCCE,
        {**LOGITS, "ignore_class": 255},
        with_ignored(labels((4, 3)), 255).reshape(4, 3),
        normal(T3, scale=3),
    ),
    "scce_3d_probs": (SCCE, {}, labels((4, 3)), probs(T3)),
    "scce_axis1": (SCCE, {**LOGITS, "axis": 1}, labels((4, 3)), normal((4, C, 3))),
    "bce_probs": (BCE, {}, binary((N, 3)), bin_probs((N, 3))),
    "bce_logits": (BCE, LOGITS, binary((N, 3)), normal((N, 3), scale=4)),
    "bce_smoothing": (BCE, {"label_smoothing": 0.2}, binary((N, 3)), bin_probs((N, 3))),
    "bce_rank1_labels": (BCE, {}, binary((N,)), bin_probs((N, 1))),
    "bce_logits_3d": (BCE, LOGITS, binary((4, 3, 2)), normal((4, 3, 2), scale=4)),
    "mse": ("MeanSquaredError", {}, normal((N, 3), seed=12), normal((N, 3))),
    "mse_rank1_vs_col": ("MeanSquaredError", {}, normal((N,), seed=12), normal((N, 1))),
    "mse_col_vs_rank1": ("MeanSquaredError", {}, normal((N, 1), seed=12), normal((N,))),
    "mse_3d": ("MeanSquaredError", {}, normal((4, 3, 2), seed=12), normal((4, 3, 2))),
    "mse_3d_trailing1": ("MeanSquaredError", {}, normal((4, 3), seed=12), normal((4, 3, 1))),
    "mae": ("MeanAbsoluteError", {}, normal((N, 3), seed=12), normal((N, 3))),
    "mape": (  # y_true with zeros: divided by epsilon
        "MeanAbsolutePercentageError",
        {},
        np.where(binary((N, 3)) > 0, normal((N, 3), seed=12), 0.0),
        normal((N, 3)),
    ),
    "msle": (
        "MeanSquaredLogarithmicError", {}, _rng(13).uniform(0, 3, (N, 3)), positive((N, 3))
    ),
    "huber": ("Huber", {}, normal((N, 3), seed=12), normal((N, 3), scale=2)),
    "huber_delta": ("Huber", {"delta": 0.3}, normal((N, 3), seed=12), normal((N, 3))),
    "log_cosh": ("LogCosh", {}, normal((N, 3), seed=12), normal((N, 3), scale=5)),
    "hinge_binary_labels": ("Hinge", {}, hinge_labels((N, 3), False), signed_preds((N, 3))),
    "hinge_signed_labels": ("Hinge", {}, hinge_labels((N, 3), True), signed_preds((N, 3))),
    "squared_hinge": ("SquaredHinge", {}, hinge_labels((N, 3), False), signed_preds((N, 3))),
    "categorical_hinge": ("CategoricalHinge", {}, *cat_hinge_data()),
    "kld": ("KLDivergence", {}, probs((N, C), seed=14), probs((N, C))),
    "poisson": ("Poisson", {}, _rng(13).uniform(0, 3, (N, 3)), positive((N, 3))),
    "cosine": (  # the first y_true row is a zero vector
        "CosineSimilarity",
        {},
        np.vstack([np.zeros((1, 3)), normal((N - 1, 3), seed=12)]),
        normal((N, 3)),
    ),
    "cosine_axis1_3d": (
        "CosineSimilarity", {"axis": 1}, normal((4, 3, 2), seed=12), normal((4, 3, 2))
    ),
}


# Keras multiplies the ignore_class mask into the weights in place, which fails for (N, 1)
# weights on (N, T) losses; give it full (N, T) weights (ours accepts both, see below).
FULL_WEIGHT_CASES = {"scce_ignore_3d"}


def _inputs(case, weighted):
    _, _, yt, yp = CASES[case]
    y_true = torch.as_tensor(yt)
    if not np.issubdtype(np.asarray(yt).dtype, np.integer):
        y_true = y_true.float()
    y_pred = torch.tensor(np.asarray(yp), dtype=torch.float32)
    sample_weight = None
    if weighted:
        # (N,) weights, one of them 0. For 3-D inputs the per-sample losses are (N, T) and
        # Keras aligns weights from the right, so per-sample weights there have shape (N, 1).
        n = y_pred.shape[0]
        w = _rng(20).uniform(0.5, 1.5, size=n)
        w[1] = 0.0
        per_sample_rank = y_pred.dim() - 1
        shape = (n,) + (1,) * (per_sample_rank - 1)
        sample_weight = torch.tensor(w, dtype=torch.float32).reshape(shape)
        if case in FULL_WEIGHT_CASES:
            sample_weight = sample_weight.expand(y_pred.shape[:-1]).contiguous()
    return y_true, y_pred, sample_weight


def _value_and_grad(loss, y_true, y_pred, sample_weight):
    y_pred = y_pred.clone().requires_grad_(True)
    out = loss(y_true, y_pred, sample_weight=sample_weight)
    cotangent = torch.linspace(0.5, 1.5, out.numel()).reshape(out.shape)
    (grad,) = torch.autograd.grad(out, y_pred, grad_outputs=cotangent)
    return out.detach(), grad


def _compare(ours, theirs):
    value, grad = ours
    k_value, k_grad = theirs
    assert value.shape == k_value.shape
    torch.testing.assert_close(value, k_value, rtol=1e-5, atol=1e-6, equal_nan=True)
    torch.testing.assert_close(grad, k_grad, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_class_matches_keras(K, case, reduction, weighted):
    class_name, kwargs, _, _ = CASES[case]
    y_true, y_pred, sample_weight = _inputs(case, weighted)
    ours = getattr(losses, class_name)(reduction=reduction, **kwargs)
    theirs = getattr(K.losses, class_name)(reduction=reduction, **kwargs)
    _compare(
        _value_and_grad(ours, y_true, y_pred, sample_weight),
        _value_and_grad(theirs, y_true, y_pred, sample_weight),
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reduction", EXTRA_REDUCTIONS)
@pytest.mark.parametrize("case", ["mse", "scce_ignore_probs", "scce_ignore_3d", "bce_logits_3d"])
def test_other_reductions_match_keras(K, case, reduction, weighted):
    test_loss_class_matches_keras(K, case, reduction, weighted)


@pytest.mark.parametrize(
    "case", sorted(c for c in CASES if CASES[c][2].shape == CASES[c][3].shape and "axis" not in c)
)
def test_loss_function_matches_keras(K, case):
    class_name, kwargs, _, _ = CASES[case]
    y_true, y_pred, _ = _inputs(case, False)
    fn_name = losses.serialize(getattr(losses, class_name)().fn)
    ours = getattr(losses, fn_name)
    theirs = getattr(K.losses, fn_name)
    _compare(
        _value_and_grad(lambda t, p, sample_weight: ours(t, p, **kwargs), y_true, y_pred, None),
        _value_and_grad(lambda t, p, sample_weight: theirs(t, p, **kwargs), y_true, y_pred, None),
    )


@pytest.mark.parametrize(
    "values_shape, weight_shape",
    [
        ((N,), ()),
        ((N,), (N,)),
        ((N,), (N, 1)),  # Keras then returns (N, 1) with reduction "none"
        ((N,), (1,)),
        ((4, 3), (4, 1)),
        ((4, 3), (4, 3)),
        ((4, 3), (3,)),
        ((4, 3), (1, 3)),
    ],
)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sample_weight_shapes_match_keras(K, values_shape, weight_shape, reduction):
    y_true = torch.tensor(normal(values_shape + (2,), seed=1), dtype=torch.float32)
    y_pred = torch.tensor(normal(values_shape + (2,), seed=2), dtype=torch.float32)
    weight = torch.tensor(_rng(3).uniform(0, 2, size=weight_shape), dtype=torch.float32)
    _compare(
        _value_and_grad(losses.MeanSquaredError(reduction=reduction), y_true, y_pred, weight),
        _value_and_grad(K.losses.MeanSquaredError(reduction=reduction), y_true, y_pred, weight),
    )


@pytest.mark.parametrize("reduction", REDUCTIONS + EXTRA_REDUCTIONS)
def test_ignore_class_with_per_sample_weights_3d(K, reduction):
    """(N, 1) weights with an ignore_class mask on (N, T) losses: Keras raises (in-place
    broadcast); ours gives what Keras gives for the same weights expanded to (N, T)."""
    y_true, y_pred, _ = _inputs("scce_ignore_3d", False)
    weight = torch.tensor([[0.5], [0.0], [2.0], [1.0]])
    kwargs = {"from_logits": True, "ignore_class": 255, "reduction": reduction}
    ours = losses.SparseCategoricalCrossentropy(**kwargs)
    theirs = K.losses.SparseCategoricalCrossentropy(**kwargs)
    _compare(
        _value_and_grad(ours, y_true, y_pred, weight),
        _value_and_grad(theirs, y_true, y_pred, weight.expand(4, 3).clone()),
    )


def test_numpy_and_integer_inputs_match_keras(K):
    y_true = np.array([1, 2, 3])  # integers become the loss dtype
    y_pred = np.array([[1.5], [2.0], [2.0]])  # float64 becomes float32
    ours = losses.MeanSquaredError()(y_true, y_pred)
    theirs = K.losses.MeanSquaredError()(y_true, y_pred)
    assert ours.dtype == theirs.dtype == torch.float32
    torch.testing.assert_close(ours, theirs)
    y_true, y_pred = np.array([0, 1]), np.array([[0.9, 0.1], [0.3, 0.7]])
    ours = losses.SparseCategoricalCrossentropy()(y_true, y_pred)
    theirs = K.losses.SparseCategoricalCrossentropy()(y_true, y_pred)
    torch.testing.assert_close(ours, theirs)


CLASS_NAMES = sorted(n for n, obj in losses.LOSSES.items() if isinstance(obj, type))


@pytest.mark.parametrize("class_name", CLASS_NAMES + ["Loss"])
def test_class_signatures_match_keras(K, class_name):
    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls).parameters.values()]

    assert params(getattr(losses, class_name)) == params(getattr(K.losses, class_name))
    if class_name != "Loss":
        assert getattr(losses, class_name)().name == getattr(K.losses, class_name)().name


def test_get_accepts_the_names_keras_accepts(K):
    from keras.src.losses import ALL_OBJECTS_DICT

    ours = {getattr(obj, "__name__") for obj in losses.LOSSES.values()}
    keras_names = {name for name, obj in ALL_OBJECTS_DICT.items() if obj.__name__ in ours}
    assert set(losses.LOSSES) == keras_names
    for name in keras_names:
        assert type(losses.get(name)).__name__ == type(K.losses.get(name)).__name__
