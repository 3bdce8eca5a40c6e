"""Keras 3 losses on torch tensors: per-sample functions, a reducing base class, classes, get().

Who owns what:

* The **functions** (``mean_squared_error``, ``categorical_crossentropy``, ...) own the maths.
  Each takes ``(y_true, y_pred)`` tensors (numpy arrays are converted) and returns one value
  per sample: the last axis (or ``axis``) is reduced, so the result has shape
  ``y_pred.shape[:-1]``. They call the same torch kernels in the same order as Keras's torch
  backend, so values and gradients match ``keras.losses`` to float rounding. They also own the
  shape checks of their inputs (shape attributes only: no host sync).
* :class:`Loss` owns the plumbing shared by every loss, once: converting inputs to tensors of
  the loss dtype, Keras's rank reconciliation of ``(N,)`` against ``(N, 1)``, checking and
  applying ``sample_weight`` (and masks, e.g. from ``ignore_class``), and the reduction.
  Subclasses write only ``call(y_true, y_pred)``.
* :class:`LossFunctionWrapper` turns a function plus keyword arguments into a :class:`Loss`;
  the named classes (:class:`MeanSquaredError`, ...) are thin wrappers with Keras's argument
  order, defaults and names.
* :data:`LOSSES` is the catalog (function names, class names and Keras's short aliases);
  :func:`get`, :func:`serialize` and :func:`deserialize` go through
  :mod:`torchkeras_lite.utils.registry`.

Example::

    >>> import torch
    >>> from torchkeras_lite import losses
    >>> losses.MeanSquaredError()(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]))
    tensor(0.2500)
"""
from __future__ import annotations

import functools
import numbers
import re
import warnings
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from torchkeras_lite import _fused, config
from torchkeras_lite.utils import registry

ArrayLike = Union[torch.Tensor, np.ndarray, float, list]
DType = Union[str, torch.dtype, None]

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "mixed_float16": torch.float16,
    "mixed_bfloat16": torch.bfloat16,
}
_NUMPY_FLOATS = {torch.float16: np.float16, torch.float64: np.float64}


# ---------------------------------------------------------------------------------------------
# Input handling shared by the functions and the base class (shape attributes only, no syncs).


def _as_tensor(x: ArrayLike, dtype: Optional[torch.dtype] = None, device=None) -> torch.Tensor:
    """``x`` as a tensor of ``dtype`` on ``device`` (no copy when it already is one)."""
    if isinstance(x, torch.Tensor):
        if (dtype is not None and x.dtype != dtype) or (device is not None and x.device != device):
            return x.to(device=device, dtype=dtype, non_blocking=True)
        return x
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def _float_tensor(y_pred: ArrayLike) -> torch.Tensor:
    y_pred = _as_tensor(y_pred)
    if not y_pred.is_floating_point():
        y_pred = y_pred.to(getattr(torch, config.floatx()))
    return y_pred


