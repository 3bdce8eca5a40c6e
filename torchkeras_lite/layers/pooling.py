"""Pooling layers: windowed (Max/AveragePooling1D-3D), global and adaptive pooling.

Inputs are channels-last by default (``config.image_data_format()``). Torch's pooling ops want
channels-first, so channels-last inputs are pooled through a permuted *view* (no copy) and the
result is permuted back.

``padding='same'`` follows Keras on its torch backend: output size ``ceil(size / stride)``, the
total padding split evenly with the extra pixel at the end. When the split is even, torch's own
padding is used (average pooling then divides by the number of real, non-padded elements);
when it is uneven, the input is first padded by *replicating* its edge values, as Keras's torch
backend does, so those windows of an average pool include the replicated values.

Argument checks come from :mod:`.arguments` (shared by all layer families); ``SpatialLayer`` is
shared with :mod:`.reshaping`.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .arguments import data_format as standardize_data_format
from .arguments import int_tuple as standardize_tuple
from .layer import Layer

__all__ = [
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
    # Keras's aliases
    "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
    "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
]


# ------------------------------------------------------------------ argument helpers
def standardize_padding(value: Any) -> str:
    padding = value.lower() if isinstance(value, str) else value
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {value!r}")
    return padding


_SPATIAL_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def spatial_layout(n_spatial: int, data_format: str) -> str:
    """The axis names of an input, e.g. ``'(batch, height, width, channels)'``."""
    spatial = _SPATIAL_NAMES[n_spatial]
    channels = "features" if n_spatial == 1 else "channels"
    axes = (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)
    return "(batch, " + ", ".join(axes) + ")"


def channel_permutations(n_spatial: int) -> tuple[tuple, tuple]:
    """Permutations channels-last -> channels-first and back, for ``n_spatial`` spatial axes."""
    ndim = n_spatial + 2
    to_first = (0, ndim - 1, *range(1, ndim - 1))
    to_last = (0, *range(2, ndim), 1)
    return to_first, to_last


class SpatialLayer(Layer):
    """Shared plumbing of layers on ``(batch, *spatial, channels)`` inputs: ``data_format``,
    the rank check and the spatial part of a shape."""

    _n_spatial = 2

    def _init_layout(self, data_format: str) -> None:
        self.data_format = data_format
        self._channels_last = data_format == "channels_last"
        self._ndim = self._n_spatial + 2
        self._to_first, self._to_last = channel_permutations(self._n_spatial)

    def _rank_error(self, shape: Sequence) -> ValueError:
        return ValueError(
            f"{type(self).__name__} expects a {self._ndim}D input "
            f"{spatial_layout(self._n_spatial, self.data_format)}, got shape {tuple(shape)}."
        )

    def _spatial_shape(self, shape: Sequence) -> tuple:
        if len(shape) != self._ndim:
            raise self._rank_error(shape)
        return tuple(shape[1:-1] if self._channels_last else shape[2:])

    def _with_spatial(self, shape: Sequence, spatial: Sequence) -> tuple:
        if self._channels_last:
            return (shape[0], *spatial, shape[-1])
        return (shape[0], shape[1], *spatial)


# --------------------------------------------------------------------- window pooling
_POOL_OPS = {
    ("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d, ("max", 3): F.max_pool3d,
    ("average", 1): F.avg_pool1d, ("average", 2): F.avg_pool2d, ("average", 3): F.avg_pool3d,
}
_SAME_CACHE_SIZE = 64


class _Pooling(SpatialLayer):
    """Max or average pooling over windows of ``pool_size``."""

    _mode = "max"

    def __init__(
        self,
        pool_size: int | Sequence[int],
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        n = self._n_spatial
        pool_size = standardize_tuple(pool_size, n, "pool_size")
        strides = pool_size if strides is None else standardize_tuple(strides, n, "strides")
        padding = standardize_padding(padding)
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self.pool_size = pool_size
        self.strides = strides
        self.padding = padding
        self._init_layout(data_format)
        self._same = padding == "same"
        self._same_cache: dict[tuple, tuple] = {}
        self._op = _POOL_OPS[self._mode, n]
        self._extra = {"count_include_pad": False} if self._mode == "average" else {}
        self.built = True
        if self._input_shape_arg is not None:
            self.compute_output_shape(self._input_shape_arg)

    def _same_padding(self, spatial: tuple) -> tuple:
        """(F.pad amounts or None, torch padding argument) for a channels-first ``spatial``."""
        pairs = []
        for size, k, s in zip(spatial, self.pool_size, self.strides):
            total = max(0, (-(-size // s) - 1) * s + k - size)
            pairs.append((total // 2, total - total // 2))
        if all(left == right for left, right in pairs):
            result = (None, tuple(left for left, _ in pairs))
        else:
            result = (tuple(v for pair in reversed(pairs) for v in pair), 0)
        if len(self._same_cache) >= _SAME_CACHE_SIZE:
            self._same_cache.clear()
        self._same_cache[spatial] = result
        return result

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        x = inputs.permute(self._to_first) if self._channels_last else inputs
        padding: Any = 0
        if self._same:
            spatial = tuple(x.shape[2:])
            pad, padding = self._same_cache.get(spatial) or self._same_padding(spatial)
            if pad is not None:
                x = F.pad(x, pad, mode="replicate")
        try:
            out = self._op(x, self.pool_size, self.strides, padding, **self._extra)
        except RuntimeError:
            self.compute_output_shape(tuple(inputs.shape))  # a clear error if the pool can't fit
            raise
        return out.permute(self._to_last) if self._channels_last else out

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        spatial = self._spatial_shape(shape)
        out = []
        for size, k, s in zip(spatial, self.pool_size, self.strides):
            if size is None:
                out.append(None)
            elif self._same:
                out.append(-(-size // s))
            elif size < k:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: pool_size {self.pool_size} does not "
                    f"fit in the spatial size {spatial} of input shape {shape} with "
                    "padding='valid'; use padding='same', a smaller pool_size or a larger input."
                )
            else:
                out.append((size - k) // s + 1)
        return self._with_spatial(shape, out)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


_POOL_ARGS_DOC = """
    Args:
        pool_size: int or tuple of {n} ints, the window size (default {default}).
        strides: int or tuple of {n} ints; default None, meaning ``pool_size``.
        padding: ``'valid'`` (default, no padding) or ``'same'`` (output size
            ``ceil(size / stride)``, the extra padding at the end; see the module docstring
            for how padded windows are averaged).
        data_format: ``'channels_last'`` (default, from ``config.image_data_format()``) or
            ``'channels_first'``.

    Shape:
        Input {layout}; output the same with pooled spatial sizes:
        ``(size - pool) // stride + 1`` with 'valid', ``ceil(size / stride)`` with 'same'.
