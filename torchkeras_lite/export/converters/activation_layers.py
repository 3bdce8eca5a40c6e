"""Converters for the activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax."""
from __future__ import annotations

import numpy as np

from ...layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from . import register_converter
from .core import through_transpose


def _op(ctx, op, inputs, x, **attrs):
    return ctx.node(op, inputs, shape=x.shape, dtype=x.dtype, **attrs)


def _c(ctx, value, x):
    return ctx.scalar(value, x.dtype)


def _relu(ctx, x, negative_slope, max_value, threshold):
    """:func:`torchkeras_lite.activations.relu`, branch for branch."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _op(ctx, "Relu", [x], x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0.0:
            return _op(ctx, "LeakyRelu", [x], x, alpha=float(negative_slope))
        arg = (_op(ctx, "Sub", [_c(ctx, threshold, x), x], x) if threshold != 0.0
               else _op(ctx, "Neg", [x], x))
        below = _op(ctx, "Relu", [arg], x)
    clip_max = max_value is not None
    if threshold != 0.0:
        above = ctx.node("Greater", [x, _c(ctx, threshold, x)], shape=x.shape, dtype="bool")
        y = _op(ctx, "Where", [above, x, _c(ctx, 0.0, x)], x)
    elif max_value == 6:
        y = _op(ctx, "Clip", [x, _c(ctx, 0.0, x), _c(ctx, 6.0, x)], x)
        clip_max = False
    else:
        y = _op(ctx, "Relu", [x], x)
    if clip_max:
        y = _op(ctx, "Clip", [y, _c(ctx, 0.0, x), _c(ctx, max_value, x)], x)
    if negative_slope != 0.0:
        y = _op(ctx, "Sub", [y, _op(ctx, "Mul", [_c(ctx, negative_slope, x), below], x)], x)
    return y


@register_converter(ReLU)
def relu_layer(ctx, layer, x):
    return through_transpose(ctx, x, lambda v, _: _relu(
        ctx, v, layer.negative_slope, layer.max_value, layer.threshold))


@register_converter(LeakyReLU)
def leaky_relu_layer(ctx, layer, x):
    return through_transpose(ctx, x, lambda v, _: _op(
        ctx, "LeakyRelu", [v], v, alpha=float(layer.negative_slope)))


@register_converter(ELU)
def elu_layer(ctx, layer, x):
    return through_transpose(ctx, x, lambda v, _: _op(ctx, "Elu", [v], v,
                                                      alpha=float(layer.alpha)))


@register_converter(PReLU)
def prelu_layer(ctx, layer, x):
    # relu(x) - alpha * relu(-x) == PRelu(x, alpha); alpha has the input's sample shape.
    alpha = layer.alpha.detach().cpu().numpy()

    def emit(v, axis_of):
        # alpha, as (1, *sample shape), moved to v's layout.
        full = alpha.reshape((1,) + alpha.shape)
        inverse = [0] * len(axis_of)
        for a, p in enumerate(axis_of):
            inverse[p] = a
        slope = np.transpose(full, inverse)
        return _op(ctx, "PRelu", [v, ctx.const(slope, "alpha")], v)
    return through_transpose(ctx, x, emit)


@register_converter(Softmax)
def softmax_layer(ctx, layer, x, mask=None):
    if mask is None:
        mask = x.mask
    if mask is not None:
        if mask.dtype != "bool":
            mask = ctx.node("Greater", [mask, ctx.scalar(0.5, mask.dtype)], shape=mask.shape,
                            dtype="bool")
        fill = -3e4 if x.dtype == "float16" else -1e9
        x = _op(ctx, "Where", [mask, x, _c(ctx, fill, x)], x)
    dim = layer._dim
    if isinstance(dim, int):
        out = _op(ctx, "Softmax", [x], x, axis=int(dim))
    else:
        # exp(x - logsumexp(x, dims)), computed as exp(x - max) / sum(exp(x - max)).
        axes = [int(a) for a in dim]
        kept = None if x.shape is None else tuple(
            1 if (i in [a % x.rank for a in axes]) else d for i, d in enumerate(x.shape))
        peak = ctx.reduce("ReduceMax", x, axes, True, shape=kept)
        e = _op(ctx, "Exp", [_op(ctx, "Sub", [x, peak], x)], x)
        out = _op(ctx, "Div", [e, ctx.reduce("ReduceSum", e, axes, True, shape=kept)], x)
    if mask is not None:
        out = _op(ctx, "Where", [mask, out, _c(ctx, 0.0, x)], x)
    return out