def _reconcile_ranks(a: torch.Tensor, b: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
    """Keras's rule when ranks differ by one and the longer tensor ends in a size-1 axis.

    Rank 1 against rank 2: the rank-1 tensor gains a trailing axis, ``(N,)`` with ``(N, 1)``
    gives two ``(N, 1)``. Higher ranks: the trailing axis is dropped, ``(N, T, 1)`` with
    ``(N, T)`` gives two ``(N, T)``. Anything else is returned unchanged.
    """
    rank_a, rank_b = a.dim(), b.dim()
    if rank_a == rank_b + 1 and a.shape[-1] == 1:
        if rank_b == 1:
            return a, b.unsqueeze(-1)
        return a.squeeze(-1), b
    if rank_b == rank_a + 1 and b.shape[-1] == 1:
        if rank_a == 1:
            return a.unsqueeze(-1), b
        return a, b.squeeze(-1)
    return a, b


def _same_shape_error(loss: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> ValueError:
    return ValueError(
        f"{loss}: y_true and y_pred must have the same shape, got y_true.shape="
        f"{tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}. Only a trailing axis of "
        f"size 1 is added or removed automatically; reshape y_true, or change the model's "
        f"output size, so that the shapes match."
    )


def _paired(loss: str, y_true: ArrayLike, y_pred: ArrayLike) -> "tuple[torch.Tensor, torch.Tensor]":
    """Tensors of y_pred's dtype and device, ranks reconciled, checked to have one shape."""
    y_pred = _float_tensor(y_pred)
    y_true = _as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    y_true, y_pred = _reconcile_ranks(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise _same_shape_error(loss, y_true, y_pred)
    return y_true, y_pred


def _check_axis(loss: str, axis: Any) -> None:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"{loss}: axis must be an integer, got {axis!r}.")


def _check_label_smoothing(label_smoothing: Any) -> None:
    is_real = isinstance(label_smoothing, numbers.Real) and not isinstance(label_smoothing, bool)
    if not is_real or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"label_smoothing must be a float in [0, 1], got {label_smoothing!r}. "
            f"Use 0.0 to turn smoothing off."
        )


def _zero(like: torch.Tensor) -> torch.Tensor:
    """A 0-d zero: ``torch.maximum`` against it splits the gradient at ties as Keras does."""
    return like.new_zeros(())


# Constants that Keras computes on tensors are computed here once, with the same rounding.
_LOG2_FLOAT32 = float(np.log(np.float32(2.0)))  # Keras rounds log(2) to float32 for any dtype


@functools.lru_cache(maxsize=64)
def _smoothing_offset(label_smoothing: float, num_classes: int, dtype: torch.dtype) -> float:
    """``label_smoothing / num_classes``, which torch evaluates as ``reciprocal(n) * s``."""
    f = _NUMPY_FLOATS.get(dtype, np.float32)
    return float((f(1.0) / f(num_classes)) * f(label_smoothing))


@functools.lru_cache(maxsize=64)
def _huber_constants(delta: float, dtype: torch.dtype) -> "tuple[float, float]":
    """``delta`` and ``0.5 * delta ** 2`` rounded as in ``dtype``."""
    f = _NUMPY_FLOATS.get(dtype, np.float32)
    return float(f(delta)), float(f(0.5) * np.square(f(delta)))


# ---------------------------------------------------------------------------------------------
# Per-sample loss functions.


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``(y_true - y_pred) ** 2`` over the last axis.

    Shape: ``y_true`` and ``y_pred`` ``(N, ..., D)`` (a trailing axis of size 1 may be missing
    from one of them); result ``(N, ...)``.

    Example::

        >>> mean_squared_error(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.5, 0.5]]))
        tensor([0.2500])
    """
    y_true, y_pred = _paired("mean_squared_error", y_true, y_pred)
    return torch.mean(torch.square(y_true - y_pred), dim=-1)


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``|y_true - y_pred|`` over the last axis. Shapes as :func:`mean_squared_error`."""
    y_true, y_pred = _paired("mean_absolute_error", y_true, y_pred)
    return torch.mean(torch.abs(y_true - y_pred), dim=-1)


def mean_absolute_percentage_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """``100 * mean(|y_true - y_pred| / max(|y_true|, epsilon))`` over the last axis.

    Shapes as :func:`mean_squared_error`; ``epsilon`` is ``config.epsilon()``.
    """
    y_true, y_pred = _paired("mean_absolute_percentage_error", y_true, y_pred)
    denominator = torch.clamp_min(torch.abs(y_true), config.epsilon())
    return 100.0 * torch.mean(torch.abs((y_true - y_pred) / denominator), dim=-1)


