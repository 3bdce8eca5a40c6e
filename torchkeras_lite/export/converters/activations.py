"""ONNX forms of the Keras activations (used by Dense/Conv ``activation=`` and Activation).

Each emitter reproduces :mod:`torchkeras_lite.activations` with the function's default
arguments (``activation='name'`` uses the defaults), in standard ONNX ops that exist at every
opset the exporter accepts (13+; ops added later are decomposed: Gelu, Mish...). ``softplus``
and the functions built on it are written in a numerically stable form, as torch computes
them. ``threshold`` has no defaults for its two required arguments, so no model can call it by
name; its emitter says so.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import emit_activation, register_activation
from .core import INT64_MAX, through_transpose, unsupported

# Activations that act on each element alone (so they may run in any layout); the others
# (softmax, log_softmax, glu, sparsemax) work along the last axis.
ELEMENTWISE = {
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "mish", "relu", "relu6",
    "selu", "sigmoid", "silu", "swish", "soft_shrink", "softplus", "softsign", "sparse_plus",
    "sparse_sigmoid", "squareplus", "tanh", "tanh_shrink",
}


def activation_name(activation: Any) -> Any:
    from ... import activations as _activations
    return activation if isinstance(activation, str) else _activations.serialize(activation)


def emit_activation_layout_free(ctx: Any, activation: Any, x: Any) -> Any:
    """:func:`emit_activation`, run before a pending transpose of ``x`` when the activation is
    elementwise (so channels-first chains stay channels-first)."""
    name = activation_name(activation)
    if name in (None, "linear"):
        return x
    if isinstance(name, str) and name in ELEMENTWISE:
        return through_transpose(ctx, x, lambda v, _: emit_activation(ctx, activation, v))
    return emit_activation(ctx, activation, x)


# ------------------------------------------------------------------------------ small helpers
def _op(ctx, op, inputs, x, **attrs):
    return ctx.node(op, inputs, shape=x.shape, dtype=x.dtype, **attrs)


def _c(ctx, value, x):
    return ctx.scalar(value, x.dtype)


def _softplus(ctx, x):
    """``relu(x) + log(1 + exp(-|x|))``: torch's softplus (linear above 20) to float32
    rounding, without overflow."""
    neg_abs = _op(ctx, "Neg", [_op(ctx, "Abs", [x], x)], x)
    log1p = _op(ctx, "Log", [_op(ctx, "Add", [_op(ctx, "Exp", [neg_abs], x), _c(ctx, 1.0, x)],
                                  x)], x)
    return _op(ctx, "Add", [_op(ctx, "Relu", [x], x), log1p], x)


def _hard_sigmoid(ctx, x):
    return _op(ctx, "HardSigmoid", [x], x, alpha=1.0 / 6.0, beta=0.5)


# ------------------------------------------------------------------------------ emitters
@register_activation("relu")
def relu(ctx, x):
    return _op(ctx, "Relu", [x], x)


@register_activation("relu6")
def relu6(ctx, x):
    return _op(ctx, "Clip", [x, _c(ctx, 0.0, x), _c(ctx, 6.0, x)], x)


@register_activation("sigmoid")
def sigmoid(ctx, x):
    return _op(ctx, "Sigmoid", [x], x)


@register_activation("tanh")
def tanh(ctx, x):
    return _op(ctx, "Tanh", [x], x)


@register_activation("softmax")
def softmax(ctx, x):
    return _op(ctx, "Softmax", [x], x, axis=-1)


@register_activation("log_softmax")
def log_softmax(ctx, x):
    return _op(ctx, "LogSoftmax", [x], x, axis=-1)


@register_activation("elu")
def elu(ctx, x):
    return _op(ctx, "Elu", [x], x, alpha=1.0)


@register_activation("selu")
def selu(ctx, x):
    return _op(ctx, "Selu", [x], x)


@register_activation("celu")
def celu(ctx, x):
    return _op(ctx, "Celu", [x], x, alpha=1.0)


@register_activation("softplus")
def softplus(ctx, x):
    return _softplus(ctx, x)


@register_activation("softsign")
def softsign(ctx, x):
    return _op(ctx, "Softsign", [x], x)


@register_activation("silu", "swish")
def silu(ctx, x):
    return _op(ctx, "Mul", [x, _op(ctx, "Sigmoid", [x], x)], x)


@register_activation("gelu")
def gelu(ctx, x):
    # torch (exact form): x * 0.5 * (1 + erf(x / sqrt(2))); ONNX Gelu needs opset 20.
    erf = _op(ctx, "Erf", [_op(ctx, "Mul", [x, _c(ctx, 1.0 / math.sqrt(2.0), x)], x)], x)
    half_x = _op(ctx, "Mul", [x, _c(ctx, 0.5, x)], x)
    return _op(ctx, "Mul", [half_x, _op(ctx, "Add", [erf, _c(ctx, 1.0, x)], x)], x)


@register_activation("exponential")
def exponential(ctx, x):
    if x.dtype not in ("float32", "float64", "float16", "bfloat16"):
        x = ctx.cast(x, "float32")
    return _op(ctx, "Exp", [x], x)


@register_activation("hard_sigmoid")
def hard_sigmoid(ctx, x):
    return _hard_sigmoid(ctx, x)


@register_activation("hard_silu", "hard_swish")
def hard_silu(ctx, x):
    if ctx.opset >= 14:
        return _op(ctx, "HardSwish", [x], x)
    return _op(ctx, "Mul", [x, _hard_sigmoid(ctx, x)], x)


@register_activation("hard_tanh")
def hard_tanh(ctx, x):
    return _op(ctx, "Clip", [x, _c(ctx, -1.0, x), _c(ctx, 1.0, x)], x)


@register_activation("hard_shrink")
def hard_shrink(ctx, x):
    return _op(ctx, "Shrink", [x], x, lambd=0.5, bias=0.0)


@register_activation("soft_shrink")
def soft_shrink(ctx, x):
    return _op(ctx, "Shrink", [x], x, lambd=0.5, bias=0.5)


@register_activation("tanh_shrink")
def tanh_shrink(ctx, x):
    return _op(ctx, "Sub", [x, _op(ctx, "Tanh", [x], x)], x)


@register_activation("leaky_relu")
def leaky_relu(ctx, x):
    return _op(ctx, "LeakyRelu", [x], x, alpha=0.2)


@register_activation("log_sigmoid")
def log_sigmoid(ctx, x):
    # min(x, 0) - log(1 + exp(-|x|)), stable as torch's logsigmoid.
    neg_abs = _op(ctx, "Neg", [_op(ctx, "Abs", [x], x)], x)
    log1p = _op(ctx, "Log", [_op(ctx, "Add", [_op(ctx, "Exp", [neg_abs], x), _c(ctx, 1.0, x)],
                                  x)], x)
    return _op(ctx, "Sub", [_op(ctx, "Min", [x, _c(ctx, 0.0, x)], x), log1p], x)


@register_activation("mish")
def mish(ctx, x):
    return _op(ctx, "Mul", [x, _op(ctx, "Tanh", [_softplus(ctx, x)], x)], x)


@register_activation("glu")
def glu(ctx, x):
    half = None if x.shape is None or x.shape[-1] is None else x.shape[-1] // 2
    shape = None if x.shape is None else x.shape[:-1] + (half,)
    attrs = {"num_outputs": 2} if ctx.opset >= 18 else {}
    a, b = ctx.node("Split", [x], axis=-1, outputs=2, shape=[shape, shape], dtype=x.dtype,
                    hint="glu_split", **attrs)
    return ctx.node("Mul", [a, ctx.node("Sigmoid", [b], shape=shape, dtype=x.dtype)],
                    shape=shape, dtype=x.dtype)


@register_activation("squareplus")
def squareplus(ctx, x):
    root = _op(ctx, "Sqrt", [_op(ctx, "Add", [_op(ctx, "Mul", [x, x], x), _c(ctx, 4.0, x)], x)],
               x)
    return _op(ctx, "Div", [_op(ctx, "Add", [x, root], x), _c(ctx, 2.0, x)], x)


@register_activation("sparse_plus")
def sparse_plus(ctx, x):
    low = ctx.node("LessOrEqual", [x, _c(ctx, -1.0, x)], shape=x.shape, dtype="bool")
    mid = ctx.node("Less", [x, _c(ctx, 1.0, x)], shape=x.shape, dtype="bool")
    t = _op(ctx, "Add", [x, _c(ctx, 1.0, x)], x)
    quad = _op(ctx, "Mul", [_c(ctx, 0.25, x), _op(ctx, "Mul", [t, t], x)], x)
    inner = _op(ctx, "Where", [mid, quad, x], x)
    return _op(ctx, "Where", [low, _c(ctx, 0.0, x), inner], x)


@register_activation("sparse_sigmoid")
def sparse_sigmoid(ctx, x):
    low = ctx.node("LessOrEqual", [x, _c(ctx, -1.0, x)], shape=x.shape, dtype="bool")
    high = ctx.node("GreaterOrEqual", [x, _c(ctx, 1.0, x)], shape=x.shape, dtype="bool")
    lin = _op(ctx, "Mul", [_c(ctx, 0.5, x), _op(ctx, "Add", [x, _c(ctx, 1.0, x)], x)], x)
    inner = _op(ctx, "Where", [high, _c(ctx, 1.0, x), lin], x)
    return _op(ctx, "Where", [low, _c(ctx, 0.0, x), inner], x)


@register_activation("sparsemax")
def sparsemax(ctx, x):
    """Sort (TopK), cumulative sums, support size and threshold along the last axis, as
    :func:`torchkeras_lite.activations.sparsemax` computes them."""
    n = None if x.shape is None else x.shape[-1]
    if n is not None:
        k_count = ctx.ints([n], "k")
        ks = ctx.const(np.arange(1, n + 1, dtype=x.dtype), "arange")
    else:
        shape = ctx.node("Shape", [x], shape=(None,), dtype="int64")
        k_count = ctx.node("Slice", [shape, ctx.ints([-1], "starts"),
                                     ctx.ints([INT64_MAX], "ends")],
                           shape=(1,), dtype="int64")
        count = ctx.node("Squeeze", [k_count, ctx.ints([0], "axes")], shape=(), dtype="int64")
        count_f = ctx.cast(count, x.dtype)
        ks = ctx.node("Range", [_c(ctx, 1.0, x), ctx.node("Add", [count_f, _c(ctx, 1.0, x)],
                                                            shape=(), dtype=x.dtype),
                                _c(ctx, 1.0, x)], shape=(None,), dtype=x.dtype)
    z, _ = ctx.node("TopK", [x, k_count], axis=-1, largest=1, sorted=1, outputs=2,
                    shape=[x.shape, x.shape], dtype=x.dtype, hint="sort")
    cumsum = _op(ctx, "CumSum", [z, ctx.const(np.asarray(-1, dtype=np.int64), "axis")], x)
    bound = _op(ctx, "Div", [_op(ctx, "Sub", [cumsum, _c(ctx, 1.0, x)], x), ks], x)
    support = ctx.node("Greater", [_op(ctx, "Sub", [z, bound], x), _c(ctx, 0.0, x)],
                       shape=x.shape, dtype="bool")
    kept = x.shape[:-1] + (1,) if x.shape is not None else None
    size = ctx.reduce("ReduceSum", ctx.cast(support, x.dtype), [-1], True, shape=kept)
    total = ctx.reduce("ReduceSum", _op(ctx, "Where", [support, z, _c(ctx, 0.0, x)], x), [-1],
                       True, shape=kept)
    tau = ctx.node("Div", [ctx.node("Sub", [total, _c(ctx, 1.0, x)], shape=kept, dtype=x.dtype),
                           size], shape=kept, dtype=x.dtype)
    return _op(ctx, "Relu", [_op(ctx, "Sub", [x, tau], x)], x)


@register_activation("threshold")
def threshold(ctx, x):
    raise unsupported(
        ctx, "activation 'threshold' needs its arguments threshold and default_value, which "
        "activation='threshold' cannot give (the layer cannot run either). Use a custom layer "
        "calling activations.threshold(x, threshold, default_value) and register a converter "
        "for it.")
