import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torchkeras_lite import config, layers
from torchkeras_lite.layers import convolutional
from torchkeras_lite.layers import (Conv1D, Conv2D, Conv2DTranspose, Conv3D, DepthwiseConv2D,
                                    Input, SeparableConv2D)
from torchkeras_lite.models import Sequential


def test_docstring_examples_run():
    assert doctest.testmod(convolutional).failed == 0


# ------------------------------------------------------------------ building and layout
@pytest.mark.parametrize("layer,x,weight_shapes,out_shape", [
    (Conv1D(4, 3), torch.zeros(2, 10, 6), [(3, 6, 4), (4,)], (2, 8, 4)),
    (Conv2D(8, (3, 2), groups=2), torch.zeros(2, 9, 9, 4), [(3, 2, 2, 8), (8,)], (2, 7, 8, 8)),
    (Conv3D(2, 3, use_bias=False), torch.zeros(1, 5, 6, 7, 3), [(3, 3, 3, 3, 2)],
     (1, 3, 4, 5, 2)),
    (Conv2DTranspose(4, 3, strides=2), torch.zeros(2, 5, 5, 6), [(3, 3, 4, 6), (4,)],
     (2, 11, 11, 4)),
    (DepthwiseConv2D(3, depth_multiplier=2), torch.zeros(2, 8, 8, 5), [(3, 3, 5, 2), (10,)],
     (2, 6, 6, 10)),
    (SeparableConv2D(7, 3, depth_multiplier=2), torch.zeros(2, 8, 8, 5),
     [(3, 3, 5, 2), (1, 1, 10, 7), (7,)], (2, 6, 6, 7)),
])
def test_lazy_build_on_first_call_in_keras_layout(layer, x, weight_shapes, out_shape):
    assert not layer.built
    out = layer(x)
    assert layer.built and tuple(out.shape) == out_shape
    assert [w.shape for w in layer.get_weights()] == weight_shapes
    assert tuple(layer.compute_output_shape(tuple(x.shape))) == out_shape


def test_default_initialisation_is_glorot_uniform_kernel_and_zero_bias():
    kernel, bias = Conv2D(16, 3, input_shape=(8, 8, 4)).get_weights()
    limit = np.sqrt(6 / (9 * 4 + 9 * 16))  # fans include the receptive field
    assert kernel.min() >= -limit and kernel.max() <= limit and kernel.std() > limit / 3
    assert np.all(bias == 0)


def test_input_shape_builds_at_construction():
    layer = Conv2D(8, 3, input_shape=(28, 28, 1))
    assert layer.built and layer.kernel.shape == (3, 3, 1, 8)
    assert layer.count_params() == 80


def test_matches_torch_conv_on_symmetric_padding():
    layer = Conv2D(5, 3, padding="same", input_shape=(6, 7, 3))
    x = torch.randn(2, 6, 7, 3)
    expected = F.conv2d(x.permute(0, 3, 1, 2), layer.kernel.permute(3, 2, 0, 1), layer.bias,
                        padding=1).permute(0, 2, 3, 1)
    torch.testing.assert_close(layer(x), expected)


def test_same_with_stride_pads_the_extra_pixel_at_the_end():
    # 4 inputs, kernel 2, stride 2: no padding is needed; kernel 3 needs one pixel, at the end.
    layer = Conv1D(1, 3, strides=2, padding="same", use_bias=False, input_shape=(4, 1))
    layer.set_weights([np.ones((3, 1, 1), "float32")])
    out = layer(torch.arange(1.0, 5.0).reshape(1, 4, 1))
    assert out.flatten().tolist() == [1 + 2 + 3, 3 + 4 + 0]


