"""Converters for the merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot.

They follow :mod:`torchkeras_lite.layers.merging` exactly:
- element-wise layers broadcast numpy-style after giving a lower-rank input size-1 axes right
  after its batch axis (``Unsqueeze``); ONNX broadcasting does the rest;
- masks: the output mask is the OR of the input masks when every input has one; Multiply,
  Maximum and Minimum let masks change the values (only when the ranks agree, as in the layer);
  Concatenate concatenates the (expanded) masks and ORs over the last axis; Dot drops masks;
- Dot is an ``Einsum`` over the two dot axes (with Keras's ``x * rsqrt(sum(x^2))`` L2
  normalisation first when ``normalize=True``).
"""
from __future__ import annotations

import numpy as np

from ... import config as _config
from ...layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                               Subtract)
from ..graph import Value, _onnx
from . import register_converter
from .recurrent import unsupported

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _or_masks(ctx, inputs):
    """The OR of the inputs' masks when every input has one, else None."""
    masks = [x.mask for x in inputs]
    if not masks or any(m is None for m in masks):
        return None
    out = masks[0]
    for m in masks[1:]:
        out = ctx.node("Or", [out, m], shape=out.shape, dtype="bool", hint="mask")
    return out


def _aligned(ctx, layer, inputs):
    """Inputs of equal rank (size-1 axes after the batch axis), and whether masks apply."""
    ranks = [len(x.shape) for x in inputs]
    if len(set(ranks)) == 1 and not layer._reshape_required:
        return list(inputs), True
    rank = max(ranks)
    aligned = []
    for x in inputs:
        missing = rank - len(x.shape)
        if missing:
            x = ctx.unsqueeze(x, list(range(1, 1 + missing)),
                              shape=x.shape[:1] + (1,) * missing + tuple(x.shape[1:]))
        aligned.append(x)
    return aligned, False


def _out_shape(layer, inputs):
    try:
        return tuple(layer.compute_output_shape([tuple(x.shape) for x in inputs]))
    except Exception:  # noqa: BLE001 - shapes are advisory
        return None


def _chain(ctx, op, values, shape):
    out = values[0]
    for v in values[1:]:
        out = ctx.node(op, [out, v], shape=shape, hint=op.lower())
    return out


def _finish(ctx, inputs, out):
    out.mask = _or_masks(ctx, inputs)
    return out


@register_converter(Add)
def add(ctx, layer, inputs, **kwargs):
    aligned, _ = _aligned(ctx, layer, inputs)
    return _finish(ctx, inputs, _chain(ctx, "Add", aligned, _out_shape(layer, inputs)))


@register_converter(Subtract)
def subtract(ctx, layer, inputs, **kwargs):
    aligned, _ = _aligned(ctx, layer, inputs)
    return _finish(ctx, inputs, ctx.node("Sub", aligned, shape=_out_shape(layer, inputs),
                                         hint="sub"))


@register_converter(Average)
def average(ctx, layer, inputs, **kwargs):
    aligned, _ = _aligned(ctx, layer, inputs)
    shape = _out_shape(layer, inputs)
    total = _chain(ctx, "Add", aligned, shape)
    out = ctx.node("Div", [total, ctx.scalar(float(len(inputs)))], shape=shape, hint="average")
    return _finish(ctx, inputs, out)


@register_converter(Multiply)
def multiply(ctx, layer, inputs, **kwargs):
    aligned, use_masks = _aligned(ctx, layer, inputs)
    shape = _out_shape(layer, inputs)
    masks = [x.mask for x in inputs] if use_masks else [None] * len(inputs)
    if all(m is None for m in masks):
        return _finish(ctx, inputs, _chain(ctx, "Mul", aligned, shape))
    every_masked = all(m is not None for m in masks)
    out, out_mask = None, None
    for x, mask in zip(aligned, masks):
        if mask is not None:
            mask = ctx.unsqueeze(mask, [-1])
            x = ctx.node("Where", [mask, x, ctx.scalar(1.0)], hint="masked_as_one")
            if every_masked:
                out_mask = mask if out_mask is None else ctx.node(
                    "Or", [out_mask, mask], dtype="bool", hint="mask")
        out = x if out is None else ctx.node("Mul", [out, x], hint="mul")
    if every_masked:
        out = ctx.node("Where", [out_mask, out, ctx.scalar(0.0)], hint="masked_as_zero")
    out.shape = shape
    return _finish(ctx, inputs, out)


