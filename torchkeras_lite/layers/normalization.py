"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
RMSNormalization, UnitNormalization.

Each layer stores its weights in Keras's layout and order (``[gamma, beta, moving_mean,
moving_variance]`` for BatchNormalization) and runs one fused torch kernel on its fast path
(``native_batch_norm``, ``layer_norm``, ``group_norm``, ``rms_norm``); axes that the torch kernel
does not expect are moved into place as views.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import config as _config
from .. import constraints as _constraints
from .. import distribution as _distribution
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .layer import Layer

__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization",
           "RMSNormalization", "UnitNormalization"]


# ----------------------------------------------------------------------------- argument checks
def _check_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _check_axes(axis: Any, name: str = "axis") -> int | list[int]:
    """An int, or a non-empty list of distinct ints (lists and tuples accepted)."""
    if isinstance(axis, (list, tuple)):
        if not axis:
            raise ValueError(f"{name} must be an int or a non-empty list of ints, got {axis!r}")
        axes = [_check_int(a, name) for a in axis]
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name} must not repeat an axis, got {axis!r}")
        return axes
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} must be an int or a list/tuple of ints, got {axis!r}")
    return int(axis)


def _check_positive(value: Any, name: str) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _check_unit_interval(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a float in [0, 1], got {value!r}")
    return float(value)


def _canonical_axes(axis: int | list[int], ndim: int, layer: Layer) -> list[int]:
    """``axis`` as sorted non-negative ints, checked against the input rank."""
    axes = [axis] if isinstance(axis, int) else list(axis)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{type(layer).__name__} {layer.name!r}: axis {a} is out of range for inputs "
                f"of rank {ndim}; axis must be in [-{ndim}, {ndim})."
            )
    canonical = sorted(a % ndim for a in axes)
    if len(set(canonical)) != len(canonical):
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r}: axis {axis} names the same input axis "
            f"twice for inputs of rank {ndim}."
        )
    return canonical


def _check_output_shape_axes(layer: Layer, axis: int | list[int], input_shape: tuple) -> tuple:
    """Keras's compute_output_shape for the normalization layers: checks axis, returns the shape."""
    _canonical_axes(axis, len(input_shape), layer)
    return tuple(input_shape)


def _known_dims(layer: Layer, input_shape: tuple, axes: list[int]) -> tuple:
    dims = tuple(input_shape[a] for a in axes)
    if any(d is None for d in dims):
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r} needs the size of the normalized axes "
            f"{axes} to be known, got input shape {tuple(input_shape)}."
        )
    return tuple(int(d) for d in dims)


def _trailing_permutation(axes: list[int], ndim: int) -> tuple[tuple, tuple] | None:
    """Permutations moving ``axes`` (sorted) to the end and back; None when already trailing."""
    if axes == list(range(ndim - len(axes), ndim)):
        return None
    order = [d for d in range(ndim) if d not in axes] + axes
    return tuple(order), tuple(sorted(range(ndim), key=order.__getitem__))


