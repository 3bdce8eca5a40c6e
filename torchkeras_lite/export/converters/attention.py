"""Converters for the attention layers: MultiHeadAttention, Attention, AdditiveAttention.

Inference semantics (dropout off), matching :mod:`torchkeras_lite.layers.attention` exactly:

- MultiHeadAttention: the projections are MatMul + bias (+ Reshape to heads); scores and the
  weighted sum are ``Einsum`` with the layer's own equations (any ``attention_axes``). Masks
  (query/value/key masks, carried or given, ``attention_mask``, ``use_causal_mask``,
  ``sliding_window``) are ANDed as the layer does. Where the layer takes torch's fused kernel
  (rank-3 inputs, no scores returned) masked scores get the fused kernel's additive bias (a
  fully masked query row then averages all values; with ``dropout > 0`` it is zeroed as the
  layer zeroes it); on the explicit path masked scores are filled with -1e9 and masked weights
  zeroed, so fully masked rows output zeros. ``return_attention_scores`` returns those weights.
- Attention/AdditiveAttention: dot/concat/additive scores, masked scores minus 1e9 (value mask
  and causal mask), softmax over the key axis, the query mask zeroing output rows.
"""
from __future__ import annotations

import numpy as np

from ...layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from . import register_converter

_SOFTMAX_FILL = -1e9
_SDPA_FILL = -0.7 * 3.38953e38


def _bool(ctx, mask):
    return mask if mask is None or mask.dtype == "bool" else ctx.cast(mask, "bool")


def _length(ctx, x, axis):
    """The size of ``x``'s ``axis`` as a 0-d int64 (dynamic)."""
    shape = ctx.node("Shape", [x], dtype="int64", hint="shape")
    return ctx.node("Gather", [shape, ctx.const(np.asarray(axis, dtype=np.int64), "axis")],
                    axis=0, dtype="int64", hint="length")


def _positions(ctx, query, value, q_axis=1, k_axis=1):
    """(rows (T, 1), cols (S,)) int64 positions of query and key steps."""
    t, s = query.shape[q_axis], value.shape[k_axis]
    zero = ctx.const(np.asarray(0, dtype=np.int64), "zero")
    one = ctx.const(np.asarray(1, dtype=np.int64), "one")
    if t is not None:
        rows = ctx.const(np.arange(t, dtype=np.int64)[:, None], "rows")
    else:
        rows = ctx.unsqueeze(ctx.node("Range", [zero, _length(ctx, query, q_axis), one],
                                      dtype="int64", hint="rows"), [1])
    if s is not None:
        cols = ctx.const(np.arange(s, dtype=np.int64), "cols")
    else:
        cols = ctx.node("Range", [zero, _length(ctx, value, k_axis), one], dtype="int64",
                        hint="cols")
    return rows, cols


def causal_mask(ctx, query, value, q_axis=1, k_axis=1):
    """``(1, T, S)`` bool, True where key position <= query position (T: the query's
    ``q_axis``, S: the key's ``k_axis``)."""
    t, s = query.shape[q_axis], value.shape[k_axis]
    if t is not None and s is not None:
        return ctx.const(np.tril(np.ones((t, s), dtype=bool))[None], "causal_mask")
    rows, cols = _positions(ctx, query, value, q_axis, k_axis)
    allowed = ctx.node("LessOrEqual", [cols, rows], dtype="bool", hint="causal")
    return ctx.unsqueeze(allowed, [0], shape=(1, t, s))


def _sliding_window(ctx, query, value, window):
    t, s = query.shape[1], value.shape[1]
    if t is not None and s is not None:
        rows, cols = np.arange(t)[:, None], np.arange(s)
        return ctx.const((np.abs(rows - cols) < window)[None], "window_mask")
    rows, cols = _positions(ctx, query, value)
    distance = ctx.node("Abs", [ctx.node("Sub", [rows, cols], dtype="int64")], dtype="int64")
    allowed = ctx.node("Less", [distance, ctx.const(np.asarray(window, dtype=np.int64))],
                       dtype="bool", hint="window")
    return ctx.unsqueeze(allowed, [0], shape=(1, t, s))


