"""Convolution layers: Conv1D, Conv2D, Conv3D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D.

Who owns what:
- ``_BaseConv`` checks the options every convolution shares (kernel_size, strides, padding,
  data_format, dilation_rate, activation, use_bias), moves channels-last inputs to torch's
  channels-first view and back, and applies Keras's padding: ``'same'`` pads
  ``total // 2`` before and the rest after (the extra pixel goes at the end, as in
  TensorFlow), ``'causal'`` (Conv1D) pads ``dilation * (kernel - 1)`` on the left.
- Each layer stores its weights in **Keras layout** (a Conv2D kernel is
  ``(kh, kw, in // groups, filters)``) and hands torch a permuted view of them in ``call``, so
  ``get_weights``/``set_weights`` exchange arrays with Keras unchanged and gradients flow to
  the stored parameters.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import torch
import torch.nn.functional as F

from .. import activations as _activations
from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .arguments import data_format as _data_format
from .arguments import int_tuple as _int_tuple
from .arguments import positive_int as _positive_int
from .layer import Layer

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"]

IntOrTuple = Union[int, Sequence[int]]

_SPATIAL_AXES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_CONV_FNS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _padding(value: Any, allow_causal: bool) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        options = ", ".join(repr(p) for p in allowed)
        raise ValueError(f"padding must be one of {options}, got {value!r}")
    return padding


def _strides_and_dilation_exclusive(strides: tuple, dilation_rate: tuple) -> None:
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            "strides > 1 cannot be combined with dilation_rate > 1 (Keras rejects it too); "
            f"got strides={strides} and dilation_rate={dilation_rate}. Set one of them to 1."
        )


def conv_output_length(length: int | None, kernel: int, stride: int, dilation: int,
                       padding: str) -> int | None:
    """Output length of a convolution along one axis (Keras's rule; None stays None)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - (kernel - 1) * dilation - 1) // stride + 1
    return (length - 1) // stride + 1  # 'same' and 'causal'


def _same_padding(length: int | None, kernel: int, stride: int, dilation: int) -> tuple:
    """(before, after) padding of Keras's 'same': the extra pixel, if any, goes after."""
    effective = (kernel - 1) * dilation + 1
    if stride == 1:
        total = effective - 1
    else:
        total = max(0, ((length + stride - 1) // stride - 1) * stride + effective - length)
    return total // 2, total - total // 2


class _BaseConv(Layer):
    """Options and plumbing shared by the convolution layers (not public)."""

    _rank = 2

    def __init__(
        self,
        kernel_size: Any,
        strides: Any,
        padding: str,
        data_format: str | None,
        dilation_rate: Any,
        activation: Any,
        use_bias: bool,
        activity_regularizer: Any,
        allow_causal: bool = False,
        **kwargs: Any,
    ) -> None:
        rank = self._rank
        kernel_size = _int_tuple(kernel_size, rank, "kernel_size")
        strides = _int_tuple(strides, rank, "strides")
        dilation_rate = _int_tuple(dilation_rate, rank, "dilation_rate")
        padding = _padding(padding, allow_causal)
        data_format = _data_format(data_format)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.data_format = data_format
        self.dilation_rate = dilation_rate
        self.activation = _activations.get(activation)
        self._is_linear = self.activation is _activations.get(None)
        self.use_bias = bool(use_bias)
        self._channels_last = data_format == "channels_last"
        self._ndim = rank + 2
        self._channel_axis = -1 if self._channels_last else 1
        self._to_channels_first = (0, rank + 1, *range(1, rank + 1))
        self._to_channels_last = (0, *range(2, rank + 2), 1)
        # Padding that does not depend on the input size is computed once; 'same' with a
        # stride > 1 depends on it and is cached per spatial shape.
        self._padding_cache: dict[tuple, tuple] = {}
        self._static_padding = (
            self._padding_plan((None,) * rank)
            if padding != "same" or max(strides) == 1 else None
        )

    # ------------------------------------------------------------------ shapes
    def _layout(self) -> str:
        spatial = ", ".join(_SPATIAL_AXES[self._rank])
        return (f"(batch, {spatial}, channels)" if self._channels_last
                else f"(batch, channels, {spatial})")

    def _rank_error(self, shape: Sequence) -> ValueError:
        return ValueError(
            f"{type(self).__name__} expects a {self._ndim}D input {self._layout()}, "
            f"got shape {tuple(shape)}"
        )

    def _split_shape(self, input_shape: Sequence) -> tuple:
        """(channels, spatial dims) of an input shape, checking its rank."""
        input_shape = tuple(input_shape)
        if len(input_shape) != self._ndim:
            raise self._rank_error(input_shape)
        if self._channels_last:
            return input_shape[-1], input_shape[1:-1]
        return input_shape[1], input_shape[2:]

    def _known_channels(self, input_shape: Sequence) -> int:
        channels, _ = self._split_shape(input_shape)
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} needs a known channel dimension "
                f"(axis {self._channel_axis}) to build, got input shape {tuple(input_shape)}."
            )
        return int(channels)

    def _too_small(self, spatial: Sequence, input_shape: Sequence) -> str | None:
        out = [conv_output_length(n, k, s, d, self.padding)
               for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
        if not any(o is not None and o < 1 for o in out):
            return None
        effective = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
        return (
            f"{type(self).__name__} layer {self.name!r}: input shape {tuple(input_shape)} is "
            f"too small for kernel_size={self.kernel_size} (dilated extent {effective}) with "
            "padding='valid'; use padding='same' or a larger input."
        )

    def _output_spatial(self, spatial: Sequence, input_shape: Sequence) -> tuple:
        problem = self._too_small(spatial, input_shape)
        if problem is not None:
            raise ValueError(problem)
        return tuple(
            conv_output_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def _assemble(self, batch: Any, spatial: tuple, channels: Any) -> tuple:
        if self._channels_last:
            return (batch, *spatial, channels)
        return (batch, channels, *spatial)

    # ------------------------------------------------------------------- call
    def _padding_plan(self, spatial: Sequence) -> tuple:
        """(padding argument for torch, explicit ``F.pad`` widths or None)."""
        pads = []
        for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            if self.padding == "valid":
                pads.append((0, 0))
            elif self.padding == "causal":
                pads.append(((k - 1) * d, 0))
            else:
                pads.append(_same_padding(n, k, s, d))
        if all(before == after for before, after in pads):
            return tuple(before for before, _ in pads), None
        # torch wants asymmetric widths for the last axis first.
        return (0,) * self._rank, tuple(w for pair in reversed(pads) for w in pair)

    def _channels_first_padded(self, inputs: torch.Tensor) -> tuple:
        """The input as a (padded) channels-first view, and the padding argument for torch."""
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        x = inputs.permute(self._to_channels_first) if self._channels_last else inputs
        plan = self._static_padding
        if plan is None:
            spatial = x.shape[2:]
            plan = self._padding_cache.get(spatial)
            if plan is None:
                plan = self._padding_cache[spatial] = self._padding_plan(spatial)
        padding, explicit = plan
        if explicit is not None:
            x = F.pad(x, explicit)
        return x, padding

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        if self._channels_last:
            out = out.permute(self._to_channels_last)
        return out if self._is_linear else self.activation(out)

    def _explain(self, inputs: torch.Tensor, transposed: bool = False) -> None:
        """After torch rejected ``inputs``: raise a clear ValueError when their shape is the
        cause (wrong channel count, too small for the kernel); return otherwise."""
        channels, spatial = self._split_shape(inputs.shape)
        problem = None
        if channels != self._in_channels:
            problem = (
                f"{type(self).__name__} layer {self.name!r} was built for inputs with "
                f"{self._in_channels} channels (axis {self._channel_axis}), received shape "
                f"{tuple(inputs.shape)}."
            )
        elif not transposed:
            problem = self._too_small(spatial, inputs.shape)
        if problem is not None:
            raise ValueError(problem) from None

    # ----------------------------------------------------------------- config
    def _base_config(self) -> dict:
        return {
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        }

    def _tail_config(self) -> dict:
        return {"activation": _activations.serialize(self.activation), "use_bias": self.use_bias}


class _Conv(_BaseConv):
    """N-D convolution (cross-correlation) with a ``filters``-channel output (not public)."""

    def __init__(
        self,
        filters: int,
        kernel_size: IntOrTuple,
        strides: IntOrTuple = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: IntOrTuple = 1,
        groups: int = 1,
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
        filters = _positive_int(filters, "filters")
        groups = _positive_int(groups, "groups")
        if filters % groups:
            raise ValueError(
                f"filters ({filters}) must be divisible by groups ({groups}); "
                "change one of them."
            )
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, activity_regularizer,
                         allow_causal=self._rank == 1, **kwargs)
        _strides_and_dilation_exclusive(self.strides, self.dilation_rate)
        self.filters = filters
        self.groups = groups
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        rank = self._rank
        # Keras (k..., in, out) -> torch (out, in, k...)
        self._kernel_to_torch = (rank + 1, rank, *range(rank))
        self._conv = _CONV_FNS[rank]
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        channels = self._known_channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r}: the input's {channels} channels "
                f"must be divisible by groups ({self.groups}); got input shape "
                f"{tuple(input_shape)}."
            )
        self.compute_output_shape(input_shape)
        self._in_channels = channels
        self.kernel = self.add_weight(
            self.kernel_size + (channels // self.groups, self.filters), self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                (self.filters,), self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias",
            )
        else:
            self.bias = None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x, padding = self._channels_first_padded(inputs)
        try:
            out = self._conv(x, self.kernel.permute(self._kernel_to_torch), self.bias,
                             self.strides, padding, self.dilation_rate, self.groups)
        except RuntimeError:
            self._explain(inputs)
            raise
        return self._finish(out)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        _, spatial = self._split_shape(input_shape)
        return self._assemble(input_shape[0], self._output_spatial(spatial, input_shape),
                              self.filters)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            **self._base_config(),
            "groups": self.groups,
            **self._tail_config(),
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "bias_constraint": serialize(self.bias_constraint),
        }


class Conv1D(_Conv):
    """1D convolution over time: ``activation(conv1d(inputs, kernel) + bias)``.

    Args:
        filters: positive int, number of output channels.
        kernel_size: int or tuple of 1 int, the window length.
        strides: int or tuple of 1 int (default 1). Cannot exceed 1 together with dilation.
        padding: ``'valid'`` (default, no padding), ``'same'`` (output length
            ``ceil(steps / strides)``; an odd total padding puts the extra step at the end) or
            ``'causal'`` (left padding of ``dilation_rate * (kernel_size - 1)``, so no output
            sees the future).
        data_format: ``'channels_last'`` (``(batch, steps, channels)``) or
            ``'channels_first'``; default ``config.image_data_format()``.
        dilation_rate: int or tuple of 1 int (default 1).
        groups: positive int dividing both the input channels and ``filters`` (default 1).
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties (default None).
        kernel_constraint, bias_constraint: projections after each optimizer step.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ...).

    Shape:
        Input ``(batch, steps, channels)``; output ``(batch, new_steps, filters)``
        (channels-first: channel axis second). The kernel is stored in Keras layout
        ``(kernel_size, channels // groups, filters)``.

    Example:
        >>> Conv1D(4, 3, padding="causal")(torch.zeros(2, 10, 6)).shape
        torch.Size([2, 10, 4])
    """

    _rank = 1


class Conv2D(_Conv):
    """2D convolution over images: ``activation(conv2d(inputs, kernel) + bias)``.

    Args:
        filters: positive int, number of output channels.
        kernel_size: int or tuple of 2 ints, the window's height and width.
        strides: int or tuple of 2 ints (default 1). Cannot exceed 1 together with dilation.
        padding: ``'valid'`` (default, no padding) or ``'same'`` (output size
            ``ceil(size / strides)``; an odd total padding puts the extra row/column at the end,
            as in Keras and TensorFlow).
        data_format: ``'channels_last'`` (``(batch, height, width, channels)``) or
            ``'channels_first'``; default ``config.image_data_format()``.
        dilation_rate: int or tuple of 2 ints (default 1).
        groups: positive int dividing both the input channels and ``filters`` (default 1).
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties (default None).
        kernel_constraint, bias_constraint: projections after each optimizer step.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ...).

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, new_height, new_width, filters)`` (channels-first: channel axis second). The
        kernel is stored in Keras layout ``(kh, kw, channels // groups, filters)``.

    Example:
        >>> Conv2D(8, 3, strides=2, padding="same")(torch.zeros(2, 28, 28, 1)).shape
        torch.Size([2, 14, 14, 8])
    """

    _rank = 2


class Conv3D(_Conv):
    """3D convolution over volumes: ``activation(conv3d(inputs, kernel) + bias)``.

    Args:
        filters: positive int, number of output channels.
        kernel_size: int or tuple of 3 ints (depth, height, width of the window).
        strides: int or tuple of 3 ints (default 1). Cannot exceed 1 together with dilation.
        padding: ``'valid'`` (default) or ``'same'`` (extra padding at the end, as in Keras).
        data_format: ``'channels_last'`` (``(batch, depth, height, width, channels)``) or
            ``'channels_first'``; default ``config.image_data_format()``.
        dilation_rate: int or tuple of 3 ints (default 1).
        groups: positive int dividing both the input channels and ``filters`` (default 1).
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties (default None).
        kernel_constraint, bias_constraint: projections after each optimizer step.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ...).

    Shape:
        Input ``(batch, depth, height, width, channels)``; output
        ``(batch, new_depth, new_height, new_width, filters)``. The kernel is stored in Keras
        layout ``(kd, kh, kw, channels // groups, filters)``.

    Example:
        >>> Conv3D(2, 3)(torch.zeros(1, 5, 6, 7, 3)).shape
        torch.Size([1, 3, 4, 5, 2])
    """

    _rank = 3


def _transpose_crop(kernel: int, stride: int, dilation: int, padding: str,
                    output_padding: int | None) -> tuple:
    """How much Keras's transposed convolution removes from the full (un-padded) torch output
    along one axis: (start, end); a negative end means zeros appended."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        before, after = effective - 1, effective - 1 + extra
    else:
        if output_padding is None:
            total = stride + effective - 2
        else:
            total = effective + effective % 2 - 2 + output_padding
        before = min(total - total // 2, effective - 1)
        after = total - before
    return effective - 1 - before, effective - 1 - after


def conv_transpose_output_length(length: int | None, kernel: int, stride: int, dilation: int,
                                 padding: str, output_padding: int | None) -> int | None:
    """Output length of Keras's transposed convolution along one axis (None stays None)."""
    if length is None:
        return None
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(effective, stride) - effective if output_padding is None else output_padding
        return (length - 1) * stride + effective + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + effective % 2 + output_padding


class Conv2DTranspose(_BaseConv):
    """Transposed 2D convolution (sometimes called deconvolution): the gradient of a Conv2D
    with respect to its input, used to upsample feature maps.

    Args:
        filters: positive int, number of output channels.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1): the upsampling factor.
        padding: ``'valid'`` (default; output ``(size - 1) * strides + max(kernel, strides)``)
            or ``'same'`` (output ``size * strides``).
        output_padding: int or tuple of 2 ints, each smaller than the stride, giving the
            output size ``(size - 1) * strides + extra`` explicitly; default None infers it.
        data_format: ``'channels_last'`` or ``'channels_first'``; default
            ``config.image_data_format()``.
        dilation_rate: int or tuple of 2 ints (default 1). Cannot exceed 1 together with
            strides.
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, bias_regularizer, activity_regularizer: penalties (default None).
        kernel_constraint, bias_constraint: projections after each optimizer step.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ...).

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, new_height, new_width, filters)``. The kernel is stored in Keras layout
        ``(kh, kw, filters, channels)``.

    Example:
        >>> Conv2DTranspose(4, 3, strides=2, padding="same")(torch.zeros(2, 7, 7, 8)).shape
        torch.Size([2, 14, 14, 4])
    """

    _rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: IntOrTuple,
        strides: IntOrTuple = 1,
        padding: str = "valid",
        output_padding: IntOrTuple | None = None,
        data_format: str | None = None,
        dilation_rate: IntOrTuple = 1,
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
        filters = _positive_int(filters, "filters")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, activity_regularizer, **kwargs)
        _strides_and_dilation_exclusive(self.strides, self.dilation_rate)
        if output_padding is not None:
            output_padding = _int_tuple(output_padding, self._rank, "output_padding",
                                        allow_zero=True)
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError(
                    f"output_padding must be smaller than strides on every axis, got "
                    f"output_padding={output_padding} with strides={self.strides}; lower "
                    "output_padding or raise strides."
                )
        self.filters = filters
        self.output_padding = output_padding
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        self._plan_transpose()
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def _plan_transpose(self) -> None:
        # torch's conv_transpose2d crops ``padding`` from both sides and appends
        # ``output_padding`` at the end; Keras's crop (start, end) becomes padding=start,
        # output_padding=start-end when that is >= 0 (always < stride, see the tests), else a
        # slice of the surplus at the end.
        paddings, output_paddings, ends = [], [], []
        extras = self.output_padding or (None,) * self._rank
        for k, s, d, extra in zip(self.kernel_size, self.strides, self.dilation_rate, extras):
            start, end = _transpose_crop(k, s, d, self.padding, extra)
            paddings.append(start)
            output_paddings.append(max(start - end, 0))
            ends.append(max(end - start, 0))
        self._torch_padding = tuple(paddings)
        self._torch_output_padding = tuple(output_paddings)
        self._crop = None
        if any(ends):
            self._crop = (slice(None), slice(None),
                          *(slice(None, -e if e else None) for e in ends))

    def build(self, input_shape: tuple) -> None:
        channels = self._known_channels(input_shape)
        self._in_channels = channels
        self.kernel = self.add_weight(
            self.kernel_size + (self.filters, channels), self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                (self.filters,), self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias",
            )
        else:
            self.bias = None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != self._ndim:
            raise self._rank_error(inputs.shape)
        x = inputs.permute(self._to_channels_first) if self._channels_last else inputs
        try:
            # Keras (kh, kw, out, in) -> torch (in, out, kh, kw)
            out = F.conv_transpose2d(x, self.kernel.permute(3, 2, 0, 1), self.bias,
                                     self.strides, self._torch_padding,
                                     self._torch_output_padding, 1, self.dilation_rate)
        except RuntimeError:
            self._explain(inputs, transposed=True)
            raise
        if self._crop is not None:
            out = out[self._crop]
        return self._finish(out)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        _, spatial = self._split_shape(input_shape)
        extras = self.output_padding or (None,) * self._rank
        out = tuple(
            conv_transpose_output_length(n, k, s, d, self.padding, e)
            for n, k, s, d, e in zip(spatial, self.kernel_size, self.strides,
                                     self.dilation_rate, extras)
        )
        return self._assemble(input_shape[0], out, self.filters)

    def get_config(self) -> dict:
        base = self._base_config()
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": base["kernel_size"],
            "strides": base["strides"],
            "padding": base["padding"],
            "output_padding": self.output_padding,
            "data_format": base["data_format"],
            "dilation_rate": base["dilation_rate"],
            **self._tail_config(),
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "bias_constraint": serialize(self.bias_constraint),
        }


