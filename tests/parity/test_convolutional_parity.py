"""Convolution layers against real Keras 3 (torch backend): forward passes from Keras's own
weights, gradients, output shapes and weight layouts.

Tolerance: both sides run the same float32 torch convolution kernels; the only differences are
the order of the final bias add (fused by us, separate in Keras) and the memory layout handed
to torch, which can change the summation order: a few ulps, far below atol=1e-5.
"""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers
from torchkeras_lite.models import Sequential

ATOL = 1e-5


def _pair(K, name, args, kwargs):
    kwargs = dict(kwargs)
    if kwargs.get("use_bias", True):
        kwargs["bias_initializer"] = "random_normal"  # a zero bias would hide bias mistakes
    return getattr(K.layers, name)(*args, **kwargs), getattr(layers, name)(*args, **kwargs)


def _forward_parity(K, name, args, kwargs, shape, seed=0):
    x = np.random.default_rng(seed).normal(size=shape).astype("float32")
    klayer, ours = _pair(K, name, args, kwargs)
    expected = K.ops.convert_to_numpy(klayer(x))
    ours.build((None,) + shape[1:])
    ours.set_weights(klayer.get_weights())
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in klayer.get_weights()]
    got = ours(torch.from_numpy(x)).detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=ATOL)
    for batch_shape in ((None,) + shape[1:], shape):
        assert tuple(ours.compute_output_shape(batch_shape)) == \
            tuple(klayer.compute_output_shape(batch_shape))
    return klayer, ours


CF = {"data_format": "channels_first"}

CONV1D_CASES = [
    ({}, 3, (2, 11, 4)),
    ({"padding": "same"}, 3, (2, 11, 4)),
    ({"padding": "same"}, 4, (2, 11, 4)),
    ({"padding": "same", "strides": 2}, 3, (2, 11, 4)),
    ({"padding": "same", "strides": 2}, 3, (2, 10, 4)),
    ({"padding": "causal"}, 3, (2, 11, 4)),
    ({"padding": "causal", "dilation_rate": 2}, 3, (2, 11, 4)),
    ({"padding": "causal", "strides": 2}, 4, (2, 11, 4)),
    ({"padding": "causal", **CF}, 3, (2, 4, 11)),
    ({"dilation_rate": 3}, 2, (2, 11, 4)),
    ({"groups": 2, "padding": "same"}, 3, (2, 11, 4)),
    ({**CF, "strides": 3}, 2, (2, 4, 11)),
    ({"use_bias": False, "activation": "relu"}, 5, (2, 11, 4)),
]


@pytest.mark.parametrize("kwargs,kernel,shape", CONV1D_CASES)
def test_conv1d_matches_keras(K, kwargs, kernel, shape):
    _forward_parity(K, "Conv1D", (6, kernel), kwargs, shape)


CONV2D_CASES = [
    ({}, 3, (2, 9, 8, 3)),
    ({"padding": "same"}, 3, (2, 9, 8, 3)),
    ({"padding": "same"}, 4, (2, 9, 8, 3)),  # even kernel: extra pixel at the end
    ({"padding": "same", "strides": 2}, 3, (2, 9, 9, 3)),  # odd size: symmetric
    ({"padding": "same", "strides": 2}, 3, (2, 10, 10, 3)),  # even size: (0, 1)
    ({"padding": "same", "strides": 2}, 4, (2, 9, 10, 3)),
    ({"padding": "same", "strides": 3}, 5, (2, 10, 11, 3)),
    ({"padding": "same", "strides": (2, 1)}, (2, 3), (2, 7, 8, 3)),
    ({"padding": "same", "strides": 2}, 1, (2, 4, 5, 3)),  # total padding clipped to 0
    ({"strides": 2}, 3, (2, 9, 10, 3)),
    ({"dilation_rate": 2}, 3, (2, 9, 10, 3)),
    ({"dilation_rate": (2, 3), "padding": "same"}, 3, (2, 9, 10, 3)),
    ({"groups": 3, "padding": "same"}, 3, (2, 8, 8, 3)),
    ({**CF}, 3, (2, 3, 9, 8)),
    ({**CF, "padding": "same", "strides": 2}, 3, (2, 3, 10, 9)),
    ({**CF, "groups": 3, "dilation_rate": 2}, 2, (2, 3, 9, 8)),
    ({"use_bias": False, "activation": "relu"}, 3, (2, 9, 8, 3)),
    ({"activation": "softmax", "padding": "same"}, 2, (2, 6, 5, 3)),
]


@pytest.mark.parametrize("kwargs,kernel,shape", CONV2D_CASES)
def test_conv2d_matches_keras(K, kwargs, kernel, shape):
    _forward_parity(K, "Conv2D", (6, kernel), kwargs, shape)