"""


class MaxPooling1D(_Pooling):
    __doc__ = (
        "Max pooling over windows of steps."
        + _POOL_ARGS_DOC.format(n=1, default=2, layout="``(batch, steps, features)``")
        + """
    Example:
        >>> MaxPooling1D(2)(torch.arange(6.0).reshape(1, 6, 1)).flatten()
        tensor([1., 3., 5.])
    """
    )
    _n_spatial = 1

    def __init__(self, pool_size: int | Sequence[int] = 2,
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    __doc__ = (
        "Max pooling over windows of pixels."
        + _POOL_ARGS_DOC.format(n=2, default="(2, 2)",
                                layout="``(batch, height, width, channels)``")
        + """
    Example:
        >>> MaxPooling2D((2, 2))(torch.zeros(1, 5, 5, 3)).shape
        torch.Size([1, 2, 2, 3])
    """
    )
    _n_spatial = 2

    def __init__(self, pool_size: int | Sequence[int] = (2, 2),
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling3D(_Pooling):
    __doc__ = (
        "Max pooling over windows of voxels."
        + _POOL_ARGS_DOC.format(n=3, default="(2, 2, 2)",
                                layout="``(batch, depth, height, width, channels)``")
        + """
    Example:
        >>> MaxPooling3D(2, padding="same")(torch.zeros(1, 5, 4, 3, 2)).shape
        torch.Size([1, 3, 2, 2, 2])
    """
    )
    _n_spatial = 3

    def __init__(self, pool_size: int | Sequence[int] = (2, 2, 2),
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    __doc__ = (
        "Average pooling over windows of steps."
        + _POOL_ARGS_DOC.format(n=1, default=2, layout="``(batch, steps, features)``")
        + """
    Example:
        >>> AveragePooling1D(2)(torch.arange(6.0).reshape(1, 6, 1)).flatten()
        tensor([0.5000, 2.5000, 4.5000])
    """
    )
    _n_spatial = 1
    _mode = "average"

    def __init__(self, pool_size: int | Sequence[int] = 2,
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling2D(_Pooling):
    __doc__ = (
        "Average pooling over windows of pixels."
        + _POOL_ARGS_DOC.format(n=2, default="(2, 2)",
                                layout="``(batch, height, width, channels)``")
        + """
    Example:
        >>> AveragePooling2D(3, strides=2, padding="same")(torch.zeros(1, 7, 7, 3)).shape
        torch.Size([1, 4, 4, 3])
    """
    )
    _n_spatial = 2
    _mode = "average"

    def __init__(self, pool_size: int | Sequence[int] = (2, 2),
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling3D(_Pooling):
    __doc__ = (
        "Average pooling over windows of voxels."
        + _POOL_ARGS_DOC.format(n=3, default="(2, 2, 2)",
                                layout="``(batch, depth, height, width, channels)``")
        + """
    Example:
        >>> AveragePooling3D(2)(torch.zeros(1, 4, 4, 4, 2)).shape
        torch.Size([1, 2, 2, 2, 2])
    """
    )
    _n_spatial = 3
    _mode = "average"

    def __init__(self, pool_size: int | Sequence[int] = (2, 2, 2),
                 strides: int | Sequence[int] | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


# --------------------------------------------------------------------- global pooling
class _GlobalPooling(SpatialLayer):
    """Max or mean over all spatial axes."""

    _reduce = staticmethod(torch.amax)

    def __init__(self, data_format: str | None = None, keepdims: bool = False,
                 **kwargs: Any) -> None:
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self._init_layout(data_format)
        self.keepdims = bool(keepdims)
        first = 1 if self._channels_last else 2
        self._axes = tuple(range(first, first + self._n_spatial))
        self.built = True
        if self._input_shape_arg is not None:
            self.compute_output_shape(self._input_shape_arg)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        return self._reduce(inputs, dim=self._axes, keepdim=self.keepdims)

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        self._spatial_shape(shape)
        if self.keepdims:
            return self._with_spatial(shape, (1,) * self._n_spatial)
        return (shape[0], shape[-1] if self._channels_last else shape[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


_GLOBAL_ARGS_DOC = """
    Args:
        data_format: ``'channels_last'`` (default, from ``config.image_data_format()``) or
            ``'channels_first'``.
        keepdims: keep the spatial axes with size 1 (default False).

    Shape:
        Input {layout}; output ``(batch, {channels})``, or with ``keepdims`` the input's shape
        with every spatial size 1.
