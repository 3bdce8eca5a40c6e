"""Streaming metrics with Keras 3 names, arguments, defaults and numbers, kept as torch tensors.

Who owns what:

* :class:`Metric` owns the state: tensors created with :meth:`Metric.add_variable`, updated in
  place by ``update_state`` (no host sync, no Python loop over the data), read by ``result()``
  as a tensor, zeroed by ``reset_state()``, moved by ``to(device)``. Turning results into Python
  floats is the caller's job (the callbacks do it, throttled).
* :class:`Mean` / :class:`Sum` own the reduction of per-sample values and sample weights, with
  Keras's rules for N-D values and weights; :class:`MeanMetricWrapper` turns any per-sample
  function into a streaming weighted mean.
* The metric functions (``binary_accuracy``, ``categorical_accuracy``, ...,
  ``cosine_similarity``) live here; the loss functions used as metrics (``mean_squared_error``,
  ``binary_crossentropy``, ...) are owned by :mod:`torchkeras_lite.losses` and only wrapped here.
* :func:`_confusion_update` owns the thresholded confusion counts behind :class:`Precision`,
  :class:`Recall`, :class:`AUC` and friends, with Keras's bucketed algorithm for evenly spaced
  thresholds, so the numbers agree with Keras.
* :func:`get` resolves an identifier the way every catalog does; :func:`get_for_shapes` is the
  compile-time resolver the trainer calls once it has seen the first batch, and the one place
  that knows Keras's ``'accuracy'`` shape rule and its metric naming rules.

Example::

    >>> import torch
    >>> m = BinaryAccuracy()
    >>> m.update_state(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.7], [0.8]]))
    >>> m.result()
    tensor(0.5000)
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch

from torchkeras_lite import config, losses
from torchkeras_lite.utils import registry

Shape = Sequence[Optional[int]]
Thresholds = Union[float, Sequence[float], None]

_NEG_INF = -1e10  # the "below every threshold" score Keras gives entries outside top_k


# --------------------------------------------------------------------------------------------
# small helpers


def _snake_case(name: str) -> str:
    """'TopKCategoricalAccuracy' -> 'top_k_categorical_accuracy', as Keras names objects."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _floatx() -> torch.dtype:
    return getattr(torch, config.floatx())


def _as_tensor(x: Any, device: Optional[torch.device] = None) -> torch.Tensor:
    """``x`` (numpy, list, scalar or tensor) as a tensor on ``device``, copied only if needed."""
    if isinstance(x, torch.Tensor):
        return x if device is None or x.device == device else x.to(device)
    return torch.as_tensor(x, device=device)


def _match_ranks(a: torch.Tensor, b: torch.Tensor, expand_rank_1: bool = True):
    """When the ranks differ by one and the longer has a trailing axis of 1, line them up.

    The rank-1 tensor is expanded to ``(n, 1)`` when ``expand_rank_1`` (Keras's rule), otherwise
    the trailing axis of the longer one is squeezed.
    """
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1 and expand_rank_1:
            return a, b.unsqueeze(-1)
        return a.squeeze(-1), b
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1 and expand_rank_1:
            return a.unsqueeze(-1), b
        return a, b.squeeze(-1)
    return a, b


