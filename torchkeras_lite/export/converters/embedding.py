"""Converter for Embedding: ``Gather`` of the embeddings matrix rows.

Float indices are truncated to int64 (``Cast``, as ``inputs.long()``); negative indices count
from the end in both ``Gather`` and our layer. With ``mask_zero=True`` the output carries the
mask ``inputs != 0`` (compared on the original inputs, as the layer does).
"""
from __future__ import annotations

from ...layers.embedding import Embedding
from . import register_converter


@register_converter(Embedding)
def embedding(ctx, layer, inputs, **kwargs):
    indices = inputs if inputs.dtype in ("int64", "int32") else ctx.cast(inputs, "int64")
    shape = None if inputs.shape is None else tuple(inputs.shape) + (layer.output_dim,)
    out = ctx.node("Gather", [ctx.const(layer.embeddings, "embeddings"), indices], axis=0,
                   shape=shape, hint="embedding")
    if layer.mask_zero:
        zero = ctx.const(0, "zero", dtype=inputs.dtype)
        equal = ctx.node("Equal", [inputs, zero], shape=inputs.shape, dtype="bool",
                         hint="is_padding")
        out.mask = ctx.node("Not", [equal], shape=inputs.shape, dtype="bool", hint="mask")
    return out