def _unsqueeze(ctx, m, axis):
    """``Unsqueeze`` of one axis, keeping track of the (Keras-layout) shape."""
    shape = list(m.shape)
    shape.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    return ctx.unsqueeze(m, [axis], shape=tuple(shape))


def _and(ctx, a, b):
    if a is None:
        return b
    out = ctx.node("And", [a, b], dtype="bool", hint="mask")
    out.shape = _broadcast_rank(a, b)
    return out


def _broadcast_rank(a, b):
    rank = max(_rank(a), _rank(b))
    return (None,) * rank


def _rank(v):
    return len(v.shape) if v.shape is not None else 0


# ---------------------------------------------------------------------------- MHA
def _project(ctx, dense, x, hint):
    """Keras's EinsumDense as ``_Projection`` computes it."""
    kernel = dense.kernel.detach().cpu().numpy().reshape(dense._fan_in, -1)
    shape = tuple(x.shape)
    lead = len(shape) - dense._bound
    if dense._bound > 1:
        x = ctx.reshape(x, [0] * lead + [dense._fan_in])
    out = ctx.node("MatMul", [x, ctx.const(kernel, f"{hint}_kernel")], hint=hint)
    if dense.bias is not None:
        out = ctx.node("Add", [out, ctx.const(dense.bias.detach().cpu().numpy().reshape(-1),
                                              f"{hint}_bias")], hint=hint)
    if len(dense._out_dims) > 1:
        out = ctx.reshape(out, [0] * lead + list(dense._out_dims))
    if dense._sigmoid:
        out = ctx.node("Sigmoid", [out], hint=hint)
    out.shape = shape[:lead] + tuple(dense._out_dims)
    return out


@register_converter(MultiHeadAttention)
def multi_head_attention(ctx, layer, query, value, key=None, query_mask=None, value_mask=None,
                         key_mask=None, attention_mask=None, return_attention_scores=False,
                         training=None, use_causal_mask=False, **kwargs):
    # As the layer's __call__: masks carried by the tensors fill in the mask arguments.
    if query_mask is None:
        query_mask = query.mask
    if value_mask is None:
        value_mask = value.mask
    if key_mask is None and key is not None:
        key_mask = key.mask
    if key is None:
        key = value
    mask = _bool(ctx, attention_mask)
    if query_mask is not None:
        mask = _and(ctx, mask, _unsqueeze(ctx, _bool(ctx, query_mask), -1))
    if value_mask is not None:
        mask = _and(ctx, mask, _unsqueeze(ctx, _bool(ctx, value_mask), -2))
    if key_mask is not None:
        mask = _and(ctx, mask, _unsqueeze(ctx, _bool(ctx, key_mask), -2))
    if use_causal_mask:
        mask = _and(ctx, mask, causal_mask(ctx, query, value))
    if layer.sliding_window is not None:
        mask = _and(ctx, mask, _sliding_window(ctx, query, value, layer.sliding_window))
    if mask is not None:
        mask = _expand_mask(ctx, layer, mask)

    gate = _project(ctx, layer.gate_dense, query, "gate") if layer.use_gate else None
    q = _project(ctx, layer.query_dense, query, "query")
    k = _project(ctx, layer.key_dense, key, "key")
    v = _project(ctx, layer.value_dense, value, "value")
    explicit = return_attention_scores or not layer._fused
    q = ctx.node("Mul", [q, ctx.scalar(layer._scale)], shape=q.shape, hint="scaled_query")
    scores = ctx.node("Einsum", [k, q], equation=layer._dot_equation, hint="scores")
    if mask is not None:
        if explicit:
            scores = ctx.node("Where", [mask, scores, ctx.scalar(_SOFTMAX_FILL)],
                              hint="masked_scores")
        else:
            bias = ctx.node("Where", [mask, ctx.scalar(0.0), ctx.scalar(_SDPA_FILL)],
                            hint="mask_bias")
            scores = ctx.node("Add", [scores, bias], hint="masked_scores")
    axes = layer._softmax_axes
    if len(axes) == 1:
        probs = ctx.node("Softmax", [scores], axis=-1, hint="probs")
    else:
        lse = ctx.reduce("ReduceLogSumExp", scores, list(axes), keepdims=True, hint="lse")
        probs = ctx.node("Exp", [ctx.node("Sub", [scores, lse])], hint="probs")
    if mask is not None and (explicit or layer.dropout > 0):
        probs = ctx.node("Where", [mask, probs, ctx.scalar(0.0)], hint="probs")
    out = ctx.node("Einsum", [probs, v], equation=layer._combine_equation, hint="attended")
    out.shape = tuple(q.shape[:-1]) + (layer.value_dim,)
    if gate is not None:
        out = ctx.node("Mul", [out, gate], shape=out.shape, hint="gated")
    out = _project(ctx, layer.output_dense, out, "attention_output")
    out.mask = query_mask
    if return_attention_scores:
        return out, probs
    return out