def mean_squared_logarithmic_error(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``(log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps))) ** 2``, last axis."""
    y_true, y_pred = _paired("mean_squared_logarithmic_error", y_true, y_pred)
    eps = y_pred.new_full((), config.epsilon())
    first = torch.log(torch.maximum(y_pred, eps) + 1.0)
    second = torch.log(torch.clamp_min(y_true, config.epsilon()) + 1.0)
    return torch.mean(torch.square(first - second), dim=-1)


def huber(y_true: ArrayLike, y_pred: ArrayLike, delta: float = 1.0) -> torch.Tensor:
    """Huber loss, averaged over the last axis.

    ``0.5 * e**2`` where ``|e| <= delta``, else ``delta * |e| - 0.5 * delta**2``, with
    ``e = y_pred - y_true``.

    Args:
        delta: where the loss turns from quadratic to linear (default 1.0).
    """
    y_true, y_pred = _paired("huber", y_true, y_pred)
    d, half_delta_sq = _huber_constants(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = torch.abs(error)
    quadratic = 0.5 * torch.square(error)
    return torch.mean(torch.where(abs_error <= d, quadratic, d * abs_error - half_delta_sq), dim=-1)


def log_cosh(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``log(cosh(y_pred - y_true))`` over the last axis, computed without overflow."""
    y_true, y_pred = _paired("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    return torch.mean(x + F.softplus(x * -2.0) - _LOG2_FLOAT32, dim=-1)


def _signed_labels(y_true: torch.Tensor) -> torch.Tensor:
    """Labels in {0, 1} become {-1, 1}; any other labels are kept (decided on device)."""
    is_binary = torch.logical_or(y_true == 0, y_true == 1).all()
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``max(1 - y_true * y_pred, 0)`` over the last axis.

    ``y_true`` holds -1/1 labels; 0/1 labels are converted to -1/1.
    """
    y_true, y_pred = _paired("hinge", y_true, y_pred)
    margin = 1.0 - _signed_labels(y_true) * y_pred
    return torch.mean(torch.maximum(margin, _zero(margin)), dim=-1)


def squared_hinge(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``max(1 - y_true * y_pred, 0) ** 2`` over the last axis (labels as :func:`hinge`)."""
    y_true, y_pred = _paired("squared_hinge", y_true, y_pred)
    margin = 1.0 - _signed_labels(y_true) * y_pred
    return torch.mean(torch.square(torch.maximum(margin, _zero(margin))), dim=-1)


def categorical_hinge(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last axis.

    ``y_true`` is one-hot (or -1/1) with the shape of ``y_pred``.
    """
    y_true, y_pred = _paired("categorical_hinge", y_true, y_pred)
    positive = torch.sum(y_true * y_pred, dim=-1)
    negative = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    margin = negative - positive + 1.0
    return torch.maximum(margin, _zero(margin))


def kl_divergence(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """``sum(y_true * log(y_true / y_pred))`` over the last axis, both clipped to ``[eps, 1]``."""
    y_true, y_pred = _paired("kl_divergence", y_true, y_pred)
    eps = config.epsilon()
    y_true = torch.clip(y_true, eps, 1.0)
    y_pred = torch.clip(y_pred, eps, 1.0)
    return torch.sum(y_true * torch.log(y_true / y_pred), dim=-1)


def poisson(y_true: ArrayLike, y_pred: ArrayLike) -> torch.Tensor:
    """Mean of ``y_pred - y_true * log(y_pred + eps)`` over the last axis."""
    y_true, y_pred = _paired("poisson", y_true, y_pred)
    return torch.mean(y_pred - y_true * torch.log(y_pred + config.epsilon()), dim=-1)


def cosine_similarity(y_true: ArrayLike, y_pred: ArrayLike, axis: int = -1) -> torch.Tensor:
    """Negative cosine similarity along ``axis`` (-1 is best; 0 when either vector is zero).

    Args:
        axis: the feature axis (default -1).

    Shape: ``y_true`` and ``y_pred`` alike; the result drops ``axis``.
    """
    y_true, y_pred = _paired("cosine_similarity", y_true, y_pred)
    return -torch.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), dim=axis)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    inv_norm = torch.rsqrt(torch.sum(torch.square(x), dim=axis, keepdim=True))
    return x * torch.clamp_max(inv_norm, 1.0 / config.epsilon())


def categorical_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Crossentropy between one-hot (or soft) targets and class probabilities or logits.

    Probabilities are renormalised to sum to 1 along ``axis`` and clipped to
    ``[eps, 1 - eps]``; logits go through ``log_softmax``.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities (default False).
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + s / num_classes``
            (default 0.0).
        axis: the class axis (default -1).

    Shape: ``y_true`` and ``y_pred`` ``(N, ..., C)``; result ``(N, ...)``. For integer class
    labels use :func:`sparse_categorical_crossentropy`.

    Example::

        >>> categorical_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.2, 0.8]]))
        tensor([0.2231])
    """
    _check_axis("categorical_crossentropy", axis)
    _check_label_smoothing(label_smoothing)
    logits = None if from_logits else _fused.logits_of(y_pred)
    y_pred = _float_tensor(y_pred)
    y_true = _as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    y_true, y_pred = _reconcile_ranks(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise _categorical_shape_error(y_true, y_pred)
    if y_pred.dim() == 0:
        raise ValueError("categorical_crossentropy: y_pred must have a class axis, got a scalar.")
    if y_pred.shape[-1] == 1:
        warnings.warn(
            f"categorical_crossentropy got y_pred.shape={tuple(y_pred.shape)}: with a single "
            f"class the loss is always ~0. Use 'binary_crossentropy' for two classes.",
            stacklevel=2,
        )
    if label_smoothing:
        offset = _smoothing_offset(label_smoothing, y_true.shape[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + offset
    if from_logits:
        log_prob = F.log_softmax(y_pred, dim=axis)
    elif logits is not None and logits.shape == y_pred.shape and axis % y_pred.dim() == \
            y_pred.dim() - 1 and not y_true.requires_grad:
        return _fused.softmax_categorical_crossentropy(logits, y_true, config.epsilon())
    else:
        eps = config.epsilon()
        probs = y_pred / torch.sum(y_pred, dim=axis, keepdim=True)
        log_prob = torch.log(torch.clip(probs, eps, 1.0 - eps))
    return -torch.sum(y_true * log_prob, dim=axis)


def _categorical_shape_error(y_true: torch.Tensor, y_pred: torch.Tensor) -> ValueError:
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    classes = pred_shape[-1] if pred_shape else 0
    looks_sparse = classes > 1 and (
        true_shape == pred_shape[:-1] or true_shape == pred_shape[:-1] + (1,)
    )
    if looks_sparse:
        return ValueError(
            f"categorical_crossentropy expects one-hot y_true with the shape of y_pred, got "
            f"y_true.shape={true_shape} for y_pred.shape={pred_shape}: these look like integer "
            f"class labels. Use loss='sparse_categorical_crossentropy' "
            f"(SparseCategoricalCrossentropy), or one-hot encode the labels with "
            f"utils.to_categorical(y, num_classes={classes})."
        )
    return _same_shape_error("categorical_crossentropy", y_true, y_pred)


def sparse_categorical_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    ignore_class: Optional[int] = None,
    axis: int = -1,
) -> torch.Tensor:
    """Crossentropy between integer class labels and class probabilities or logits.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities (default False).
        ignore_class: a label whose entries get loss 0 (e.g. -1 or 255 for a "void" class);
            through a :class:`Loss`, they are also left out of the mean. Default None.
        axis: the class axis of ``y_pred`` (default -1).

    Shape: ``y_pred`` ``(N, ..., C)``; ``y_true`` ``(N, ...)`` or ``(N, ..., 1)`` holding
    integers in ``[0, C)`` (float labels are truncated); result ``(N, ...)``.

    Example::

        >>> sparse_categorical_crossentropy(torch.tensor([1]), torch.tensor([[0.2, 0.8]]))
        tensor([0.2231])
    """
    return _sparse_crossentropy(y_true, y_pred, from_logits, ignore_class, axis)[0]


def _sparse_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    ignore_class: Optional[int] = None,
    axis: int = -1,
) -> "tuple[torch.Tensor, Optional[torch.Tensor]]":
    """Per-entry losses and, with ``ignore_class``, the mask of entries that count."""
    _check_axis("sparse_categorical_crossentropy", axis)
    logits = None if from_logits or ignore_class is not None else _fused.logits_of(y_pred)
    y_pred = _float_tensor(y_pred)
    y_true = _as_tensor(y_true, device=y_pred.device)
    rank = y_pred.dim()
    if rank == 0 or not -rank <= axis < rank:
        raise ValueError(
            f"sparse_categorical_crossentropy: axis={axis} is not an axis of "
            f"y_pred.shape={tuple(y_pred.shape)}."
        )
    class_axis = axis % rank
    if y_true.dim() == rank and y_true.shape[class_axis] == 1:
        y_true = y_true.squeeze(class_axis)
    if y_true.shape != y_pred.shape[:class_axis] + y_pred.shape[class_axis + 1 :]:
        raise _sparse_shape_error(y_true, y_pred, class_axis)
    target = y_true.long()
    if logits is not None and logits.shape == y_pred.shape and class_axis == rank - 1 \
            and rank > 1:
        return _fused.softmax_sparse_categorical_crossentropy(
            logits, target, config.epsilon()), None
    mask = None if ignore_class is None else target != ignore_class
    extra = {} if ignore_class is None else {"ignore_index": int(ignore_class)}
    if rank == 1:
        y_pred, target = y_pred.unsqueeze(0), target.unsqueeze(0)
    elif class_axis != 1:
        y_pred = y_pred.movedim(class_axis, 1)
    if from_logits:
        result = F.cross_entropy(y_pred, target, reduction="none", **extra)
    else:
        eps = config.epsilon()
        probs = torch.clip(y_pred / torch.sum(y_pred, dim=1, keepdim=True), eps, 1.0 - eps)
        result = F.nll_loss(torch.log(probs), target, reduction="none", **extra)
    if rank == 1:
        result = result.squeeze(0)
    return result, mask


def _sparse_shape_error(y_true: torch.Tensor, y_pred: torch.Tensor, class_axis: int) -> ValueError:
    true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
    expected = pred_shape[:class_axis] + pred_shape[class_axis + 1 :]
    if true_shape == pred_shape:
        return ValueError(
            f"sparse_categorical_crossentropy expects integer class labels of shape {expected} "
            f"for y_pred.shape={pred_shape}, got y_true.shape={true_shape}, which looks one-hot. "
            f"Use loss='categorical_crossentropy' (CategoricalCrossentropy), or turn the labels "
            f"into class indices with argmax(y_true, axis={class_axis - len(pred_shape)})."
        )
    return ValueError(
        f"sparse_categorical_crossentropy expects integer class labels of shape {expected} "
        f"(or with a trailing axis of size 1) for y_pred.shape={pred_shape}, got "
        f"y_true.shape={true_shape}. Reshape y_true, or change the model's output size."
    )


def binary_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> torch.Tensor:
    """Binary crossentropy, averaged over ``axis``.

    Probabilities are clipped to ``[eps, 1 - eps]``; logits use the stable
    BCE-with-logits formula.

    Args:
        from_logits: ``y_pred`` holds logits rather than probabilities (default False).
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + 0.5 * s`` (default 0.0).
        axis: the axis averaged over (default -1).

    Shape: ``y_true`` and ``y_pred`` ``(N, ..., D)`` (``(N,)`` against ``(N, 1)`` is
    reconciled); result drops ``axis``.

    Example::

        >>> binary_crossentropy(torch.tensor([[1.0]]), torch.tensor([[0.8]]))
        tensor([0.2231])
    """
    _check_axis("binary_crossentropy", axis)
    _check_label_smoothing(label_smoothing)
    y_true, y_pred = _paired("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        eps = config.epsilon()
        probs = torch.clip(y_pred, eps, 1.0 - eps)
        values = F.binary_cross_entropy(probs, y_true, reduction="none")
    return torch.mean(values, dim=axis)


# ---------------------------------------------------------------------------------------------
# Reduction.


def _check_reduction(reduction: Any) -> Optional[str]:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid reduction {reduction!r}. Valid reductions are: "
            f"{', '.join(repr(r) for r in REDUCTIONS)}."
        )
    return reduction


def _check_weight_shape(what: str, loss: str, values: torch.Tensor, weight: torch.Tensor) -> None:
    """Weights must broadcast onto the per-sample losses without enlarging them (Keras aligns
    trailing axes); a weight that also matches the leading axes is refused as ambiguous."""
    v, w = _reconcile_ranks(values, weight)
    v_shape, w_shape = tuple(v.shape), tuple(w.shape)
    broadcasts = len(w_shape) <= len(v_shape) and all(
        wd in (1, vd) for wd, vd in zip(reversed(w_shape), reversed(v_shape))
    )
    leading = 0 < len(w_shape) < len(v_shape) and w_shape == v_shape[: len(w_shape)]
    if broadcasts and not (leading and any(d != 1 for d in w_shape)):
        return
    per_sample = w_shape + (1,) * (len(v_shape) - len(w_shape)) if leading else None
    fix = (
        f"For one weight per sample, reshape {what} to {per_sample}; for weights along the "
        f"trailing axes, give them leading axes of size 1."
        if leading
        else f"Give {what} the loss's shape {v_shape}, or a shape that broadcasts to it "
        f"(size-1 axes, aligned from the right)."
    )
    problem = "is ambiguous for" if broadcasts else "cannot be broadcast to"
    raise ValueError(
        f"{loss}: {what} of shape {tuple(weight.shape)} {problem} the per-sample loss shape "
        f"{tuple(values.shape)} (Keras aligns weights with the trailing axes of the loss). {fix}"
    )


def _divide_no_nan(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    is_zero = denominator == 0
    safe = torch.where(is_zero, torch.ones_like(denominator), denominator)
    return torch.where(is_zero, 0, torch.divide(numerator, safe))


def _reduce(
    values: torch.Tensor,
    sample_weight: Optional[torch.Tensor],
    mask: Optional[torch.Tensor],
    reduction: Optional[str],
) -> torch.Tensor:
    """Weight the per-sample ``values`` (mask folded into the weights) and reduce them."""
    weight = sample_weight
    if mask is not None:
        if reduction in ("sum_over_batch_size", "mean"):
            # Masked entries weigh 0 and the others total/valid, so that the sum divided by
            # the number of entries is the mean over the valid entries (Keras's formula).
            valid = torch.sum(mask.to(values.dtype))
            scale = _divide_no_nan(torch.full_like(valid, mask.numel()), valid)
            mask_weight = torch.where(mask, scale, 0.0)
        else:
            mask_weight = mask.to(values.dtype)
        if weight is None:
            weight = mask_weight
        else:
            mask_weight, weight = _reconcile_ranks(mask_weight, weight)
            weight = weight * mask_weight
    if weight is not None:
        values, weight = _reconcile_ranks(values, weight)
        values = values * weight
    if reduction is None or reduction == "none" or values.dim() == 0 or tuple(values.shape) == (0,):
        return values
    total = torch.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and weight is not None:
        return _divide_no_nan(total, torch.sum(weight))
    count = values.numel()
    return total / count if count else total


# ---------------------------------------------------------------------------------------------
# Classes.


def _resolve_dtype(dtype: DType) -> torch.dtype:
    if dtype is None:
        return _DTYPES[config.floatx()]
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(
        f"dtype must be None (config.floatx()), a float torch.dtype or one of "
        f"{sorted(_DTYPES)}, got {dtype!r}."
    )


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base class of losses: ``__call__`` converts, weights and reduces; subclasses write ``call``.

    Args:
        name: a name for the loss (default: the class name in snake case).
        reduction: how per-sample values become the result (default "sum_over_batch_size"):

            * "sum_over_batch_size" / "mean": sum of weighted values divided by their number
              (not by the sum of the weights);
            * "sum": sum of the weighted values;
            * "mean_with_sample_weight": sum of weighted values divided by the sum of weights;
            * "none" / None: the weighted per-sample values.
        dtype: the computation dtype, a name or torch.dtype (default ``config.floatx()``).

    Shape: ``call`` returns per-sample values, usually ``y_pred.shape[:-1]``;
    ``sample_weight`` must broadcast onto them from the right (``(N,)`` for ``(N,)``).

    Example::

        >>> class Absolute(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return torch.abs(y_true - y_pred).mean(dim=-1)
        >>> Absolute(reduction="sum")(torch.ones(2, 3), torch.zeros(2, 3))
        tensor(2.)
    """

    #: When True, integer ``y_true`` is passed to ``call`` unchanged instead of being cast.
    integer_labels: bool = False

    def __init__(
        self,
        name: Optional[str] = None,
        reduction: Optional[str] = "sum_over_batch_size",
        dtype: DType = None,
    ) -> None:
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = _check_reduction(reduction)
        self._compute_dtype = _resolve_dtype(dtype)
        self._dtype_arg = _dtype_name(dtype) if isinstance(dtype, torch.dtype) else dtype

    @property
    def dtype(self) -> str:
        """The computation dtype's name, e.g. 'float32'."""
        return _dtype_name(self._compute_dtype)

    def __call__(
        self,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        sample_weight: Optional[ArrayLike] = None,
        *,
        mask: Optional[ArrayLike] = None,
    ) -> torch.Tensor:
        """The reduced loss.

        Args:
            y_true: targets (tensor or array).
            y_pred: predictions (tensor or array), cast to the loss dtype.
            sample_weight: optional weights that broadcast onto the per-sample losses.
            mask: optional boolean tensor of the per-sample loss shape (keyword only); False
                entries are left out, as Keras does with the ``_keras_mask`` of ``y_pred``.
        """
        if sample_weight is None and mask is None and _fused.logits_of(y_pred) is not None:
            value = self._fused_mean(y_true, y_pred)
            if value is not None:
                return value
        y_pred = _as_tensor(y_pred, dtype=self._compute_dtype)
        y_true = _as_tensor(y_true, device=y_pred.device)
        if not (self.integer_labels and not y_true.is_floating_point()):
            y_true = y_true.to(self._compute_dtype)
        y_true, y_pred = _reconcile_ranks(y_true, y_pred)
        values, loss_mask = self._call_with_mask(y_true, y_pred)
        if mask is not None:
            mask = _as_tensor(mask, dtype=torch.bool, device=values.device)
            _check_weight_shape("mask", self.name, values, mask)
            loss_mask = mask if loss_mask is None else mask & loss_mask
        if sample_weight is not None:
            sample_weight = _as_tensor(sample_weight, dtype=values.dtype, device=values.device)
            _check_weight_shape("sample_weight", self.name, values, sample_weight)
        return _reduce(values, sample_weight, loss_mask, self.reduction)

    def _fused_mean(self, y_true: Any, y_pred: torch.Tensor) -> Optional[torch.Tensor]:
        """The batch mean of a crossentropy on a softmax output computed from its logits in
        a few ops (see :mod:`torchkeras_lite._fused`), or None where the general path must run
        (other losses or reductions, smoothing, odd shapes or dtypes)."""
        fn = getattr(self, "fn", None)
        if (fn is not categorical_crossentropy and fn is not sparse_categorical_crossentropy) \
                or self.reduction not in ("sum_over_batch_size", "mean") \
                or type(y_true) is not torch.Tensor or y_pred.dtype != self._compute_dtype \
                or y_pred.dim() != 2 or y_pred.shape[-1] < 2 or y_true.device != y_pred.device \
                or y_true.requires_grad:
            return None
        kwargs = self._fn_kwargs
        if kwargs.get("from_logits") or kwargs.get("label_smoothing") \
                or kwargs.get("axis", -1) not in (-1, 1) \
                or kwargs.get("ignore_class") is not None:
            return None
        logits = _fused.logits_of(y_pred)
        if fn is categorical_crossentropy:
            if y_true.shape != y_pred.shape or y_true.dtype != y_pred.dtype:
                return None
            return _fused.categorical_crossentropy_mean(logits, y_true, config.epsilon())
        if y_true.is_floating_point() or y_true.shape not in ((y_pred.shape[0],),
                                                              (y_pred.shape[0], 1)):
            return None
        return _fused.sparse_categorical_crossentropy_mean(logits, y_true.reshape(-1),
                                                           config.epsilon())

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        """Per-sample loss values; subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def _call_with_mask(
        self, y_true: torch.Tensor, y_pred: torch.Tensor
    ) -> "tuple[torch.Tensor, Optional[torch.Tensor]]":
        """Per-sample values and a mask of those that count (None: all count)."""
        return self.call(y_true, y_pred), None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction, "dtype": self._dtype_arg}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A :class:`Loss` made from a per-sample function and its keyword arguments.

    Args:
        fn: ``fn(y_true, y_pred, **kwargs)`` returning per-sample values.
        reduction: see :class:`Loss` (default "sum_over_batch_size").
        name: see :class:`Loss` (default "loss_function_wrapper").
        dtype: see :class:`Loss`.
        **kwargs: passed to ``fn`` on every call.

    Example::

        >>> LossFunctionWrapper(huber, delta=0.5)(torch.zeros(2, 1), torch.ones(2, 1))
        tensor(0.3750)
    """

    def __init__(
        self,
        fn: Callable[..., torch.Tensor],
        reduction: Optional[str] = "sum_over_batch_size",
        name: Optional[str] = None,
        dtype: DType = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not callable(fn):
            raise TypeError(f"fn must be a callable loss function, got {fn!r}.")
        self.fn = fn
        self._fn_kwargs = kwargs
        self.integer_labels = fn is sparse_categorical_crossentropy

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _call_with_mask(
        self, y_true: torch.Tensor, y_pred: torch.Tensor
    ) -> "tuple[torch.Tensor, Optional[torch.Tensor]]":
        if self.fn is sparse_categorical_crossentropy:  # its mask keeps ignored entries out
            return _sparse_crossentropy(y_true, y_pred, **self._fn_kwargs)
        return self.call(y_true, y_pred), None

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is LossFunctionWrapper:
            config["fn"] = registry.serialize(self.fn)
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Loss":
        config = dict(config)
        if "fn" in config:
            config["fn"] = get(config["fn"])
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    """Class form of :func:`mean_squared_error`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "mean_squared_error",
        dtype: DType = None,
    ) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Class form of :func:`mean_absolute_error`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "mean_absolute_error",
        dtype: DType = None,
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Class form of :func:`mean_absolute_percentage_error`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "mean_absolute_percentage_error",
        dtype: DType = None,
    ) -> None:
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Class form of :func:`mean_squared_logarithmic_error`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "mean_squared_logarithmic_error",
        dtype: DType = None,
    ) -> None:
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )


class CosineSimilarity(LossFunctionWrapper):
    """Class form of :func:`cosine_similarity`.

    Args:
        axis: the feature axis (default -1). Others as :class:`Loss`.
    """

    def __init__(
        self,
        axis: int = -1,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "cosine_similarity",
        dtype: DType = None,
    ) -> None:
        _check_axis("CosineSimilarity", axis)
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class Huber(LossFunctionWrapper):
    """Class form of :func:`huber`.

    Args:
        delta: positive threshold between the quadratic and linear parts (default 1.0).
            Others as :class:`Loss`.
    """

    def __init__(
        self,
        delta: float = 1.0,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "huber_loss",
        dtype: DType = None,
    ) -> None:
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or delta <= 0:
            raise ValueError(f"delta must be a positive number, got {delta!r}.")
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(LossFunctionWrapper):
    """Class form of :func:`log_cosh`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "log_cosh",
        dtype: DType = None,
    ) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """Class form of :func:`hinge`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "hinge",
        dtype: DType = None,
    ) -> None:
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Class form of :func:`squared_hinge`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "squared_hinge",
        dtype: DType = None,
    ) -> None:
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Class form of :func:`categorical_hinge`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "categorical_hinge",
        dtype: DType = None,
    ) -> None:
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    """Class form of :func:`kl_divergence`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: DType = None,
    ) -> None:
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Class form of :func:`poisson`. Args as :class:`Loss`."""

    def __init__(
        self,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "poisson",
        dtype: DType = None,
    ) -> None:
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Class form of :func:`binary_crossentropy`.

    Args:
        from_logits: ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0.0).
        axis: the axis averaged over (default -1). Others as :class:`Loss`.

    Example::

        >>> BinaryCrossentropy()(torch.tensor([1.0, 0.0]), torch.tensor([[0.8], [0.2]]))
        tensor(0.2231)
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: DType = None,
    ) -> None:
        _check_label_smoothing(label_smoothing)
        _check_axis("BinaryCrossentropy", axis)
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Class form of :func:`categorical_crossentropy` (one-hot labels).

    Args:
        from_logits: ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0.0).
        axis: the class axis (default -1). Others as :class:`Loss`.
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: Optional[str] = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: DType = None,
    ) -> None:
        _check_label_smoothing(label_smoothing)
        _check_axis("CategoricalCrossentropy", axis)
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Class form of :func:`sparse_categorical_crossentropy` (integer labels).

    Entries labelled ``ignore_class`` are left out: "sum_over_batch_size" averages over the
    other entries only.

    Args:
        from_logits: ``y_pred`` holds logits (default False).
        ignore_class: an integer label to ignore, or None (default).
        reduction: see :class:`Loss` (Keras puts it before ``axis``).
        axis: the class axis (default -1). Others as :class:`Loss`.
    """

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: Optional[int] = None,
        reduction: Optional[str] = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: DType = None,
    ) -> None:
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, numbers.Integral)
        ):
            raise ValueError(f"ignore_class must be an integer or None, got {ignore_class!r}.")
        _check_axis("SparseCategoricalCrossentropy", axis)
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


# ---------------------------------------------------------------------------------------------
# Catalog.

_FUNCTIONS = (
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    huber,
    log_cosh,
    hinge,
    squared_hinge,
    categorical_hinge,
    kl_divergence,
    poisson,
    cosine_similarity,
)
_CLASSES = (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Huber,
    LogCosh,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    CosineSimilarity,
)
# The short names keras.losses.get accepts in Keras 3 (it has no 'logcosh' and no 'cce').
_ALIASES = {
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
}

#: Every name :func:`get` accepts: function names, class names and Keras's short aliases.
LOSSES: dict[str, Any] = {
    **{fn.__name__: fn for fn in _FUNCTIONS},
    **{cls.__name__: cls for cls in _CLASSES},
    **_ALIASES,
}


def get(identifier: Any) -> Any:
    """Resolve a loss identifier.

    Args:
        identifier: ``None`` (gives None); a name from :data:`LOSSES` (function names and
            aliases give the function, class names an instance with default arguments); a
            config dict ``{"class_name": ..., "config": {...}}`` (also Keras's
            ``{"class_name": "function", "config": "mse"}``); a :class:`Loss` class
            (instantiated) or instance, or any callable (returned as is).

    Raises:
        ValueError: for an unknown name, listing the valid ones and the closest match.

    Example::

        >>> get("mse") is mean_squared_error
        True
        >>> get({"class_name": "Huber", "config": {"delta": 2.0}}).delta
        2.0
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        if identifier.get("class_name") == "function":
            return get(identifier.get("config"))
        table = {**LOSSES, "LossFunctionWrapper": LossFunctionWrapper}
        return registry.lookup(identifier, table, "loss", base=Loss)
    return registry.lookup(identifier, LOSSES, "loss", base=Loss)


def serialize(loss: Any) -> Any:
    """A loss's Keras-style config: a ``{"class_name", "config"}`` dict, or a function's name."""
    return registry.serialize(loss)


def deserialize(config: Any, custom_objects: Optional[Mapping[str, Any]] = None) -> Any:
    """The loss described by ``config`` (a name or dict, as :func:`serialize` gives).

    Args:
        config: a name or a ``{"class_name", "config"}`` dict.
        custom_objects: extra ``name -> class or function`` entries to resolve (default None).
    """
    if not custom_objects:
        return get(config)
    table = {**LOSSES, "LossFunctionWrapper": LossFunctionWrapper, **custom_objects}
    return registry.lookup(config, table, "loss", base=Loss)
