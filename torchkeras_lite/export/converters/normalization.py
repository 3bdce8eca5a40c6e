"""Converters for the normalization layers: BatchNormalization (moving statistics),
LayerNormalization, GroupNormalization, RMSNormalization, UnitNormalization.

- BatchNormalization at inference is ``x * scale + shift`` per feature, with
  ``scale = gamma / sqrt(moving_variance + epsilon)`` and ``shift = beta - moving_mean * scale``
  precomputed (in float64) from the layer's weights. It is layout-free, so it runs before a
  pending channels-first transpose (``Conv2D -> BatchNormalization -> MaxPooling2D`` stays
  NCHW).
- LayerNormalization uses the ``LayerNormalization`` op (opset 17+) when its axes are the
  trailing ones, and otherwise (older opsets, other axes, ``rms_scaling``) the same maths in
  ReduceMean/Sub/Mul/Sqrt/Div. RMSNormalization (its ONNX op needs opset 23) and
  GroupNormalization (ONNX's opset-18 op scales per group, not per channel) are always
  decomposed.
"""
from __future__ import annotations

import numpy as np

from ...layers.normalization import (BatchNormalization, GroupNormalization,
                                     LayerNormalization, RMSNormalization, UnitNormalization)
from . import register_converter
from .core import through_transpose


def _to_layout(full: np.ndarray, axis_of) -> np.ndarray:
    """A Keras-layout broadcastable array moved to the layout where Keras axis ``a`` is axis
    ``axis_of[a]``."""
    inverse = [0] * len(axis_of)
    for a, p in enumerate(axis_of):
        inverse[p] = a
    return np.ascontiguousarray(np.transpose(full, inverse))


def _param(layer_weight, axes, rank):
    """A weight over the (sorted) ``axes`` as a Keras-layout array broadcastable to rank."""
    w = layer_weight.detach().cpu().numpy()
    shape = [1] * rank
    for a, size in zip(axes, w.shape):
        shape[a] = size
    return w.reshape(shape)


def _op(ctx, op, inputs, like, shape=None):
    return ctx.node(op, inputs, shape=like.shape if shape is None else shape, dtype=like.dtype)


def _kept(shape, axes):
    return None if shape is None else tuple(1 if i in axes else d for i, d in enumerate(shape))


def _standardize(ctx, v, axes, epsilon, center=True):
    """``(v - mean) / sqrt(var + eps)`` over ``axes`` (biased variance); without ``center``,
    ``v / sqrt(var + eps)`` (LayerNormalization's rms_scaling)."""
    kept = _kept(v.shape, axes)
    mean = ctx.reduce("ReduceMean", v, axes, True, shape=kept)
    d = _op(ctx, "Sub", [v, mean], v)
    var = ctx.reduce("ReduceMean", _op(ctx, "Mul", [d, d], v), axes, True, shape=kept)
    std = _op(ctx, "Sqrt", [_op(ctx, "Add", [var, ctx.scalar(epsilon, v.dtype)], var)], var)
    return _op(ctx, "Div", [d if center else v, std], v)


@register_converter(BatchNormalization)
def batch_normalization(ctx, layer, x, training=None, mask=None):
    axis = layer._axis
    var = layer.moving_variance.detach().cpu().double().numpy()
    mean = layer.moving_mean.detach().cpu().double().numpy()
    scale = 1.0 / np.sqrt(var + layer.epsilon)
    if layer.gamma is not None:
        scale = scale * layer.gamma.detach().cpu().double().numpy()
    shift = -mean * scale
    if layer.beta is not None:
        shift = shift + layer.beta.detach().cpu().double().numpy()
    dtype = np.dtype(x.dtype) if x.dtype in ("float32", "float64", "float16") else np.float32

    def emit(v, axis_of):
        shape = [1] * v.rank
        shape[axis_of[axis]] = -1
        s = ctx.const(scale.reshape(shape).astype(dtype), "scale")
        b = ctx.const(shift.reshape(shape).astype(dtype), "shift")
        return _op(ctx, "Add", [_op(ctx, "Mul", [v, s], v), b], v)
    return through_transpose(ctx, x, emit)


