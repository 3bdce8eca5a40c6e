"""Converters for the preprocessing layers: Normalization and Rescaling.

Both cast integer inputs to the layer's float dtype first, as their ``call`` does.
Normalization's mean and denominator ``max(sqrt(variance), epsilon)`` are taken from the layer
(adapted or given) in the same float32 arithmetic as ``call``, so ``(x - mean) / denominator``
(or, with ``invert=True``, ``mean + x * denominator``) matches it exactly.
"""
from __future__ import annotations

import torch

from ...layers.preprocessing import Normalization, Rescaling
from . import register_converter
from .core import unsupported


def _float_input(ctx, layer, x):
    dtype = str(layer.dtype).replace("torch.", "")
    return ctx.cast(x, dtype)


@register_converter(Normalization)
def normalization(ctx, layer, x):
    if 0 in layer._keep:
        raise unsupported(
            ctx, f"axis={layer.axis} keeps separate statistics for each position of the batch "
            "axis, so the layer only works with its build batch size; an ONNX model has a "
            "dynamic batch axis.")
    x = _float_input(ctx, layer, x)
    with torch.no_grad():
        mean, denominator = layer.statistics()
    # Drop the leading size-1 batch axis so the constants broadcast against any batch.
    mean_c = ctx.const(mean.detach().reshape(tuple(mean.shape)[1:]), "mean")
    den_c = ctx.const(denominator.detach().reshape(tuple(denominator.shape)[1:]), "denominator")
    if layer.invert:
        scaled = ctx.node("Mul", [x, den_c], shape=x.shape, dtype=x.dtype)
        return ctx.node("Add", [mean_c, scaled], shape=x.shape, dtype=x.dtype)
    centered = ctx.node("Sub", [x, mean_c], shape=x.shape, dtype=x.dtype)
    return ctx.node("Div", [centered, den_c], shape=x.shape, dtype=x.dtype)


@register_converter(Rescaling)
def rescaling(ctx, layer, x):
    x = _float_input(ctx, layer, x)
    dtype = x.dtype
    scale = layer._scale
    scale = ctx.scalar(scale, dtype) if isinstance(scale, float) else ctx.const(scale, "scale")
    y = ctx.node("Mul", [x, scale], shape=x.shape, dtype=dtype)
    offset = layer._offset
    if offset is None:
        return y
    offset = ctx.scalar(offset, dtype) if isinstance(offset, float) else ctx.const(offset,
                                                                                     "offset")
    return ctx.node("Add", [y, offset], shape=x.shape, dtype=dtype)
