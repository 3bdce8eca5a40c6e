"""Core layers: Dense, Activation, Dropout, Flatten, Reshape."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from .. import activations as _activations
from .. import config as _config
from .._fused import attach_logits
from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .arguments import data_format as _data_format
from .layer import Layer

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Reshape"]


def _activation_shape(activation: Any, shape: tuple) -> tuple:
    """The shape after ``activation``: glu halves the last axis, the others keep it."""
    if activation is _activations.glu and shape and shape[-1] is not None:
        return shape[:-1] + (shape[-1] // 2,)
    return shape


def dropout(x: torch.Tensor, rate: float, shape: Sequence[int] | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` with each entry zeroed with probability ``rate`` and the rest scaled by
    ``1 / (1 - rate)``; the mask has ``shape`` (broadcast onto ``x``; default ``x``'s shape).

    Without a generator and shape on CUDA this is torch's fused dropout kernel. Elsewhere the
    mask comes from ``rand >= rate``: on CPU that is ~3.5x faster than torch's ``bernoulli_``
    (forward + backward of a (128, 1600) dropout: 0.55 ms against 2.1 ms).
    """
    if generator is None and shape is None and x.device.type == "cuda":
        return torch.nn.functional.dropout(x, rate, True)
    keep = torch.rand(x.shape if shape is None else shape, generator=generator,
                      device=x.device, dtype=x.dtype) >= rate
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - rate))


class Dense(Layer):
    """Densely connected layer: ``activation(inputs @ kernel + bias)`` on the last axis.

    Args:
        units: positive int, size of the output's last axis.
        activation: activation name or function (default: none, i.e. linear).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties added to the loss.
        kernel_constraint, bias_constraint: projections applied after each optimizer step.
        **kwargs: Layer arguments (``name``, ``input_dim``, ``input_shape``, ``trainable``...).

    Shape:
        Input ``(batch, ..., in)``; output ``(batch, ..., units)``. The kernel is stored in
        Keras layout ``(in, units)``.

    Example:
        >>> Dense(3, input_dim=8, activation="softmax")(torch.zeros(2, 8)).shape
        torch.Size([2, 3])
    """

    supports_masking = True

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        self.activation = _activations.get(activation)
        self._is_linear = self.activation is _activations.get(None)
        self._is_softmax = self.activation is _activations.softmax
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError(
                f"Dense layer {self.name!r} needs a known last input dimension, "
                f"got input shape {input_shape}."
            )
        kernel = self.add_weight(
            (in_features, self.units), self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel",
        )
        if _config.fused_ops():
            # Keras's shape (in, units) stored column-major: the memory layout of torch's
            # nn.Linear weight (units, in), for which CPU GEMMs run ~20 % faster at batch >= 10
            # (docs/performance.md). With fused_ops off, Keras's own row-major layout (its
            # GEMMs, its last bits).
            self.kernel = torch.nn.Parameter(kernel.detach().t().contiguous().t(),
                                             requires_grad=kernel.requires_grad)
        if self.use_bias:
            self.bias = self.add_weight(
                (self.units,), self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias",
            )
        else:
            self.bias = None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        kernel, bias = self.kernel, self.bias
        try:
            if bias is not None and inputs.dim() == 2:
                out = torch.addmm(bias, inputs, kernel)
            else:
                out = torch.matmul(inputs, kernel)
                if bias is not None:
                    out = out + bias
        except RuntimeError:
            if inputs.shape[-1] != kernel.shape[0]:  # checked here: free on the happy path
                raise ValueError(
                    f"Dense layer {self.name!r} expects inputs whose last axis is "
                    f"{kernel.shape[0]}, received shape {tuple(inputs.shape)}."
                ) from None
            raise
        if self._is_linear:
            return out
        if self._is_softmax:  # the loss may use the logits (see torchkeras_lite._fused)
            return attach_logits(self.activation(out), out)
        return self.activation(out)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _activation_shape(self.activation, tuple(input_shape[:-1]) + (self.units,))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": _activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "bias_constraint": serialize(self.bias_constraint),
        }


class Activation(Layer):
    """Applies an activation function.

    Args:
        activation: name or callable, e.g. ``'relu'``.

    Example:
        >>> Activation("relu")(torch.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _activations.get(activation)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.activation is _activations.softmax:
            return attach_logits(self.activation(inputs), inputs)
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _activation_shape(self.activation, tuple(input_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": _activations.serialize(self.activation)}


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 during training and scales the rest by
    ``1 / (1 - rate)``; identity at inference.

    Args:
        rate: float in [0, 1), the fraction of units to drop.
        noise_shape: shape of the binary mask, broadcast over the input; ``None`` entries
            take the input's size (e.g. ``(None, 1, None)`` shares a mask across timesteps).
        seed: int for a reproducible mask sequence.

    Example:
        >>> Dropout(0.5)(torch.ones(2, 4))  # inference: unchanged
        tensor([[1., 1., 1., 1.],
                [1., 1., 1., 1.]])
    """

    supports_masking = True

    def __init__(
        self, rate: float, noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None, **kwargs: Any,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"rate must be a float in [0, 1) (the fraction of units to drop), got {rate!r}"
            )
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator: torch.Generator | None = None
        self.built = True

    def _mask_shape(self, inputs: torch.Tensor) -> tuple:
        if self.noise_shape is None:
            return tuple(inputs.shape)
        if len(self.noise_shape) != inputs.dim():
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape {self.noise_shape} must have one entry per "
                f"input axis; input shape is {tuple(inputs.shape)}."
            )
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, inputs.shape))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return inputs
        generator = None
        if self.seed is not None:
            if self._generator is None or self._generator.device != inputs.device:
                self._generator = torch.Generator(device=inputs.device)
                self._generator.manual_seed(int(self.seed))
            generator = self._generator
        shape = None if self.noise_shape is None else self._mask_shape(inputs)
        return dropout(inputs, self.rate, shape, generator)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class Flatten(Layer):
    """Flattens each sample to one axis, always in channels-last order.

    Args:
        data_format: ``'channels_last'`` (default) or ``'channels_first'``; with channels-first
            inputs the channel axis is moved last before flattening, as Keras does, so that
            weights of a following Dense layer are interchangeable with Keras's.

    Example:
        >>> Flatten()(torch.zeros(2, 3, 4)).shape
        torch.Size([2, 12])
    """

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.data_format == "channels_first" and inputs.dim() > 2:
            inputs = inputs.movedim(1, -1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (batch axis kept; one entry may be -1).

    Example:
        >>> Reshape((2, 6))(torch.zeros(4, 12)).shape
        torch.Size([4, 2, 6])
    """

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(d < -1 or d == 0 for d in target_shape):
            raise ValueError(
                "target_shape must contain positive integers and at most one -1, "
                f"got {target_shape}"
            )
        self.target_shape = target_shape
        self.built = True

    def _resolve(self, input_shape: tuple) -> tuple:
        size = math.prod(input_shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(self._mismatch(input_shape))
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(self._mismatch(input_shape))
        return self.target_shape

    def _mismatch(self, input_shape: tuple) -> str:
        return (
            f"Reshape {self.name!r}: cannot reshape samples of shape {tuple(input_shape[1:])} "
            f"({math.prod(input_shape[1:])} values) to target_shape {self.target_shape}."
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape((inputs.shape[0],) + self._resolve(tuple(inputs.shape)))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if any(d is None for d in input_shape[1:]):
            return (input_shape[0],) + self.target_shape
        return (input_shape[0],) + self._resolve(tuple(input_shape))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}