def _divide_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den``, with 0 wherever ``den`` is 0."""
    return torch.where(den == 0, torch.zeros_like(num), num / den)


def _check_threshold(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{argument} must be a float in [0, 1], got {value!r}")
    return float(value)


def _check_positive_int(value: Any, argument: str, *, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# base class


class Metric:
    """Base class of streaming metrics: state tensors, update_state, result, reset_state.

    Subclasses create their state in ``__init__`` with :meth:`add_variable`, update it in place in
    ``update_state`` (tensor ops only: no ``.item()``, no Python loop over the data) and compute a
    tensor in ``result``. State starts on the CPU; :meth:`to` moves it (the trainer moves every
    metric to the model's device). Inputs may be numpy arrays, lists or tensors on any device.

    Args:
        dtype: float dtype of the state and result, a name ('float32') or a ``torch.dtype``
            (default ``config.floatx()``).
        name: name of the metric instance (default: the class name in snake_case).

    Example::

        >>> import torch
        >>> class BinaryTruePositives(Metric):
        ...     def __init__(self, name="binary_true_positives", dtype=None):
        ...         super().__init__(name=name, dtype=dtype)
        ...         self.true_positives = self.add_variable("true_positives")
        ...     def update_state(self, y_true, y_pred, sample_weight=None):
        ...         y_true, y_pred = self._tensor(y_true).bool(), self._tensor(y_pred).bool()
        ...         self.true_positives.add_((y_true & y_pred).sum())
        ...     def result(self):
        ...         return self.true_positives.clone()
        >>> BinaryTruePositives()(torch.tensor([1, 1, 0]), torch.tensor([1, 0, 0]))
        tensor(1.)
    """

    def __init__(self, dtype: Any = None, name: Optional[str] = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r} of type {type(name).__name__}")
        self.name = name or _snake_case(type(self).__name__)
        self._dtype_name = self._parse_dtype(dtype)
        self._torch_dtype = getattr(torch, self._dtype_name)
        self._device = torch.device("cpu")
        self._initial_values: dict[str, float] = {}

    @staticmethod
    def _parse_dtype(dtype: Any) -> str:
        if dtype is None:
            return config.floatx()
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).replace("torch.", "")
        if dtype not in ("float16", "bfloat16", "float32", "float64"):
            raise ValueError(
                "dtype must be a float dtype: 'float16', 'bfloat16', 'float32' or 'float64' "
                f"(or the torch.dtype), got {dtype!r}"
            )
        return dtype

    @property
    def dtype(self) -> str:
        """The dtype name of the state and the result, e.g. 'float32'."""
        return self._dtype_name

    @property
    def device(self) -> torch.device:
        """The device holding the state; inputs are moved here."""
        return self._device

    @property
    def variables(self) -> list[torch.Tensor]:
        """The state tensors, in creation order (what a distributed all-reduce sums)."""
        return [getattr(self, name) for name in self._initial_values]

    def add_variable(
        self,
        name: str,
        shape: Sequence[int] = (),
        initializer: Union[float, str] = 0.0,
        dtype: Any = None,
    ) -> torch.Tensor:
        """Create a state tensor, store it as attribute ``name`` and return it.

        Args:
            name: attribute name of the state (``self.<name>``).
            shape: shape of the state (default scalar).
            initializer: its initial value, also restored by :meth:`reset_state`: a number or
                'zeros' / 'ones' (default 0.0).
            dtype: defaults to the metric's dtype.
        """
        if isinstance(initializer, str):
            if initializer not in ("zeros", "ones"):
                raise ValueError(
                    f"initializer must be a number, 'zeros' or 'ones', got {initializer!r}"
                )
            initializer = 0.0 if initializer == "zeros" else 1.0
        dtype = self._torch_dtype if dtype is None else getattr(torch, self._parse_dtype(dtype))
        value = torch.full(tuple(shape), float(initializer), dtype=dtype, device=self._device)
        self._initial_values[name] = float(initializer)
        setattr(self, name, value)
        return value

    def _tensor(self, x: Any) -> torch.Tensor:
        """``x`` as a tensor on the metric's device, cut from any autograd graph (so that the
        state never keeps a graph alive)."""
        x = _as_tensor(x, self._device)
        return x.detach() if x.requires_grad else x

    def _check_batch(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        if y_true.ndim and y_pred.ndim and y_true.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"Metric {self.name!r}: y_true and y_pred must have the same batch size, got "
                f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}."
            )

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate statistics from one batch."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self) -> torch.Tensor:
        """The metric value from the state so far, as a tensor on the metric's device."""
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self) -> None:
        """Restore every state tensor to its initial value, in place."""
        for name, value in self._initial_values.items():
            getattr(self, name).fill_(value)

    def to(self, device: Union[str, torch.device]) -> "Metric":
        """Move every tensor the metric holds to ``device``; returns ``self``."""
        device = torch.empty(0, device=device).device  # 'cuda' -> 'cuda:0', validates the name
        for key, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor):
                setattr(self, key, value.to(device))
        self._device = device
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """``update_state(*args, **kwargs)``, then return ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this metric with :meth:`from_config`."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


# --------------------------------------------------------------------------------------------
# reductions


def _samplewise(values: torch.Tensor, sample_weight: Optional[torch.Tensor], reduce: Callable):
    """Weight ``values`` and reduce them to one value per sample, Keras's way.

    Weights and values are first lined up (:func:`_match_ranks`); values with more axes than the
    weights are reduced down to the weights' rank; values are multiplied by the broadcast
    weights; weights with more than one axis are reduced to one weight per sample. Returns the
    per-sample values (rank <= 1) and the per-sample weights (or None).
    """
    if sample_weight is not None:
        values, sample_weight = _match_ranks(values, sample_weight)
        w_ndim = sample_weight.ndim
        if values.ndim > w_ndim:
            values = reduce(values, dim=tuple(range(w_ndim, values.ndim)))
        sample_weight = sample_weight.expand(values.shape)
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce(sample_weight, dim=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce(values, dim=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values seen so far.

    Args:
        name: default 'sum'.
        dtype: default ``config.floatx()``.

    Example::

        >>> m = Sum()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
        >>> m.result()
        tensor(4.)
    """

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.add_variable("total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = self._tensor(values).to(self._torch_dtype)
        if sample_weight is not None:
            sample_weight = self._tensor(sample_weight).to(self._torch_dtype)
        try:
            values, _ = _samplewise(values, sample_weight, torch.sum)
        except RuntimeError as error:
            raise ValueError(
                f"Metric {self.name!r}: sample_weight of shape {tuple(sample_weight.shape)} does "
                f"not fit values of shape {tuple(values.shape)}."
            ) from error
        self.total.add_(values.sum())

    def result(self) -> torch.Tensor:
        return self.total.clone()


class Mean(Metric):
    """The (weighted) mean of the values seen so far: ``total / count``.

    Values with more than one axis are first averaged to one value per sample; ``count`` grows
    by the batch size, or by the sum of the per-sample weights when weights are given (a scalar
    weight ``w`` counts the whole batch as ``w`` samples, as in Keras).

    Args:
        name: default 'mean'.
        dtype: default ``config.floatx()``.

    Example::

        >>> m = Mean()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
        >>> m.result()
        tensor(2.)
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.add_variable("total")
        self.add_variable("count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = self._tensor(values)
        if sample_weight is not None:
            sample_weight = self._tensor(sample_weight).to(self._torch_dtype)
        self._accumulate(values, sample_weight)

    def _accumulate(self, values: torch.Tensor, sample_weight: Optional[torch.Tensor]) -> None:
        try:
            values, sample_weight = _samplewise(
                values.to(self._torch_dtype), sample_weight, torch.mean
            )
        except RuntimeError as error:
            raise ValueError(
                f"Metric {self.name!r}: sample_weight of shape {tuple(sample_weight.shape)} does "
                f"not fit per-sample values of shape {tuple(values.shape)}; give one weight per "
                f"sample, shape ({values.shape[0] if values.ndim else ''},)."
            ) from error
        self.total.add_(values.sum())
        if sample_weight is not None:
            self.count.add_(sample_weight.sum())
        else:
            self.count.add_(values.shape[0] if values.ndim else 1)

    def result(self) -> torch.Tensor:
        return _divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The streaming weighted mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the function, returning one value per sample (or per sample and step).
        name: default 'mean_metric_wrapper', as in Keras (``compile`` names the metrics it
            wraps after the function, see :func:`get_for_shapes`).
        dtype: default ``config.floatx()``.
        **kwargs: passed to ``fn`` on every call.

    Raises:
        ValueError: from ``update_state`` when the batch sizes differ or ``fn`` cannot combine the
            shapes; the message names the metric and both shapes.

    Example::

        >>> import torch
        >>> m = MeanMetricWrapper(lambda t, p: (t - p).abs(), name="abs_error")
        >>> m(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]))
        tensor(0.5000)
    """

    def __init__(self, fn: Callable[..., Any], name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {fn!r} of type {type(fn).__name__}")
        super().__init__(name=name or "mean_metric_wrapper", dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if sample_weight is None and self._fast_update(y_true, y_pred):
            return
        y_true, y_pred = self._tensor(y_true), self._tensor(y_pred)
        self._check_batch(y_true, y_pred)
        try:
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        except (RuntimeError, IndexError, ValueError) as error:
            raise ValueError(
                f"Metric {self.name!r} cannot compare y_true.shape={tuple(y_true.shape)} with "
                f"y_pred.shape={tuple(y_pred.shape)}: {error}"
            ) from error
        if sample_weight is not None:
            sample_weight = self._tensor(sample_weight).to(self._torch_dtype)
        self._accumulate(_as_tensor(values, self._device), sample_weight)

    def _fast_update(self, y_true: Any, y_pred: Any) -> bool:
        """The accuracies of a plain (batch, classes) training batch in 4 ops instead of ~8:
        same counts as the general path (a sum of 0/1 values is exact in float32 below 2**24).
        Returns False when the general path must run."""
        fn = self._fn
        if (fn is not categorical_accuracy and fn is not sparse_categorical_accuracy) \
                or self._fn_kwargs or type(y_pred) is not torch.Tensor \
                or type(y_true) is not torch.Tensor or y_pred.requires_grad \
                or y_pred.dim() != 2 or y_pred.device != self.total.device \
                or not y_pred.is_floating_point():
            return False
        if fn is categorical_accuracy:
            if y_true.shape != y_pred.shape or y_true.device != y_pred.device:
                return False
            hits = y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)
        else:
            if y_true.device != y_pred.device or y_true.shape not in (
                    (y_pred.shape[0],), (y_pred.shape[0], 1)):
                return False
            labels = y_true.reshape(-1)
            if labels.is_floating_point() and labels.dtype != y_pred.dtype:
                return False
            hits = labels == y_pred.argmax(dim=-1).to(
                y_pred.dtype if labels.is_floating_point() else labels.dtype)
        self.total.add_(hits.sum())
        self.count.add_(y_pred.shape[0])
        return True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": registry.serialize(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Metric":
        config = dict(config)
        if isinstance(config.get("fn"), (str, dict)):
            config["fn"] = get(config["fn"])
        return cls(**config)


# --------------------------------------------------------------------------------------------
# accuracy functions


def _same_shape(fn: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn} needs y_true and y_pred of the same shape (a trailing axis of 1 aside), got "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}."
        )


def _one_hot_pair(fn: str, y_true: Any, y_pred: Any):
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.device)
    if y_true.shape != y_pred.shape or y_pred.ndim == 0:
        sparse_hint = (
            f" These look like integer labels: use sparse_{fn}."
            if y_pred.ndim and y_true.shape in (y_pred.shape[:-1], y_pred.shape[:-1] + (1,)) else ""
        )
        raise ValueError(
            f"{fn} needs one-hot y_true of the shape of y_pred (batch, ..., classes), got "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}."
            + sparse_hint
        )
    return y_true, y_pred


