"""Activation layers with arguments: ReLU, LeakyReLU, PReLU, ELU, Softmax.

They call the functions of :mod:`torchkeras_lite.activations` (the same torch kernels as Keras's
torch backend); PReLU's ``alpha`` is stored in Keras's layout, the input's shape without the
batch axis, with size 1 on ``shared_axes``.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import activations as _activations
from .._fused import attach_logits
from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .layer import Layer

__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]


def _non_negative(value: Any, name: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit with Keras's options::

        f(x) = max_value                         if x >= max_value
        f(x) = x                                 if threshold < x < max_value
        f(x) = negative_slope * (x - threshold)  otherwise

    Args:
        max_value: non-negative float, the output's upper bound (default None: unbounded).
        negative_slope: non-negative float, slope below the threshold (default 0.0).
        threshold: non-negative float, the value below which units are damped (default 0.0).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> ReLU(max_value=1.0)(torch.tensor([-1.0, 0.5, 2.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """

    supports_masking = True

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        max_value = _non_negative(max_value, "max_value", allow_none=True)
        negative_slope = _non_negative(negative_slope, "negative_slope")
        threshold = _non_negative(threshold, "threshold")
        super().__init__(**kwargs)
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self._plain = max_value is None and negative_slope == 0.0 and threshold == 0.0
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self._plain:
            return torch.relu(inputs)
        return _activations.relu(inputs, self.negative_slope, self.max_value, self.threshold)

    def get_config(self) -> dict:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky ReLU: ``x`` if ``x >= 0`` else ``negative_slope * x``.

    Args:
        negative_slope: non-negative float (default 0.3, unlike the ``leaky_relu`` function's
            0.2, as in Keras). The deprecated name ``alpha`` is accepted with a warning.
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> LeakyReLU()(torch.tensor([-1.0, 2.0]))
        tensor([-0.3000,  2.0000])
    """

    supports_masking = True

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any) -> None:
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU's argument alpha is deprecated; use negative_slope.",
                          stacklevel=2)
        negative_slope = _non_negative(negative_slope, "negative_slope")
        super().__init__(**kwargs)
        self.negative_slope = negative_slope
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(inputs, self.negative_slope)

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Parametric ReLU: ``x`` if ``x >= 0`` else ``alpha * x``, with a learned ``alpha``.

    Args:
        alpha_initializer: default ``'Zeros'`` (Keras's default; the layer starts as a ReLU).
        alpha_regularizer: penalty on alpha (default None).
        alpha_constraint: projection after each optimizer step (default None).
        shared_axes: int or list of ints, input axes (batch axis 0 excluded) along which alpha
            is shared, e.g. ``[1, 2]`` for one alpha per channel of a channels-last image
            (default None: one alpha per input unit).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape. ``alpha`` has the input's shape without the batch axis,
        with size 1 on ``shared_axes`` (Keras layout).

    Example:
        >>> layer = PReLU(shared_axes=[1, 2])
        >>> _ = layer(torch.randn(2, 5, 5, 3))
        >>> layer.alpha.shape
        torch.Size([1, 1, 3])
    """

    supports_masking = True

    def __init__(
        self,
        alpha_initializer: Any = "Zeros",
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: int | Sequence[int] | None = None,
        **kwargs: Any,
    ) -> None:
        if shared_axes is not None:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
                raise TypeError(
                    f"shared_axes must be an int or a list of ints, got {shared_axes!r}")
            shared_axes = [int(a) for a in axes]
        super().__init__(**kwargs)
        self.alpha_initializer = _initializers.get(alpha_initializer)
        self.alpha_regularizer = _regularizers.get(alpha_regularizer)
        self.alpha_constraint = _constraints.get(alpha_constraint)
        self.shared_axes = shared_axes
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        shared = set()
        for a in self.shared_axes or ():
            if not -ndim < a < ndim or a % ndim == 0:
                raise ValueError(
                    f"PReLU {self.name!r}: shared_axes entries must be non-batch axes of the "
                    f"input, in [1, {ndim}) (or negative), got {self.shared_axes} for input "
                    f"shape {tuple(input_shape)}."
                )
            shared.add(a % ndim)
        shape = [1 if d in shared else input_shape[d] for d in range(1, ndim)]
        if any(s is None for s in shape):
            raise ValueError(
                f"PReLU {self.name!r} needs every non-shared input axis to have a known size, "
                f"got input shape {tuple(input_shape)} with shared_axes {self.shared_axes}."
            )
        self._sample_shape = tuple(shape)
        self.alpha = self.add_weight(
            shape, self.alpha_initializer, regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint, name="alpha",
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # Keras's formula: its gradient at x == 0 is 0 (F.prelu's would be alpha), and on CPU
        # it trains no slower than F.prelu with a per-unit weight.
        try:
            out = torch.relu(inputs) - self.alpha * torch.relu(-inputs)
        except RuntimeError:
            out = None
        if out is None or out.shape != inputs.shape:
            raise ValueError(
                f"PReLU {self.name!r} was built for samples of shape {self._sample_shape} "
                f"(size 1 on shared axes), received input shape {tuple(inputs.shape)}."
            )
        return out

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "alpha_initializer": serialize(self.alpha_initializer),
            "alpha_regularizer": serialize(self.alpha_regularizer),
            "alpha_constraint": serialize(self.alpha_constraint),
            "shared_axes": self.shared_axes,
        }