def _expand_mask(ctx, layer, mask):
    """Insert the heads (and other batch-like) axes before the attention axes."""
    rank = _rank(mask)
    position = rank - 2 * len(layer._axes)
    missing = layer._scores_rank - rank
    if position < 0:
        raise ValueError(
            f"MultiHeadAttention layer {layer.name!r}: the attention mask has fewer axes than "
            "the query and key attention axes.")
    if missing <= 0:
        return mask
    return ctx.unsqueeze(mask, list(range(position, position + missing)),
                         shape=(None,) * layer._scores_rank)


# ---------------------------------------------------------------------------- Attention
def _scores(ctx, layer, query, key):
    rank = len(query.shape)
    if isinstance(layer, AdditiveAttention):
        pairs = ctx.node("Tanh", [ctx.node("Add", [ctx.unsqueeze(query, [rank - 1]),
                                                   ctx.unsqueeze(key, [rank - 2])])])
        if layer.scale is not None:
            pairs = ctx.node("Mul", [ctx.const(layer.scale, "scale"), pairs])
        return ctx.reduce("ReduceSum", pairs, [-1], keepdims=False, hint="scores")
    if layer.score_mode == "dot":
        perm = list(range(rank - 2)) + [rank - 1, rank - 2]
        scores = ctx.node("MatMul", [query, ctx.transpose(key, perm)], hint="scores")
        if layer.scale is not None:
            scores = ctx.node("Mul", [scores, ctx.const(layer.scale, "scale")], hint="scores")
        return scores
    pairs = ctx.node("Add", [ctx.unsqueeze(query, [rank - 1]), ctx.unsqueeze(key, [rank - 2])])
    if layer.scale is not None:
        pairs = ctx.node("Mul", [ctx.const(layer.scale, "scale"), pairs])
    summed = ctx.reduce("ReduceSum", ctx.node("Tanh", [pairs]), [-1], keepdims=False)
    return ctx.node("Mul", [ctx.const(layer.concat_score_weight, "concat_score_weight"), summed],
                    hint="scores")


@register_converter(Attention, AdditiveAttention)
def attention(ctx, layer, inputs, mask=None, training=None, return_attention_scores=False,
              use_causal_mask=False, **kwargs):
    if mask is None:
        mask = [x.mask for x in inputs]
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    query_mask, value_mask = _bool(ctx, mask[0]), _bool(ctx, mask[1])
    scores = _scores(ctx, layer, query, key)
    keep = None if value_mask is None else _unsqueeze(ctx, value_mask, -2)
    if use_causal_mask:
        keep = _and(ctx, keep, causal_mask(ctx, query, key, len(query.shape) - 2,
                                           len(key.shape) - 2))
    if keep is not None:
        lowered = ctx.node("Sub", [scores, ctx.scalar(1.0e9)], hint="lowered")
        scores = ctx.node("Where", [keep, scores, lowered], hint="masked_scores")
    weights = ctx.node("Softmax", [scores], axis=-1, hint="weights")
    out = ctx.node("MatMul", [weights, value], hint="attended")
    if query_mask is not None:
        out = ctx.node("Where", [ctx.unsqueeze(query_mask, [-1]), out, ctx.scalar(0.0)],
                       hint="masked_output")
    try:
        out.shape = tuple(layer.compute_output_shape([tuple(x.shape) for x in inputs]))
    except Exception:  # noqa: BLE001 - shapes are advisory
        out.shape = None
    out.mask = mask[0]
    if return_attention_scores:
        weights.shape = None
        return out, weights
    return out