def test_same_with_stride_handles_varying_input_sizes():
    layer = Conv2D(2, 3, strides=2, padding="same")
    for size in (9, 10, 9, 16):
        assert tuple(layer(torch.zeros(1, size, size + 1, 3)).shape) == \
            (1, (size + 1) // 2, (size + 2) // 2, 2)


def test_causal_padding_never_sees_the_future():
    layer = Conv1D(1, 3, padding="causal", dilation_rate=2, use_bias=False, input_shape=(8, 1))
    layer.set_weights([np.ones((3, 1, 1), "float32")])
    x = torch.zeros(1, 8, 1)
    x[0, 5] = 1.0
    out = layer(x).flatten()
    assert out[:5].abs().sum() == 0 and out[5] == 1 and out[7] == 1
    assert out.shape == (8,)


def test_channels_first_and_global_default():
    x = torch.randn(2, 3, 9, 8)
    layer = Conv2D(4, 3, padding="same", data_format="channels_first")
    assert tuple(layer(x).shape) == (2, 4, 9, 8) and layer.kernel.shape == (3, 3, 3, 4)
    config.set_image_data_format("channels_first")
    try:
        assert Conv2D(4, 3).data_format == "channels_first"
    finally:
        config.set_image_data_format("channels_last")
    assert Conv2D(4, 3).data_format == "channels_last"


def test_padding_and_data_format_are_case_insensitive():
    layer = Conv2D(2, 3, padding="SAME", data_format="Channels_Last")
    assert layer.padding == "same" and layer.data_format == "channels_last"


def test_gradients_reach_keras_layout_weights():
    for layer in (Conv2D(3, 2), DepthwiseConv2D(2, depth_multiplier=2), SeparableConv2D(3, 2),
                  Conv2DTranspose(3, 2, strides=2)):
        layer(torch.randn(2, 5, 5, 2)).square().sum().backward()
        assert all(w.grad is not None and w.grad.shape == w.shape for w in layer.weights)


def test_regularizers_constraints_and_activity_regularizer():
    layer = SeparableConv2D(3, 2, depthwise_regularizer="l2", pointwise_regularizer="l1",
                            bias_regularizer="l2", activity_regularizer="l2",
                            depthwise_constraint="non_neg", pointwise_constraint="non_neg")
    layer(torch.randn(2, 5, 5, 2))
    assert len(layer.losses) == 4
    layer.apply_constraints()
    assert (layer.depthwise_kernel >= 0).all() and (layer.pointwise_kernel >= 0).all()
    conv = Conv1D(2, 2, kernel_regularizer="l2", kernel_constraint="non_neg")
    conv(torch.randn(2, 5, 3))
    assert len(conv.losses) == 1
    conv.apply_constraints()
    assert (conv.kernel >= 0).all()


def test_unknown_spatial_dims_in_sequential():
    model = Sequential([Input(shape=(None, None, 3)), Conv2D(4, 3, strides=2, padding="same"),
                        DepthwiseConv2D(3), Conv2DTranspose(2, 2, strides=2)])
    assert model.output_shape == (None, None, None, 2)
    assert tuple(model(torch.zeros(1, 12, 10, 3)).shape) == (1, 8, 6, 2)


def test_conv_flatten_dense_in_sequential():
    model = Sequential([Input(shape=(8, 8, 1)), Conv2D(4, 3, activation="relu"),
                        layers.Flatten(), layers.Dense(3)])
    assert model.output_shape == (None, 3)
    assert model.layers[1].compute_output_shape((None, 6, 6, 4)) == (None, 144)
    assert tuple(model(torch.zeros(2, 8, 8, 1)).shape) == (2, 3)


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("layer", [
    Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu", kernel_regularizer="l2",
           activity_regularizer="l1", name="c1"),
    Conv2D(6, (3, 2), strides=(2, 1), padding="same", data_format="channels_first", groups=3,
           use_bias=False, kernel_initializer="he_normal", kernel_constraint="max_norm"),
    Conv3D(2, 3, input_shape=(5, 6, 7, 2), bias_initializer="ones", bias_regularizer="l1"),
    Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1, activation="tanh",
                    bias_constraint="non_neg"),
    Conv2DTranspose(4, 3),
    DepthwiseConv2D(3, depth_multiplier=2, dilation_rate=2, depthwise_regularizer="l2",
                    depthwise_constraint="non_neg", depthwise_initializer="ones"),
    SeparableConv2D(5, 3, depth_multiplier=2, pointwise_initializer="zeros",
                    depthwise_regularizer="l1", pointwise_constraint="non_neg",
                    activation="sigmoid"),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config_ = layer.get_config()
    clone = type(layer).from_config(config_)
    assert clone.get_config() == config_
    again = layers.deserialize({"class_name": type(layer).__name__, "config": config_})
    assert again.get_config() == config_


def test_config_uses_keras_forms():
    cfg = Conv2D(4, 3).get_config()
    assert cfg["kernel_size"] == (3, 3) and cfg["strides"] == (1, 1)
    assert cfg["dilation_rate"] == (1, 1) and cfg["padding"] == "valid"
    assert cfg["data_format"] == "channels_last" and cfg["activation"] == "linear"
    assert Conv2DTranspose(4, 3).get_config()["output_padding"] is None


def test_all_classes_in_catalog():
    for name in ("Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D",
                 "SeparableConv2D"):
        assert layers.get({"class_name": name, "config": {
            **({"filters": 2} if name != "DepthwiseConv2D" else {}), "kernel_size": 3}})


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("filters", [0, -3, 2.5, "8", True])
def test_rejects_bad_filters(filters):
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        Conv2D(filters, 3)
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        Conv2DTranspose(filters, 3)
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        SeparableConv2D(filters, 3)


@pytest.mark.parametrize("kernel_size", [0, (3,), (3, 0), "3", (3, 2.0), None])
def test_rejects_bad_kernel_size(kernel_size):
    with pytest.raises(ValueError, match="kernel_size must be a positive integer or a tuple "
                                         "of 2 positive integers, got"):
        Conv2D(4, kernel_size)


def test_rejects_bad_strides_and_dilation():
    with pytest.raises(ValueError, match="strides must be a positive integer or a tuple of 1"):
        Conv1D(4, 3, strides=0)
    with pytest.raises(ValueError, match=r"dilation_rate must be .* tuple of 3 .*got \(1, 0\)"):
        Conv3D(4, 3, dilation_rate=(1, 0))
    for cls in (Conv2D, Conv2DTranspose):
        with pytest.raises(ValueError, match="strides > 1 cannot be combined with "
                                             "dilation_rate > 1"):
            cls(4, 3, strides=2, dilation_rate=2)
    DepthwiseConv2D(3, strides=2, dilation_rate=2)  # allowed, as in Keras


def test_rejects_bad_padding():
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', got 'full'"):
        Conv2D(4, 3, padding="full")
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', got 'causal'"):
        Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', 'causal'"):
        Conv1D(4, 3, padding=1)
    with pytest.raises(ValueError, match="got 'causal'"):
        Conv2DTranspose(4, 3, padding="causal")


def test_rejects_bad_data_format():
    with pytest.raises(ValueError, match="data_format must be 'channels_last' or "
                                         "'channels_first', got 'nhwc'"):
        Conv2D(4, 3, data_format="nhwc")


def test_rejects_bad_groups():
    with pytest.raises(ValueError, match="groups must be a positive integer, got 0"):
        Conv2D(4, 3, groups=0)
    with pytest.raises(ValueError, match=r"filters \(5\) must be divisible by groups \(2\)"):
        Conv2D(5, 3, groups=2)
    with pytest.raises(ValueError, match="the input's 3 channels must be divisible by groups "
                                         r"\(2\)"):
        Conv2D(4, 3, groups=2)(torch.zeros(1, 5, 5, 3))


def test_rejects_bad_depth_multiplier():
    with pytest.raises(ValueError, match="depth_multiplier must be a positive integer, got 0"):
        DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match="depth_multiplier must be a positive integer"):
        SeparableConv2D(4, 3, depth_multiplier=-1)


