"""Converters for the core layers: InputLayer, Dense, Activation, Dropout, Flatten, Reshape."""
from __future__ import annotations

import numpy as np

from ...layers.core import Activation, Dense, Dropout, Flatten, Reshape
from ...layers.input_layer import InputLayer
from . import emit_activation, register_converter


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
    return emit_activation(ctx, layer.activation, x)


@register_converter(Flatten)
def flatten(ctx, layer, x):
    if x.rank <= 2:
        return x
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        x = ctx.transpose(x, [0] + list(range(2, x.rank)) + [1])
    size = None if any(d is None for d in x.shape[1:]) else int(np.prod(x.shape[1:]))
    return ctx.reshape(x, [0, -1], shape=(x.shape[0], size))


@register_converter(Reshape)
def reshape(ctx, layer, x):
    target = [int(d) for d in layer.target_shape]
    return ctx.reshape(x, [0] + target, shape=(x.shape[0],) + tuple(
        None if d == -1 else d for d in target))
