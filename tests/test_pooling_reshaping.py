"""Pooling and reshaping layers: argument checks, input checks, configs, building."""
import math

import pytest
import torch

from torchkeras_lite import config, layers
from torchkeras_lite.layers import pooling, reshaping

# One instance per class, with non-default arguments where the class has them.
INSTANCES = [
    lambda: layers.MaxPooling1D(3, strides=2, padding="same", data_format="channels_first"),
    lambda: layers.MaxPooling2D((3, 2), strides=1),
    lambda: layers.MaxPooling3D(2, padding="same"),
    lambda: layers.AveragePooling1D(4, strides=3, padding="same"),
    lambda: layers.AveragePooling2D(3, strides=(2, 1), data_format="channels_first"),
    lambda: layers.AveragePooling3D((1, 2, 3)),
    lambda: layers.GlobalMaxPooling1D(keepdims=True),
    lambda: layers.GlobalMaxPooling2D(data_format="channels_first"),
    lambda: layers.GlobalMaxPooling3D(),
    lambda: layers.GlobalAveragePooling1D(data_format="channels_first", keepdims=True),
    lambda: layers.GlobalAveragePooling2D(keepdims=True),
    lambda: layers.GlobalAveragePooling3D(),
    lambda: layers.AdaptiveMaxPooling1D(3),
    lambda: layers.AdaptiveMaxPooling2D((2, 3), data_format="channels_first"),
    lambda: layers.AdaptiveMaxPooling3D(2),
    lambda: layers.AdaptiveAveragePooling1D(4, data_format="channels_first"),
    lambda: layers.AdaptiveAveragePooling2D(1),
    lambda: layers.AdaptiveAveragePooling3D((1, 2, 2)),
    lambda: layers.ZeroPadding1D((1, 2), data_format="channels_first"),
    lambda: layers.ZeroPadding2D(((1, 0), (2, 3))),
    lambda: layers.ZeroPadding3D(2, data_format="channels_first"),
    lambda: layers.Cropping1D((0, 2)),
    lambda: layers.Cropping2D((1, 2), data_format="channels_first"),
    lambda: layers.Cropping3D(((1, 0), (0, 1), (2, 2))),
    lambda: layers.UpSampling1D(3),
    lambda: layers.UpSampling2D((2, 3), interpolation="bilinear"),
    lambda: layers.UpSampling3D((1, 2, 3), data_format="channels_first"),
    lambda: layers.RepeatVector(4),
    lambda: layers.Permute((3, 1, 2)),
]

INPUT_RANK = {"1D": 3, "2D": 4, "3D": 5, "RepeatVector": 2, "Permute": 4}


def _rank(layer):
    name = type(layer).__name__
    return INPUT_RANK.get(name, INPUT_RANK.get(name[-2:]))


def test_every_class_is_covered():
    classes = {getattr(layers, n) for n in (*pooling.__all__, *reshaping.__all__)}
    assert classes == {type(make()) for make in INSTANCES}