@register_converter(LayerNormalization)
def layer_normalization(ctx, layer, x):
    axes = list(layer._axes)
    rank = x.rank
    gamma = None if layer.gamma is None else _param(layer.gamma, axes, rank)
    beta = None if layer.beta is None else _param(layer.beta, axes, rank)
    trailing = axes == list(range(rank - len(axes), rank))
    if ctx.opset >= 17 and trailing and not layer.rms_scaling:
        norm_shape = tuple(layer._norm_shape)
        g = gamma.reshape(norm_shape) if gamma is not None else np.ones(norm_shape, np.float32)
        inputs = [x, ctx.const(g, "gamma")]
        if beta is not None:
            inputs.append(ctx.const(beta.reshape(norm_shape), "beta"))
        return ctx.node("LayerNormalization", inputs, shape=x.shape, dtype=x.dtype,
                        axis=int(axes[0]), epsilon=float(layer.epsilon), hint="layer_norm")

    def emit(v, axis_of):
        v_axes = sorted(axis_of[a] for a in axes)
        y = _standardize(ctx, v, v_axes, layer.epsilon, center=not layer.rms_scaling)
        if gamma is not None:
            y = _op(ctx, "Mul", [y, ctx.const(_to_layout(gamma, axis_of), "gamma")], y)
        if beta is not None:
            y = _op(ctx, "Add", [y, ctx.const(_to_layout(beta, axis_of), "beta")], y)
        return y
    return through_transpose(ctx, x, emit)


@register_converter(RMSNormalization)
def rms_normalization(ctx, layer, x):
    axes = list(layer._axes)
    scale = _param(layer.scale, axes, x.rank)

    def emit(v, axis_of):
        v_axes = sorted(axis_of[a] for a in axes)
        kept = _kept(v.shape, v_axes)
        ms = ctx.reduce("ReduceMean", _op(ctx, "Mul", [v, v], v), v_axes, True, shape=kept)
        root = _op(ctx, "Sqrt", [_op(ctx, "Add", [ms, ctx.scalar(layer.epsilon, v.dtype)], ms)],
                   ms)
        y = _op(ctx, "Div", [v, root], v)
        return _op(ctx, "Mul", [y, ctx.const(_to_layout(scale, axis_of), "scale")], y)
    return through_transpose(ctx, x, emit)


@register_converter(GroupNormalization)
def group_normalization(ctx, layer, x):
    axis, groups, channels = layer._axis, layer._groups, layer._channels
    rank = x.rank

    def grouped_norm(v, c):
        """Normalize ``v`` whose channel axis is ``c`` (1 or last) within each group."""
        if c == 1:
            target, axes = [0, groups, -1], [2]
        else:
            target, axes = [0, -1, groups, channels // groups], [1, 3]
        g = ctx.reshape(v, target, shape=None)
        y = _standardize(ctx, g, axes, layer.epsilon)
        return ctx.node("Reshape", [y, ctx.node("Shape", [v], shape=(rank,), dtype="int64")],
                        shape=v.shape, dtype=v.dtype)

    def emit(v, axis_of):
        c = axis_of[axis]
        if c in (1, rank - 1):
            y = grouped_norm(v, c)
        else:  # move the channel axis to 1 and back
            order = [0, c] + [i for i in range(1, rank) if i != c]
            back = [order.index(i) for i in range(rank)]
            y = ctx.transpose(grouped_norm(ctx.transpose(v, order), 1), back)
        shape = [1] * rank
        shape[c] = channels
        if layer.gamma is not None:
            gamma = layer.gamma.detach().cpu().numpy().reshape(shape)
            y = _op(ctx, "Mul", [y, ctx.const(gamma, "gamma")], y)
        if layer.beta is not None:
            beta = layer.beta.detach().cpu().numpy().reshape(shape)
            y = _op(ctx, "Add", [y, ctx.const(beta, "beta")], y)
        return y
    return through_transpose(ctx, x, emit)


@register_converter(UnitNormalization)
def unit_normalization(ctx, layer, x):
    rank = x.rank
    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    axes = sorted(a % rank for a in axes)

    def emit(v, axis_of):
        v_axes = sorted(axis_of[a] for a in axes)
        kept = _kept(v.shape, v_axes)
        norm = ctx.reduce("ReduceL2", v, v_axes, True, shape=kept)
        floor = _op(ctx, "Max", [norm, ctx.scalar(1e-12, v.dtype)], norm)
        return _op(ctx, "Div", [v, floor], v)
    return through_transpose(ctx, x, emit)