def _sparse_labels(fn: str, y_true: Any, y_pred: torch.Tensor) -> torch.Tensor:
    """Integer labels of shape ``y_pred.shape[:-1]`` (a trailing axis of 1 is dropped)."""
    y_true = _as_tensor(y_true, y_pred.device)
    if y_pred.ndim and y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    if y_pred.ndim == 0 or y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{fn} needs integer labels of shape y_pred.shape[:-1] (or with a trailing axis of "
            f"1), got y_true.shape={tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}."
            + (f" These look one-hot: use {fn[len('sparse_'):]}."
               if y_true.shape == y_pred.shape else "")
        )
    return y_true


def accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where ``y_true == y_pred`` exactly, else 0.0 (element-wise).

    Shape: the same for both (a trailing axis of 1 may be missing from one); the result has it.
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.device).to(y_pred.dtype)
    y_true, y_pred = _match_ranks(y_true, y_pred)
    _same_shape("accuracy", y_true, y_pred)
    return (y_true == y_pred).to(_floatx())


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> torch.Tensor:
    """1.0 where ``y_pred > threshold`` matches the 0/1 label, else 0.0 (element-wise).

    Args:
        y_true: labels, 0 or 1, shape ``(batch, ...)``.
        y_pred: probabilities of the same shape (a trailing axis of 1 may be missing from one).
        threshold: decision threshold (default 0.5).

    Example::

        >>> binary_accuracy([[1.0], [0.0]], [[0.7], [0.8]])
        tensor([[1.],
                [0.]])
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.device)
    y_true, y_pred = _match_ranks(y_true, y_pred)
    _same_shape("binary_accuracy", y_true, y_pred)
    return (y_true == (y_pred > threshold).to(y_true.dtype)).to(_floatx())


def categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where ``argmax(y_pred)`` equals ``argmax(y_true)`` (one-hot labels), per sample.

    Shape: ``(batch, ..., classes)`` both -> ``(batch, ...)``.
    """
    y_true, y_pred = _one_hot_pair("categorical_accuracy", y_true, y_pred)
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).to(_floatx())


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> torch.Tensor:
    """1.0 where ``argmax(y_pred)`` equals the integer label, per sample.

    Shape: ``y_true (batch, ...)`` or ``(batch, ..., 1)``, ``y_pred (batch, ..., classes)`` ->
    ``(batch, ...)`` (a trailing axis of 1 is dropped, as in Keras).
    """
    y_pred = _as_tensor(y_pred)
    labels = _sparse_labels("sparse_categorical_accuracy", y_true, y_pred)
    if y_pred.is_floating_point():  # Keras compares in y_pred's dtype
        labels = labels.to(y_pred.dtype)
    matches = (labels == y_pred.argmax(dim=-1).to(labels.dtype)).to(_floatx())
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


def _in_top_k(targets: torch.Tensor, predictions: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each target's score is among the ``k`` largest of its row (ties count as in).

    Same as Keras's ``score >= k-th largest score``: fewer than ``k`` scores are strictly larger.
    """
    scores = predictions.gather(-1, targets.long().unsqueeze(-1))
    return (predictions > scores).sum(dim=-1) < k


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> torch.Tensor:
    """1.0 where the one-hot label's class is among the ``k`` highest scores, per sample.

    Shape: ``(batch, ..., classes)`` both -> ``(batch, ...)``. With ``k`` >= the number of
    classes every sample counts as a hit.
    """
    y_true, y_pred = _one_hot_pair("top_k_categorical_accuracy", y_true, y_pred)
    labels = y_true.argmax(dim=-1)
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.to(_floatx()).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(
    y_true: Any, y_pred: Any, k: int = 5, from_sorted_ids: bool = False
) -> torch.Tensor:
    """1.0 where the integer label is among the ``k`` highest scores, per sample.

    Args:
        y_true: integer labels, ``(batch, ...)`` or ``(batch, ..., 1)``.
        y_pred: scores ``(batch, ..., classes)``, or, with ``from_sorted_ids=True``, class ids
            sorted by decreasing score (only the first ``k`` columns are read).
        k: how many top classes count (default 5).
        from_sorted_ids: see ``y_pred`` (default False).

    Shape: result ``y_true.shape``.
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.device)
    label_shape = y_true.shape
    labels = _sparse_labels("sparse_top_k_categorical_accuracy", y_true, y_pred).reshape(-1)
    y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    if from_sorted_ids:
        matches = (labels.to(y_pred.dtype).unsqueeze(-1) == y_pred[:, :k]).any(dim=-1)
    else:
        matches = _in_top_k(labels, y_pred, k)
    return matches.to(_floatx()).reshape(label_shape)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> torch.Tensor:
    """Cosine of the angle between ``y_true`` and ``y_pred`` along ``axis`` (the metric's sign:
    1 for equal directions; the loss of the same name is its negative).
    """
    y_pred = _as_tensor(y_pred)
    y_true = _as_tensor(y_true, y_pred.device).to(y_pred.dtype)
    y_true, y_pred = _match_ranks(y_true, y_pred)
    return (_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis)).sum(dim=axis)


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    inv_norm = torch.rsqrt(x.square().sum(dim=axis, keepdim=True))
    return x * torch.clamp(inv_norm, max=1.0 / config.epsilon())


# --------------------------------------------------------------------------------------------
# mean-of-a-function metric classes


class _FunctionMean(MeanMetricWrapper):
    """A :class:`MeanMetricWrapper` over a fixed function whose config is its own ``__init__``."""

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, **self._fn_kwargs}


