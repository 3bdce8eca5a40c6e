"""Weight initializers with Keras 3 names, arguments and defaults, returning torch tensors.

An initializer is called as ``init(shape, dtype=None)`` with ``shape`` in **Keras layout**:
a Dense kernel is ``(in, out)``, a Conv2D kernel ``(kh, kw, in, out)``. Fans follow Keras:
``fan_in = shape[-2] * receptive``, ``fan_out = shape[-1] * receptive`` with
``receptive = prod(shape[:-2])``; a 1-D shape has ``fan_in = fan_out = shape[0]``.

Seeds: an integer ``seed`` seeds a fresh ``torch.Generator`` with ``seed & 0xFFFFFFFF`` on every
call, so the same instance (or two instances with the same seed) always returns the same tensor.
That is also what Keras 3 does on its torch backend, and since the sampling steps are the same,
an integer-seeded initializer gives Keras's own values on the CPU. ``seed=None`` draws from
torch's global generator, so ``torch.manual_seed`` controls it (Keras instead fixes a random
seed per instance at construction).

Example::

    >>> from torchkeras_lite import initializers
    >>> w = initializers.get("glorot_uniform")((784, 10))
    >>> tuple(w.shape), w.dtype
    ((784, 10), torch.float32)
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from torchkeras_lite import config
from torchkeras_lite.utils import registry

Shape = Sequence[int]
DType = Union[str, torch.dtype, None]

# Standard deviation of a standard normal truncated to (-2, 2): dividing by it keeps the
# variance of a truncated draw equal to the requested one.
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def _dtype(dtype: DType) -> torch.dtype:
    """A torch dtype from None (floatx), a name ('float32') or a torch dtype."""
    if dtype is None:
        dtype = config.floatx()
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(
            f"dtype must be a torch dtype or a dtype name like 'float32', got {dtype!r}"
        )
    return resolved


def _shape(shape: Shape) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    return tuple(int(d) for d in shape)


def compute_fans(
    shape: Shape,
    input_axes: Optional[Sequence[int]] = None,
    output_axes: Optional[Sequence[int]] = None,
) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a Keras-layout weight shape.

    Args:
        shape: the weight shape, e.g. ``(in, out)`` or ``(kh, kw, in, out)``.
        input_axes, output_axes: when both are given, the fans are the products of the sizes
            of these axes instead (default None).

    Example::

        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)``; config mirrors init."""

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(shape, dtype=None)."
        )

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Initializer":
        return cls(**config)

    def clone(self) -> "Initializer":
        """A new instance with the same config."""
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros.

    Example::

        >>> Zeros()((2,))
        tensor([0., 0.])
    """

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        return torch.zeros(_shape(shape), dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        return torch.ones(_shape(shape), dtype=_dtype(dtype))


class Constant(Initializer):
    """Every element equal to ``value`` (default 0.0); an array-like value is broadcast.

    Example::

        >>> Constant(3.0)((2,))
        tensor([3., 3.])
    """

    def __init__(self, value: Any = 0.0) -> None:
        if isinstance(value, (torch.Tensor, np.ndarray)):
            value = value.tolist()
        self.value = value

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        dtype = _dtype(dtype)
        if isinstance(self.value, numbers.Number):
            return torch.full(_shape(shape), self.value, dtype=dtype)
        return torch.as_tensor(self.value, dtype=dtype) * torch.ones(_shape(shape), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Identity(Initializer):
    """``gain`` (default 1.0) times the identity matrix; 2-D shapes only (may be rectangular)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity needs a 2-D shape (rows, cols), got shape={shape} of rank {len(shape)}; "
                "use it for Dense or recurrent kernels, not conv kernels or biases."
            )
        return self.gain * torch.eye(*shape, dtype=_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


def _check_seed(seed: Any) -> Optional[int]:
    if seed is None:
        return None
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return int(seed)
    raise ValueError(
        f"seed must be an integer or None, got {seed!r} (type {type(seed).__name__})."
    )


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed and makes the generator for each call."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = _check_seed(seed)

    def _generator(self) -> Optional[torch.Generator]:
        """A freshly seeded CPU generator for an int seed; None (torch's global RNG) otherwise."""
        if self.seed is None:
            return None
        generator = torch.Generator()
        generator.manual_seed(self.seed & 0xFFFFFFFF)
        return generator

    def _normal(
        self, shape: tuple[int, ...], mean: float, stddev: float, dtype: torch.dtype
    ) -> torch.Tensor:
        return torch.normal(mean, stddev, size=shape, generator=self._generator(), dtype=dtype)

    def _uniform(
        self, shape: tuple[int, ...], minval: float, maxval: float, dtype: torch.dtype
    ) -> torch.Tensor:
        unit = torch.rand(shape or (1,), generator=self._generator(), dtype=dtype)
        sample = (maxval - minval) * unit + minval
        return sample if shape else sample[0]

    def _truncated_normal(
        self, shape: tuple[int, ...], mean: float, stddev: float, dtype: torch.dtype
    ) -> torch.Tensor:
        # Four standard-normal candidates per element; keep the first inside (-2, 2). This is
        # Keras's torch-backend sampler: an element whose four candidates all fall outside
        # (probability ~4e-6) keeps its first candidate, as in Keras.
        candidates = self._normal(shape + (4,), 0.0, 1.0, dtype)
        inside = (candidates > -2) & (candidates < 2)
        index = inside.max(-1, keepdim=True)[1]
        return candidates.gather(-1, index).squeeze(-1).mul_(stddev).add_(mean)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


def _check_stddev(stddev: float) -> None:
    if not stddev >= 0:
        raise ValueError(f"stddev must be a non-negative number, got stddev={stddev!r}.")


class RandomNormal(RandomInitializer):
    """Normal draws with ``mean`` (default 0.0) and ``stddev`` (default 0.05).

    Args:
        mean: mean of the distribution.
        stddev: standard deviation, >= 0.
        seed: int for reproducible values, None (default) for torch's global RNG.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None) -> None:
        _check_stddev(stddev)
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        return self._normal(_shape(shape), self.mean, self.stddev, _dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal draws with ``mean`` (default 0.0) and ``stddev`` (default 0.05), cut at 2 stddev.

    Values lie within ``mean ± 2*stddev``; their standard deviation is about ``0.88 * stddev``
    (use :class:`VarianceScaling` for a corrected one).
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None) -> None:
        _check_stddev(stddev)
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        return self._truncated_normal(_shape(shape), self.mean, self.stddev, _dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval)`` (default ``[-0.05, 0.05)``).

    Example::

        >>> w = RandomUniform(seed=0)((3, 4))
        >>> bool((w.abs() <= 0.05).all())
        True
    """

    def __init__(
        self, minval: float = -0.05, maxval: float = 0.05, seed: Optional[int] = None
    ) -> None:
        if not minval < maxval:
            raise ValueError(
                f"minval must be smaller than maxval, got minval={minval!r}, maxval={maxval!r}; "
                "use Constant for a fixed value."
            )
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        return self._uniform(_shape(shape), self.minval, self.maxval, _dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Draws scaled to the weight's fans: variance ``scale / n``.

    ``n`` is ``fan_in``, ``fan_out`` or their mean (``mode``). ``distribution`` is
    'truncated_normal' (stddev ``sqrt(scale/n) / 0.8796...``, so that the truncated draw has
    variance ``scale/n``; 'normal' is accepted as a synonym), 'untruncated_normal'
    (stddev ``sqrt(scale/n)``) or 'uniform' (within ``±sqrt(3*scale/n)``).

    Args:
        scale: positive factor (default 1.0).
        mode: 'fan_in' (default), 'fan_out' or 'fan_avg'.
        distribution: 'truncated_normal' (default), 'untruncated_normal' or 'uniform'.
        seed: int for reproducible values, None (default) for torch's global RNG.
        input_axes, output_axes: optional axes whose sizes define the fans (see
            :func:`compute_fans`).
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: Optional[int] = None,
        input_axes: Optional[Sequence[int]] = None,
        output_axes: Optional[Sequence[int]] = None,
    ) -> None:
        if not scale > 0:
            raise ValueError(f"scale must be a positive number, got scale={scale!r}.")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got mode={mode!r}.")
        name = distribution.lower() if isinstance(distribution, str) else distribution
        name = "truncated_normal" if name == "normal" else name
        if name not in _DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {_DISTRIBUTIONS} (or 'normal', meaning "
                f"'truncated_normal'), got distribution={distribution!r}."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = name
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        shape, dtype = _shape(shape), _dtype(dtype)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV
            return self._truncated_normal(shape, 0.0, stddev, dtype)
        if self.distribution == "untruncated_normal":
            return self._normal(shape, 0.0, math.sqrt(variance), dtype)
        limit = math.sqrt(3.0 * variance)
        return self._uniform(shape, -limit, limit, dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _PresetVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed scale, mode and distribution; only the seed and axes vary."""

    _preset: tuple[float, str, str]

    def __init__(
        self,
        seed: Optional[int] = None,
        input_axes: Optional[Sequence[int]] = None,
        output_axes: Optional[Sequence[int]] = None,
    ) -> None:
        scale, mode, distribution = self._preset
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_PresetVarianceScaling):
    """Glorot (Xavier) uniform: ``±sqrt(6 / (fan_in + fan_out))`` bounds; Keras's kernel default."""

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_PresetVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with variance ``2 / (fan_in + fan_out)``."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_PresetVarianceScaling):
    """He uniform: within ``±sqrt(6 / fan_in)``."""

    _preset = (2.0, "fan_in", "uniform")


class HeNormal(_PresetVarianceScaling):
    """He normal: truncated normal with variance ``2 / fan_in``."""

    _preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_PresetVarianceScaling):
    """LeCun uniform: within ``±sqrt(3 / fan_in)``."""

    _preset = (1.0, "fan_in", "uniform")


class LecunNormal(_PresetVarianceScaling):
    """LeCun normal: truncated normal with variance ``1 / fan_in``."""

    _preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix times ``gain`` (default 1.0), Keras's recurrent-kernel default.

    The shape is seen as ``(prod(shape[:-1]), shape[-1])``; its rows (if fewer) or columns are
    orthonormal. Needs at least 2 dimensions.

    Example::

        >>> q = Orthogonal(seed=1)((4, 4))
        >>> bool(torch.allclose(q.T @ q, torch.eye(4), atol=1e-5))
        True
    """

    def __init__(self, gain: float = 1.0, seed: Optional[int] = None) -> None:
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape: Shape, dtype: DType = None) -> torch.Tensor:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(
                f"Orthogonal needs a shape of at least 2 dimensions, got shape={shape} "
                f"of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        sample = self._normal((max(rows, cols), min(rows, cols)), 0.0, 1.0, _dtype(dtype))
        q, r = torch.linalg.qr(sample, mode="reduced")
        q = q * torch.sign(torch.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


constant = Constant
glorot_normal = GlorotNormal
glorot_uniform = GlorotUniform
he_normal = HeNormal
he_uniform = HeUniform
identity = Identity
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
ones = Ones
orthogonal = Orthogonal
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
zeros = Zeros

_CLASSES = (
    Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, LecunNormal,
    LecunUniform, Ones, Orthogonal, RandomNormal, RandomUniform, TruncatedNormal,
    VarianceScaling, Zeros,
)
INITIALIZERS: dict[str, type] = {cls.__name__: cls for cls in _CLASSES}
INITIALIZERS.update(
    {re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower(): cls for cls in _CLASSES}
)
INITIALIZERS.update(
    {
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
    }
)


def _from_array(value: Union[torch.Tensor, np.ndarray]):
    """An initializer that returns a copy of ``value`` (checked against the requested shape)."""
    tensor = torch.as_tensor(value)

    def initialize(shape: Shape, dtype: DType = None) -> torch.Tensor:
        if _shape(shape) != tuple(tensor.shape):
            raise ValueError(
                f"This initializer is a fixed array of shape {tuple(tensor.shape)}, "
                f"but shape={_shape(shape)} was requested."
            )
        return tensor.to(_dtype(dtype), copy=True)

    return initialize


def get(identifier: Any) -> Any:
    """Resolve an initializer identifier.

    Args:
        identifier: ``None`` (returned as None), a name ('glorot_uniform', 'GlorotUniform',
            'zeros', ...), a config dict ``{"class_name": ..., "config": {...}}``, a class
            (instantiated with defaults), an instance or any callable ``(shape, dtype)``, or a
            tensor / numpy array (used as the value, for that exact shape).

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    Example::

        >>> get("he_normal")
        HeNormal(seed=None, input_axes=None, output_axes=None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, (torch.Tensor, np.ndarray)):
        return _from_array(identifier)
    return registry.lookup(identifier, INITIALIZERS, "initializer", base=Initializer)


def serialize(initializer: Any) -> Any:
    """``{"class_name", "config"}`` for an initializer instance (None for None)."""
    return registry.serialize(initializer)