# ---------------------------------------------------------------------------- BatchNormalization
class BatchNormalization(Layer):
    """Normalizes each feature (channel) with batch statistics in training and moving
    statistics at inference, then scales by ``gamma`` and shifts by ``beta``.

    In training, ``out = gamma * (x - mean(batch)) / sqrt(var(batch) + epsilon) + beta`` and the
    moving statistics are updated in place, as in Keras::

        moving_mean = moving_mean * momentum + mean(batch) * (1 - momentum)
        moving_variance = moving_variance * momentum + var(batch) * (1 - momentum)

    with the **biased** batch variance (torch's ``BatchNorm`` uses the unbiased one and the
    opposite momentum convention). At inference the moving statistics replace the batch ones.
    As in Keras 3, a layer with ``trainable=False`` is frozen: it runs in inference mode even
    during ``fit`` or when called with ``training=True``.

    Args:
        axis: int, the feature axis (default -1; use 1 after a channels-first convolution).
        momentum: moving-average momentum (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: whether to add the offset ``beta`` (default True).
        scale: whether to multiply by ``gamma`` (default True).
        beta_initializer, gamma_initializer: defaults ``'zeros'``, ``'ones'``.
        moving_mean_initializer, moving_variance_initializer: defaults ``'zeros'``, ``'ones'``.
        beta_regularizer, gamma_regularizer: penalties on beta and gamma (default None).
        beta_constraint, gamma_constraint: projections after each optimizer step (default None).
        renorm: use Batch Renormalization (Ioffe 2017) in training (default False); adds the
            weights ``moving_stddev``, ``renorm_mean`` and ``renorm_stddev``.
        renorm_clipping: dict with optional keys ``'rmax'``, ``'rmin'``, ``'dmax'`` bounding the
            renorm corrections (default None: unbounded).
        renorm_momentum: momentum of the renorm statistics (default 0.99).
        synchronized: must be False (Keras supports True only on TensorFlow). For statistics
            over all processes of a data-parallel run use
            ``distribution.DataParallel(sync_batchnorm=True)``.
        **kwargs: Layer arguments (``name``, ``trainable``, ``input_shape``...).

    Data-parallel training (torchrun): by default each process normalizes with the statistics
    of its own slice of the global batch, as torch and Keras do; rank 0's moving statistics are
    copied to every rank after each epoch. With ``DataParallel(sync_batchnorm=True)`` the batch
    mean and variance are computed over the whole global batch (one all-reduce per layer and
    step, gradients included), so training matches a one-process run.

    Call arguments:
        inputs: tensor of any rank >= 1.
        training: whether to use (and update) batch statistics; defaults to the layer's mode.
        mask: optional boolean tensor of shape ``inputs.shape[:-1]``; masked positions are
            left out of the batch statistics.

    Shape:
        Output has the input's shape. Weights ``gamma``, ``beta``, ``moving_mean``,
        ``moving_variance`` have shape ``(inputs.shape[axis],)``.

    Example:
        >>> bn = BatchNormalization()
        >>> y = bn(torch.randn(8, 4), training=True)
        >>> [w.shape for w in bn.get_weights()]
        [(4,), (4,), (4,), (4,)]
    """

    supports_masking = True

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        renorm: bool = False,
        renorm_clipping: dict | None = None,
        renorm_momentum: float = 0.99,
        synchronized: bool = False,
        **kwargs: Any,
    ) -> None:
        axis = _check_int(axis, "axis")
        momentum = _check_unit_interval(momentum, "momentum")
        epsilon = _check_positive(epsilon, "epsilon")
        if synchronized:
            raise ValueError(
                "synchronized=True (batch statistics shared across devices) is only supported "
                "by Keras's TensorFlow backend, and not here; use synchronized=False."
            )
        if renorm:
            renorm_clipping = self._check_renorm_clipping(renorm_clipping)
            renorm_momentum = _check_unit_interval(renorm_momentum, "renorm_momentum")
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.beta_constraint = _constraints.get(beta_constraint)
        self.gamma_constraint = _constraints.get(gamma_constraint)
        self.renorm = bool(renorm)
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = renorm_momentum
        self.synchronized = False
        self.gamma = self.beta = None
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    @staticmethod
    def _check_renorm_clipping(clipping: Any) -> dict:
        clipping = dict(clipping or {})
        unknown = set(clipping) - {"rmax", "rmin", "dmax"}
        if unknown:
            raise ValueError(
                f"renorm_clipping accepts only the keys 'rmax', 'rmin', 'dmax', got "
                f"{sorted(unknown)} in {clipping}"
            )
        rmax, rmin, dmax = clipping.get("rmax"), clipping.get("rmin"), clipping.get("dmax")
        if rmax is not None and rmin is not None and rmax < rmin:
            raise ValueError(
                f"renorm_clipping needs rmax >= rmin, got rmax={rmax}, rmin={rmin}"
            )
        if dmax is not None and dmax < 0:
            raise ValueError(f"renorm_clipping needs dmax >= 0, got dmax={dmax}")
        return clipping

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        (self._axis,) = _canonical_axes(self.axis, ndim, self)
        (channels,) = _known_dims(self, input_shape, [self._axis])
        self._ndim, self._channels = ndim, channels
        self._stat_shape = tuple(channels if d == self._axis else 1 for d in range(ndim))
        self._reduce = tuple(d for d in range(ndim) if d != self._axis)
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight(
                shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint, name="gamma",
            )
        if self.center:
            self.beta = self.add_weight(
                shape, self.beta_initializer, regularizer=self.beta_regularizer,
                constraint=self.beta_constraint, name="beta",
            )
        self.moving_mean = self.add_weight(
            shape, self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(
            shape, self.moving_variance_initializer, trainable=False, name="moving_variance")
        if self.renorm:
            self.moving_stddev = self.add_weight(
                shape, self.moving_variance_initializer, trainable=False, name="moving_stddev")
            self.renorm_mean = self.add_weight(
                shape, self.moving_mean_initializer, trainable=False, name="renorm_mean")
            self.renorm_stddev = self.add_weight(
                shape, self.moving_variance_initializer, trainable=False, name="renorm_stddev")
            with torch.no_grad():
                self.moving_stddev.sqrt_()
                self.renorm_stddev.sqrt_()

    # -- layout: torch's kernels want the channel axis at dim 1 --------------------------------
    def _to_torch_layout(self, inputs: torch.Tensor) -> torch.Tensor:
        if self._axis == self._ndim - 1:
            return inputs.reshape(-1, self._channels)  # a view for contiguous inputs
        if self._axis == 1:
            return inputs
        return inputs.movedim(self._axis, 1)

    def _from_torch_layout(self, out: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        if self._axis == self._ndim - 1:
            return out.view(inputs.shape)
        if self._axis == 1:
            return out
        return out.movedim(1, self._axis)

    def _check_inputs(self, inputs: torch.Tensor, mask: Any) -> None:
        if inputs.dim() != self._ndim or inputs.shape[self._axis] != self._channels:
            raise ValueError(
                f"BatchNormalization {self.name!r} was built for inputs of rank {self._ndim} "
                f"with {self._channels} features on axis {self.axis}, received shape "
                f"{tuple(inputs.shape)}."
            )
        if mask is not None and mask.dim() != inputs.dim() - 1:
            raise ValueError(
                f"BatchNormalization {self.name!r}: the mask must have one axis less than the "
                f"inputs, received mask shape {tuple(mask.shape)} for input shape "
                f"{tuple(inputs.shape)}."
            )

    def call(self, inputs: torch.Tensor, training: bool | None = None,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        self._check_inputs(inputs, mask)
        if not (training and self._trainable):
            out = torch.batch_norm(
                self._to_torch_layout(inputs), self.gamma, self.beta, self.moving_mean,
                self.moving_variance, False, 0.0, self.epsilon, torch.backends.cudnn.enabled)
            return self._from_torch_layout(out, inputs)
        run = _distribution._sync_batchnorm_run
        if run is not None:
            mean, var = self._synced_moments(inputs, mask, run)
        elif mask is None and not self.renorm:
            out, mean, invstd = torch.native_batch_norm(
                self._to_torch_layout(inputs), self.gamma, self.beta, None, None, True, 0.0,
                self.epsilon)
            with torch.no_grad():
                # The kernel saved 1/sqrt(var + eps) of the biased batch variance.
                self._update_moving(mean, invstd.pow(-2).sub_(self.epsilon).clamp_min_(0.0))
            return self._from_torch_layout(out, inputs)
        else:
            mean, var = self._moments(inputs, mask)
        gamma, beta = self.gamma, self.beta
        if self.renorm:
            gamma, beta = self._renorm_transform(mean.detach(), var.detach())
        else:
            with torch.no_grad():
                self._update_moving(mean, var)
        return self._normalize(inputs, mean, var, gamma, beta)

    def _update_moving(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        m = self.momentum
        self.moving_mean.mul_(m).add_(mean, alpha=1.0 - m)
        self.moving_variance.mul_(m).add_(var, alpha=1.0 - m)

    def _moments(self, inputs: torch.Tensor, mask: torch.Tensor | None):
        """Batch mean and biased variance, each of shape (channels,); masked positions (Keras
        broadcasts the mask over the last axis) are left out."""
        if mask is None:
            var, mean = torch.var_mean(inputs, dim=self._reduce, correction=0)
            return mean, var
        keep = mask.to(torch.bool).unsqueeze(-1).expand(inputs.shape)
        count = keep.sum(dim=self._reduce, keepdim=True, dtype=inputs.dtype) + _config.epsilon()
        mean = torch.where(keep, inputs, 0.0).sum(dim=self._reduce, keepdim=True) / count
        dist = torch.where(keep, inputs - mean, 0.0).square().sum(dim=self._reduce, keepdim=True)
        return mean.reshape(self._channels), (dist / count).reshape(self._channels)

    def _synced_moments(self, inputs: torch.Tensor, mask: torch.Tensor | None, run: Any):
        """Mean and biased variance over the global batch of a data-parallel run: each rank's
        count, mean and sum of squared deviations, gathered and combined exactly (Chan et al.),
        with gradients through the gathering."""
        if mask is None:
            var, mean = torch.var_mean(inputs, dim=self._reduce, correction=0)
            count = torch.full_like(mean, inputs.numel() // self._channels)
        else:
            keep = mask.to(torch.bool).unsqueeze(-1).expand(inputs.shape)
            count = keep.sum(dim=self._reduce, dtype=inputs.dtype)
            seen = count.clamp_min(1.0)
            mean = torch.where(keep, inputs, 0.0).sum(dim=self._reduce) / seen
            deviation = torch.where(keep, inputs - mean.view(self._stat_shape), 0.0)
            var = deviation.square().sum(dim=self._reduce) / seen
        stats = run.gather_stats(torch.stack([count, mean, var * count]))
        n, m, m2 = stats[:, 0], stats[:, 1], stats[:, 2]
        total = n.sum(0)
        if mask is not None:
            total = total + _config.epsilon()  # as the one-process masked moments
        global_mean = (n * m).sum(0) / total
        global_m2 = (m2 + n * (m - global_mean).square()).sum(0)
        return global_mean, global_m2 / total

    def _normalize(self, inputs, mean, var, gamma, beta) -> torch.Tensor:
        shape = self._stat_shape
        inv = torch.rsqrt(var + self.epsilon)
        if gamma is not None:
            inv = inv * gamma
        out = (inputs - mean.view(shape)) * inv.view(shape)
        return out if beta is None else out + beta.view(shape)

    def _renorm_transform(self, mean: torch.Tensor, var: torch.Tensor):
        """Batch Renormalization: the corrected (gamma, beta) for this batch, and the updates
        of the renorm and moving statistics (all without gradient, as in Keras)."""
        with torch.no_grad():
            stddev = torch.sqrt(var + self.epsilon)
            renorm_stddev = torch.clamp_min(self.renorm_stddev, math.sqrt(self.epsilon))
            r = stddev / renorm_stddev
            d = (mean - self.renorm_mean) / renorm_stddev
            clip = self.renorm_clipping
            if clip.get("rmin") is not None:
                r = torch.clamp_min(r, clip["rmin"])
            if clip.get("rmax") is not None:
                r = torch.clamp_max(r, clip["rmax"])
            if clip.get("dmax") is not None:
                d = torch.clamp(d, -clip["dmax"], clip["dmax"])
            rm, m = self.renorm_momentum, self.momentum
            self.renorm_mean.mul_(rm).add_(mean, alpha=1.0 - rm)
            self.renorm_stddev.mul_(rm).add_(stddev, alpha=1.0 - rm)
            self.moving_mean.mul_(m).add_(mean, alpha=1.0 - m)
            self.moving_stddev.mul_(m).add_(stddev, alpha=1.0 - m)
            self.moving_variance.copy_(torch.relu(self.moving_stddev.square() - self.epsilon))
        gamma, beta = self.gamma, self.beta
        if gamma is not None:
            gamma, shift = r * gamma, d * gamma
        else:
            gamma, shift = r, d
        return gamma, shift if beta is None else shift + beta

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _check_output_shape_axes(self, self.axis, input_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": serialize(self.beta_initializer),
            "gamma_initializer": serialize(self.gamma_initializer),
            "moving_mean_initializer": serialize(self.moving_mean_initializer),
            "moving_variance_initializer": serialize(self.moving_variance_initializer),
            "beta_regularizer": serialize(self.beta_regularizer),
            "gamma_regularizer": serialize(self.gamma_regularizer),
            "beta_constraint": serialize(self.beta_constraint),
            "gamma_constraint": serialize(self.gamma_constraint),
            "synchronized": self.synchronized,
            "renorm": self.renorm,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


# ---------------------------------------------------------------------------- LayerNormalization
class _AxesNormalization(Layer):
    """Shared plumbing of the layers that normalize each sample over ``axis`` with a torch
    kernel acting on trailing axes (``layer_norm``, ``rms_norm``): other axes are permuted to the
    end as a view and back."""

    supports_masking = True

    def _build_axes(self, input_shape: tuple) -> tuple:
        ndim = len(input_shape)
        self._axes = _canonical_axes(self.axis, ndim, self)
        self._ndim = ndim
        # The weights' shape in Keras's layout (the sizes of the sorted axes), which is also
        # the layout of the trailing axes of the permuted input.
        self._norm_shape = _known_dims(self, input_shape, self._axes)
        self._perm = _trailing_permutation(self._axes, ndim)
        # Negative trailing axes (the default -1) apply to inputs of any rank, as in Keras.
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        self._rank_fixed = any(a >= 0 for a in axes)
        return self._norm_shape

    def _checked(self, fn, inputs: torch.Tensor) -> torch.Tensor:
        """``fn`` on the inputs with the normalized axes last (permuted as a view and back);
        torch's shape errors become a ValueError naming the layer and the shapes."""
        perm = self._perm
        if (perm is not None or self._rank_fixed) and inputs.dim() != self._ndim:
            raise ValueError(self._shape_error(inputs))
        try:
            if perm is None:
                return fn(inputs)
            return fn(inputs.permute(perm[0])).permute(perm[1])
        except RuntimeError:
            k = len(self._norm_shape)
            axes = self._axes if perm is not None else range(inputs.dim() - k, inputs.dim())
            if inputs.dim() < k or tuple(inputs.shape[a] for a in axes) != self._norm_shape:
                raise ValueError(self._shape_error(inputs)) from None
            raise

    def _shape_error(self, inputs: torch.Tensor) -> str:
        return (
            f"{type(self).__name__} {self.name!r} was built to normalize axes {self._axes} of "
            f"size {self._norm_shape} on inputs of rank {self._ndim}, received shape "
            f"{tuple(inputs.shape)}."
        )

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _check_output_shape_axes(self, self.axis, input_shape)


class LayerNormalization(_AxesNormalization):
    """Normalizes each sample over ``axis`` (mean 0, variance 1), then scales by ``gamma`` and
    shifts by ``beta``; the same computation in training and at inference.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1). ``gamma`` and
            ``beta`` have the sizes of these axes, in increasing axis order.
        epsilon: added to the variance (default 1e-3).
        center: whether to add the offset ``beta`` (default True).
        scale: whether to multiply by ``gamma`` (default True).
        beta_initializer, gamma_initializer: defaults ``'zeros'``, ``'ones'``.
        beta_regularizer, gamma_regularizer: penalties (default None).
        beta_constraint, gamma_constraint: projections after each optimizer step (default None).
        rms_scaling: keyword-only, deprecated in Keras; divides by ``sqrt(var + epsilon)``
            without centering and uses ``gamma`` only (default False). For RMS normalization use
            :class:`RMSNormalization`.
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape.

    Example:
        >>> LayerNormalization()(torch.tensor([[1.0, 2.0, 3.0]])).detach().round(decimals=3)
        tensor([[-1.2240,  0.0000,  1.2240]])
    """

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        *,
        rms_scaling: bool = False,
        **kwargs: Any,
    ) -> None:
        axis = _check_axes(axis)
        epsilon = _check_positive(epsilon, "epsilon")
        if rms_scaling:
            warnings.warn(
                "rms_scaling=True is deprecated (as in Keras): it divides by the variance, not "
                "the root mean square. Use RMSNormalization for RMS normalization.",
                stacklevel=2,
            )
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.beta_constraint = _constraints.get(beta_constraint)
        self.gamma_constraint = _constraints.get(gamma_constraint)
        self.gamma = self.beta = None
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        shape = self._build_axes(input_shape)
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(
                shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint, name="gamma",
            )
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(
                shape, self.beta_initializer, regularizer=self.beta_regularizer,
                constraint=self.beta_constraint, name="beta",
            )
        self._trailing_dims = tuple(range(-len(shape), 0))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._checked(
            self._variance_scaling if self.rms_scaling else self._layer_norm, inputs)

    def _layer_norm(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self._norm_shape, self.gamma, self.beta, self.epsilon)

    def _variance_scaling(self, x: torch.Tensor) -> torch.Tensor:
        var = torch.var(x, dim=self._trailing_dims, correction=0, keepdim=True)
        out = x * torch.rsqrt(var + self.epsilon)
        return out if self.gamma is None else out * self.gamma

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            "beta_initializer": serialize(self.beta_initializer),
            "gamma_initializer": serialize(self.gamma_initializer),
            "beta_regularizer": serialize(self.beta_regularizer),
            "gamma_regularizer": serialize(self.gamma_regularizer),
            "beta_constraint": serialize(self.beta_constraint),
            "gamma_constraint": serialize(self.gamma_constraint),
        }


class RMSNormalization(_AxesNormalization):
    """Root-mean-square normalization (Zhang & Sennrich 2019):
    ``x * rsqrt(mean(x**2, axis) + epsilon) * scale``, without centering.

    Args:
        axis: int or list of ints, the axes to normalize over (default -1).
        epsilon: added to the mean square (default 1e-6).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape; the weight ``scale`` has the sizes of ``axis``.

    Example:
        >>> RMSNormalization()(torch.tensor([[3.0, 4.0]])).detach().round(decimals=3)
        tensor([[0.8490, 1.1310]])
    """

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-6,
                 **kwargs: Any) -> None:
        axis = _check_axes(axis)
        epsilon = _check_positive(epsilon, "epsilon")
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        self.scale = self.add_weight(self._build_axes(input_shape), "ones", name="scale")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._checked(self._rms_norm, inputs)

    def _rms_norm(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self._norm_shape, self.scale, self.epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


# ---------------------------------------------------------------------------- GroupNormalization
class GroupNormalization(Layer):
    """Splits the channels into ``groups`` and normalizes each sample within each group (over
    the group's channels and all other non-batch axes), then scales by ``gamma`` and shifts by
    ``beta`` per channel. ``groups=1`` is LayerNormalization over all axes, ``groups=-1`` (one
    channel per group) is instance normalization.

    Args:
        groups: positive int dividing the number of channels, or -1 (default 32).
        axis: int, the channel axis (default -1).
        epsilon: added to the variance (default 1e-3).
        center, scale: whether to use ``beta`` / ``gamma`` (default True).
        beta_initializer, gamma_initializer: defaults ``'zeros'``, ``'ones'``.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: default None.
        **kwargs: Layer arguments.

    Shape:
        Input of rank >= 2; output has the input's shape. ``gamma``/``beta``: ``(channels,)``.

    Example:
        >>> GroupNormalization(groups=2)(torch.randn(4, 10, 6)).shape
        torch.Size([4, 10, 6])
    """

    supports_masking = True

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        if (isinstance(groups, bool) or not isinstance(groups, (int, np.integer))
                or (groups <= 0 and groups != -1)):
            raise ValueError(
                "groups must be a positive integer (or -1 for instance normalization), "
                f"got {groups!r}"
            )
        axis = _check_int(axis, "axis")
        epsilon = _check_positive(epsilon, "epsilon")
        super().__init__(**kwargs)
        self.groups = int(groups)
        self.axis = axis
        self.epsilon = epsilon
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.beta_constraint = _constraints.get(beta_constraint)
        self.gamma_constraint = _constraints.get(gamma_constraint)
        self.gamma = self.beta = None
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        ndim = len(input_shape)
        (axis,) = _canonical_axes(self.axis, ndim, self)
        if axis == 0:
            raise ValueError(
                f"GroupNormalization {self.name!r}: axis {self.axis} is the batch axis of inputs "
                f"of shape {tuple(input_shape)}; pass the channel axis (default -1)."
            )
        (channels,) = _known_dims(self, input_shape, [axis])
        groups = channels if self.groups == -1 else self.groups
        if channels < groups:
            raise ValueError(
                f"GroupNormalization {self.name!r}: groups ({groups}) cannot be more than the "
                f"number of channels ({channels}) on axis {self.axis}."
            )
        if channels % groups:
            raise ValueError(
                f"GroupNormalization {self.name!r}: the number of channels ({channels}) on axis "
                f"{self.axis} must be a multiple of groups ({groups})."
            )
        self._axis, self._ndim, self._channels, self._groups = axis, ndim, channels, groups
        if self.scale:
            self.gamma = self.add_weight(
                (channels,), self.gamma_initializer, regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint, name="gamma",
            )
        if self.center:
            self.beta = self.add_weight(
                (channels,), self.beta_initializer, regularizer=self.beta_regularizer,
                constraint=self.beta_constraint, name="beta",
            )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        axis = self._axis
        if inputs.dim() != self._ndim or inputs.shape[axis] != self._channels:
            raise ValueError(
                f"GroupNormalization {self.name!r} was built for inputs of rank {self._ndim} "
                f"with {self._channels} channels on axis {self.axis}, received shape "
                f"{tuple(inputs.shape)}."
            )
        if axis == 1:
            return F.group_norm(inputs, self._groups, self.gamma, self.beta, self.epsilon)
        if axis == self._ndim - 1:
            # Seen as a channels-last image (batch, channels, 1, positions): group_norm's
            # channels-last kernel runs on the data as laid out, without a transposing copy.
            image = inputs.reshape(inputs.shape[0], 1, -1, self._channels).permute(0, 3, 1, 2)
            out = F.group_norm(image, self._groups, self.gamma, self.beta, self.epsilon)
            return out.permute(0, 2, 3, 1).reshape(inputs.shape)
        out = F.group_norm(inputs.movedim(axis, 1), self._groups, self.gamma, self.beta,
                           self.epsilon)
        return out.movedim(1, axis)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _check_output_shape_axes(self, self.axis, input_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": serialize(self.beta_initializer),
            "gamma_initializer": serialize(self.gamma_initializer),
            "beta_regularizer": serialize(self.beta_regularizer),
            "gamma_regularizer": serialize(self.gamma_regularizer),
            "beta_constraint": serialize(self.beta_constraint),
            "gamma_constraint": serialize(self.gamma_constraint),
        }


# ----------------------------------------------------------------------------- UnitNormalization
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis``: ``x / max(||x||, 1e-12)``.

    Args:
        axis: int or list of ints (default -1).
        **kwargs: Layer arguments.

    Shape:
        Output has the input's shape; no weights.

    Example:
        >>> UnitNormalization()(torch.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """

    supports_masking = True

    def __init__(self, axis: int | Sequence[int] = -1, **kwargs: Any) -> None:
        axis = _check_axes(axis)
        super().__init__(**kwargs)
        self.axis = axis
        self._dim = axis if isinstance(axis, int) else tuple(axis)
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        try:
            return F.normalize(inputs, 2.0, self._dim, 1e-12)
        except IndexError:
            raise ValueError(
                f"UnitNormalization {self.name!r}: axis {self.axis} is out of range for inputs "
                f"of shape {tuple(inputs.shape)}."
            ) from None

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return _check_output_shape_axes(self, self.axis, input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}