def test_rejects_bad_output_padding():
    with pytest.raises(ValueError, match=r"output_padding must be smaller than strides on "
                                         r"every axis, got output_padding=\(1, 1\) with "
                                         r"strides=\(1, 1\)"):
        Conv2DTranspose(4, 3, output_padding=1)
    with pytest.raises(ValueError, match="output_padding must be a non-negative integer"):
        Conv2DTranspose(4, 3, strides=2, output_padding=-1)


@pytest.mark.parametrize("layer,shape,message", [
    (Conv2D(4, 3), (2, 28, 28),
     r"Conv2D expects a 4D input \(batch, height, width, channels\), got shape \(2, 28, 28\)"),
    (Conv2D(4, 3, data_format="channels_first"), (2, 1, 28, 28, 1),
     r"Conv2D expects a 4D input \(batch, channels, height, width\), got shape"),
    (Conv1D(4, 3), (2, 10), r"Conv1D expects a 3D input \(batch, steps, channels\)"),
    (Conv3D(4, 3), (2, 5, 5, 5),
     r"Conv3D expects a 5D input \(batch, depth, height, width, channels\)"),
    (Conv2DTranspose(4, 3), (2, 5, 5), "Conv2DTranspose expects a 4D input"),
    (DepthwiseConv2D(3), (5, 5, 3), "DepthwiseConv2D expects a 4D input"),
    (SeparableConv2D(4, 3), (5, 5, 3), "SeparableConv2D expects a 4D input"),
])
def test_wrong_rank_is_a_clear_error(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(shape))
    with pytest.raises(ValueError, match=message):
        layer.compute_output_shape(shape)