class DepthwiseConv2D(_BaseConv):
    """Depthwise 2D convolution: each input channel is convolved with its own
    ``depth_multiplier`` filters (a grouped convolution with one group per channel).

    Args:
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1).
        padding: ``'valid'`` (default) or ``'same'`` (extra padding at the end, as in Keras).
        depth_multiplier: positive int, output channels per input channel (default 1).
        data_format: ``'channels_last'`` or ``'channels_first'``; default
            ``config.image_data_format()``.
        dilation_rate: int or tuple of 2 ints (default 1).
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector (default True).
        depthwise_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        depthwise_regularizer, bias_regularizer, activity_regularizer: penalties.
        depthwise_constraint, bias_constraint: projections after each optimizer step.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ...).

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, new_height, new_width, channels * depth_multiplier)``, where output channel
        ``c * depth_multiplier + m`` comes from input channel ``c``. The kernel is stored in
        Keras layout ``(kh, kw, channels, depth_multiplier)``.

    Example:
        >>> DepthwiseConv2D(3, depth_multiplier=2)(torch.zeros(2, 8, 8, 4)).shape
        torch.Size([2, 6, 6, 8])
    """

    _rank = 2

    def __init__(
        self,
        kernel_size: IntOrTuple,
        strides: IntOrTuple = 1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: IntOrTuple = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, activity_regularizer, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = _initializers.get(depthwise_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.depthwise_regularizer = _regularizers.get(depthwise_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.depthwise_constraint = _constraints.get(depthwise_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        channels = self._known_channels(input_shape)
        self.compute_output_shape(input_shape)
        self._in_channels = channels
        self.kernel = self.add_weight(
            self.kernel_size + (channels, self.depth_multiplier), self.depthwise_initializer,
            regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint,
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                (channels * self.depth_multiplier,), self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias",
            )
        else:
            self.bias = None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x, padding = self._channels_first_padded(inputs)
        kernel = self.kernel
        try:
            out = F.conv2d(x, _depthwise_to_torch(kernel), self.bias, self.strides, padding,
                           self.dilation_rate, kernel.shape[2])
        except RuntimeError:
            self._explain(inputs)
            raise
        return self._finish(out)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        channels, spatial = self._split_shape(input_shape)
        out_channels = None if channels is None else channels * self.depth_multiplier
        return self._assemble(input_shape[0], self._output_spatial(spatial, input_shape),
                              out_channels)

    def get_config(self) -> dict:
        base = self._base_config()
        return {
            **super().get_config(),
            "kernel_size": base["kernel_size"],
            "strides": base["strides"],
            "padding": base["padding"],
            "depth_multiplier": self.depth_multiplier,
            "data_format": base["data_format"],
            "dilation_rate": base["dilation_rate"],
            **self._tail_config(),
            "depthwise_initializer": serialize(self.depthwise_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "depthwise_regularizer": serialize(self.depthwise_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "depthwise_constraint": serialize(self.depthwise_constraint),
            "bias_constraint": serialize(self.bias_constraint),
        }


def _depthwise_to_torch(kernel: torch.Tensor) -> torch.Tensor:
    """Keras (kh, kw, in, m) -> torch grouped weight (in * m, 1, kh, kw), channel c*m + j."""
    kh, kw, channels, multiplier = kernel.shape
    return kernel.reshape(kh, kw, 1, channels * multiplier).permute(3, 2, 0, 1)


class SeparableConv2D(_BaseConv):
    """Depthwise separable 2D convolution: a depthwise convolution (each channel on its own,
    ``depth_multiplier`` filters per channel) followed by a 1x1 pointwise convolution mixing
    the channels into ``filters`` outputs.

    Args:
        filters: positive int, number of output channels.
        kernel_size: int or tuple of 2 ints, the depthwise window.
        strides: int or tuple of 2 ints (default 1), applied by the depthwise step.
        padding: ``'valid'`` (default) or ``'same'`` (extra padding at the end, as in Keras).
        data_format: ``'channels_last'`` or ``'channels_first'``; default
            ``config.image_data_format()``.
        dilation_rate: int or tuple of 2 ints (default 1).
        depth_multiplier: positive int, depthwise filters per input channel (default 1).
        activation: activation name or function (default: none).
        use_bias: whether to add a bias vector after the pointwise step (default True).
        depthwise_initializer, pointwise_initializer: default ``'glorot_uniform'``.
        bias_initializer: default ``'zeros'``.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer:
            penalties (default None).
        depthwise_constraint, pointwise_constraint, bias_constraint: projections after each
            optimizer step.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ...).

    Shape:
        Input ``(batch, height, width, channels)``; output
        ``(batch, new_height, new_width, filters)``. Weights in Keras layout and order:
        depthwise ``(kh, kw, channels, depth_multiplier)``, pointwise
        ``(1, 1, channels * depth_multiplier, filters)``, bias ``(filters,)``.

    Example:
        >>> SeparableConv2D(16, 3, padding="same")(torch.zeros(2, 8, 8, 4)).shape
        torch.Size([2, 8, 8, 16])
    """

    _rank = 2

    def __init__(
        self,
        filters: int,
        kernel_size: IntOrTuple,
        strides: IntOrTuple = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: IntOrTuple = 1,
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        filters = _positive_int(filters, "filters")
        depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, activity_regularizer, **kwargs)
        self.filters = filters
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = _initializers.get(depthwise_initializer)
        self.pointwise_initializer = _initializers.get(pointwise_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.depthwise_regularizer = _regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = _regularizers.get(pointwise_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.depthwise_constraint = _constraints.get(depthwise_constraint)
        self.pointwise_constraint = _constraints.get(pointwise_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple) -> None:
        channels = self._known_channels(input_shape)
        self.compute_output_shape(input_shape)
        self._in_channels = channels
        self.depthwise_kernel = self.add_weight(
            self.kernel_size + (channels, self.depth_multiplier), self.depthwise_initializer,
            regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint,
            name="depthwise_kernel",
        )
        self.pointwise_kernel = self.add_weight(
            (1, 1, channels * self.depth_multiplier, self.filters), self.pointwise_initializer,
            regularizer=self.pointwise_regularizer, constraint=self.pointwise_constraint,
            name="pointwise_kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                (self.filters,), self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                name="bias",
            )
        else:
            self.bias = None

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x, padding = self._channels_first_padded(inputs)
        depthwise = self.depthwise_kernel
        try:
            mid = F.conv2d(x, _depthwise_to_torch(depthwise), None, self.strides, padding,
                           self.dilation_rate, depthwise.shape[2])
        except RuntimeError:
            self._explain(inputs)
            raise
        out = F.conv2d(mid, self.pointwise_kernel.permute(3, 2, 0, 1), self.bias)
        return self._finish(out)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        _, spatial = self._split_shape(input_shape)
        return self._assemble(input_shape[0], self._output_spatial(spatial, input_shape),
                              self.filters)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            **self._base_config(),
            "depth_multiplier": self.depth_multiplier,
            **self._tail_config(),
            "depthwise_initializer": serialize(self.depthwise_initializer),
            "pointwise_initializer": serialize(self.pointwise_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "depthwise_regularizer": serialize(self.depthwise_regularizer),
            "pointwise_regularizer": serialize(self.pointwise_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "depthwise_constraint": serialize(self.depthwise_constraint),
            "pointwise_constraint": serialize(self.pointwise_constraint),
            "bias_constraint": serialize(self.bias_constraint),
        }