@pytest.mark.parametrize("make", INSTANCES, ids=lambda m: type(m()).__name__)
def test_config_round_trip(make):
    layer = make()
    config_ = layer.get_config()
    clone = type(layer).from_config(config_)
    assert clone.get_config() == config_
    again = layers.deserialize(layers.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == config_


@pytest.mark.parametrize("make", INSTANCES, ids=lambda m: type(m()).__name__)
def test_works_without_input_shape_on_varying_sizes(make):
    layer = make()
    assert layer.built and layer.get_weights() == [] and layer.count_params() == 0
    for size in (6, 9):
        shape = (2,) + (size,) * (_rank(layer) - 1)
        out = layer(torch.randn(shape))
        assert tuple(out.shape) == layer.compute_output_shape(shape)


@pytest.mark.parametrize("make", INSTANCES, ids=lambda m: type(m()).__name__)
def test_wrong_rank_is_rejected(make):
    layer = make()
    rank = _rank(layer)
    bad = torch.zeros((2,) + (6,) * rank)  # one axis too many
    with pytest.raises(ValueError, match=rf"expects a {rank}D input .*got shape \(2, 6"):
        layer(bad)
    with pytest.raises(ValueError, match=rf"expects a {rank}D input"):
        layer.compute_output_shape((None,) + (6,) * (rank - 2))


def test_rank_error_names_the_layout():
    with pytest.raises(ValueError, match=r"MaxPooling2D expects a 4D input \(batch, height, "
                                         r"width, channels\), got shape \(2, 28, 28\)"):
        layers.MaxPooling2D()(torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match=r"\(batch, channels, depth, height, width\)"):
        layers.AveragePooling3D(data_format="channels_first")(torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"\(batch, steps, features\)"):
        layers.GlobalAveragePooling1D()(torch.zeros(2, 3), mask=torch.ones(2, 3, dtype=bool))


@pytest.mark.parametrize("make,shape", [
    (lambda: layers.MaxPooling2D(3), (2, 2, 5, 1)),
    (lambda: layers.AveragePooling1D(4, strides=1), (2, 3, 1)),
    (lambda: layers.MaxPooling3D((1, 1, 4), data_format="channels_first"), (1, 2, 5, 5, 3)),
])
def test_pool_larger_than_input_with_valid_padding(make, shape):
    with pytest.raises(ValueError, match=r"pool_size .* does not fit .*padding='valid'"):
        make()(torch.zeros(shape))
    with pytest.raises(ValueError, match="does not fit"):
        make().compute_output_shape(shape)


def test_pool_larger_than_input_is_fine_with_same_padding():
    assert layers.MaxPooling2D(5, padding="same")(torch.zeros(1, 2, 3, 1)).shape == (1, 1, 1, 1)


def test_pool_size_checked_at_construction_with_input_shape():
    with pytest.raises(ValueError, match="does not fit"):
        layers.MaxPooling2D(4, input_shape=(3, 3, 1))
    with pytest.raises(ValueError, match="expects a 4D input"):
        layers.MaxPooling2D(2, input_shape=(3, 3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(pool_size=0), "pool_size must be a positive integer or a tuple of 2"),
    (dict(pool_size=(2, 2, 2)),
     r"pool_size must be .*tuple of 2 positive integers, got \(2, 2, 2\)"),
    (dict(pool_size=2.5), "pool_size must be"),
    (dict(pool_size=True), "pool_size must be"),
    (dict(strides=0), "strides must be a positive integer"),
    (dict(strides=(1, -1)), "strides must be"),
    (dict(padding="causal"), "padding must be 'valid' or 'same', got 'causal'"),
    (dict(data_format="NHWC"), "data_format must be 'channels_last' or 'channels_first'"),
])
def test_pooling_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.AveragePooling2D(**kwargs)


def test_padding_and_data_format_are_case_insensitive():
    layer = layers.MaxPooling2D(2, padding="SAME", data_format="Channels_Last")
    assert layer.padding == "same" and layer.data_format == "channels_last"
    assert layer(torch.zeros(1, 5, 5, 1)).shape == (1, 3, 3, 1)


def test_strides_default_to_pool_size():
    layer = layers.MaxPooling1D(3)
    assert layer.strides == (3,) and layer.get_config()["strides"] == (3,)
    assert layer(torch.zeros(1, 9, 2)).shape == (1, 3, 2)


def test_default_data_format_follows_config():
    config.set_image_data_format("channels_first")
    try:
        layer = layers.GlobalMaxPooling2D()
        assert layer.data_format == "channels_first"
        assert layer(torch.zeros(2, 3, 4, 5)).shape == (2, 3)
    finally:
        config.set_image_data_format("channels_last")


def test_average_same_padding_semantics():
    # Even split (pool 3, stride 1): padded cells are excluded from the mean.
    x = torch.arange(1.0, 6.0).reshape(1, 5, 1)
    torch.testing.assert_close(layers.AveragePooling1D(3, strides=1, padding="same")(x).flatten(),
                               torch.tensor([1.5, 2.0, 3.0, 4.0, 4.5]))
    # Uneven split (pool 4, stride 1, padding 1 before and 2 after): Keras's torch backend
    # replicates the edge values into the padding, and they count in the mean.
    torch.testing.assert_close(layers.AveragePooling1D(4, strides=1, padding="same")(x).flatten(),
                               torch.tensor([1.75, 2.5, 3.5, 4.25, 4.75]))


