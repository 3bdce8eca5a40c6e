"""Preprocessing layers: Rescaling and Normalization (with ``adapt``).

Both cast their inputs to the layer's float dtype first (so uint8 images can be fed directly),
as Keras does.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .. import config as _config
from .layer import Layer

__all__ = ["Normalization", "Rescaling"]


def _to_config_value(value: Any) -> Any:
    """A JSON-friendly form of a scalar or array argument (nested lists for arrays)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, np.generic, list, tuple)):
        return np.asarray(value).tolist()
    return value


def _from_config_value(value: Any) -> Any:
    """Accepts Keras's serialized numpy arrays (``{"class_name": "__numpy__", ...}``)."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        cfg = value["config"]
        return np.asarray(cfg["value"], dtype=cfg.get("dtype"))
    return value


def _check_numeric(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype == object or not (
            np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    return array


class Rescaling(Layer):
    """Multiplies the inputs by ``scale`` and adds ``offset``: ``inputs * scale + offset``.

    For example ``Rescaling(1/255)`` maps [0, 255] pixels to [0, 1] and
    ``Rescaling(1/127.5, offset=-1)`` to [-1, 1].

    Args:
        scale: float, or array broadcast against the input (e.g. per channel). With
            ``config.image_data_format() == 'channels_first'`` an array is aligned to the
            channel axis of an image (reshaped to ``(C, 1, 1)``), as in Keras.
        offset: float or array, same rules (default 0.0).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape; the dtype is the layer's float dtype.

    Example:
        >>> Rescaling(1 / 255)(torch.tensor([0, 255], dtype=torch.uint8))
        tensor([0., 1.])
    """

    supports_masking = True

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        scale, offset = _from_config_value(scale), _from_config_value(offset)
        scale_array = _check_numeric(scale, "scale")
        offset_array = _check_numeric(offset, "offset")
        super().__init__(**kwargs)
        self.scale = _to_config_value(scale)
        self.offset = _to_config_value(offset)
        self._arrays = (scale_array, offset_array)
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        channels_first = _config.image_data_format() == "channels_first"
        for name, array in zip(("_scale", "_offset"), self._arrays):
            if array.ndim == 0:
                setattr(self, name, float(array))
                continue
            if channels_first:
                array = array.reshape(array.shape + (1,) * (3 - array.ndim))
            self.register_buffer(name, torch.as_tensor(array, dtype=self.dtype), persistent=False)
        if isinstance(self._offset, float) and self._offset == 0.0:
            self._offset = None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dtype != self.dtype:
            inputs = inputs.to(self.dtype)
        out = inputs * self._scale
        return out if self._offset is None else out + self._offset

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _first_of_pair(batch: Any) -> Any:
    """``x`` from an ``(x, y[, sample_weight])`` batch; a torch DataLoader yields lists."""
    if isinstance(batch, tuple):
        return batch[0]
    if isinstance(batch, list) and batch and hasattr(batch[0], "shape"):
        return batch[0]
    return batch


class Normalization(Layer):
    """Standardizes features: ``(inputs - mean) / sqrt(variance)`` (the square root floored
    at ``config.epsilon()``), with ``mean`` and ``variance`` given, or learned from data by
    :meth:`adapt`. ``invert=True`` applies the inverse, ``mean + inputs * sqrt(variance)``.

    Args:
        axis: int, tuple of ints or None, the axes that keep their own statistics (default -1:
            one mean and variance per feature of the last axis); the other axes are reduced.
            ``None`` uses a single scalar mean and variance.
        mean: the mean, a scalar or an array broadcast against the kept axes (default None;
            give both ``mean`` and ``variance``, or neither and call :meth:`adapt`).
        variance: the variance, same shape as ``mean`` (default None).
        invert: apply the inverse transformation (default False).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape. Without ``mean``/``variance`` the layer has the
        non-trainable weights ``mean`` and ``variance`` (the kept axes' shape) and ``count``
        (int32 scalar, unused, kept for Keras compatibility).

    Example:
        >>> layer = Normalization()
        >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], dtype="float32"))
        >>> layer(torch.tensor([[1.0, 20.0]]))
        tensor([[0., 0.]])
    """

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] | None = -1, mean: Any = None,
                 variance: Any = None, invert: bool = False, **kwargs: Any) -> None:
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"axis must be an int, a tuple of ints or None, got {axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError(
                "Give both mean and variance, or neither (then call adapt()); got "
                f"mean={mean!r} and variance={variance!r}"
            )
        if mean is not None:
            mean_array = _check_numeric(mean, "mean")
            variance_array = _check_numeric(variance, "variance")
            if mean_array.shape != variance_array.shape:
                raise ValueError(
                    f"mean and variance must have the same shape, got {mean_array.shape} and "
                    f"{variance_array.shape}"
                )
            if mean_array.ndim > len(axis):
                raise ValueError(
                    f"mean must have at most as many axes as axis ({len(axis)} for axis="
                    f"{axis}), got mean of shape {mean_array.shape}"
                )
            if np.any(variance_array < 0):
                raise ValueError(f"variance must be non-negative, got {variance!r}")
        super().__init__(**kwargs)
        self.axis = axis
        self.input_mean = _to_config_value(mean)
        self.input_variance = _to_config_value(variance)
        self.invert = bool(invert)
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"Normalization {self.name!r}: axis {self.axis} is out of range for inputs "
                    f"of rank {ndim}; every axis must be in [-{ndim}, {ndim})."
                )
        keep = tuple(sorted({a % ndim for a in self.axis}))
        if any(input_shape[d] is None for d in keep):
            raise ValueError(
                f"Normalization {self.name!r}: the kept axes {self.axis} must have known sizes, "
                f"got input shape {tuple(input_shape)}."
            )
        self._build_shape = tuple(input_shape)
        self._keep = keep
        self._reduce = tuple(d for d in range(ndim) if d not in keep)
        self._stat_shape = tuple(int(input_shape[d]) for d in keep)
        self._broadcast_shape = tuple(int(input_shape[d]) if d in keep else 1
                                      for d in range(ndim))
        if self.input_mean is None:
            self.mean = self.add_weight(self._stat_shape, "zeros", trainable=False, name="mean")
            self.variance = self.add_weight(self._stat_shape, "ones", trainable=False,
                                            name="variance")
            self.count = self.add_weight((), "zeros", dtype="int32", trainable=False,
                                         name="count")
            return
        mean = self._broadcast_given(np.asarray(self.input_mean), ndim)
        variance = self._broadcast_given(np.asarray(self.input_variance), ndim)
        self.register_buffer("_mean", mean, persistent=False)
        self.register_buffer("_denominator", self._denominator_of(variance), persistent=False)

    def _broadcast_given(self, value: np.ndarray, ndim: int) -> torch.Tensor:
        """A given mean/variance aligned right-to-left with the kept axes, broadcast to them."""
        if value.ndim:
            aligned = [1] * ndim
            for i in range(1, value.ndim + 1):
                aligned[self._keep[-i]] = value.shape[-i]
            value = value.reshape(aligned)
        try:
            value = np.broadcast_to(value, self._broadcast_shape)
        except ValueError:
            raise ValueError(
                f"Normalization {self.name!r}: mean/variance of shape {np.shape(value)} do not "
                f"broadcast to the kept axes {self.axis} of input shape {self._build_shape}."
            ) from None
        return torch.tensor(value, dtype=self.dtype)

    @staticmethod
    def _denominator_of(variance: torch.Tensor) -> torch.Tensor:
        return torch.clamp_min(torch.sqrt(variance), _config.epsilon())

    def statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, denominator)`` shaped to broadcast onto the inputs: outputs are
        ``(x - mean) / denominator`` (``x * denominator + mean`` when ``invert``)."""
        if self.input_mean is None:
            shape = self._broadcast_shape
            return self.mean.view(shape), self._denominator_of(self.variance).view(shape)
        return self._mean, self._denominator

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dtype != self.dtype:
            inputs = inputs.to(self.dtype)
        mean, denominator = self.statistics()
        if self.invert:
            return torch.addcmul(mean, inputs, denominator)
        return (inputs - mean) / denominator

    def adapt(self, data: Any) -> None:
        """Sets ``mean`` and ``variance`` to the statistics of ``data`` over the reduced axes.

        Args:
            data: a numpy array or torch tensor holding the whole data set (batch axis
                first), or an iterable of such batches (a list, a generator, a torch
                ``DataLoader``; ``(x, y)`` batches use ``x``). Batches are combined exactly
                (population mean and variance over all of them).

        Example:
            >>> layer = Normalization(axis=None)
            >>> layer.adapt(torch.tensor([[1.0], [3.0]]))
            >>> layer.get_weights()[:2]
            [array(2., dtype=float32), array(1., dtype=float32)]
        """
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization {self.name!r} was given mean and variance; adapt() would "
                "replace them. Create the layer without mean/variance to adapt it."
            )
        batches = None
        if isinstance(data, (np.ndarray, torch.Tensor)):
            shape = tuple(data.shape)
        elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
            iterator = iter(data)
            first = next(iterator, None)
            if first is None:
                raise ValueError(
                    "adapt() received an empty iterable; pass an array, a tensor or a "
                    "non-empty iterable of batches, e.g. layer.adapt([x])."
                )
            first = _first_of_pair(first)
            if not hasattr(first, "shape"):
                raise TypeError(
                    "adapt() expects an iterable of arrays or tensors with a .shape, got an "
                    f"element of type {type(first).__name__}."
                )
            shape = tuple(first.shape)
            batches = itertools.chain([first], iterator)
        else:
            raise TypeError(
                f"adapt() expects a numpy array, a torch tensor or an iterable of batches, "
                f"got {type(data).__name__}."
            )
        if not self.built:
            self.maybe_build(shape)
        else:
            self._check_adapt_shape(shape)
        if batches is not None:
            mean, variance = self._streaming_moments(batches)
        elif isinstance(data, np.ndarray):
            mean = np.mean(data, axis=self._reduce)
            variance = np.var(data, axis=self._reduce)
        else:
            x = data.detach()
            if not x.is_floating_point():
                x = x.to(self.dtype)
            mean, variance = self._tensor_moments(x)
        with torch.no_grad():
            self.mean.copy_(torch.as_tensor(mean).to(self.mean))
            self.variance.copy_(torch.as_tensor(variance).to(self.variance))

    def _check_adapt_shape(self, shape: tuple) -> None:
        if len(shape) != len(self._build_shape) or any(
                shape[d] != self._build_shape[d] for d in self._keep):
            raise ValueError(
                f"Normalization {self.name!r} was built for inputs of shape {self._build_shape} "
                f"(kept axes {self.axis}), but adapt() received data of shape {shape}."
            )

    def _tensor_moments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._reduce:
            return x, torch.zeros_like(x)
        var, mean = torch.var_mean(x, dim=self._reduce, correction=0)
        return mean, var

    def _streaming_moments(self, batches: Iterable) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance over all batches, merged batch by batch as Keras does."""
        total_mean = torch.zeros(self._stat_shape, dtype=self.dtype)
        total_var = torch.zeros(self._stat_shape, dtype=self.dtype)
        total_count = 0
        for batch in batches:
            batch = _first_of_pair(batch)
            if isinstance(batch, torch.Tensor):
                batch = batch.detach().cpu().to(self.dtype)
            else:
                batch = torch.as_tensor(np.asarray(batch), dtype=self.dtype)
            self._check_adapt_shape(tuple(batch.shape))
            batch_mean, batch_var = self._tensor_moments(batch)
            count = math.prod(batch.shape[d] for d in self._reduce)
            total_count += count
            if count == 0:
                continue
            weight = count / total_count
            new_mean = total_mean * (1.0 - weight) + batch_mean * weight
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1.0 - weight)
                         + (batch_var + (batch_mean - new_mean) ** 2) * weight)
            total_mean = new_mean
        return total_mean, total_var

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": self.input_mean,
            "variance": self.input_variance,
        }