CONV3D_CASES = [
    ({}, 3, (2, 5, 6, 7, 2)),
    ({"padding": "same", "strides": 2}, 3, (2, 5, 6, 7, 2)),
    ({"padding": "same"}, 2, (2, 5, 6, 7, 2)),
    ({"dilation_rate": 2, "groups": 2}, 2, (2, 5, 6, 7, 2)),
    ({**CF, "padding": "same", "strides": (1, 2, 3)}, 3, (2, 2, 5, 6, 7)),
]


@pytest.mark.parametrize("kwargs,kernel,shape", CONV3D_CASES)
def test_conv3d_matches_keras(K, kwargs, kernel, shape):
    _forward_parity(K, "Conv3D", (4, kernel), kwargs, shape)


TRANSPOSE_CASES = [
    ({}, 3, (2, 5, 6, 3)),
    ({"strides": 2}, 3, (2, 5, 6, 3)),
    ({"strides": 3}, 2, (2, 5, 6, 3)),  # stride > kernel: zero rows (plus bias) at the end
    ({"strides": 2}, 1, (2, 5, 6, 3)),
    ({"padding": "same"}, 3, (2, 5, 6, 3)),
    ({"padding": "same"}, 4, (2, 5, 6, 3)),
    ({"padding": "same", "strides": 2}, 3, (2, 5, 6, 3)),
    ({"padding": "same", "strides": 2}, 4, (2, 5, 6, 3)),
    ({"padding": "same", "strides": 3}, 2, (2, 5, 6, 3)),
    ({"padding": "same", "strides": (2, 3)}, (3, 5), (2, 5, 6, 3)),
    ({"strides": 2, "output_padding": 1}, 3, (2, 5, 6, 3)),
    ({"padding": "same", "strides": 2, "output_padding": 1}, 3, (2, 5, 6, 3)),
    ({"padding": "same", "strides": 2, "output_padding": 0}, 4, (2, 5, 6, 3)),
    ({"padding": "same", "strides": 3, "output_padding": (2, 1)}, 2, (2, 5, 6, 3)),
    ({"dilation_rate": 2}, 3, (2, 5, 6, 3)),
    ({"dilation_rate": 2, "padding": "same"}, 2, (2, 5, 6, 3)),
    ({**CF, "padding": "same", "strides": 2}, 3, (2, 3, 5, 6)),
    ({"use_bias": False, "activation": "tanh", "strides": 2}, 2, (2, 5, 6, 3)),
]


@pytest.mark.parametrize("kwargs,kernel,shape", TRANSPOSE_CASES)
def test_conv2d_transpose_matches_keras(K, kwargs, kernel, shape):
    _forward_parity(K, "Conv2DTranspose", (4, kernel), kwargs, shape)


def test_conv2d_transpose_torch_output_padding_stays_below_stride():
    """The padding plan relies on torch's constraint output_padding < max(stride, dilation)
    holding for every valid Keras configuration; check it over a grid."""
    for k in range(1, 7):
        for s in range(1, 5):
            for padding in ("valid", "same"):
                for extra in (None, *range(s)):
                    layer = layers.Conv2DTranspose(2, k, strides=s, padding=padding,
                                                   output_padding=extra)
                    assert all(op < s for op in layer._torch_output_padding)
                    out = layer(torch.zeros(1, 4, 5, 1))
                    assert tuple(out.shape) == layer.compute_output_shape((1, 4, 5, 1))


DEPTHWISE_CASES = [
    ({}, 3, (2, 9, 8, 3)),
    ({"depth_multiplier": 2}, 3, (2, 9, 8, 3)),
    ({"padding": "same", "strides": 2, "depth_multiplier": 3}, 3, (2, 10, 9, 3)),
    ({"padding": "same"}, 4, (2, 9, 8, 3)),
    ({"dilation_rate": 2, "padding": "same"}, 3, (2, 9, 8, 3)),
    ({"dilation_rate": 2, "strides": 2, "padding": "same"}, 3, (2, 10, 9, 3)),
    ({**CF, "depth_multiplier": 2, "padding": "same", "strides": 2}, 3, (2, 3, 10, 9)),
    ({"use_bias": False, "activation": "relu"}, 2, (2, 9, 8, 3)),
]


@pytest.mark.parametrize("kwargs,kernel,shape", DEPTHWISE_CASES)
def test_depthwise_conv2d_matches_keras(K, kwargs, kernel, shape):
    _forward_parity(K, "DepthwiseConv2D", (kernel,), kwargs, shape)