"""


class GlobalMaxPooling1D(_GlobalPooling):
    __doc__ = (
        "Maximum over the steps axis."
        + _GLOBAL_ARGS_DOC.format(layout="``(batch, steps, features)``", channels="features")
        + """
    Example:
        >>> GlobalMaxPooling1D()(torch.arange(6.0).reshape(1, 3, 2))
        tensor([[4., 5.]])
    """
    )
    _n_spatial = 1


class GlobalMaxPooling2D(_GlobalPooling):
    __doc__ = (
        "Maximum over the height and width axes."
        + _GLOBAL_ARGS_DOC.format(layout="``(batch, height, width, channels)``",
                                  channels="channels")
        + """
    Example:
        >>> GlobalMaxPooling2D(keepdims=True)(torch.zeros(2, 4, 5, 3)).shape
        torch.Size([2, 1, 1, 3])
    """
    )
    _n_spatial = 2


class GlobalMaxPooling3D(_GlobalPooling):
    __doc__ = (
        "Maximum over the depth, height and width axes."
        + _GLOBAL_ARGS_DOC.format(layout="``(batch, depth, height, width, channels)``",
                                  channels="channels")
        + """
    Example:
        >>> GlobalMaxPooling3D()(torch.zeros(2, 3, 4, 5, 6)).shape
        torch.Size([2, 6])
    """
    )
    _n_spatial = 3


class GlobalAveragePooling1D(_GlobalPooling):
    __doc__ = (
        "Mean over the steps axis; with a mask, the mean of the unmasked steps only."
        + _GLOBAL_ARGS_DOC.format(layout="``(batch, steps, features)``", channels="features")
        + """
    The input's mask, ``(batch, steps)`` booleans (e.g. from ``Embedding(mask_zero=True)``),
    excludes steps from the mean; the output carries no mask. A sample whose steps are all
    masked gives NaN (0 / 0), as in Keras.

    Example:
        >>> x = torch.tensor([[[1.0], [3.0], [8.0]]])
        >>> GlobalAveragePooling1D()(x, mask=torch.tensor([[True, True, False]]))
        tensor([[2.]])
    """
    )
    _n_spatial = 1
    _reduce = staticmethod(torch.mean)
    supports_masking = True

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return super().call(inputs)
        if inputs.dim() != 3:
            raise self._rank_error(inputs.shape)
        mask = mask.unsqueeze(2 if self._channels_last else 1)
        if mask.dtype != torch.bool:
            mask = mask.bool()
        total = torch.where(mask, inputs, 0).sum(dim=self._axes, keepdim=self.keepdims)
        count = mask.sum(dim=self._axes, keepdim=self.keepdims)
        return total / count.to(total.dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    __doc__ = (
        "Mean over the height and width axes."
        + _GLOBAL_ARGS_DOC.format(layout="``(batch, height, width, channels)``",
                                  channels="channels")
        + """
    Example:
        >>> GlobalAveragePooling2D()(torch.ones(2, 4, 5, 3))
        tensor([[1., 1., 1.],
                [1., 1., 1.]])
    """
    )
    _n_spatial = 2
    _reduce = staticmethod(torch.mean)


class GlobalAveragePooling3D(_GlobalPooling):
    __doc__ = (
        "Mean over the depth, height and width axes."
        + _GLOBAL_ARGS_DOC.format(layout="``(batch, depth, height, width, channels)``",
                                  channels="channels")
        + """
    Example:
        >>> GlobalAveragePooling3D(data_format="channels_first")(torch.zeros(2, 6, 3, 4, 5)).shape
        torch.Size([2, 6])
    """
    )
    _n_spatial = 3
    _reduce = staticmethod(torch.mean)


# ------------------------------------------------------------------- adaptive pooling
_ADAPTIVE_OPS = {
    ("max", 1): F.adaptive_max_pool1d, ("max", 2): F.adaptive_max_pool2d,
    ("max", 3): F.adaptive_max_pool3d, ("average", 1): F.adaptive_avg_pool1d,
    ("average", 2): F.adaptive_avg_pool2d, ("average", 3): F.adaptive_avg_pool3d,
}


class _AdaptivePooling(SpatialLayer):
    """Pools to a fixed ``output_size`` whatever the input size (torch's adaptive pooling:
    output cell ``i`` covers input ``[floor(i*n/out), ceil((i+1)*n/out))``)."""

    _mode = "max"

    def __init__(self, output_size: int | Sequence[int], data_format: str | None = None,
                 **kwargs: Any) -> None:
        output_size = standardize_tuple(output_size, self._n_spatial, "output_size")
        data_format = standardize_data_format(data_format)
        super().__init__(**kwargs)
        self.output_size = output_size
        self._init_layout(data_format)
        self._op = _ADAPTIVE_OPS[self._mode, self._n_spatial]
        self.built = True
        if self._input_shape_arg is not None:
            self.compute_output_shape(self._input_shape_arg)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        x = inputs.permute(self._to_first) if self._channels_last else inputs
        out = self._op(x, self.output_size)
        return out.permute(self._to_last) if self._channels_last else out

    def compute_output_shape(self, input_shape: Sequence) -> tuple:
        shape = tuple(input_shape)
        self._spatial_shape(shape)
        return self._with_spatial(shape, self.output_size)

    def get_config(self) -> dict:
        return {**super().get_config(), "output_size": self.output_size,
                "data_format": self.data_format}


_ADAPTIVE_ARGS_DOC = """
    Args:
        output_size: int or tuple of {n} positive ints, the output's spatial size.
        data_format: ``'channels_last'`` (default, from ``config.image_data_format()``) or
            ``'channels_first'``.

    Shape:
        Input {layout}; output the same with spatial sizes ``output_size``.
