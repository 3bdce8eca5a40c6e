"""Regularization layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization (Dropout itself lives in ``core``).

The random layers are the identity at inference. In training they draw their noise from the
global torch generator, or, when given a ``seed``, from a generator of their own, seeded once
(so two layers with the same seed produce the same sequence of masks).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np
import torch

from .. import config as _config
from .. import regularizers as _regularizers
from .core import Dropout
from .layer import Layer

__all__ = ["ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise",
           "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]


def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(
            f"rate must be a float in [0, 1) (the fraction of units to drop), got {rate!r}"
        )
    return float(rate)


def _check_seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return None if seed is None else int(seed)


def _generator(layer: Layer, device: torch.device) -> torch.Generator | None:
    """The layer's own generator on ``device`` (created and seeded on first use), or None for
    the global one when the layer has no seed."""
    if layer.seed is None:
        return None
    gen = layer._generator
    if gen is None or gen.device != device:
        gen = torch.Generator(device=device)
        gen.manual_seed(layer.seed)
        layer._generator = gen
    return gen


class _SpatialDropout(Dropout):
    """Dropout of whole channels: the mask has size 1 on every spatial axis."""

    _rank = 0
    _layout = ""

    def __init__(self, rate: float, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        rate = _check_rate(rate)
        seed = _check_seed(seed)
        data_format = data_format or _config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "data_format must be 'channels_last' or 'channels_first', "
                f"got {data_format!r}"
            )
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = data_format
        self._channel_axis = -1 if data_format == "channels_last" else 1

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._rank:
            raise ValueError(
                f"{type(self).__name__} expects a {self._rank}D input {self._layout}, "
                f"got shape {tuple(inputs.shape)}"
            )
        if not self.training or self.rate == 0:
            return inputs
        axis = self._channel_axis % self._rank
        shape = [1] * self._rank
        shape[0], shape[axis] = inputs.shape[0], inputs.shape[axis]
        keep = torch.empty(shape, dtype=inputs.dtype, device=inputs.device)
        keep.bernoulli_(1.0 - self.rate, generator=_generator(self, inputs.device))
        return inputs * keep.div_(1.0 - self.rate)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("noise_shape")
        return {**config, "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Drops entire channels of a sequence: during training each (sample, channel) pair is
    zeroed with probability ``rate`` at every timestep, and kept channels are scaled by
    ``1 / (1 - rate)``; identity at inference. Useful when adjacent timesteps are correlated.

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        seed: int for a reproducible mask sequence (default None).
        **kwargs: Layer arguments.

    Shape:
        Input ``(batch, steps, channels)``; output the same.

    Example:
        >>> layer = SpatialDropout1D(0.5, seed=0)
        >>> y = layer(torch.ones(2, 3, 4), training=True)
        >>> bool(((y == 0) | (y == 2)).all())
        True
    """

    _rank = 3
    _layout = "(batch, steps, channels)"

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(rate, "channels_last", seed, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("data_format")
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops entire feature maps of an image: during training each (sample, channel) pair is
    zeroed with probability ``rate`` at every pixel, and kept channels are scaled by
    ``1 / (1 - rate)``; identity at inference.

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        data_format: ``'channels_last'`` or ``'channels_first'`` (default
            ``config.image_data_format()``).
        seed: int for a reproducible mask sequence (default None).
        **kwargs: Layer arguments.

    Shape:
        Input ``(batch, rows, cols, channels)`` (channels_last) or
        ``(batch, channels, rows, cols)``; output the same.

    Example:
        >>> SpatialDropout2D(0.3)(torch.ones(2, 5, 5, 3)).shape
        torch.Size([2, 5, 5, 3])
    """

    _rank = 4
    _layout = "(batch, rows, cols, channels) or (batch, channels, rows, cols)"


class SpatialDropout3D(_SpatialDropout):
    """Drops entire feature volumes: the 3D analogue of :class:`SpatialDropout2D`.

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        data_format: ``'channels_last'`` or ``'channels_first'`` (default
            ``config.image_data_format()``).
        seed: int for a reproducible mask sequence (default None).
        **kwargs: Layer arguments.

    Shape:
        Input ``(batch, dim1, dim2, dim3, channels)`` (channels_last) or
        ``(batch, channels, dim1, dim2, dim3)``; output the same.

    Example:
        >>> SpatialDropout3D(0.3)(torch.ones(1, 2, 2, 2, 3)).shape
        torch.Size([1, 2, 2, 2, 3])
    """

    _rank = 5
    _layout = "(batch, dim1, dim2, dim3, channels) or (batch, channels, dim1, dim2, dim3)"


class GaussianNoise(Layer):
    """Adds zero-centered Gaussian noise of standard deviation ``stddev`` during training;
    identity at inference.

    Args:
        stddev: float in [0, 1] (Keras's range), the noise's standard deviation.
        seed: int for a reproducible noise sequence (default None).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> GaussianNoise(0.1)(torch.zeros(2, 3))  # inference: unchanged
        tensor([[0., 0., 0.],
                [0., 0., 0.]])
    """

    supports_masking = True

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        if (isinstance(stddev, bool) or not isinstance(stddev, numbers.Real)
                or not 0 <= stddev <= 1):
            raise ValueError(f"stddev must be a float in [0, 1], got {stddev!r}")
        seed = _check_seed(seed)
        super().__init__(**kwargs)
        self.stddev = float(stddev)
        self.seed = seed
        self._generator: torch.Generator | None = None
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.stddev == 0:
            return inputs
        noise = torch.empty_like(inputs).normal_(
            0.0, self.stddev, generator=_generator(self, inputs.device))
        return inputs + noise

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies the inputs by Gaussian noise of mean 1 and standard deviation
    ``sqrt(rate / (1 - rate))`` during training; identity at inference.

    Args:
        rate: float in [0, 1), the drop probability of the equivalent Dropout.
        seed: int for a reproducible noise sequence (default None).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> GaussianDropout(0.2)(torch.ones(2, 3)).shape
        torch.Size([2, 3])
    """

    supports_masking = True

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        rate = _check_rate(rate)
        seed = _check_seed(seed)
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed
        self._stddev = math.sqrt(rate / (1.0 - rate))
        self._generator: torch.Generator | None = None
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return inputs
        noise = torch.empty_like(inputs).normal_(
            1.0, self._stddev, generator=_generator(self, inputs.device))
        return inputs * noise

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout for self-normalizing (SELU) networks: during training, dropped units are set to
    SELU's negative saturation value and the result is affinely rescaled so that the mean and
    variance of the inputs are kept; identity at inference.

    Args:
        rate: float in [0, 1), the fraction of units to drop.
        noise_shape: shape of the binary mask, broadcast over the input; ``None`` entries take
            the input's size (default None: the input's shape).
        seed: int for a reproducible mask sequence (default None).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> AlphaDropout(0.1)(torch.ones(2, 3))  # inference: unchanged
        tensor([[1., 1., 1.],
                [1., 1., 1.]])
    """

    supports_masking = True
    _ALPHA = 1.6732632423543772848170429916717
    _SCALE = 1.0507009873554804934193349852946

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        rate = _check_rate(rate)
        seed = _check_seed(seed)
        if noise_shape is not None:
            noise_shape = tuple(noise_shape)
            if any(d is not None and (isinstance(d, bool) or not isinstance(d, (int, np.integer))
                                      or d < 1) for d in noise_shape):
                raise ValueError(
                    f"noise_shape must contain positive integers or None, got {noise_shape!r}"
                )
        super().__init__(**kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        alpha_p = -self._ALPHA * self._SCALE
        self._fill = alpha_p
        self._a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
        self._b = -self._a * alpha_p * rate
        self._generator: torch.Generator | None = None
        self.built = True

    def _mask_shape(self, inputs: torch.Tensor) -> tuple:
        if self.noise_shape is None:
            return tuple(inputs.shape)
        if len(self.noise_shape) != inputs.dim():
            raise ValueError(
                f"AlphaDropout {self.name!r}: noise_shape {self.noise_shape} must have one entry "
                f"per input axis; input shape is {tuple(inputs.shape)}."
            )
        return tuple(s if n is None else n for n, s in zip(self.noise_shape, inputs.shape))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return inputs
        noise = torch.rand(self._mask_shape(inputs), generator=_generator(self, inputs.device),
                           dtype=inputs.dtype, device=inputs.device)
        out = torch.where(noise >= self.rate, inputs, self._fill)
        return out.mul_(self._a).add_(self._b)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class ActivityRegularization(Layer):
    """Identity layer that adds ``l1 * sum(|x|) + l2 * sum(x**2)`` of its output, divided by
    the batch size (as Keras normalises activity penalties), to the model's loss.

    Args:
        l1: L1 factor, >= 0 (default 0.0).
        l2: L2 factor, >= 0 (default 0.0).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> layer = ActivityRegularization(l2=0.5)
        >>> _ = layer(torch.ones(2, 3))
        >>> layer.losses
        [tensor(1.5000)]
    """

    supports_masking = True

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        super().__init__(activity_regularizer=_regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = self.activity_regularizer.l1
        self.l2 = self.activity_regularizer.l2
        self.built = True

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