def test_max_pooling_channels_last_matches_channels_first():
    x = torch.randn(2, 7, 6, 3)
    cl = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    cf = layers.MaxPooling2D(3, strides=2, padding="same", data_format="channels_first")(
        x.permute(0, 3, 1, 2))
    torch.testing.assert_close(cl, cf.permute(0, 2, 3, 1), rtol=0, atol=0)


def test_global_average_1d_mask():
    x = torch.tensor([[[1.0], [3.0], [8.0]], [[2.0], [4.0], [6.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out = layers.GlobalAveragePooling1D()(x, mask=mask)
    assert out[0, 0] == 2.0 and torch.isnan(out[1, 0])  # all steps masked: 0 / 0, as Keras
    float_mask = layers.GlobalAveragePooling1D()(x, mask=mask.float())
    torch.testing.assert_close(float_mask, out, equal_nan=True)
    assert layers.GlobalAveragePooling1D.supports_masking


def test_global_average_1d_ignores_masked_garbage():
    x = torch.tensor([[[1.0], [float("nan")]]])
    out = layers.GlobalAveragePooling1D()(x, mask=torch.tensor([[True, False]]))
    assert out.item() == 1.0


@pytest.mark.parametrize("make,match", [
    (lambda: layers.ZeroPadding1D(-1), r"padding must be a non-negative integer or a tuple of 2"),
    (lambda: layers.ZeroPadding1D((1, 2, 3)), r"padding must be .*got \(1, 2, 3\)"),
    (lambda: layers.ZeroPadding2D(-1), "padding must be non-negative, got -1"),
    (lambda: layers.ZeroPadding2D((1, 2, 3)), r"padding must be an int, a tuple of 2 ints"),
    (lambda: layers.ZeroPadding2D(((1, -1), 2)), r"1st entry of padding must be"),
    (lambda: layers.ZeroPadding3D((1, 2)), r"tuple of 3 \(before, after\) pairs"),
    (lambda: layers.ZeroPadding2D(data_format="nchw"), "data_format must be"),
    (lambda: layers.Cropping1D(-2), "cropping must be a non-negative integer"),
    (lambda: layers.Cropping2D(-1), "cropping must be non-negative"),
    (lambda: layers.Cropping2D((1, (2, 3, 4))), r"2nd entry of cropping must be"),
    (lambda: layers.Cropping3D("x"), "cropping must be an int"),
    (lambda: layers.UpSampling1D(0), "size must be a positive integer, got 0"),
    (lambda: layers.UpSampling1D(2.0), "size must be a positive integer, got 2.0"),
    (lambda: layers.UpSampling2D((2, 0)), "size must be a positive integer or a tuple of 2"),
    (lambda: layers.UpSampling2D(interpolation="lanczos3"),
     r"interpolation must be one of \('nearest', 'bilinear', 'bicubic'\), got 'lanczos3'"),
    (lambda: layers.UpSampling3D((2, 2)), "size must be"),
    (lambda: layers.RepeatVector(0), "n must be a positive integer, got 0"),
    (lambda: layers.RepeatVector("3"), "n must be a positive integer"),
    (lambda: layers.Permute((1, 3)), r"dims must be a permutation of the non-batch axes"),
    (lambda: layers.Permute((0, 1)), "dims must be a permutation"),
    (lambda: layers.Permute(2), "dims must be a permutation"),
    (lambda: layers.AdaptiveMaxPooling2D((2, 2, 2)), "output_size must be"),
    (lambda: layers.AdaptiveAveragePooling1D(0), "output_size must be"),
    (lambda: layers.GlobalAveragePooling2D(data_format="x"), "data_format must be"),
])
def test_reshaping_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make,shape", [
    (lambda: layers.Cropping1D((2, 3)), (2, 5, 3)),
    (lambda: layers.Cropping1D((6, 0)), (2, 5, 3)),
    (lambda: layers.Cropping2D(((1, 1), (0, 0))), (2, 2, 4, 3)),
    (lambda: layers.Cropping2D((0, 2), data_format="channels_first"), (2, 3, 5, 4)),
    (lambda: layers.Cropping3D(((0, 0), (0, 0), (3, 3))), (1, 4, 4, 6, 2)),
])
def test_cropping_more_than_the_input(make, shape):
    with pytest.raises(ValueError, match=r"cropping .* removes all of the spatial size"):
        make()(torch.zeros(shape))
    with pytest.raises(ValueError, match="removes all"):
        make().compute_output_shape(shape)


def test_cropping_checked_at_construction_with_input_shape():
    with pytest.raises(ValueError, match="removes all"):
        layers.Cropping2D(2, input_shape=(4, 9, 1))


def test_cropping_permute_and_repeat_return_views():
    x = torch.randn(2, 5, 6, 3)
    for layer in (layers.Cropping2D(1), layers.Permute((3, 1, 2))):
        assert layer(x).data_ptr() >= x.data_ptr() and layer(x)._base is x
    v = torch.randn(2, 4)
    assert layers.RepeatVector(3)(v)._base is v


def test_upsampling_nearest_repeats_each_element():
    x = torch.arange(6.0).reshape(1, 2, 3, 1)
    out = layers.UpSampling2D((2, 3))(x)
    expected = x.repeat_interleave(2, dim=1).repeat_interleave(3, dim=2)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    seq = torch.randn(2, 7, 3)
    torch.testing.assert_close(layers.UpSampling1D(5)(seq), seq.repeat_interleave(5, dim=1))


def test_zero_padding_values():
    out = layers.ZeroPadding2D(((1, 0), (0, 2)))(torch.ones(1, 2, 2, 1))
    assert out[0, :, :, 0].tolist() == [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]


def test_reshaping_layers_keep_gradients_flowing():
    x = torch.randn(2, 4, 4, 3, requires_grad=True)
    model = [layers.ZeroPadding2D(1), layers.Cropping2D(1), layers.UpSampling2D(2),
             layers.MaxPooling2D(2), layers.Permute((3, 1, 2))]
    out = x
    for layer in model:
        out = layer(out)
    out.sum().backward()
    # Upsampling 2x2 then max pooling 2x2 picks one copy of each pixel: gradient 1 everywhere.
    torch.testing.assert_close(x.grad, torch.ones_like(x))


def test_output_shapes_keep_unknown_dims():
    assert layers.MaxPooling2D(3, strides=2, padding="same").compute_output_shape(
        (None, None, 7, 3)) == (None, None, 4, 3)
    assert layers.Cropping1D(1).compute_output_shape((None, None, 3)) == (None, None, 3)
    assert layers.UpSampling1D(2).compute_output_shape((4, None, 3)) == (4, None, 3)
    assert layers.GlobalAveragePooling2D().compute_output_shape((None, None, None, 8)) == (None, 8)
    assert layers.RepeatVector(3).compute_output_shape((None, None)) == (None, 3, None)


def test_aliases_resolve_to_the_canonical_classes():
    assert layers.MaxPool2D is layers.MaxPooling2D
    assert layers.GlobalAvgPool1D is layers.GlobalAveragePooling1D
    layer = layers.deserialize({"class_name": "AvgPool2D", "config": {"pool_size": 3}})
    assert type(layer) is layers.AveragePooling2D
    assert layers.serialize(layer)["class_name"] == "AveragePooling2D"


def test_same_padding_cache_is_bounded():
    layer = layers.AveragePooling1D(4, strides=1, padding="same")
    for length in range(1, 200):
        assert layer(torch.zeros(1, length, 1)).shape == (1, length, 1)
    assert len(layer._same_cache) <= 64


def test_large_spatial_sizes_stay_exact():
    # ceil / floor in integer arithmetic (no float rounding) for big sizes
    size = 10**6 + 3
    assert layers.MaxPooling1D(3, strides=7, padding="same").compute_output_shape(
        (None, size, 1)) == (None, math.ceil(size / 7), 1)