"""


class AdaptiveMaxPooling1D(_AdaptivePooling):
    __doc__ = (
        "Max pooling to a fixed number of steps."
        + _ADAPTIVE_ARGS_DOC.format(n=1, layout="``(batch, steps, features)``")
        + """
    Example:
        >>> AdaptiveMaxPooling1D(2)(torch.arange(5.0).reshape(1, 5, 1)).flatten()
        tensor([2., 4.])
    """
    )
    _n_spatial = 1


class AdaptiveMaxPooling2D(_AdaptivePooling):
    __doc__ = (
        "Max pooling to a fixed height and width."
        + _ADAPTIVE_ARGS_DOC.format(n=2, layout="``(batch, height, width, channels)``")
        + """
    Example:
        >>> AdaptiveMaxPooling2D((2, 3))(torch.zeros(1, 7, 9, 4)).shape
        torch.Size([1, 2, 3, 4])
    """
    )
    _n_spatial = 2


class AdaptiveMaxPooling3D(_AdaptivePooling):
    __doc__ = (
        "Max pooling to a fixed depth, height and width."
        + _ADAPTIVE_ARGS_DOC.format(n=3, layout="``(batch, depth, height, width, channels)``")
        + """
    Example:
        >>> AdaptiveMaxPooling3D(2)(torch.zeros(1, 5, 5, 5, 3)).shape
        torch.Size([1, 2, 2, 2, 3])
    """
    )
    _n_spatial = 3


class AdaptiveAveragePooling1D(_AdaptivePooling):
    __doc__ = (
        "Average pooling to a fixed number of steps."
        + _ADAPTIVE_ARGS_DOC.format(n=1, layout="``(batch, steps, features)``")
        + """
    Example:
        >>> AdaptiveAveragePooling1D(2)(torch.arange(4.0).reshape(1, 4, 1)).flatten()
        tensor([0.5000, 2.5000])
    """
    )
    _n_spatial = 1
    _mode = "average"


class AdaptiveAveragePooling2D(_AdaptivePooling):
    __doc__ = (
        "Average pooling to a fixed height and width."
        + _ADAPTIVE_ARGS_DOC.format(n=2, layout="``(batch, height, width, channels)``")
        + """
    Example:
        >>> AdaptiveAveragePooling2D(1)(torch.ones(2, 7, 9, 4)).shape
        torch.Size([2, 1, 1, 4])
    """
    )
    _n_spatial = 2
    _mode = "average"


class AdaptiveAveragePooling3D(_AdaptivePooling):
    __doc__ = (
        "Average pooling to a fixed depth, height and width."
        + _ADAPTIVE_ARGS_DOC.format(n=3, layout="``(batch, depth, height, width, channels)``")
        + """
    Example:
        >>> AdaptiveAveragePooling3D((1, 2, 2))(torch.zeros(1, 3, 4, 4, 2)).shape
        torch.Size([1, 1, 2, 2, 2])
    """
    )
    _n_spatial = 3
    _mode = "average"


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
