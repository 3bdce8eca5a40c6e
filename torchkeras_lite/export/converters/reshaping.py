"""Converters for the reshaping layers: ZeroPadding1D-3D, Cropping1D-3D, UpSampling1D-3D,
RepeatVector, Permute.

Padding, cropping and nearest upsampling are layout-free (``Pad``, ``Slice``, ``Resize``
nearest with integer scales, which repeats each element exactly as the layer does), so they
run on the tensor before a pending channels-first transpose. Bilinear/bicubic upsampling is
``Resize`` (``linear``/``cubic``, ``pytorch_half_pixel``, cubic coefficient -0.75) in
channels-first, matching torch's ``interpolate(..., align_corners=False)``.
"""
from __future__ import annotations

from ...layers.reshaping import (Cropping1D, Cropping2D, Cropping3D, Permute, RepeatVector,
                                 UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D,
                                 ZeroPadding2D, ZeroPadding3D)
from . import register_converter
from .core import INT64_MAX, from_channels_first, through_transpose, to_channels_first


def _out_shape(layer, x):
    return None if x.shape is None else tuple(layer.compute_output_shape(x.shape))


def _in_layout(shape, axis_of):
    """A Keras-layout shape in the layout where Keras axis ``a`` is axis ``axis_of[a]``."""
    out = [None] * len(axis_of)
    for a, p in enumerate(axis_of):
        out[p] = shape[a]
    return tuple(out)


@register_converter(ZeroPadding1D, ZeroPadding2D, ZeroPadding3D)
def zero_padding(ctx, layer, x):
    out_shape = _out_shape(layer, x)

    def emit(v, axis_of):
        begins, ends = [0] * v.rank, [0] * v.rank
        for a, (before, after) in zip(layer._spatial_axes(), layer.padding):
            begins[axis_of[a]], ends[axis_of[a]] = int(before), int(after)
        return ctx.node("Pad", [v, ctx.ints(begins + ends, "pads")], mode="constant",
                        shape=_in_layout(out_shape, axis_of), dtype=v.dtype, hint="pad")
    return through_transpose(ctx, x, emit)


@register_converter(Cropping1D, Cropping2D, Cropping3D)
def cropping(ctx, layer, x):
    out_shape = _out_shape(layer, x)

    def emit(v, axis_of):
        starts, ends, axes = [], [], []
        for a, (before, after) in zip(layer._spatial_axes(), layer.cropping):
            if before == 0 and after == 0:
                continue
            starts.append(int(before))
            ends.append(-int(after) if after else INT64_MAX)
            axes.append(axis_of[a])
        if not axes:
            return v
        return ctx.node("Slice", [v, ctx.ints(starts, "starts"), ctx.ints(ends, "ends"),
                                  ctx.ints(axes, "axes")],
                        shape=_in_layout(out_shape, axis_of), dtype=v.dtype, hint="crop")
    return through_transpose(ctx, x, emit)


@register_converter(UpSampling1D, UpSampling2D, UpSampling3D)
def upsampling(ctx, layer, x):
    out_shape = _out_shape(layer, x)
    factors = layer._sizes()
    mode = getattr(layer, "interpolation", "nearest")
    if mode != "nearest":
        x_cf = to_channels_first(ctx, x, layer.data_format)
        scales = ctx.const([1.0, 1.0] + [float(f) for f in factors], "scales", dtype="float32")
        cf_out = (x_cf.shape[0], x_cf.shape[1],
                  *(None if n is None else n * f for n, f in zip(x_cf.shape[2:], factors)))
        attrs = {"cubic_coeff_a": -0.75} if mode == "bicubic" else {}
        y = ctx.node("Resize", [x_cf, "", scales], shape=cf_out, dtype=x_cf.dtype,
                     hint="resize", mode="linear" if mode == "bilinear" else "cubic",
                     coordinate_transformation_mode="pytorch_half_pixel", **attrs)
        return from_channels_first(ctx, y, layer.data_format)

    def emit(v, axis_of):
        scales = [1.0] * v.rank
        for a, f in zip(layer._spatial_axes(), factors):
            scales[axis_of[a]] = float(f)
        return ctx.node("Resize", [v, "", ctx.const(scales, "scales", dtype="float32")],
                        shape=_in_layout(out_shape, axis_of), dtype=v.dtype, hint="repeat",
                        mode="nearest", coordinate_transformation_mode="asymmetric",
                        nearest_mode="floor")
    return through_transpose(ctx, x, emit)


@register_converter(RepeatVector)
def repeat_vector(ctx, layer, x):
    shape = (x.shape[0], layer.n, x.shape[1])
    expanded = ctx.unsqueeze(x, [1], shape=(x.shape[0], 1, x.shape[1]))
    return ctx.node("Expand", [expanded, ctx.ints([1, layer.n, 1])], shape=shape,
                    dtype=x.dtype)


@register_converter(Permute)
def permute(ctx, layer, x):
    return ctx.transpose(x, (0, *layer.dims))
