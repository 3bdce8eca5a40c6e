"""Converters for the core layers: InputLayer, Dense, Activation, Dropout, Flatten, Reshape.

Also the layout helpers the image-layer converters share. Values carry Keras-layout
(channels-last) shapes; ONNX's Conv/Pool ops want channels-first, so converters go through
:func:`to_channels_first` / :func:`from_channels_first` (``ctx.transpose`` cancels a transpose
that undoes the previous one, so consecutive channels-first ops keep NCHW between them), and
layout-free ops (elementwise maths, padding, slicing, per-channel scaling) run through
:func:`through_transpose` on the tensor *before* a pending transpose, so that
``Conv2D -> BatchNormalization -> ReLU -> MaxPooling2D`` stays channels-first throughout.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...layers.core import Activation, Dense, Dropout, Flatten, Reshape
from ...layers.input_layer import InputLayer
from ..graph import Value
from . import emit_activation, register_converter

INT64_MAX = np.iinfo(np.int64).max


# ------------------------------------------------------------------------------ layout helpers
def unsupported(ctx: Any, message: str) -> Exception:
    """An :class:`UnsupportedLayerError` naming the layer being converted."""
    from ..onnx_export import UnsupportedLayerError
    return UnsupportedLayerError(
        f"Layer {ctx.scope!r} ({ctx.scope_class}) cannot be exported to ONNX exactly: {message}")


def transposed_source(ctx: Any, x: Value) -> tuple[Value, tuple[int, ...]] | None:
    """``(source, perm)`` when ``x`` is ``Transpose(source, perm)`` emitted by
    ``ctx.transpose``, else None. Axis ``a`` of ``x`` is axis ``perm[a]`` of ``source``."""
    entry = ctx.transpose_input(x)
    if entry is None:
        return None
    name, perm = entry
    shape = None
    if x.shape is not None:
        shape = [None] * len(perm)
        for a, p in enumerate(perm):
            shape[p] = x.shape[a]
    return Value(name, shape, x.dtype), tuple(perm)


def through_transpose(ctx: Any, x: Value, fn: Callable[[Value, list[int]], Value]) -> Value:
    """Apply a layout-free op to ``x``: ``fn(v, axis_of)`` gets the tensor to work on and where
    each Keras axis of ``x`` lies in it (``axis_of[a]``), and returns its result in that same
    layout. When ``x`` came from a pending transpose, ``fn`` runs on the tensor before it and
    the transpose is re-applied after (and may then cancel against the next layer's)."""
    source = transposed_source(ctx, x)
    if source is None or x.shape is None:
        return fn(x, list(range(x.rank)))
    v, perm = source
    return ctx.transpose(fn(v, list(perm)), perm)


def to_channels_first(ctx: Any, x: Value, data_format: str) -> Value:
    """``x`` (Keras layout in ``data_format``) as channels-first."""
    if data_format == "channels_first":
        return x
    r = x.rank
    return ctx.transpose(x, (0, r - 1, *range(1, r - 1)))


def from_channels_first(ctx: Any, y: Value, data_format: str) -> Value:
    """Channels-first ``y`` back in ``data_format``."""
    if data_format == "channels_first":
        return y
    r = y.rank
    return ctx.transpose(y, (0, *range(2, r), 1))


def slice_axis(ctx: Any, x: Value, axis: int, start: int, end: int | None,
               shape: Any = None) -> Value:
    """``x[..., start:end, ...]`` along ``axis`` (``end`` None: to the end)."""
    stop = INT64_MAX if end is None else end
    return ctx.node("Slice", [x, ctx.ints([start], "starts"), ctx.ints([stop], "ends"),
                              ctx.ints([axis], "axes")], shape=shape, dtype=x.dtype,
                    hint="slice")


# ------------------------------------------------------------------------------ converters
@register_converter(InputLayer, Dropout)
def identity(ctx, layer, x, **kwargs):
    return x


@register_converter(Dense)
def dense(ctx, layer, x):
    kernel = ctx.const(layer.kernel, "kernel")
    out_shape = x.shape[:-1] + (layer.units,)
    if x.rank == 2 and layer.bias is not None:
        y = ctx.node("Gemm", [x, kernel, ctx.const(layer.bias, "bias")], shape=out_shape)
    else:
        y = ctx.node("MatMul", [x, kernel], shape=out_shape)
        if layer.bias is not None:
            y = ctx.node("Add", [y, ctx.const(layer.bias, "bias")], shape=out_shape)
    return emit_activation(ctx, layer.activation, y)


@register_converter(Activation)
def activation(ctx, layer, x):
    from .activations import emit_activation_layout_free
    return emit_activation_layout_free(ctx, layer.activation, x)


@register_converter(Flatten)
def flatten(ctx, layer, x):
    if x.rank == 2:
        return x
    if x.rank == 1:
        return ctx.unsqueeze(x, [1], shape=(x.shape[0], 1))
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        x = ctx.transpose(x, [0] + list(range(2, x.rank)) + [1])
    size = None if any(d is None for d in x.shape[1:]) else int(np.prod(x.shape[1:]))
    return ctx.reshape(x, [0, -1], shape=(x.shape[0], size))


@register_converter(Reshape)
def reshape(ctx, layer, x):
    target = [int(d) for d in layer.target_shape]
    shape = (x.shape[0],) + tuple(None if d == -1 else d for d in target)
    if x.shape is not None and all(d is not None for d in x.shape[1:]):
        try:
            shape = (x.shape[0],) + tuple(layer._resolve(tuple(x.shape)))
        except ValueError:
            pass
    return ctx.reshape(x, [0] + target, shape=shape)
