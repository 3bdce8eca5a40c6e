"""Reshaping layers: zero padding, cropping, upsampling, RepeatVector and Permute.

(Flatten and Reshape live in :mod:`.core`.) Cropping, Permute and RepeatVector return views of
their input, with no copy; padding and upsampling make one copy.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .layer import Layer
from .arguments import data_format as standardize_data_format
from .arguments import int_tuple as standardize_tuple
from .arguments import is_int as _is_int
from .pooling import SpatialLayer

__all__ = [
    "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Cropping1D", "Cropping2D", "Cropping3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "RepeatVector", "Permute",
]

_ORDINALS = ("1st", "2nd", "3rd")


def _standardize_pairs(value: Any, n: int, argument: str) -> tuple:
    """Per-axis ``(before, after)`` amounts from an int, ``n`` ints or ``n`` pairs of ints,
    all non-negative."""
    if _is_int(value):
        if value < 0:
            raise ValueError(f"{argument} must be non-negative, got {value!r}")
        return ((int(value), int(value)),) * n
    try:
        entries = tuple(value)
    except TypeError:
        entries = None
    if entries is None or len(entries) != n:
        raise ValueError(
            f"{argument} must be an int, a tuple of {n} ints (symmetric amounts per axis) or "
            f"a tuple of {n} (before, after) pairs, got {value!r}"
        )
    return tuple(standardize_tuple(entry, 2, f"{_ORDINALS[i]} entry of {argument}",
                                   allow_zero=True) for i, entry in enumerate(entries))


class _SpatialReshape(SpatialLayer):
    """Plumbing shared by padding/cropping/upsampling layers: layout, lazy-free build."""

    def _finish_init(self, data_format: str) -> None:
        self._init_layout(data_format)
        self.built = True
        if self._input_shape_arg is not None:
            self.compute_output_shape(self._input_shape_arg)

    def _spatial_axes(self) -> range:
        first = 1 if self._channels_last else 2
        return range(first, first + self._n_spatial)


# ---------------------------------------------------------------------- zero padding
class _ZeroPadding(_SpatialReshape):
    def _setup(self, padding: tuple, data_format: str) -> None:
        self.padding = padding
        self._finish_init(data_format)
        # F.pad lists (before, after) per axis from the last axis backwards.
        pairs = (*padding, (0, 0)) if self._channels_last else padding
        self._torch_pad = tuple(v for pair in reversed(pairs) for v in pair)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        return F.pad(inputs, self._torch_pad)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        spatial = self._spatial_shape(shape)
        return self._with_spatial(shape, [None if size is None else size + sum(pair)
                                          for size, pair in zip(spatial, self.padding)])

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """Pads the steps axis with zeros.

    Args:
        padding: int (both ends) or ``(before, after)`` non-negative ints (default 1).
        data_format: ``'channels_last'`` (default, ``(batch, steps, features)``) or
            ``'channels_first'`` (``(batch, features, steps)``).

    Shape:
        Input ``(batch, steps, features)``; output ``(batch, before + steps + after, features)``.

    Example:
        >>> ZeroPadding1D((1, 2))(torch.ones(1, 2, 1)).flatten()
        tensor([0., 1., 1., 0., 0.])
    """

    _n_spatial = 1

    def __init__(self, padding: int | Sequence[int] = 1, data_format: str | None = None,
                 **kwargs: Any) -> None:
        padding = (standardize_tuple(padding, 2, "padding", allow_zero=True),)
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self._setup(padding, data_format)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding[0]}


class ZeroPadding2D(_ZeroPadding):
    """Pads the height and width axes with zeros.

    Args:
        padding: int (all sides), ``(symmetric_height, symmetric_width)``, or
            ``((top, bottom), (left, right))``, non-negative (default ``(1, 1)``).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, top + height + bottom, left + width + right, channels)``.

    Example:
        >>> ZeroPadding2D(((1, 0), (2, 3)))(torch.ones(1, 4, 4, 3)).shape
        torch.Size([1, 5, 9, 3])
    """

    _n_spatial = 2

    def __init__(self, padding: Any = (1, 1), data_format: str | None = None,
                 **kwargs: Any) -> None:
        padding = _standardize_pairs(padding, 2, "padding")
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self._setup(padding, data_format)


class ZeroPadding3D(_ZeroPadding):
    """Pads the depth, height and width axes with zeros.

    Args:
        padding: int (all sides), 3 ints (symmetric per axis) or 3 ``(before, after)`` pairs,
            non-negative (default ``((1, 1), (1, 1), (1, 1))``).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Shape:
        Input ``(batch, depth, height, width, channels)``; output with each spatial size grown
        by its ``before + after``.

    Example:
        >>> ZeroPadding3D(1)(torch.ones(1, 2, 3, 4, 5)).shape
        torch.Size([1, 4, 5, 6, 5])
    """

    _n_spatial = 3

    def __init__(self, padding: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        padding = _standardize_pairs(padding, 3, "padding")
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self._setup(padding, data_format)


# -------------------------------------------------------------------------- cropping
class _Cropping(_SpatialReshape):
    def _setup(self, cropping: tuple, data_format: str) -> None:
        self.cropping = cropping
        self._finish_init(data_format)
        lead = (slice(None),) if self._channels_last else (slice(None), slice(None))
        self._index = lead + tuple(slice(before, -after if after else None)
                                   for before, after in cropping)

    def _too_much(self, shape: Sequence) -> ValueError:
        return ValueError(
            f"{type(self).__name__} {self.name!r}: cropping {self.cropping} removes all of the "
            f"spatial size {self._spatial_shape(shape)} of input shape {tuple(shape)}; each "
            "axis's before + after cropping must be smaller than its size."
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        shape = inputs.shape
        if len(shape) != self._ndim:
            raise self._rank_error(shape)
        for axis, (before, after) in zip(self._spatial_axes(), self.cropping):
            if before + after >= shape[axis]:
                raise self._too_much(shape)
        return inputs[self._index]

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        out = []
        for size, pair in zip(self._spatial_shape(shape), self.cropping):
            if size is not None and size <= sum(pair):
                raise self._too_much(shape)
            out.append(None if size is None else size - sum(pair))
        return self._with_spatial(shape, out)

    def get_config(self) -> dict:
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class Cropping1D(_Cropping):
    """Removes steps from the start and end of the steps axis.

    Args:
        cropping: int (both ends) or ``(before, after)`` non-negative ints (default ``(1, 1)``).

    Shape:
        Input ``(batch, steps, features)``; output ``(batch, steps - before - after, features)``.

    Example:
        >>> Cropping1D((1, 2))(torch.arange(5.0).reshape(1, 5, 1)).flatten()
        tensor([1., 2.])
    """

    _n_spatial = 1

    def __init__(self, cropping: int | Sequence[int] = (1, 1), **kwargs: Any) -> None:
        cropping = (standardize_tuple(cropping, 2, "cropping", allow_zero=True),)
        super().__init__(**kwargs)
        self._setup(cropping, "channels_last")

    def get_config(self) -> dict:
        config = {**super().get_config(), "cropping": self.cropping[0]}
        del config["data_format"]
        return config


class Cropping2D(_Cropping):
    """Removes rows and columns at the borders of images.

    Args:
        cropping: int (all sides), ``(symmetric_height, symmetric_width)``, or
            ``((top, bottom), (left, right))``, non-negative (default ``((0, 0), (0, 0))``).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, height - top - bottom, width - left - right, channels)``.

    Example:
        >>> Cropping2D(((1, 0), (2, 2)))(torch.zeros(1, 5, 6, 3)).shape
        torch.Size([1, 4, 2, 3])
    """

    _n_spatial = 2

    def __init__(self, cropping: Any = ((0, 0), (0, 0)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        cropping = _standardize_pairs(cropping, 2, "cropping")
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self._setup(cropping, data_format)


class Cropping3D(_Cropping):
    """Removes slices at the borders of volumes.

    Args:
        cropping: int (all sides), 3 ints (symmetric per axis) or 3 ``(before, after)`` pairs,
            non-negative (default ``((1, 1), (1, 1), (1, 1))``).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Shape:
        Input ``(batch, depth, height, width, channels)``; output with each spatial size
        reduced by its ``before + after``.

    Example:
        >>> Cropping3D(1)(torch.zeros(1, 4, 5, 6, 2)).shape
        torch.Size([1, 2, 3, 4, 2])
    """

    _n_spatial = 3

    def __init__(self, cropping: Any = ((1, 1), (1, 1), (1, 1)), data_format: str | None = None,
                 **kwargs: Any) -> None:
        cropping = _standardize_pairs(cropping, 3, "cropping")
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self._setup(cropping, data_format)


# ------------------------------------------------------------------------ upsampling
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


def _repeat_axes(x: torch.Tensor, factors: dict[int, int]) -> torch.Tensor:
    """Each element repeated ``factors[axis]`` times along ``axis`` (nearest upsampling), in
    one copy: a broadcast view with a new axis after each repeated one, then a reshape."""
    view, expanded, out = [], [], []
    for axis, size in enumerate(x.shape):
        factor = factors.get(axis, 1)
        if factor == 1:
            view.append(size)
            expanded.append(size)
            out.append(size)
        else:
            view += [size, 1]
            expanded += [size, factor]
            out.append(size * factor)
    return x.reshape(view).expand(expanded).reshape(out)


class _UpSampling(_SpatialReshape):
    def _setup(self, size: tuple, data_format: str) -> None:
        self._finish_init(data_format)
        self._factors = {axis: f for axis, f in zip(self._spatial_axes(), size) if f != 1}

    def _sizes(self) -> tuple:
        return self.size if isinstance(self.size, tuple) else (self.size,)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        return _repeat_axes(inputs, self._factors)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        return self._with_spatial(shape, [None if n is None else n * f for n, f in
                                          zip(self._spatial_shape(shape), self._sizes())])

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class UpSampling1D(_UpSampling):
    """Repeats each step ``size`` times.

    Args:
        size: positive int, the upsampling factor (default 2).

    Shape:
        Input ``(batch, steps, features)``; output ``(batch, steps * size, features)``.

    Example:
        >>> UpSampling1D(2)(torch.tensor([[[1.0], [2.0]]])).flatten()
        tensor([1., 1., 2., 2.])
    """

    _n_spatial = 1

    def __init__(self, size: int = 2, **kwargs: Any) -> None:
        if not _is_int(size) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        super().__init__(**kwargs)
        self.size = int(size)
        self._setup((self.size,), "channels_last")

    def get_config(self) -> dict:
        config = super().get_config()
        del config["data_format"]
        return config


class UpSampling2D(_UpSampling):
    """Upsamples images by integer factors.

    Args:
        size: int or ``(height_factor, width_factor)`` positive ints (default ``(2, 2)``).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.
        interpolation: ``'nearest'`` (default: each pixel repeated), ``'bilinear'`` or
            ``'bicubic'`` (torch's ``interpolate`` with ``align_corners=False``, as Keras's
            ``ops.image.resize`` on its torch backend).

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, height * height_factor, width * width_factor, channels)``.

    Example:
        >>> UpSampling2D((2, 3), interpolation="bilinear")(torch.zeros(1, 4, 4, 3)).shape
        torch.Size([1, 8, 12, 3])
    """

    _n_spatial = 2

    def __init__(self, size: int | Sequence[int] = (2, 2), data_format: str | None = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        size = standardize_tuple(size, 2, "size")
        data_format = standardize_data_format(data_format)
        mode = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if mode not in _INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}"
            )
        super().__init__(**kwargs)
        self.size = size
        self.interpolation = mode
        self._setup(size, data_format)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.interpolation == "nearest":
            return super().call(inputs)
        if inputs.dim() != 4:
            raise self._rank_error(inputs.shape)
        x = inputs.permute(self._to_first) if self._channels_last else inputs
        height, width = x.shape[2:]
        out = F.interpolate(x, size=(height * self.size[0], width * self.size[1]),
                            mode=self.interpolation, align_corners=False)
        return out.permute(self._to_last) if self._channels_last else out

    def get_config(self) -> dict:
        return {**super().get_config(), "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    """Upsamples volumes by repeating each voxel.

    Args:
        size: int or ``(depth_factor, height_factor, width_factor)`` positive ints
            (default ``(2, 2, 2)``).
        data_format: ``'channels_last'`` (default) or ``'channels_first'``.

    Shape:
        Input ``(batch, depth, height, width, channels)``; output with each spatial size
        multiplied by its factor.

    Example:
        >>> UpSampling3D(2)(torch.zeros(1, 2, 3, 4, 5)).shape
        torch.Size([1, 4, 6, 8, 5])
    """

    _n_spatial = 3

    def __init__(self, size: int | Sequence[int] = (2, 2, 2), data_format: str | None = None,
                 **kwargs: Any) -> None:
        size = standardize_tuple(size, 3, "size")
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self.size = size
        self._setup(size, data_format)


# ------------------------------------------------------------------- RepeatVector, Permute
class RepeatVector(Layer):
    """Repeats a vector ``n`` times along a new time axis.

    The output is a broadcast view of the input (no copy).

    Args:
        n: positive int, the number of repetitions.

    Shape:
        Input ``(batch, features)``; output ``(batch, n, features)``.

    Example:
        >>> RepeatVector(3)(torch.zeros(2, 4)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, n: int, **kwargs: Any) -> None:
        if not _is_int(n) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        super().__init__(**kwargs)
        self.n = int(n)
        self.built = True
        if self._input_shape_arg is not None:
            self.compute_output_shape(self._input_shape_arg)

    def _rank_error(self, shape: Sequence) -> ValueError:
        return ValueError(
            f"RepeatVector expects a 2D input (batch, features), got shape {tuple(shape)}."
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 2:
            raise self._rank_error(inputs.shape)
        return inputs.unsqueeze(1).expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise self._rank_error(shape)
        return (shape[0], self.n, shape[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}


class Permute(Layer):
    """Permutes the non-batch axes.

    Args:
        dims: a permutation of ``1..k`` for inputs with ``k`` non-batch axes; axis ``i`` of the
            output (after the batch axis) is input axis ``dims[i - 1]``.

    Shape:
        Input ``(batch, d1, ..., dk)``; output ``(batch, d[dims[0]], ..., d[dims[k-1]])``.

    Example:
        >>> Permute((2, 1))(torch.zeros(4, 10, 64)).shape
        torch.Size([4, 64, 10])
    """

    def __init__(self, dims: Sequence[int], **kwargs: Any) -> None:
        try:
            values = tuple(dims)
        except TypeError:
            values = None
        if (values is None or not all(_is_int(d) for d in values)
                or sorted(values) != list(range(1, len(values) + 1))):
            raise ValueError(
                "dims must be a permutation of the non-batch axes 1..k, such as (2, 1), "
                f"got {dims!r}"
            )
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in values)
        self._perm = (0, *self.dims)
        self.built = True
        if self._input_shape_arg is not None:
            self.compute_output_shape(self._input_shape_arg)

    def _rank_error(self, shape: Sequence) -> ValueError:
        return ValueError(
            f"Permute with dims={self.dims} expects a {len(self.dims) + 1}D input "
            f"(batch and {len(self.dims)} axes), got shape {tuple(shape)}."
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != len(self._perm):
            raise self._rank_error(inputs.shape)
        return inputs.permute(self._perm)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        if len(shape) != len(self._perm):
            raise self._rank_error(shape)
        return tuple(shape[axis] for axis in self._perm)

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}
