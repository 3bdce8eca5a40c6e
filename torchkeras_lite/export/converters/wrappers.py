"""Converters for the wrappers: Bidirectional and TimeDistributed.

Bidirectional converts its forward and backward layers with their own converters (masks and
initial states split as the layer splits them), flips the backward sequence back to input
order when returning sequences, and merges (``concat``/``sum``/``mul``/``ave``/None).
TimeDistributed folds the time axis into the batch (``Reshape``), converts the inner layer
with :func:`~torchkeras_lite.export.onnx_export.convert_layer`, and unfolds; batch and time may
both be dynamic.
"""
from __future__ import annotations

import numpy as np

from ...layers.wrappers import Bidirectional, TimeDistributed
from ..graph import Value
from . import register_converter
from .recurrent import reverse_time, unsupported

_INT64_MAX = int(np.iinfo(np.int64).max)


@register_converter(Bidirectional)
def bidirectional(ctx, layer, sequences, initial_state=None, mask=None, **kwargs):
    from ..onnx_export import convert_layer

    if layer.stateful:
        raise unsupported(ctx, layer, (
            "stateful=True carries states from one batch to the next, which a stateless ONNX "
            "graph cannot do. Rebuild the model with stateful=False (same weights) to export "
            "it."))
    if mask is None:
        mask = sequences.mask
    forward_kwargs, backward_kwargs = {"mask": mask}, {"mask": mask}
    if initial_state is not None:
        states = [initial_state] if isinstance(initial_state, Value) else list(initial_state)
        half = len(states) // 2
        forward_kwargs["initial_state"] = states[:half]
        backward_kwargs["initial_state"] = states[half:]
    y = convert_layer(ctx, layer.forward_layer, (sequences,), forward_kwargs)
    y_rev = convert_layer(ctx, layer.backward_layer, (sequences,), backward_kwargs)
    states = []
    if layer.return_state:
        states = list(y[1:]) + list(y_rev[1:])
        y, y_rev = y[0], y_rev[0]
    if layer.return_sequences:
        y_rev = reverse_time(ctx, y_rev)
    shape = y.shape
    mode = layer.merge_mode
    if mode == "concat":
        width = None if shape is None or y_rev.shape is None or None in (
            shape[-1], y_rev.shape[-1]) else shape[-1] + y_rev.shape[-1]
        out = ctx.node("Concat", [y, y_rev], axis=-1,
                       shape=None if shape is None else shape[:-1] + (width,), hint="concat")
    elif mode == "sum":
        out = ctx.node("Add", [y, y_rev], shape=shape, hint="sum")
    elif mode == "ave":
        out = ctx.node("Div", [ctx.node("Add", [y, y_rev], shape=shape), ctx.scalar(2.0)],
                       shape=shape, hint="ave")
    elif mode == "mul":
        out = ctx.node("Mul", [y, y_rev], shape=shape, hint="mul")
    else:
        out = None
    outputs = [out] if mode is not None else [y, y_rev]
    output_mask = mask if layer.return_sequences else None
    for value in outputs:
        value.mask = output_mask
    for value in states:
        value.mask = None
    if not layer.return_state and mode is not None:
        return out
    return outputs + states


@register_converter(TimeDistributed)
def time_distributed(ctx, layer, inputs, mask=None, **kwargs):
    from ..onnx_export import UnsupportedLayerError, convert_layer

    x = inputs
    if x.shape is None or len(x.shape) < 3:
        raise unsupported(ctx, layer, (
            f"TimeDistributed needs an input of known rank >= 3 (batch, timesteps, ...), got "
            f"shape {x.shape}."))
    if mask is None:
        mask = x.mask
    rest = tuple(x.shape[2:])
    x_shape = ctx.node("Shape", [x], dtype="int64", hint="input_shape")
    if all(d is not None for d in rest):
        folded = ctx.reshape(x, [-1, *rest], shape=(None,) + rest)
    else:
        tail = ctx.node("Slice", [x_shape, ctx.ints([2]), ctx.ints([_INT64_MAX])],
                        dtype="int64", hint="tail")
        target = ctx.node("Concat", [ctx.ints([-1]), tail], axis=0, dtype="int64")
        folded = ctx.node("Reshape", [x, target], shape=(None,) + rest, dtype=x.dtype,
                          hint="fold")
    folded = Value(folded.name, (None,) + rest, x.dtype)
    inner_kwargs = {}
    if mask is not None and layer.layer._call_takes_mask:
        mask_rest = tuple(mask.shape[2:]) if mask.shape is not None else ()
        if any(d is None for d in mask_rest):
            raise unsupported(ctx, layer, "a mask with dynamic axes beyond (batch, time).")
        inner_kwargs["mask"] = ctx.reshape(mask, [-1, *mask_rest],
                                           shape=(None,) + mask_rest)
    y = convert_layer(ctx, layer.layer, (folded,), inner_kwargs)
    if not isinstance(y, Value):
        raise UnsupportedLayerError(
            f"TimeDistributed layer {layer.name!r}: the wrapped layer {layer.layer.name!r} "
            "must return a single tensor.")
    try:
        inner = tuple(layer.layer.compute_output_shape((None,) + rest))
    except Exception:  # noqa: BLE001 - shapes are advisory
        inner = y.shape
    head = ctx.node("Slice", [x_shape, ctx.ints([0]), ctx.ints([2])], dtype="int64",
                    hint="batch_time")
    if inner is not None and all(d is not None for d in inner[1:]):
        y_tail = ctx.ints(list(inner[1:]), "inner_shape")
    else:
        y_tail = ctx.node("Slice", [ctx.node("Shape", [y], dtype="int64"), ctx.ints([1]),
                                    ctx.ints([_INT64_MAX])], dtype="int64", hint="inner_tail")
    target = ctx.node("Concat", [head, y_tail], axis=0, dtype="int64")
    out_shape = None if inner is None else (x.shape[0], x.shape[1]) + tuple(inner[1:])
    return ctx.node("Reshape", [y, target], shape=out_shape, dtype=y.dtype, hint="unfold")