def test_wrong_rank_after_build():
    layer = Conv2D(4, 3, data_format="channels_first")
    layer(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"got shape \(3, 8, 8\)"):
        layer(torch.zeros(3, 8, 8))  # torch would take it as an unbatched image


@pytest.mark.parametrize("layer,good,bad", [
    (Conv2D(4, 3, name="c"), (1, 8, 8, 3), (1, 8, 8, 5)),
    (Conv1D(4, 3, name="c"), (1, 8, 3), (1, 8, 5)),
    (Conv2DTranspose(4, 3, name="c"), (1, 8, 8, 3), (1, 8, 8, 5)),
    (DepthwiseConv2D(3, name="c"), (1, 8, 8, 3), (1, 8, 8, 5)),
    (SeparableConv2D(4, 3, name="c"), (1, 8, 8, 3), (1, 8, 8, 5)),
])
def test_wrong_channel_count_after_build(layer, good, bad):
    layer(torch.zeros(good))
    with pytest.raises(ValueError, match=r"layer 'c' was built for inputs with 3 channels "
                                         r"\(axis -1\), received shape"):
        layer(torch.zeros(bad))


def test_unknown_channels_cannot_build():
    with pytest.raises(ValueError, match=r"needs a known channel dimension \(axis -1\)"):
        Conv2D(4, 3).build((None, 8, 8, None))


def test_kernel_larger_than_input_with_valid_padding():
    with pytest.raises(ValueError, match=r"Conv2D layer 'c': input shape \(2, 2, 2, 3\) is too "
                                         r"small for kernel_size=\(3, 3\).*use padding='same'"):
        Conv2D(4, 3, name="c")(torch.zeros(2, 2, 2, 3))
    layer = Conv1D(4, 3, dilation_rate=3, name="d")
    layer.build((None, None, 3))
    with pytest.raises(ValueError, match=r"dilated extent \(7,\)"):
        layer(torch.zeros(2, 6, 3))
    with pytest.raises(ValueError, match="too small"):
        DepthwiseConv2D(5)(torch.zeros(1, 4, 9, 2))
    assert tuple(Conv2D(4, 3, padding="same")(torch.zeros(2, 2, 2, 3)).shape) == (2, 2, 2, 4)
