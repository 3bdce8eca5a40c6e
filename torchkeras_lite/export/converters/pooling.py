"""Converters for the pooling layers: Max/Average pooling 1D-3D, global and adaptive pooling
(Keras's aliases are the same classes, so they share these converters).

- Windowed pooling runs channels-first (``MaxPool``/``AveragePool``). ``padding='same'``
  follows the layer: when every axis splits its padding evenly, the pool pads (average pooling
  leaves the padding out of the count, ``count_include_pad=0``); otherwise the input is first
  padded by replicating its edges (``Pad`` mode ``edge``), so those windows of an average pool
  count the replicated values. For max pooling both give the same maximum (every 'same' window
  holds a real element next to the padding), so it always pads inside ``MaxPool``.
- Global pooling is a ``ReduceMax``/``ReduceMean`` over the spatial axes (on the tensor before
  a pending transpose, so ``Conv2D -> GlobalAveragePooling2D`` needs none).
- Adaptive pooling: output cell ``i`` of an axis covers ``[floor(i*n/out), ceil((i+1)*n/out))``
  (torch's rule). Axes where ``out`` divides ``n`` become one pool op; others are sliced per
  cell, reduced and concatenated (max and mean over a box are separable by axis).
"""
from __future__ import annotations

from ...layers.pooling import (AdaptiveAveragePooling1D, AdaptiveAveragePooling2D,
                               AdaptiveAveragePooling3D, AdaptiveMaxPooling1D,
                               AdaptiveMaxPooling2D, AdaptiveMaxPooling3D, AveragePooling1D,
                               AveragePooling2D, AveragePooling3D, GlobalAveragePooling1D,
                               GlobalAveragePooling2D, GlobalAveragePooling3D,
                               GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
                               MaxPooling1D, MaxPooling2D, MaxPooling3D)
from . import register_converter
from .core import (from_channels_first, slice_axis, transposed_source, to_channels_first,
                   unsupported)