class ELU(Layer):
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: float, the negative saturation value's magnitude (default 1.0).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> ELU(alpha=0.5)(torch.tensor([-20.0, 1.0]))
        tensor([-0.5000,  1.0000])
    """

    supports_masking = True

    def __init__(self, alpha: float = 1.0, **kwargs: Any) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"alpha must be a number, got {alpha!r}")
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.elu(inputs, self.alpha)

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax over ``axis``, optionally masked.

    With a mask (the input's ``_keras_mask`` or ``mask=`` in the call; True, or > 0.5, keeps a
    position), masked positions are set to -1e9 (-3e4 for float16) before the softmax and to 0
    after it, so a fully masked slice gives zeros rather than a uniform distribution.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1).
        **kwargs: Layer arguments.

    Call arguments:
        inputs: tensor of logits.
        mask: optional tensor broadcastable to ``inputs`` (aligned on the trailing axes).

    Shape:
        Output has the input's shape.

    Example:
        >>> Softmax()(torch.zeros(1, 4), mask=torch.tensor([[True, True, False, False]]))
        tensor([[0.5000, 0.5000, 0.0000, 0.0000]])
    """

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        if isinstance(axis, (list, tuple)):
            if not axis or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                               for a in axis):
                raise TypeError(f"axis must be an int or a non-empty list of ints, got {axis!r}")
            axis = [int(a) for a in axis]
        elif isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int or a list of ints, got {axis!r}")
        else:
            axis = int(axis)
        super().__init__(**kwargs)
        self.axis = axis
        self._dim = axis if isinstance(axis, int) else (axis[0] if len(axis) == 1 else tuple(axis))
        self.built = True

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            mask = self._check_mask(inputs, mask)
            fill = -3e4 if inputs.dtype == torch.float16 else -1e9
            inputs = torch.where(mask, inputs, fill)
        dim = self._dim
        if isinstance(dim, int):
            out = _activations.softmax(inputs, dim)
            if mask is None and dim in (-1, inputs.dim() - 1):
                return attach_logits(out, inputs)
        else:
            out = torch.exp(inputs - torch.logsumexp(inputs, dim=dim, keepdim=True))
        return out if mask is None else torch.where(mask, out, 0.0)

    def _check_mask(self, inputs: torch.Tensor, mask: Any) -> torch.Tensor:
        mask = torch.as_tensor(mask, device=inputs.device)
        compatible = mask.dim() <= inputs.dim() and all(
            m == 1 or m == i for m, i in zip(reversed(mask.shape), reversed(inputs.shape)))
        if not compatible:
            raise ValueError(
                f"Softmax {self.name!r}: the mask must be broadcastable to the inputs (aligned "
                f"on the trailing axes, each mask size 1 or equal), received mask shape "
                f"{tuple(mask.shape)} for input shape {tuple(inputs.shape)}."
            )
        return mask if mask.dtype == torch.bool else mask > 0.5

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