def _extremum(op):
    def convert(ctx, layer, inputs, **kwargs):
        aligned, use_masks = _aligned(ctx, layer, inputs)
        shape = _out_shape(layer, inputs)
        masks = [x.mask for x in inputs] if use_masks else [None] * len(inputs)
        if all(m is None for m in masks):
            return _finish(ctx, inputs, _chain(ctx, op, aligned, shape))

        def expand(m):
            if m is None:
                return None
            return ctx.unsqueeze(m, [-1])

        out = aligned[0]
        out_mask = expand(masks[0])
        for x, mask in zip(aligned[1:], masks[1:]):
            mask = expand(mask)
            if mask is not None:
                x = ctx.node("Where", [mask, x, out], hint="skip_masked")
            if out_mask is not None:
                out = ctx.node("Where", [out_mask, out, x], hint="skip_masked")
            out_mask = ctx.node("Or", [out_mask, mask], dtype="bool", hint="mask") \
                if mask is not None and out_mask is not None else None
            out = ctx.node(op, [out, x], hint=op.lower())
        out.shape = shape
        return _finish(ctx, inputs, out)
    return convert


register_converter(Maximum)(_extremum("Max"))
register_converter(Minimum)(_extremum("Min"))


def _full_mask(ctx, x, mask):
    """The mask of ``x`` broadcast to ``x``'s shape (all True when it has none)."""
    onnx = _onnx()
    shape = ctx.node("Shape", [x], dtype="int64", hint="shape")
    if mask is None:
        true = onnx.numpy_helper.from_array(np.ones((1,), dtype=bool))
        return ctx.node("ConstantOfShape", [shape], value=true, shape=x.shape, dtype="bool",
                        hint="all_true")
    if len(mask.shape) < len(x.shape):
        m = ctx.unsqueeze(mask, [-1])
        return ctx.node("Expand", [m, shape], shape=x.shape, dtype="bool", hint="mask")
    return mask


@register_converter(Concatenate)
def concatenate(ctx, layer, inputs, **kwargs):
    shape = _out_shape(layer, inputs)
    out = ctx.node("Concat", list(inputs), axis=layer.axis, shape=shape, dtype=inputs[0].dtype,
                   hint="concat")
    masks = [x.mask for x in inputs]
    if all(m is None for m in masks):
        return out
    full = [_full_mask(ctx, x, m) for x, m in zip(inputs, masks)]
    joined = ctx.node("Concat", full, axis=layer.axis, dtype="bool", hint="masks")
    as_int = ctx.cast(joined, "int32")
    any_ = ctx.reduce("ReduceMax", as_int, [-1], keepdims=False, hint="any")
    any_.dtype = "int32"
    out.mask = ctx.cast(any_, "bool")
    return out


def _l2_normalize(ctx, x, axis):
    square_sum = ctx.reduce("ReduceSum", ctx.node("Mul", [x, x], shape=x.shape), [axis],
                            keepdims=True, hint="square_sum")
    inv_norm = ctx.node("Reciprocal", [ctx.node("Sqrt", [square_sum])], hint="inv_norm")
    inv_norm = ctx.node("Min", [inv_norm, ctx.scalar(1.0 / _config.epsilon())])
    return ctx.node("Mul", [x, inv_norm], shape=x.shape, hint="normalized")


@register_converter(Dot)
def dot(ctx, layer, inputs, **kwargs):
    x, y = inputs
    ax, ay = layer._axes_for(x.shape, y.shape)
    if layer.normalize:
        x = _l2_normalize(ctx, x, ax)
        y = _l2_normalize(ctx, y, ay)
    rx, ry = len(x.shape), len(y.shape)
    if rx + ry > len(_LETTERS):
        raise unsupported(ctx, layer, f"inputs of rank {rx} and {ry} have more axes than the "
                                      "Einsum equation can name (26).")
    letters = iter(_LETTERS[2:])
    sx = ["a"] + [next(letters) for _ in range(rx - 1)]
    sx[ax] = "b"
    sy = ["a"] + [next(letters) for _ in range(ry - 1)]
    sy[ay] = "b"
    kept = [c for i, c in enumerate(sx) if i != ax] + [c for i, c in enumerate(sy)
                                                       if i not in (0, ay)]
    equation = f"{''.join(sx)},{''.join(sy)}->{''.join(kept)}"
    shape = _out_shape(layer, inputs)
    out = ctx.node("Einsum", [x, y], equation=equation, hint="dot")
    if len(kept) == 1:
        out = ctx.unsqueeze(out, [1])
    out.shape = shape
    out.mask = None
    return Value(out.name, shape, out.dtype)