def _pool_out(size, k, s, same):
    if size is None:
        return None
    return -(-size // s) if same else (size - k) // s + 1


@register_converter(MaxPooling1D, MaxPooling2D, MaxPooling3D,
                    AveragePooling1D, AveragePooling2D, AveragePooling3D)
def pool(ctx, layer, x):
    is_max = layer._mode == "max"
    x_cf = to_channels_first(ctx, x, layer.data_format)
    spatial = x_cf.shape[2:]
    same = layer.padding == "same"
    out_spatial = tuple(_pool_out(n, k, s, same)
                        for n, k, s in zip(spatial, layer.pool_size, layer.strides))
    attrs = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides)}
    if not is_max:
        attrs["count_include_pad"] = 0
    if same:
        pairs = []
        for n, k, s in zip(spatial, layer.pool_size, layer.strides):
            if s == 1:
                total = k - 1
            elif n is None:
                pairs = None
                break
            else:
                total = max(0, (-(-n // s) - 1) * s + k - n)
            pairs.append((total // 2, total - total // 2))
        if pairs is None:
            if not is_max:
                raise unsupported(
                    ctx, f"padding='same' with strides {layer.strides} on a spatial axis of "
                    "unknown size: whether the padding splits evenly (excluded from the average) "
                    "or not (edge values replicated) depends on that size. Give the input a "
                    "fixed spatial shape.")
            attrs["auto_pad"] = "SAME_UPPER"
        elif is_max or all(b == e for b, e in pairs):
            attrs["pads"] = [b for b, _ in pairs] + [e for _, e in pairs]
        else:
            pads = [0, 0] + [b for b, _ in pairs] + [0, 0] + [e for _, e in pairs]
            padded = tuple(None if n is None else n + b + e
                           for n, (b, e) in zip(spatial, pairs))
            x_cf = ctx.node("Pad", [x_cf, ctx.ints(pads, "pads")], mode="edge",
                            shape=(*x_cf.shape[:2], *padded), dtype=x_cf.dtype, hint="pad")
    y = ctx.node("MaxPool" if is_max else "AveragePool", [x_cf],
                 shape=(*x_cf.shape[:2], *out_spatial), dtype=x_cf.dtype,
                 hint="max_pool" if is_max else "avg_pool", **attrs)
    return from_channels_first(ctx, y, layer.data_format)


@register_converter(GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
                    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D)
def global_pool(ctx, layer, x, mask=None):
    is_max = isinstance(layer, (GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D))
    axes = [int(a) for a in layer._axes]
    keep = layer.keepdims
    out_shape = None if x.shape is None else tuple(layer.compute_output_shape(x.shape))
    if mask is None and isinstance(layer, GlobalAveragePooling1D):
        mask = x.mask
    if mask is not None:
        # sum(where(mask, x, 0)) / count(mask) over the steps (NaN for an all-masked sample).
        if mask.dtype != "bool":
            mask = ctx.cast(mask, "bool")
        m = ctx.unsqueeze(mask, [2 if layer._channels_last else 1])
        total = ctx.reduce("ReduceSum", ctx.node("Where", [m, x, ctx.scalar(0.0, x.dtype)],
                                                 shape=x.shape, dtype=x.dtype),
                           axes, keep, shape=out_shape)
        count = ctx.reduce("ReduceSum", ctx.cast(m, x.dtype), axes, keep)
        return ctx.node("Div", [total, count], shape=out_shape, dtype=x.dtype)
    op = "ReduceMax" if is_max else "ReduceMean"
    source = transposed_source(ctx, x)
    if source is None or x.shape is None:
        return ctx.reduce(op, x, axes, keep, shape=out_shape)
    v, perm = source
    v_axes = sorted(perm[a] for a in axes)
    if keep:
        v_shape = tuple(1 if i in v_axes else d for i, d in enumerate(v.shape))
        return ctx.transpose(ctx.reduce(op, v, v_axes, True, shape=v_shape), perm)
    remaining = [a for a in range(x.rank) if a not in axes]
    positions = [perm[a] for a in remaining]
    order = sorted(positions)
    y = ctx.reduce(op, v, v_axes, False, shape=tuple(v.shape[p] for p in order))
    return ctx.transpose(y, [order.index(p) for p in positions])


@register_converter(AdaptiveMaxPooling1D, AdaptiveMaxPooling2D, AdaptiveMaxPooling3D,
                    AdaptiveAveragePooling1D, AdaptiveAveragePooling2D,
                    AdaptiveAveragePooling3D)
def adaptive_pool(ctx, layer, x):
    is_max = layer._mode == "max"
    x_cf = to_channels_first(ctx, x, layer.data_format)
    spatial = x_cf.shape[2:]
    if any(n is None for n in spatial):
        raise unsupported(
            ctx, f"adaptive pooling needs known spatial sizes (its windows depend on them); got "
            f"input shape {x.shape}. Give the input a fixed spatial shape.")
    out = tuple(int(o) for o in layer.output_size)
    op = "MaxPool" if is_max else "AveragePool"
    reduce_op = "ReduceMax" if is_max else "ReduceMean"
    rank = len(spatial)
    if all(n % o == 0 for n, o in zip(spatial, out)):
        kernel = [n // o for n, o in zip(spatial, out)]
        y = ctx.node(op, [x_cf], kernel_shape=kernel, strides=kernel,
                     shape=(*x_cf.shape[:2], *out), dtype=x_cf.dtype, hint="adaptive_pool")
        return from_channels_first(ctx, y, layer.data_format)
    y = x_cf
    for i, (n, o) in enumerate(zip(spatial, out)):
        if n == o:
            continue
        axis = 2 + i
        shape = list(y.shape)
        shape[axis] = o
        if n % o == 0:
            kernel = [1] * rank
            kernel[i] = n // o
            y = ctx.node(op, [y], kernel_shape=kernel, strides=kernel, shape=tuple(shape),
                         dtype=y.dtype, hint="adaptive_pool")
            continue
        cells = []
        cell_shape = list(y.shape)
        cell_shape[axis] = 1
        for j in range(o):
            start, end = (j * n) // o, -(-((j + 1) * n) // o)
            piece = slice_axis(ctx, y, axis, start, end)
            cells.append(ctx.reduce(reduce_op, piece, [axis], True, shape=tuple(cell_shape)))
        y = ctx.node("Concat", cells, axis=axis, shape=tuple(shape), dtype=y.dtype,
                     hint="adaptive_cells")
    return from_channels_first(ctx, y, layer.data_format)
