"""ONNX export of the activation, convolution, pooling, reshaping, normalization,
regularization and preprocessing layers, and of every activation: each case is exported,
fully checked, and run in onnxruntime against ``predict`` at batch sizes 1 and 37."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import Input, Model, Sequential, activations
from torchkeras_lite import layers as L
from torchkeras_lite.layers import (activation_layers, convolutional, normalization, pooling,
                                    preprocessing, regularization, reshaping)

from torchkeras_lite.export import UnsupportedLayerError
from torchkeras_lite.export.onnx_export import build_onnx_model

from conftest import assert_exports

pytestmark = pytest.mark.filterwarnings("ignore:rms_scaling=True is deprecated")

FAMILIES = (activation_layers, convolutional, pooling, reshaping, normalization,
            regularization, preprocessing)


# ---------------------------------------------------------------------------- model builders
def randomize(model, seed=0):
    """Non-trivial weights everywhere (variances positive), so a wrong graph fails."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.modules():
            for name in getattr(layer, "_weight_names", ()):
                p = getattr(layer, name)
                if not p.is_floating_point():
                    continue
                if "variance" in name:
                    p.copy_(torch.rand(p.shape, generator=gen) * 1.5 + 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model


def seq(shape, *layers, dtype=None):
    """A built Sequential ``Input(shape) -> layers`` with random weights."""
    return randomize(Sequential([Input(shape, dtype=dtype), *layers]))


def S(shape, *makers, dtype=None):
    """A case: ``makers`` are layer classes or zero-argument layer factories."""
    return lambda: seq(shape, *[m() for m in makers], dtype=dtype)


def conv_chain(layer, shape=(8, 8, 3)):
    """Conv2D -> layer -> Conv2D: the layer between two channels-first ops."""
    return lambda: seq(shape, L.Conv2D(4, 3, padding="same"), layer(),
                       L.Conv2D(3, 1))


def masked_softmax():
    x, m = Input((3, 5)), Input((3, 5))
    return randomize(Model([x, m], L.Softmax()(x, mask=m)))


def masked_global_average():
    x, m = Input((6, 4)), Input((6,), dtype="int64")
    out = L.GlobalAveragePooling1D()(x, mask=m)
    return Model([x, m], out)


def masked_global_average_cf():
    x, m = Input((4, 6)), Input((6,), dtype="int64")
    out = L.GlobalAveragePooling1D(data_format="channels_first", keepdims=True)(x, mask=m)
    return Model([x, m], out)


def adapted_normalization(shape, **kwargs):
    def make():
        layer = L.Normalization(**kwargs)
        rng = np.random.default_rng(3)
        layer.adapt((rng.standard_normal((50, *shape)) * 3 + 1).astype("float32"))
        return Sequential([Input(shape), layer])
    return make


def prelu(shape, **kwargs):
    return S(shape, lambda: L.PReLU(**kwargs))


# ---------------------------------------------------------------------------- the cases
CF = "channels_first"

CASES: dict[str, list] = {
    # -- activation layers
    "ELU": [S((5,), L.ELU), S((3, 4), lambda: L.ELU(alpha=0.5))],
    "LeakyReLU": [S((5,), L.LeakyReLU), S((3, 4), lambda: L.LeakyReLU(negative_slope=0.05))],
    "PReLU": [prelu((5,)), prelu((4, 4, 3), shared_axes=[1, 2]),
              lambda: seq((6, 6, 2), L.Conv2D(3, 3), L.PReLU(shared_axes=[1, 2]),
                          L.MaxPooling2D())],
    "ReLU": [S((6,), L.ReLU),
             S((6,), lambda: L.ReLU(max_value=6.0)),
             S((6,), lambda: L.ReLU(max_value=0.7)),
             S((6,), lambda: L.ReLU(negative_slope=0.2)),
             S((6,), lambda: L.ReLU(threshold=0.5)),
             S((6,), lambda: L.ReLU(max_value=6.0, threshold=0.3)),
             S((6,), lambda: L.ReLU(negative_slope=0.1, max_value=1.0)),
             S((6,), lambda: L.ReLU(negative_slope=0.3, threshold=0.4)),
             S((6,), lambda: L.ReLU(negative_slope=0.3, max_value=0.9, threshold=0.2))],
    "Softmax": [S((7,), L.Softmax), S((3, 5), lambda: L.Softmax(axis=1)),
                S((3, 4, 2), lambda: L.Softmax(axis=[1, 3])), S((3, 4), lambda: L.Softmax([1])),
                masked_softmax],
    # -- convolutions
    "Conv1D": [S((10, 3), lambda: L.Conv1D(4, 3)),
               S((9, 3), lambda: L.Conv1D(4, 4, strides=2, padding="same")),
               S((9, 3), lambda: L.Conv1D(2, 3, padding="causal", dilation_rate=2,
                                          activation="tanh")),
               S((4, 9), lambda: L.Conv1D(4, 3, padding="same", data_format=CF, groups=2,
                                          use_bias=False)),
               S((None, 3), lambda: L.Conv1D(4, 3, strides=2, padding="same",
                                             activation="relu")),
               S((8, 4), lambda: L.Conv1D(6, 2, activation="softmax", groups=2))],
    "Conv2D": [S((7, 6, 3), lambda: L.Conv2D(4, 3)),
               S((9, 8, 3), lambda: L.Conv2D(4, 3, strides=2, padding="same")),
               S((8, 8, 2), lambda: L.Conv2D(4, (3, 2), strides=(2, 1), padding="same",
                                             use_bias=False, activation="gelu")),
               S((9, 9, 3), lambda: L.Conv2D(3, 3, dilation_rate=2, padding="same")),
               S((4, 7, 6), lambda: L.Conv2D(6, 3, data_format=CF, groups=2, strides=2,
                                             padding="same", activation="relu")),
               S((6, 6, 3), lambda: L.Conv2D(5, 2, activation="log_softmax")),
               S((None, None, 3), lambda: L.Conv2D(4, 3, strides=2, padding="same")),
               S((6, 5, 2), lambda: L.Conv2D(3, 2, padding="same"))],
    "Conv3D": [S((5, 6, 4, 2), lambda: L.Conv3D(3, 3)),
               S((2, 5, 6, 5), lambda: L.Conv3D(4, (2, 3, 3), strides=2, padding="same",
                                                data_format=CF, activation="elu"))],
    "Conv2DTranspose": [
        S((5, 4, 3), lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same")),
        S((5, 4, 3), lambda: L.Conv2DTranspose(4, 3, strides=2)),
        S((5, 4, 3), lambda: L.Conv2DTranspose(2, 1, strides=2)),
        S((5, 4, 3), lambda: L.Conv2DTranspose(2, 4, strides=2, padding="same")),
        S((5, 4, 3), lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same",
                                               output_padding=1)),
        S((5, 4, 3), lambda: L.Conv2DTranspose(2, (3, 2), strides=(3, 2),
                                               output_padding=(1, 0))),
        S((5, 4, 3), lambda: L.Conv2DTranspose(3, 3, dilation_rate=2, padding="same",
                                               activation="relu")),
        S((3, 5, 4), lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same",
                                               data_format=CF, use_bias=False)),
        S((None, None, 3), lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same"))],
    "DepthwiseConv2D": [
        S((7, 6, 3), lambda: L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)),
        S((9, 8, 3), lambda: L.DepthwiseConv2D(3, strides=2, activation="relu6")),
        S((3, 8, 8), lambda: L.DepthwiseConv2D(2, strides=2, padding="same", data_format=CF)),
        S((9, 9, 2), lambda: L.DepthwiseConv2D(3, dilation_rate=2, use_bias=False))],
    "SeparableConv2D": [
        S((7, 6, 3), lambda: L.SeparableConv2D(4, 3, padding="same", depth_multiplier=2)),
        S((3, 9, 8), lambda: L.SeparableConv2D(5, 3, strides=2, padding="same",
                                               data_format=CF, activation="relu")),
        S((8, 8, 2), lambda: L.SeparableConv2D(3, 2, dilation_rate=2, use_bias=False))],
    # -- pooling (aliases below)
    "MaxPooling1D": [S((8, 3), L.MaxPooling1D),
                     S((9, 3), lambda: L.MaxPooling1D(3, strides=2, padding="same")),
                     S((3, 9), lambda: L.MaxPooling1D(2, padding="same", data_format=CF)),
                     S((None, 3), lambda: L.MaxPooling1D(3, strides=2, padding="same"))],
    "MaxPooling2D": [S((7, 6, 3), L.MaxPooling2D),
                     S((9, 8, 3), lambda: L.MaxPooling2D(3, strides=2, padding="same")),
                     S((7, 7, 3), lambda: L.MaxPooling2D(2, padding="same")),
                     S((3, 8, 7), lambda: L.MaxPooling2D((2, 3), strides=1, data_format=CF)),
                     S((None, None, 2), lambda: L.MaxPooling2D(2, padding="same"))],
    "MaxPooling3D": [S((4, 5, 4, 2), L.MaxPooling3D),
                     S((2, 5, 4, 5), lambda: L.MaxPooling3D(2, padding="same",
                                                            data_format=CF))],
    "AveragePooling1D": [S((8, 3), L.AveragePooling1D),
                         S((9, 3), lambda: L.AveragePooling1D(3, strides=2, padding="same")),
                         S((8, 3), lambda: L.AveragePooling1D(4, strides=3, padding="same")),
                         S((3, 9), lambda: L.AveragePooling1D(2, padding="same",
                                                              data_format=CF)),
                         S((None, 2), lambda: L.AveragePooling1D(3, strides=1,
                                                                 padding="same"))],
    "AveragePooling2D": [S((7, 6, 3), L.AveragePooling2D),
                         S((9, 9, 3), lambda: L.AveragePooling2D(3, strides=2, padding="same")),
                         S((9, 8, 3), lambda: L.AveragePooling2D(3, strides=2, padding="same")),
                         S((7, 7, 3), lambda: L.AveragePooling2D(2, padding="same")),
                         S((3, 8, 7), lambda: L.AveragePooling2D((2, 3), strides=1,
                                                                 data_format=CF))],
    "AveragePooling3D": [S((4, 5, 4, 2), L.AveragePooling3D),
                         S((2, 5, 5, 5), lambda: L.AveragePooling3D(3, strides=2,
                                                                    padding="same",
                                                                    data_format=CF)),
                         S((5, 4, 5, 2), lambda: L.AveragePooling3D(2, padding="same"))],
    "GlobalMaxPooling1D": [S((6, 4), L.GlobalMaxPooling1D),
                           S((4, 6), lambda: L.GlobalMaxPooling1D(data_format=CF,
                                                                  keepdims=True))],
    "GlobalMaxPooling2D": [S((5, 6, 3), L.GlobalMaxPooling2D),
                           S((5, 6, 3), lambda: L.GlobalMaxPooling2D(keepdims=True)),
                           S((3, 5, 6), lambda: L.GlobalMaxPooling2D(data_format=CF)),
                           conv_chain(lambda: L.GlobalMaxPooling2D(keepdims=True))],
    "GlobalMaxPooling3D": [S((3, 4, 5, 2), L.GlobalMaxPooling3D),
                           S((2, 3, 4, 5), lambda: L.GlobalMaxPooling3D(data_format=CF,
                                                                        keepdims=True))],
    "GlobalAveragePooling1D": [S((6, 4), L.GlobalAveragePooling1D),
                               S((4, 6), lambda: L.GlobalAveragePooling1D(data_format=CF)),
                               masked_global_average, masked_global_average_cf],
    "GlobalAveragePooling2D": [S((5, 6, 3), L.GlobalAveragePooling2D),
                               S((3, 5, 6), lambda: L.GlobalAveragePooling2D(data_format=CF,
                                                                             keepdims=True)),
                               lambda: seq((8, 8, 3), L.Conv2D(4, 3),
                                           L.GlobalAveragePooling2D(), L.Dense(2))],
    "GlobalAveragePooling3D": [S((3, 4, 5, 2), L.GlobalAveragePooling3D),
                               S((3, 4, 5, 2), lambda: L.GlobalAveragePooling3D(
                                   keepdims=True))],
    "AdaptiveMaxPooling1D": [S((8, 3), lambda: L.AdaptiveMaxPooling1D(4)),
                             S((7, 3), lambda: L.AdaptiveMaxPooling1D(3)),
                             S((3, 3), lambda: L.AdaptiveMaxPooling1D(5))],
    "AdaptiveMaxPooling2D": [S((8, 7, 2), lambda: L.AdaptiveMaxPooling2D((4, 3))),
                             S((2, 9, 6), lambda: L.AdaptiveMaxPooling2D(3, data_format=CF)),
                             S((5, 7, 2), lambda: L.AdaptiveMaxPooling2D((2, 3)))],
    "AdaptiveMaxPooling3D": [S((5, 5, 4, 2), lambda: L.AdaptiveMaxPooling3D(2))],
    "AdaptiveAveragePooling1D": [S((8, 3), lambda: L.AdaptiveAveragePooling1D(2)),
                                 S((3, 7), lambda: L.AdaptiveAveragePooling1D(
                                     3, data_format=CF))],
    "AdaptiveAveragePooling2D": [S((7, 9, 4), lambda: L.AdaptiveAveragePooling2D((2, 3))),
                                 S((7, 9, 4), lambda: L.AdaptiveAveragePooling2D(1)),
                                 S((6, 5, 4), lambda: L.AdaptiveAveragePooling2D((4, 4)))],
    "AdaptiveAveragePooling3D": [S((3, 4, 5, 2), lambda: L.AdaptiveAveragePooling3D(
        (1, 2, 2)))],
    # -- reshaping
    "ZeroPadding1D": [S((5, 3), L.ZeroPadding1D), S((3, 5), lambda: L.ZeroPadding1D(
        (1, 2), data_format=CF))],
    "ZeroPadding2D": [S((4, 5, 3), lambda: L.ZeroPadding2D(((1, 0), (2, 3)))),
                      S((3, 4, 5), lambda: L.ZeroPadding2D(1, data_format=CF)),
                      conv_chain(lambda: L.ZeroPadding2D((1, 2)))],
    "ZeroPadding3D": [S((2, 3, 4, 2), L.ZeroPadding3D),
                      S((2, 2, 3, 4), lambda: L.ZeroPadding3D(((0, 1), (2, 0), (1, 1)),
                                                              data_format=CF))],
    "Cropping1D": [S((6, 3), L.Cropping1D), S((6, 3), lambda: L.Cropping1D((0, 2)))],
    "Cropping2D": [S((6, 7, 3), lambda: L.Cropping2D(((1, 0), (2, 2)))),
                   S((3, 6, 7), lambda: L.Cropping2D((1, 2), data_format=CF)),
                   S((4, 4, 2), L.Cropping2D),
                   conv_chain(lambda: L.Cropping2D(((0, 1), (1, 0))))],
    "Cropping3D": [S((4, 5, 6, 2), L.Cropping3D),
                   S((2, 4, 5, 6), lambda: L.Cropping3D(((1, 0), (0, 1), (2, 2)),
                                                        data_format=CF))],
    "UpSampling1D": [S((4, 3), L.UpSampling1D), S((4, 3), lambda: L.UpSampling1D(3))],
    "UpSampling2D": [S((3, 4, 2), L.UpSampling2D),
                     S((2, 3, 4), lambda: L.UpSampling2D((2, 3), data_format=CF)),
                     S((4, 5, 2), lambda: L.UpSampling2D((2, 3), interpolation="bilinear")),
                     S((2, 4, 5), lambda: L.UpSampling2D(2, interpolation="bilinear",
                                                         data_format=CF)),
                     S((4, 5, 2), lambda: L.UpSampling2D((3, 2), interpolation="bicubic")),
                     conv_chain(lambda: L.UpSampling2D(2)),
                     conv_chain(lambda: L.UpSampling2D(2, interpolation="bilinear"))],
    "UpSampling3D": [S((2, 3, 2, 2), L.UpSampling3D),
                     S((2, 2, 3, 2), lambda: L.UpSampling3D((1, 2, 3), data_format=CF))],
    "RepeatVector": [S((4,), lambda: L.RepeatVector(3))],
    "Permute": [S((3, 4), lambda: L.Permute((2, 1))),
                S((3, 4, 5), lambda: L.Permute((3, 1, 2)))],
    # -- normalization
    "BatchNormalization": [
        S((5,), L.BatchNormalization),
        S((4, 3), lambda: L.BatchNormalization(axis=1, center=False)),
        S((3, 4, 5), lambda: L.BatchNormalization(axis=1, scale=False, epsilon=0.1)),
        lambda: seq((8, 8, 3), L.Conv2D(4, 3), L.BatchNormalization(), L.ReLU(),
                    L.MaxPooling2D(), L.Conv2D(2, 1))],
    "GroupNormalization": [
        S((5, 6, 4), lambda: L.GroupNormalization(groups=2)),
        S((4, 5, 3), lambda: L.GroupNormalization(groups=2, axis=1)),
        S((6,), lambda: L.GroupNormalization(groups=3)),
        S((3, 4, 5), lambda: L.GroupNormalization(groups=-1, axis=2, center=False)),
        S((None, 4), lambda: L.GroupNormalization(groups=4, scale=False)),
        lambda: seq((6, 6, 2), L.Conv2D(4, 3), L.GroupNormalization(groups=2),
                    L.Conv2D(2, 1))],
    "LayerNormalization": [
        S((6,), L.LayerNormalization),
        S((3, 4, 5), lambda: L.LayerNormalization(axis=[1, 2])),
        S((3, 4, 5), lambda: L.LayerNormalization(axis=[1, 3], epsilon=0.01)),
        S((3, 4, 5), lambda: L.LayerNormalization(axis=1, center=False)),
        S((4, 5), lambda: L.LayerNormalization(scale=False)),
        S((4, 5), lambda: L.LayerNormalization(rms_scaling=True)),
        lambda: seq((6, 6, 3), L.Conv2D(4, 3), L.LayerNormalization(), L.Conv2D(2, 1))],
    "RMSNormalization": [S((6,), L.RMSNormalization),
                         S((3, 4, 5), lambda: L.RMSNormalization(axis=[1, 2], epsilon=0.1))],
    "UnitNormalization": [S((6,), L.UnitNormalization),
                          S((3, 4, 5), lambda: L.UnitNormalization(axis=[1, 2]))],
    # -- regularization (identity at inference)
    "ActivityRegularization": [S((5,), lambda: L.ActivityRegularization(l1=0.1, l2=0.1))],
    "AlphaDropout": [S((5,), lambda: L.AlphaDropout(0.3))],
    "GaussianDropout": [S((5,), lambda: L.GaussianDropout(0.3))],
    "GaussianNoise": [S((5,), lambda: L.GaussianNoise(0.5))],
    "SpatialDropout1D": [S((4, 3), lambda: L.SpatialDropout1D(0.5))],
    "SpatialDropout2D": [conv_chain(lambda: L.SpatialDropout2D(0.5))],
    "SpatialDropout3D": [S((2, 3, 4, 2), lambda: L.SpatialDropout3D(0.5, data_format=CF))],
    # -- preprocessing
    "Normalization": [adapted_normalization((4,)),
                      adapted_normalization((3, 4), axis=None),
                      adapted_normalization((3, 4, 2), axis=(1, 3)),
                      S((3,), lambda: L.Normalization(mean=[1.0, -2.0, 0.5],
                                                      variance=[4.0, 0.25, 0.0],
                                                      invert=True)),
                      S((2, 3), lambda: L.Normalization(mean=2.0, variance=9.0)),
                      S((3,), lambda: L.Normalization(mean=[1, 2, 3], variance=[1, 2, 3]),
                        dtype="int64")],
    "Rescaling": [S((4,), lambda: L.Rescaling(0.5)),
                  S((3, 3, 2), lambda: L.Rescaling(1 / 127.5, offset=-1), dtype="uint8"),
                  S((3, 3, 2), lambda: L.Rescaling(np.array([0.5, 2.0]),
                                                   offset=np.array([1.0, -1.0])))],
}

# Flatten and Reshape (core.py) next to the layers they usually follow.
CORE_CASES: dict[str, list] = {
    "Flatten": [lambda: seq((5, 6, 3), L.Conv2D(4, 3, padding="same"), L.Flatten(), L.Dense(3)),
                S((3, 4, 5), lambda: L.Flatten(data_format=CF)),
                lambda: seq((2, 6, 5), L.Conv2D(3, 3, data_format=CF), L.Flatten(data_format=CF),
                            L.Dense(2)),
                lambda: seq((6, 6, 2), L.Conv2D(3, 3), L.MaxPooling2D(), L.Flatten())],
    "Reshape": [S((12,), lambda: L.Reshape((3, -1))),
                lambda: seq((4, 4, 2), L.Conv2D(3, 1), L.Reshape((-1, 3)), L.Conv1D(2, 3))],
}

# Keras's aliases are the same classes; export them under their alias names too.
_ALIAS_SHAPES = {"1D": (6, 3), "2D": (6, 5, 2), "3D": (4, 4, 4, 2)}
for _alias in ("MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
               "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D",
               "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D"):
    CASES[_alias] = [S(_ALIAS_SHAPES[_alias[-2:]], getattr(L, _alias))]


def _activation_cases(name):
    return [S((6,), lambda: L.Dense(4, activation=name)),
            # a wider range of inputs (softplus's linear region, sparse_* pieces, ...)
            S((4, 6), lambda: L.Rescaling(8.0), lambda: L.Activation(name))]


ACTIVATION_CASES: dict[str, list] = {name: _activation_cases(name)
                                     for name in activations.ACTIVATIONS}
# glu halves the last axis: with an unknown last axis the declared output shape is right.
ACTIVATION_CASES["glu"].append(S((4, None), lambda: L.Activation("glu")))
# sparsemax with an unknown last axis sorts a dynamic number of entries.
ACTIVATION_CASES["sparsemax"].append(S((None,), lambda: L.Activation("sparsemax")))

# Dense/Activation.compute_output_shape ignore glu's halving of the last axis (a layer-side
# bug), so the model's declared output shape, and the graph's, disagree with the data.
KNOWN_FAILURES: dict = {}


def _params(table):
    params = []
    for name, makers in table.items():
        for i, make in enumerate(makers):
            reason = KNOWN_FAILURES.get((name, i)) if table is ACTIVATION_CASES else None
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            params.append(pytest.param(make, id=f"{name}-{i}", marks=marks))
    return params


def even_feeds(proto):
    """Random feeds with every unknown non-batch axis of size 6 (glu needs an even size)."""
    rng = np.random.default_rng(0)

    def feeds(batch):
        return {i.name: rng.standard_normal(
            [batch] + [d.dim_value or 6 for d in i.type.tensor_type.shape.dim[1:]]
        ).astype("float32") for i in proto.graph.input}
    return feeds


# ---------------------------------------------------------------------------- tests
def test_every_layer_and_activation_has_cases():
    names = {name for family in FAMILIES for name in family.__all__}
    assert names == set(CASES)
    assert all(name in L.ALL_LAYERS for name in names)
    assert set(ACTIVATION_CASES) == set(activations.ACTIVATIONS)


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("make", _params(CASES))
def test_layer_exports(make, opset, tmp_path):
    assert_exports(make(), tmp_path, opset=opset)


ACTIVATION_PARAMS = [p for p in _params(ACTIVATION_CASES) if not p.id.startswith("threshold")]


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("make", ACTIVATION_PARAMS)
def test_activation_exports(make, opset, tmp_path):
    model = make()
    proto = build_onnx_model(model, opset=opset)
    assert_exports(model, tmp_path, feeds=even_feeds(proto), opset=opset)


@pytest.mark.parametrize("make", _params(CORE_CASES))
def test_flatten_and_reshape_export(make, tmp_path):
    assert_exports(make(), tmp_path)


@pytest.mark.parametrize("make", ACTIVATION_CASES["threshold"])
def test_threshold_activation_is_refused(make, tmp_path):
    # threshold() has two required arguments, so activation='threshold' cannot run at all.
    model = make()
    with pytest.raises(TypeError):
        model.predict(np.zeros((1, *model.input_shape[1:]), "float32"), verbose=0)
    with pytest.raises(UnsupportedLayerError, match="threshold"):
        assert_exports(model, tmp_path)


@pytest.mark.parametrize("opset", [13, 17])
def test_older_opsets(opset, tmp_path):
    model = seq((9, 9, 3), L.Conv2D(4, 3, padding="same", activation="hard_swish"),
                L.BatchNormalization(), L.MaxPooling2D(3, strides=2, padding="same"),
                L.AveragePooling2D(2, padding="same"), L.LayerNormalization(),
                L.GroupNormalization(groups=2), L.UnitNormalization(axis=[1, 2]),
                L.Flatten(), L.Dense(3, activation="sparsemax"))
    proto = assert_exports(model, tmp_path, opset=opset)
    assert proto.opset_import[0].version == opset
    ops = {n.op_type for n in proto.graph.node}
    # the LayerNormalization op exists from opset 17; before, it is decomposed
    assert ("LayerNormalization" in ops) == (opset >= 17)
    assert ("HardSwish" in ops) == (opset >= 14)


def test_layer_normalization_op_from_opset_17(tmp_path):
    model = seq((4, 5), L.LayerNormalization())
    ops = {n.op_type for n in assert_exports(model, tmp_path, opset=17).graph.node}
    assert "LayerNormalization" in ops
    ops = {n.op_type for n in assert_exports(model, tmp_path, opset=16).graph.node}
    assert "LayerNormalization" not in ops


def _transposes(proto):
    producers = {o: n for n in proto.graph.node for o in n.output}
    count = 0
    for node in proto.graph.node:
        if node.op_type == "Transpose":
            count += 1
            source = producers.get(node.input[0])
            assert source is None or source.op_type != "Transpose", "back-to-back Transpose"
    return count


@pytest.mark.parametrize("middle", [
    [],
    [lambda: L.BatchNormalization(), lambda: L.ReLU(), lambda: L.ZeroPadding2D(1)],
    [lambda: L.Activation("swish"), lambda: L.Cropping2D(1), lambda: L.UpSampling2D(2)],
    [lambda: L.LeakyReLU(), lambda: L.SpatialDropout2D(0.2), lambda: L.DepthwiseConv2D(3)],
], ids=["plain", "bn-relu-pad", "act-crop-upsample", "leaky-dropout-depthwise"])
def test_channels_first_chain_has_no_back_to_back_transposes(middle, tmp_path):
    model = seq((12, 12, 3), L.Conv2D(4, 3, padding="same", activation="relu"),
                L.MaxPooling2D(), *[m() for m in middle], L.Conv2D(2, 3))
    proto = assert_exports(model, tmp_path)
    # one transpose in (NHWC -> NCHW), one out
    assert _transposes(proto) == 2


@pytest.mark.parametrize("make, what", [
    (S((None, 4), lambda: L.AveragePooling1D(2, strides=2, padding="same")), "unknown size"),
    (S((None, 4), lambda: L.AdaptiveMaxPooling1D(2)), "known spatial sizes"),
], ids=["avgpool-same-dynamic", "adaptive-dynamic"])
def test_unsupported_combinations_raise(make, what, tmp_path):
    with pytest.raises(UnsupportedLayerError, match=what):
        assert_exports(make(), tmp_path)


def test_normalization_over_the_batch_axis_is_refused(tmp_path):
    layer = L.Normalization(axis=0)
    model = Sequential([Input((3,), batch_size=4), layer])
    layer.adapt(np.random.default_rng(0).standard_normal((4, 3)).astype("float32"))
    with pytest.raises(UnsupportedLayerError, match="batch axis"):
        assert_exports(model, tmp_path)
