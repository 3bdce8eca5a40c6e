"""Converters for the convolution layers: Conv1D/2D/3D, Conv2DTranspose, DepthwiseConv2D,
SeparableConv2D.

ONNX ``Conv``/``ConvTranspose`` work channels-first with torch's weight layouts, so each
converter permutes the Keras-layout weights as the layer's ``call`` does, moves a channels-last
input to channels-first (a transpose that cancels against a previous channels-first layer's),
and applies Keras's padding: ``'same'`` pads ``total // 2`` before and the rest after (ONNX's
``SAME_UPPER`` when the spatial size is unknown), ``'causal'`` pads ``dilation * (kernel - 1)``
on the left. Elementwise activations run before the transpose back to channels-last.
"""
from __future__ import annotations

from ...layers.convolutional import (Conv1D, Conv2D, Conv2DTranspose, Conv3D, DepthwiseConv2D,
                                     SeparableConv2D, _depthwise_to_torch, _same_padding,
                                     conv_output_length, conv_transpose_output_length)
from . import register_converter
from .activations import emit_activation_layout_free
from .core import from_channels_first, slice_axis, to_channels_first


def _pads(layer, spatial):
    """``(pads, auto_pad)`` for ONNX: explicit [begins..., ends...] or ``'SAME_UPPER'``."""
    begins, ends = [], []
    for n, k, s, d in zip(spatial, layer.kernel_size, layer.strides, layer.dilation_rate):
        if layer.padding == "valid":
            pair = (0, 0)
        elif layer.padding == "causal":
            pair = ((k - 1) * d, 0)
        elif s == 1:
            pair = _same_padding(n, k, s, d)
        elif n is None:
            # Keras's 'same' puts the extra pixel at the end, exactly ONNX's SAME_UPPER.
            return None, "SAME_UPPER"
        else:
            pair = _same_padding(n, k, s, d)
        begins.append(int(pair[0]))
        ends.append(int(pair[1]))
    return begins + ends, None


def _spatial_out(layer, spatial):
    return tuple(conv_output_length(n, k, s, d, layer.padding)
                 for n, k, s, d in zip(spatial, layer.kernel_size, layer.strides,
                                       layer.dilation_rate))


def _conv(ctx, layer, x_cf, weight, bias, groups, out_channels, hint="conv"):
    spatial = x_cf.shape[2:]
    pads, auto_pad = _pads(layer, spatial)
    inputs = [x_cf, ctx.const(weight, "kernel")]
    if bias is not None:
        inputs.append(ctx.const(bias, "bias"))
    shape = (x_cf.shape[0], out_channels, *_spatial_out(layer, spatial))
    return ctx.node("Conv", inputs, shape=shape, dtype=x_cf.dtype, hint=hint,
                    kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                    dilations=list(layer.dilation_rate), group=int(groups), pads=pads,
                    auto_pad=auto_pad)


def _finish(ctx, layer, y_cf):
    y = from_channels_first(ctx, y_cf, layer.data_format)
    return emit_activation_layout_free(ctx, layer.activation, y)


@register_converter(Conv1D, Conv2D, Conv3D)
def conv(ctx, layer, x):
    x_cf = to_channels_first(ctx, x, layer.data_format)
    weight = layer.kernel.detach().permute(layer._kernel_to_torch)
    y = _conv(ctx, layer, x_cf, weight, layer.bias, layer.groups, layer.filters)
    return _finish(ctx, layer, y)


@register_converter(DepthwiseConv2D)
def depthwise_conv(ctx, layer, x):
    x_cf = to_channels_first(ctx, x, layer.data_format)
    kernel = layer.kernel.detach()
    channels = int(kernel.shape[2])
    y = _conv(ctx, layer, x_cf, _depthwise_to_torch(kernel), layer.bias, channels,
              channels * layer.depth_multiplier, hint="depthwise")
    return _finish(ctx, layer, y)


@register_converter(SeparableConv2D)
def separable_conv(ctx, layer, x):
    x_cf = to_channels_first(ctx, x, layer.data_format)
    depthwise = layer.depthwise_kernel.detach()
    channels = int(depthwise.shape[2])
    mid = _conv(ctx, layer, x_cf, _depthwise_to_torch(depthwise), None, channels,
                channels * layer.depth_multiplier, hint="depthwise")
    inputs = [mid, ctx.const(layer.pointwise_kernel.detach().permute(3, 2, 0, 1), "pointwise")]
    if layer.bias is not None:
        inputs.append(ctx.const(layer.bias, "bias"))
    y = ctx.node("Conv", inputs, shape=(mid.shape[0], layer.filters, *mid.shape[2:]),
                 dtype=mid.dtype, hint="pointwise", kernel_shape=[1, 1])
    return _finish(ctx, layer, y)


@register_converter(Conv2DTranspose)
def conv_transpose(ctx, layer, x):
    # torch's conv_transpose2d(padding=p, output_padding=op) then the layer's end crop: ONNX
    # ConvTranspose has the same output-size rule with pads (p, p) and output_padding op.
    x_cf = to_channels_first(ctx, x, layer.data_format)
    spatial = x_cf.shape[2:]
    padding = [int(p) for p in layer._torch_padding]
    output_padding = [int(p) for p in layer._torch_output_padding]
    full = tuple(
        None if n is None else
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, d, p, op in zip(spatial, layer.kernel_size, layer.strides,
                                     layer.dilation_rate, padding, output_padding))
    inputs = [x_cf, ctx.const(layer.kernel.detach().permute(3, 2, 0, 1), "kernel")]
    if layer.bias is not None:
        inputs.append(ctx.const(layer.bias, "bias"))
    y = ctx.node("ConvTranspose", inputs, shape=(x_cf.shape[0], layer.filters, *full),
                 dtype=x_cf.dtype, hint="conv_transpose",
                 kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
                 dilations=list(layer.dilation_rate), pads=padding + padding,
                 output_padding=output_padding if any(output_padding) else None)
    if layer._crop is not None:
        extras = layer.output_padding or (None,) * 2
        final = tuple(conv_transpose_output_length(n, k, s, d, layer.padding, e)
                      for n, k, s, d, e in zip(spatial, layer.kernel_size, layer.strides,
                                               layer.dilation_rate, extras))
        for i, cut in enumerate(layer._crop[2:]):
            if cut.stop is not None:
                shape = list(y.shape)
                shape[2 + i] = final[i]
                y = slice_axis(ctx, y, 2 + i, 0, int(cut.stop), shape=tuple(shape))
    return _finish(ctx, layer, y)