class Accuracy(_FunctionMean):
    """How often ``y_pred`` equals ``y_true`` exactly (see :func:`accuracy`).

    Args:
        name: default 'accuracy'.
        dtype: default ``config.floatx()``.

    Example::

        >>> Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        tensor(0.7500)
    """

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(_FunctionMean):
    """How often ``y_pred > threshold`` matches the binary label (see :func:`binary_accuracy`).

    Args:
        name: default 'binary_accuracy'.
        dtype: default ``config.floatx()``.
        threshold: decision threshold in [0, 1] (default 0.5).

    Example::

        >>> BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
        tensor(0.7500)
    """

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None,
                 threshold: float = 0.5) -> None:
        threshold = _check_threshold(threshold, "threshold")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(_FunctionMean):
    """How often the top class matches the one-hot label (see :func:`categorical_accuracy`).

    Args:
        name: default 'categorical_accuracy'.
        dtype: default ``config.floatx()``.

    Example::

        >>> CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        tensor(0.5000)
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(_FunctionMean):
    """How often the top class matches the integer label (see :func:`sparse_categorical_accuracy`).

    Args:
        name: default 'sparse_categorical_accuracy'.
        dtype: default ``config.floatx()``.

    Example::

        >>> SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        tensor(0.5000)
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(_FunctionMean):
    """How often the one-hot label is among the ``k`` highest scores.

    Args:
        k: positive integer (default 5).
        name: default 'top_k_categorical_accuracy'.
        dtype: default ``config.floatx()``.

    Example::

        >>> TopKCategoricalAccuracy(k=1)([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        tensor(0.5000)
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy",
                 dtype: Any = None) -> None:
        k = _check_positive_int(k, "k")
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(_FunctionMean):
    """How often the integer label is among the ``k`` highest scores.

    Args:
        k: positive integer (default 5).
        name: default 'sparse_top_k_categorical_accuracy'.
        dtype: default ``config.floatx()``.
        from_sorted_ids: ``y_pred`` holds class ids sorted by score (default False).

    Example::

        >>> SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        tensor(0.5000)
    """

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: Any = None, from_sorted_ids: bool = False) -> None:
        k = _check_positive_int(k, "k")
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)
        self.k = k
        self.from_sorted_ids = from_sorted_ids


class MeanSquaredError(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.mean_squared_error` (name default
    'mean_squared_error')."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.mean_absolute_error` (name default
    'mean_absolute_error')."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.mean_absolute_percentage_error` (name
    default 'mean_absolute_percentage_error')."""

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.mean_squared_logarithmic_error` (name
    default 'mean_squared_logarithmic_error')."""

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(losses.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.log_cosh` (name default 'logcosh', as
    in Keras)."""

    def __init__(self, name: str = "logcosh", dtype: Any = None) -> None:
        super().__init__(losses.log_cosh, name=name, dtype=dtype)


class CosineSimilarity(_FunctionMean):
    """Streaming mean of :func:`cosine_similarity` (1 for equal directions).

    Args:
        name: default 'cosine_similarity'.
        dtype: default ``config.floatx()``.
        axis: the axis along which the similarity is computed (default -1).

    Example::

        >>> CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])
        tensor(0.5000)
    """

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None, axis: int = -1) -> None:
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class RootMeanSquaredError(Mean):
    """``sqrt`` of the streaming (weighted) mean of squared errors.

    Args:
        name: default 'root_mean_squared_error'.
        dtype: default ``config.floatx()``.

    Example::

        >>> RootMeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]])
        tensor(0.5000)
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = self._tensor(y_true).to(self._torch_dtype)
        y_pred = self._tensor(y_pred).to(self._torch_dtype)
        self._check_batch(y_true, y_pred)
        y_true, y_pred = _match_ranks(y_true, y_pred)
        try:
            error = y_pred - y_true
        except RuntimeError as exc:
            raise ValueError(
                f"Metric {self.name!r} cannot compare y_true.shape={tuple(y_true.shape)} with "
                f"y_pred.shape={tuple(y_pred.shape)}: {exc}"
            ) from exc
        super().update_state(error.square(), sample_weight)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


class BinaryCrossentropy(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.binary_crossentropy`.

    Args:
        name: default 'binary_crossentropy'.
        dtype: default ``config.floatx()``.
        from_logits: ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0).
    """

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0) -> None:
        _check_threshold(label_smoothing, "label_smoothing")
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.categorical_crossentropy`.

    Args:
        name: default 'categorical_crossentropy'.
        dtype: default ``config.floatx()``.
        from_logits: ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0).
        axis: the class axis (default -1).
    """

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0, axis: int = -1) -> None:
        _check_threshold(label_smoothing, "label_smoothing")
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.sparse_categorical_crossentropy`.

    Args:
        name: default 'sparse_categorical_crossentropy'.
        dtype: default ``config.floatx()``.
        from_logits: ``y_pred`` holds logits (default False).
        ignore_class: a label whose entries score 0; as in Keras they still count in the
            mean, except when sample weights are given, which they then zero (default None).
        axis: the class axis (default -1).
    """

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, ignore_class: Optional[int] = None,
                 axis: int = -1) -> None:
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        # Keras quirk, copied for equal numbers: ignored entries always add 0 to the total, but
        # they leave the count only when sample weights are given (their weight becomes 0).
        if self.ignore_class is not None and sample_weight is not None:
            y_true, y_pred = self._tensor(y_true), self._tensor(y_pred)
            labels = y_true
            if labels.ndim == y_pred.ndim and labels.shape[self.axis] == 1:
                labels = labels.squeeze(self.axis)
            valid = (labels != self.ignore_class).to(self._torch_dtype)
            valid, sample_weight = _match_ranks(valid, self._tensor(sample_weight).to(valid.dtype))
            sample_weight = sample_weight * valid
        super().update_state(y_true, y_pred, sample_weight)