SEPARABLE_CASES = [
    ({}, 3, (2, 9, 8, 3)),
    ({"depth_multiplier": 2, "padding": "same"}, 3, (2, 9, 8, 3)),
    ({"padding": "same", "strides": 2}, 3, (2, 10, 9, 3)),
    ({"padding": "same"}, 2, (2, 9, 8, 3)),
    ({"dilation_rate": 2}, 3, (2, 9, 8, 3)),
    ({**CF, "depth_multiplier": 2, "padding": "same", "strides": 2}, 3, (2, 3, 10, 9)),
    ({"use_bias": False, "activation": "relu"}, 3, (2, 9, 8, 3)),
]


@pytest.mark.parametrize("kwargs,kernel,shape", SEPARABLE_CASES)
def test_separable_conv2d_matches_keras(K, kwargs, kernel, shape):
    _forward_parity(K, "SeparableConv2D", (5, kernel), kwargs, shape)


GRAD_CASES = [
    ("Conv1D", (5, 3), {"padding": "causal", "dilation_rate": 2}, (2, 9, 3)),
    ("Conv2D", (4, 3), {"padding": "same", "strides": 2}, (2, 8, 9, 3)),
    ("Conv2D", (6, 3), {"groups": 3, **CF}, (2, 3, 7, 8)),
    ("Conv3D", (2, 2), {"padding": "same"}, (2, 3, 4, 5, 2)),
    ("Conv2DTranspose", (4, 3), {"padding": "same", "strides": 2}, (2, 5, 6, 3)),
    ("DepthwiseConv2D", (3,), {"depth_multiplier": 2, "padding": "same"}, (2, 6, 7, 3)),
    ("SeparableConv2D", (4, 3), {"depth_multiplier": 2, "strides": 2, "padding": "same"},
     (2, 8, 7, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", GRAD_CASES)
def test_gradients_match_keras(K, name, args, kwargs, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype("float32")
    klayer, ours = _pair(K, name, args, kwargs)
    klayer.build((None,) + shape[1:])
    ours.build((None,) + shape[1:])
    ours.set_weights(klayer.get_weights())

    kx = torch.tensor(x, requires_grad=True)
    kout = klayer(kx)
    weighting = torch.from_numpy(rng.normal(size=tuple(kout.shape)).astype("float32"))
    (kout * weighting).sum().backward()
    kgrads = [v.value.grad.numpy() for v in klayer.weights]

    ox = torch.tensor(x, requires_grad=True)
    (ours(ox) * weighting).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), kx.grad.numpy(), rtol=1e-5, atol=ATOL)
    for mine, theirs in zip(ours.weights, kgrads):
        np.testing.assert_allclose(mine.grad.numpy(), theirs, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv_flatten_dense_from_keras_weights(K, data_format):
    """Keras's Flatten emits channels-last order, so Dense weights after a conv stack load
    unchanged: the whole model gives Keras's outputs."""
    shape = (9, 10, 3) if data_format == "channels_last" else (3, 9, 10)
    x = np.random.default_rng(2).normal(size=(4,) + shape).astype("float32")

    def stack(m):
        return [m.Conv2D(5, 3, strides=2, padding="same", activation="relu",
                         data_format=data_format),
                m.Flatten(data_format=data_format), m.Dense(7)]

    kmodel = K.Sequential([K.Input(shape), *stack(K.layers)])
    expected = K.ops.convert_to_numpy(kmodel(x))
    ours = Sequential([layers.Input(shape=shape), *stack(layers)])
    for mine, theirs in zip(ours.layers, kmodel.layers):
        mine.set_weights(theirs.get_weights())
    got = ours(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=ATOL)


@pytest.mark.parametrize("name,args", [
    ("Conv1D", (4, 3)), ("Conv2D", (4, 3)), ("Conv3D", (4, 3)), ("Conv2DTranspose", (4, 3)),
    ("DepthwiseConv2D", (3,)), ("SeparableConv2D", (4, 3)),
])
def test_configs_exchange_with_keras(K, name, args):
    """Our configs carry Keras's layer-specific keys and values, and Keras's configs load."""
    ours = getattr(layers, name)(*args).get_config()
    theirs = getattr(K.layers, name)(*args).get_config()
    generic = {"name", "trainable", "dtype", "activity_regularizer"}
    assert set(theirs) - generic <= set(ours)
    for key in ("kernel_size", "strides", "padding", "data_format", "dilation_rate", "filters",
                "groups", "depth_multiplier", "output_padding", "use_bias"):
        if key in theirs:
            assert ours[key] == theirs[key], key
    loaded = getattr(layers, name).from_config(
        getattr(K.layers, name)(*args, activation="relu", use_bias=False).get_config())
    assert loaded.activation is layers.Activation("relu").activation and not loaded.use_bias