class KLDivergence(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.kl_divergence` (name default
    'kl_divergence')."""

    def __init__(self, name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(losses.kl_divergence, name=name, dtype=dtype)


class Poisson(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.poisson` (name default 'poisson')."""

    def __init__(self, name: str = "poisson", dtype: Any = None) -> None:
        super().__init__(losses.poisson, name=name, dtype=dtype)


class Hinge(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.hinge` (name default 'hinge')."""

    def __init__(self, name: str = "hinge", dtype: Any = None) -> None:
        super().__init__(losses.hinge, name=name, dtype=dtype)


class SquaredHinge(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.squared_hinge` (name default
    'squared_hinge')."""

    def __init__(self, name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(losses.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_FunctionMean):
    """Streaming mean of :func:`torchkeras_lite.losses.categorical_hinge` (name default
    'categorical_hinge')."""

    def __init__(self, name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(losses.categorical_hinge, name=name, dtype=dtype)


# --------------------------------------------------------------------------------------------
# thresholded confusion counts


def _parse_thresholds(thresholds: Thresholds, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    if not values:
        raise ValueError(
            f"thresholds must not be empty, got {thresholds!r}; pass None for the default."
        )
    for value in values:
        _check_threshold(value, "every value of thresholds")
    return [float(v) for v in values]


def _evenly_spaced(thresholds: Sequence[float]) -> bool:
    """Whether ``thresholds`` are ``0, 1/(n-1), ..., 1`` (n >= 3): Keras then counts by buckets."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=config.epsilon()))


def _confusion_update(
    metric: Metric,
    states: dict[str, torch.Tensor],
    y_true: torch.Tensor,
    y_pred: torch.Tensor,
    sample_weight: Optional[torch.Tensor],
    thresholds: torch.Tensor,
    *,
    evenly: bool,
    with_epsilon: bool = False,
    top_k: Optional[int] = None,
    class_id: Optional[int] = None,
    multi_label: bool = False,
    label_weights: Optional[torch.Tensor] = None,
) -> None:
    """Add this batch's weighted true/false positive/negative counts, per threshold, to ``states``.

    ``states`` maps some of 'tp', 'fp', 'tn', 'fn' to state tensors of shape ``(T,)`` (or
    ``(T, labels)`` with ``multi_label``). A prediction is positive at threshold ``t`` when it is
    ``> t``; a label is positive when non-zero. With evenly spaced thresholds (``evenly``) each
    prediction falls in one bucket ``ceil(p * (T - 1)) - 1`` and the counts are reverse cumulative
    sums of bucket sums (O(n), Keras's fast path; ``with_epsilon`` when the end thresholds lie
    just outside [0, 1], so that a prediction of exactly 0 still counts above the first one);
    otherwise every prediction is compared with every threshold.
    """
    dtype = metric._torch_dtype
    y_true, y_pred = y_true.to(dtype), y_pred.to(dtype)
    y_pred, y_true = _match_ranks(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = sample_weight.to(dtype).unsqueeze(-1)
        _, sample_weight = _match_ranks(y_true, sample_weight, expand_rank_1=False)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"Metric {metric.name!r}: y_true and y_pred must have the same shape (up to a "
            f"trailing axis of 1), got y_true.shape={tuple(y_true.shape)} and "
            f"y_pred.shape={tuple(y_pred.shape)}."
        )
    if top_k is not None:
        if top_k > y_pred.shape[-1]:
            raise ValueError(
                f"Metric {metric.name!r}: top_k={top_k} is larger than the last axis of "
                f"y_pred.shape={tuple(y_pred.shape)}."
            )
        top = torch.zeros_like(y_pred, dtype=torch.bool)
        top.scatter_(-1, y_pred.topk(top_k, dim=-1).indices, True)
        y_pred = torch.where(top, y_pred, torch.full_like(y_pred, _NEG_INF))
    if class_id is not None:
        if y_pred.ndim < 2 or not -y_pred.shape[-1] <= class_id < y_pred.shape[-1]:
            raise ValueError(
                f"Metric {metric.name!r}: class_id={class_id} needs y_pred of shape "
                f"(batch, num_classes) with more than {class_id} classes, got "
                f"y_pred.shape={tuple(y_pred.shape)}."
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]

    weights = None
    if sample_weight is not None:
        try:
            weights = sample_weight.expand(y_pred.shape)
        except RuntimeError as error:
            raise ValueError(
                f"Metric {metric.name!r}: sample_weight of shape {tuple(sample_weight.shape)} "
                f"does not broadcast to y_pred.shape={tuple(y_pred.shape)}."
            ) from error
    if label_weights is not None:
        label_weights = label_weights.expand(y_pred.shape)
        weights = label_weights if weights is None else weights * label_weights
    positive = (y_true != 0).to(dtype)
    if not multi_label:
        positive, y_pred = positive.reshape(-1), y_pred.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    # columns: weight of the sample as a positive label, as a negative label
    labels = torch.stack((positive, 1.0 - positive), dim=-1)
    if weights is not None:
        labels = labels * weights.unsqueeze(-1)
    n_thresholds = thresholds.shape[0]

    if evenly:
        # slot 0: above no threshold (dropped); slot b + 1: above thresholds 0..b
        slot = torch.ceil(y_pred.clamp(0.0, 1.0) * (n_thresholds - 1))
        if with_epsilon:  # the first threshold is -epsilon: every prediction is above it
            slot = slot.clamp_min(1)
        slot = slot.long().clamp(0, n_thresholds)
        if multi_label:
            n_labels = y_pred.shape[-1]
            slot = slot * n_labels + torch.arange(n_labels, device=slot.device)
            sums = labels.new_zeros(((n_thresholds + 1) * n_labels, 2))
            sums.index_add_(0, slot.reshape(-1), labels.reshape(-1, 2))
            sums = sums.view(n_thresholds + 1, n_labels, 2)[1:]
        else:
            sums = labels.new_zeros((n_thresholds + 1, 2)).index_add_(0, slot, labels)[1:]
        above = sums.flip(0).cumsum(0).flip(0)  # (T, [labels,] 2): weight with p > t
        below = labels.sum(0) - above
    else:
        shape = (n_thresholds,) + (1,) * y_pred.ndim
        predicted = (y_pred.unsqueeze(0) > thresholds.view(shape)).to(dtype).unsqueeze(-1)
        above = (predicted * labels).sum(1)  # (T, [labels,] 2)
        below = ((1.0 - predicted) * labels).sum(1) if ("fn" in states or "tn" in states) else None
    for key, state in states.items():  # tp, fp: above the threshold; fn, tn: not above
        counts = above if key in ("tp", "fp") else below
        state.add_(counts[..., 0 if key in ("tp", "fn") else 1])


class _ConfusionMetric(Metric):
    """Shared plumbing of the thresholded metrics: inputs, thresholds tensor, state per count."""

    _counts: tuple[str, ...] = ()
    _count_names = {"tp": "true_positives", "fp": "false_positives",
                    "tn": "true_negatives", "fn": "false_negatives"}

    def _init_thresholds(self, thresholds: list[float], evenly: bool) -> None:
        self.thresholds = thresholds
        self._evenly = evenly
        self._with_epsilon = thresholds[0] < 0 or thresholds[-1] > 1
        self._thresholds_tensor = torch.tensor(thresholds, dtype=self._torch_dtype)

    def _add_count_variables(self, shape: tuple[int, ...]) -> None:
        for key in self._counts:
            self.add_variable(self._count_names[key], shape)

    def _states(self) -> dict[str, torch.Tensor]:
        return {key: getattr(self, self._count_names[key]) for key in self._counts}

    def _update_counts(self, y_true: Any, y_pred: Any, sample_weight: Any, **options: Any) -> None:
        y_true, y_pred = self._tensor(y_true), self._tensor(y_pred)
        self._check_batch(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = self._tensor(sample_weight)
        _confusion_update(self, self._states(), y_true, y_pred, sample_weight,
                          self._thresholds_tensor, evenly=self._evenly,
                          with_epsilon=self._with_epsilon, **options)

    def _per_threshold(self, values: torch.Tensor) -> torch.Tensor:
        return values[0] if len(self.thresholds) == 1 else values


class _ConfusionCount(_ConfusionMetric):
    def __init__(self, thresholds: Thresholds = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        parsed = _parse_thresholds(thresholds, 0.5)
        self._init_thresholds(parsed, _evenly_spaced(parsed))
        self._add_count_variables((len(parsed),))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._update_counts(y_true, y_pred, sample_weight)

    def result(self) -> torch.Tensor:
        return self._per_threshold(getattr(self, self._count_names[self._counts[0]])).clone()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of true positives (``y_pred > threshold`` and label non-zero).

    Args:
        thresholds: a float or a list of floats in [0, 1] (default 0.5); with a list the result
            has one value per threshold.
        name: default 'true_positives'.
        dtype: default ``config.floatx()``.
    """

    _counts = ("tp",)


class FalsePositives(_ConfusionCount):
    """Weighted count of false positives; arguments as :class:`TruePositives`."""

    _counts = ("fp",)


class TrueNegatives(_ConfusionCount):
    """Weighted count of true negatives; arguments as :class:`TruePositives`."""

    _counts = ("tn",)


class FalseNegatives(_ConfusionCount):
    """Weighted count of false negatives; arguments as :class:`TruePositives`."""

    _counts = ("fn",)


class _PrecisionOrRecall(_ConfusionMetric):
    def __init__(self, thresholds: Thresholds = None, top_k: Optional[int] = None,
                 class_id: Optional[int] = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = _check_positive_int(top_k, "top_k", allow_none=True)
        if class_id is not None and (isinstance(class_id, bool)
                                     or not isinstance(class_id, (int, np.integer))):
            raise ValueError(f"class_id must be an integer or None, got {class_id!r}")
        self.class_id = class_id
        parsed = _parse_thresholds(thresholds, 0.5 if top_k is None else _NEG_INF)
        self._init_thresholds(parsed, _evenly_spaced(parsed))
        self._add_count_variables((len(parsed),))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._update_counts(y_true, y_pred, sample_weight, top_k=self.top_k,
                            class_id=self.class_id)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionOrRecall):
    """``tp / (tp + fp)``: the fraction of predicted positives that are positive.

    Args:
        thresholds: a float or list of floats in [0, 1]; a prediction above it is positive
            (default 0.5, or every top-k entry when ``top_k`` is set). With a list the result
            has one value per threshold.
        top_k: only the ``top_k`` highest scores of each sample can be positive (default None).
        class_id: only this class (last axis of ``y_pred``) is scored (default None: all).
        name: default 'precision'.
        dtype: default ``config.floatx()``.

    Example::

        >>> Precision()([0, 1, 1, 1], [1, 0, 1, 1])
        tensor(0.6667)
    """

    _counts = ("tp", "fp")

    def result(self) -> torch.Tensor:
        tp = self.true_positives
        return self._per_threshold(_divide_no_nan(tp, tp + self.false_positives))


class Recall(_PrecisionOrRecall):
    """``tp / (tp + fn)``: the fraction of positives that are predicted positive.

    Arguments as :class:`Precision`; name default 'recall'.

    Example::

        >>> Recall()([0, 1, 1, 1], [1, 0, 1, 1])
        tensor(0.6667)
    """

    _counts = ("tp", "fn")

    def result(self) -> torch.Tensor:
        tp = self.true_positives
        return self._per_threshold(_divide_no_nan(tp, tp + self.false_negatives))


def _even_thresholds(num_thresholds: int) -> list[float]:
    """The ``num_thresholds - 2`` interior thresholds ``1/(n-1), ..., (n-2)/(n-1)``."""
    return [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]


class _AtConstraint(_ConfusionMetric):
    """Base of the "best X such that Y >= value" metrics over ``num_thresholds`` thresholds."""

    _counts = ("tp", "fp", "tn", "fn")
    _value_name = ""

    def __init__(self, value: float, num_thresholds: int = 200, class_id: Optional[int] = None,
                 name: Optional[str] = None, dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        setattr(self, self._value_name, _check_threshold(value, self._value_name))
        self.num_thresholds = _check_positive_int(num_thresholds, "num_thresholds")
        self.class_id = class_id
        if num_thresholds == 1:
            self._init_thresholds([0.5], False)
        else:
            self._init_thresholds([0.0] + _even_thresholds(num_thresholds) + [1.0], True)
        self._add_count_variables((len(self.thresholds),))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        self._update_counts(y_true, y_pred, sample_weight, class_id=self.class_id)

    def _rates(self) -> dict[str, torch.Tensor]:
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        return {
            "recall": _divide_no_nan(tp, tp + fn),
            "specificity": _divide_no_nan(tn, tn + fp),
            "precision": _divide_no_nan(tp, tp + fp),
        }

    def _best(self, constrained: torch.Tensor, dependent: torch.Tensor) -> torch.Tensor:
        value = getattr(self, self._value_name)
        feasible = torch.where(constrained >= value, dependent, torch.zeros_like(dependent))
        return feasible.max().clamp_min(0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), self._value_name: getattr(self, self._value_name),
                "num_thresholds": self.num_thresholds, "class_id": self.class_id}


class SensitivityAtSpecificity(_AtConstraint):
    """Best recall (sensitivity) over thresholds whose specificity is >= ``specificity``.

    Args:
        specificity: in [0, 1].
        num_thresholds: evenly spaced thresholds (default 200).
        class_id: only this class is scored (default None).
        name: default 'sensitivity_at_specificity'.
        dtype: default ``config.floatx()``.
    """

    _value_name = "specificity"

    def __init__(self, specificity: float, num_thresholds: int = 200,
                 class_id: Optional[int] = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(specificity, num_thresholds, class_id, name, dtype)

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["specificity"], rates["recall"])


class SpecificityAtSensitivity(_AtConstraint):
    """Best specificity over thresholds whose recall is >= ``sensitivity``; arguments as
    :class:`SensitivityAtSpecificity`."""

    _value_name = "sensitivity"

    def __init__(self, sensitivity: float, num_thresholds: int = 200,
                 class_id: Optional[int] = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["recall"], rates["specificity"])


class PrecisionAtRecall(_AtConstraint):
    """Best precision over thresholds whose recall is >= ``recall``; arguments as
    :class:`SensitivityAtSpecificity`."""

    _value_name = "recall"

    def __init__(self, recall: float, num_thresholds: int = 200,
                 class_id: Optional[int] = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(recall, num_thresholds, class_id, name, dtype)

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["recall"], rates["precision"])


class RecallAtPrecision(_AtConstraint):
    """Best recall over thresholds whose precision is >= ``precision``; arguments as
    :class:`SensitivityAtSpecificity`."""

    _value_name = "precision"

    def __init__(self, precision: float, num_thresholds: int = 200,
                 class_id: Optional[int] = None, name: Optional[str] = None,
                 dtype: Any = None) -> None:
        super().__init__(precision, num_thresholds, class_id, name, dtype)

    def result(self) -> torch.Tensor:
        rates = self._rates()
        return self._best(rates["precision"], rates["recall"])


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(_ConfusionMetric):
    """Area under the ROC or precision-recall curve, from counts at ``num_thresholds`` thresholds.

    Args:
        num_thresholds: number of thresholds, >= 2, evenly spaced over [0, 1] with the end ones
            nudged by epsilon (default 200).
        curve: 'ROC' (default), 'PR' or 'PRGAIN' (any case).
        summation_method: 'interpolation' (default; for PR the Davis & Goadrich
            interpolation), 'majoring' or 'minoring'.
        name: default 'auc'.
        dtype: default ``config.floatx()``.
        thresholds: explicit thresholds in [0, 1] instead of ``num_thresholds`` (default None).
        multi_label: treat the last axis as independent labels and average their AUCs
            (default False: flatten everything into one curve).
        num_labels: with ``multi_label``, the number of labels (default: read from the first
            batch).
        label_weights: per-label weights of the average (multi_label) or of the counts.
        from_logits: apply a sigmoid to ``y_pred`` first (default False).

    Example::

        >>> AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        tensor(0.7500)
    """

    _counts = ("tp", "fp", "tn", "fn")

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: Optional[str] = None,
        dtype: Any = None,
        thresholds: Optional[Sequence[float]] = None,
        multi_label: bool = False,
        num_labels: Optional[int] = None,
        label_weights: Optional[Sequence[float]] = None,
        from_logits: bool = False,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        if not isinstance(curve, str) or curve.lower() not in _CURVES:
            raise ValueError(f"curve must be one of 'ROC', 'PR', 'PRGAIN', got {curve!r}")
        if not isinstance(summation_method, str) or summation_method.lower() not in _SUMMATIONS:
            raise ValueError(
                f"summation_method must be one of {_SUMMATIONS}, got {summation_method!r}"
            )
        self.curve = _CURVES[curve.lower()]
        self.summation_method = summation_method.lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            interior = sorted(_parse_thresholds(thresholds, 0.5))
            self.num_thresholds = len(interior) + 2
            evenly = _evenly_spaced([0.0] + interior + [1.0])
        else:
            valid = isinstance(num_thresholds, (int, np.integer)) and num_thresholds >= 2
            if isinstance(num_thresholds, bool) or not valid:
                raise ValueError(f"num_thresholds must be an integer >= 2, got {num_thresholds!r}")
            self.num_thresholds = int(num_thresholds)
            interior = _even_thresholds(self.num_thresholds)
            evenly = True
        eps = config.epsilon()
        self._init_thresholds([0.0 - eps] + interior + [1.0 + eps], evenly)
        if num_labels is not None and not multi_label:
            raise ValueError("num_labels is only used with multi_label=True, got "
                             f"num_labels={num_labels!r} and multi_label=False")
        self.multi_label = bool(multi_label)
        self.num_labels = _check_positive_int(num_labels, "num_labels", allow_none=True)
        self._label_weights_list = (
            None if label_weights is None else [float(w) for w in label_weights]
        )
        self.label_weights = (
            None if label_weights is None
            else torch.tensor(self._label_weights_list, dtype=self._torch_dtype)
        )
        self._from_logits = bool(from_logits)
        self._built = False
        if not self.multi_label:
            self._build(())
        elif self.num_labels:
            self._build((self.num_labels,))

    @property
    def from_logits(self) -> bool:
        return self._from_logits

    def _build(self, label_shape: tuple[int, ...]) -> None:
        self._num_labels = label_shape[0] if label_shape else None
        self._add_count_variables((self.num_thresholds,) + tuple(label_shape))
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = self._tensor(y_pred)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError(
                    f"Metric {self.name!r} (multi_label=True) needs y_pred of shape "
                    f"(batch, num_labels), got y_pred.shape={tuple(y_pred.shape)}."
                )
            if not self._built:
                self._build((y_pred.shape[1],))
            elif y_pred.shape[1] != self._num_labels:
                raise ValueError(
                    f"Metric {self.name!r} was built for {self._num_labels} labels, got "
                    f"y_pred.shape={tuple(y_pred.shape)}."
                )
        if self.label_weights is not None and (
            y_pred.ndim == 0 or y_pred.shape[-1] != self.label_weights.shape[0]
        ):
            raise ValueError(
                f"Metric {self.name!r}: label_weights has {self.label_weights.shape[0]} entries, "
                f"one per label on the last axis of y_pred, got y_pred.shape="
                f"{tuple(y_pred.shape)}."
            )
        if self._from_logits:
            y_pred = torch.sigmoid(y_pred)
        self._update_counts(y_true, y_pred, sample_weight, multi_label=self.multi_label,
                            label_weights=None if self.multi_label else self.label_weights)

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def _average_labels(self, by_threshold: torch.Tensor) -> torch.Tensor:
        area = by_threshold.sum(0)
        if not self.multi_label:
            return area
        if self.label_weights is None:
            return area.mean()
        return _divide_no_nan((area * self.label_weights).sum(), self.label_weights.sum())

    def _interpolated_pr_auc(self) -> torch.Tensor:
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        d_tp = tp[:-1] - tp[1:]
        p = tp + fp
        d_p = p[:-1] - p[1:]
        slope = _divide_no_nan(d_tp, d_p.clamp_min(0))
        intercept = tp[1:] - slope * p[1:]
        both_positive = (p[:-1] > 0) & (p[1:] > 0)
        ratio = torch.where(both_positive, _divide_no_nan(p[:-1], p[1:].clamp_min(0)),
                            torch.ones_like(p[1:]))
        increments = _divide_no_nan(slope * (d_tp + intercept * torch.log(ratio)),
                                    (tp[1:] + fn[1:]).clamp_min(0))
        return self._average_labels(increments)

    def result(self) -> torch.Tensor:
        if not self._built:
            return torch.zeros((), dtype=self._torch_dtype, device=self._device)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolated_pr_auc()
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:
            scale = _divide_no_nan(tp + fn, tn + fp)
            x = torch.where(tp == 0, torch.zeros_like(tp), 1.0 - scale * _divide_no_nan(fn, tp))
            x = x.clamp_min(0.0)
            y = torch.where(tp == 0, torch.ones_like(tp), 1.0 - scale * _divide_no_nan(fp, tp))
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = torch.minimum(y[:-1], y[1:])
        else:
            heights = torch.maximum(y[:-1], y[1:])
        return self._average_labels((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self._label_weights_list,
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


# --------------------------------------------------------------------------------------------
# catalog and resolution

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    fn.__name__: fn
    for fn in (
        accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
        top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, cosine_similarity,
    )
}

_CLASSES: tuple[type, ...] = (
    Mean, Sum, MeanMetricWrapper,
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, RootMeanSquaredError, LogCoshError, CosineSimilarity,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC,
    SensitivityAtSpecificity, SpecificityAtSensitivity, PrecisionAtRecall, RecallAtPrecision,
)


def _build_catalog() -> dict[str, Any]:
    catalog: dict[str, Any] = {cls.__name__: cls for cls in _CLASSES}
    # snake_case class names, as Keras accepts them ('auc', 'precision', 'log_cosh_error', ...)
    catalog.update(
        {_snake_case(cls.__name__): cls for cls in _CLASSES if cls is not MeanMetricWrapper}
    )
    # every loss function and its aliases ('mse', 'bce', 'huber', ...): the functions win
    catalog.update(
        {name: obj for name, obj in losses.LOSSES.items() if not isinstance(obj, type)}
    )
    catalog.update(_FUNCTIONS)  # cosine_similarity is the metric's (+1 for equal directions)
    return catalog


METRICS: dict[str, Any] = _build_catalog()
"""Every name :func:`get` knows: class names and their snake_case, metric and loss functions and
the loss aliases ('mse', 'bce', ...)."""

# A function named as a string resolves to the class that wraps it, as Keras does for strings.
_CLASS_OF_FUNCTION: dict[Any, type] = {
    accuracy: Accuracy,
    binary_accuracy: BinaryAccuracy,
    categorical_accuracy: CategoricalAccuracy,
    sparse_categorical_accuracy: SparseCategoricalAccuracy,
    top_k_categorical_accuracy: TopKCategoricalAccuracy,
    sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
    cosine_similarity: CosineSimilarity,
    losses.mean_squared_error: MeanSquaredError,
    losses.mean_absolute_error: MeanAbsoluteError,
    losses.mean_absolute_percentage_error: MeanAbsolutePercentageError,
    losses.mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    losses.log_cosh: LogCoshError,
    losses.binary_crossentropy: BinaryCrossentropy,
    losses.categorical_crossentropy: CategoricalCrossentropy,
    losses.sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    losses.kl_divergence: KLDivergence,
    losses.poisson: Poisson,
    losses.hinge: Hinge,
    losses.squared_hinge: SquaredHinge,
    losses.categorical_hinge: CategoricalHinge,
}


def get(identifier: Any) -> Any:
    """Resolve a metric identifier.

    Args:
        identifier: ``None`` (returned as None); a name from :data:`METRICS` (a function name
            such as 'binary_accuracy' or 'mse' gives the function, a class name or its
            snake_case such as 'AUC' / 'auc' gives a new instance); a config dict
            ``{"class_name": ..., "config": {...}}`` (an instance); a :class:`Metric` class
            (instantiated with defaults); a :class:`Metric` instance or any callable (as is).

    Raises:
        ValueError: for an unknown name, listing the valid ones and the closest.

    Example::

        >>> get("mse").__name__
        'mean_squared_error'
        >>> get("AUC")
        <AUC name=auc>
    """
    if identifier is None:
        return None
    return registry.lookup(identifier, METRICS, "metric", base=Metric)


def serialize(metric: Any) -> Any:
    """``{"class_name", "config"}`` for a metric instance, the name for a function."""
    return registry.serialize(metric)


def _object_name(obj: Any) -> str:
    """The name Keras gives a metric made from ``obj``: its ``name``, else its snake-cased
    ``__name__``, else its snake-cased class name."""
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return name
    if hasattr(obj, "__name__"):
        return _snake_case(obj.__name__)
    return _snake_case(type(obj).__name__)


def _is_binary_or_sparse(y_true_shape: Shape, y_pred_shape: Shape) -> tuple[bool, bool]:
    """Keras's shape rule: binary if y_pred's last axis is 1; sparse if y_true has a lower rank,
    or a last axis of 1 while y_pred's is larger."""
    if len(y_true_shape) == 0 or len(y_pred_shape) == 0:
        raise ValueError(
            "Cannot resolve the metric from scalar targets or predictions: got "
            f"y_true shape {tuple(y_true_shape)} and y_pred shape {tuple(y_pred_shape)}."
        )
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (
        y_true_shape[-1] == 1 and y_pred_shape[-1] is not None and y_pred_shape[-1] > 1
    )
    return is_binary, is_sparse


def get_for_shapes(
    identifier: Any,
    y_true_shape: Shape,
    y_pred_shape: Shape,
    *,
    from_logits: bool = False,
) -> Metric:
    """Resolve one entry of ``compile(metrics=[...])`` into a :class:`Metric`, given the shapes of
    the first batch (what Keras's trainer does when it builds its compiled metrics).

    Rules:

    * 'accuracy' / 'acc' (any case): :class:`BinaryAccuracy` if ``y_pred``'s last axis is 1,
      else :class:`SparseCategoricalAccuracy` if ``y_true`` has a lower rank than ``y_pred`` (or
      a last axis of 1 while ``y_pred``'s is larger), else :class:`CategoricalAccuracy`; named by
      the string as given. ``from_logits`` does not change it (Keras thresholds at 0.5 anyway).
    * 'crossentropy' / 'ce' (any case): the matching crossentropy metric by the same rule, with
      ``from_logits`` (an extension: Keras accepts these strings for losses only).
    * Any other string: resolved by :func:`get` and named by the string as given ('mse' stays
      'mse'); a function with a metric class of its own gives that class.
    * A :class:`Metric` instance: returned as is. A :class:`Metric` class or config dict: a new
      instance with its default name.
    * Any other callable: a :class:`MeanMetricWrapper` named after it (``__name__`` in
      snake_case).

    Args:
        identifier: the entry.
        y_true_shape: shape of the targets of one batch.
        y_pred_shape: shape of the model output of one batch.
        from_logits: whether the model outputs logits (used for 'crossentropy' / 'ce').

    Raises:
        ValueError: for ``None`` or an unknown name.
        TypeError: for an identifier that is neither a name, a dict, a class nor a callable.

    Example::

        >>> get_for_shapes("accuracy", (32,), (32, 10))
        <SparseCategoricalAccuracy name=accuracy>
    """
    if identifier is None:
        raise ValueError("Expected a metric, got None.")
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc", "crossentropy", "ce"):
            is_binary, is_sparse = _is_binary_or_sparse(y_true_shape, y_pred_shape)
            if key in ("accuracy", "acc"):
                cls = (BinaryAccuracy if is_binary
                       else SparseCategoricalAccuracy if is_sparse else CategoricalAccuracy)
                return cls(name=identifier)
            cls = (BinaryCrossentropy if is_binary
                   else SparseCategoricalCrossentropy if is_sparse else CategoricalCrossentropy)
            return cls(name=identifier, from_logits=from_logits)
        obj = get(identifier)
        if isinstance(obj, Metric):
            obj.name = identifier
            return obj
        cls = _CLASS_OF_FUNCTION.get(obj)
        return cls(name=identifier) if cls is not None else MeanMetricWrapper(obj, name=identifier)
    obj = get(identifier)
    return obj if isinstance(obj, Metric) else MeanMetricWrapper(obj, name=_object_name(obj))


__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper",
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "RootMeanSquaredError", "LogCoshError", "CosineSimilarity",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives",
    "Precision", "Recall", "AUC",
    "SensitivityAtSpecificity", "SpecificityAtSensitivity", "PrecisionAtRecall",
    "RecallAtPrecision",
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "cosine_similarity",
    "METRICS", "get", "get_for_shapes", "serialize",
]
