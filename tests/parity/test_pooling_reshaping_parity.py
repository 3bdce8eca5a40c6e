"""Pooling and reshaping layers against real Keras 3 (torch backend).

Every case builds the same layer in Keras and here from the same arguments and compares the
forward output, ``compute_output_shape`` (with and without None dims) and the layer-specific
part of ``get_config``. These layers have no weights. Tolerance: max/crop/pad/repeat/permute
are exact; averages and interpolation run the same torch kernels but possibly on a different
memory layout (Keras copies channels-last inputs to contiguous channels-first), which may change
the summation order: a few float32 ulps, hence atol 1e-6.
"""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers

_BASE_KEYS = {"name", "trainable", "dtype"}

# (class name, kwargs, input shape)
POOLING_CASES = [
    # 1D: odd lengths, strides != pool_size, 'same' with even and uneven padding splits
    (1, dict(pool_size=2), (2, 7, 3)),
    (1, dict(pool_size=3, strides=2), (2, 8, 3)),
    (1, dict(pool_size=3, strides=1, padding="valid"), (2, 7, 3)),
    (1, dict(pool_size=2, strides=1, padding="same"), (2, 7, 3)),
    (1, dict(pool_size=4, strides=1, padding="same"), (2, 7, 3)),
    (1, dict(pool_size=5, strides=1, padding="same"), (2, 7, 3)),
    (1, dict(pool_size=3, strides=2, padding="same"), (2, 7, 3)),
    (1, dict(pool_size=4, strides=3, padding="same"), (2, 7, 3)),
    (1, dict(pool_size=2, padding="same"), (2, 7, 3)),
    (1, dict(pool_size=5, strides=2, padding="same"), (2, 3, 3)),  # pool larger than input
    # 2D
    (2, dict(pool_size=(2, 2)), (2, 7, 6, 3)),
    (2, dict(pool_size=(3, 2), strides=(2, 1)), (2, 7, 6, 3)),
    (2, dict(pool_size=3, strides=1, padding="same"), (2, 7, 6, 3)),
    (2, dict(pool_size=(4, 3), strides=(1, 2), padding="same"), (2, 7, 6, 3)),
    (2, dict(pool_size=2, padding="same"), (2, 7, 5, 3)),
    (2, dict(pool_size=(3, 3), strides=(2, 2), padding="same"), (2, 7, 6, 3)),
    (2, dict(pool_size=(2, 4), strides=(3, 1), padding="same"), (2, 5, 6, 3)),
    # 3D
    (3, dict(pool_size=2), (2, 5, 6, 7, 2)),
    (3, dict(pool_size=(3, 2, 2), strides=(2, 1, 2)), (2, 5, 6, 7, 2)),
    (3, dict(pool_size=2, strides=1, padding="same"), (2, 5, 4, 3, 2)),
    (3, dict(pool_size=(3, 4, 2), strides=(2, 3, 1), padding="same"), (2, 5, 6, 7, 2)),
]


def _channels_first(shape):
    return (shape[0], shape[-1], *shape[1:-1])


def _expand(cases, prefixes):
    out = []
    for dims, kwargs, shape in cases:
        for prefix in prefixes:
            for data_format in ("channels_last", "channels_first"):
                in_shape = shape if data_format == "channels_last" else _channels_first(shape)
                out.append((f"{prefix}{dims}D", {**kwargs, "data_format": data_format}, in_shape))
    return out


RESHAPING_CASES = [
    ("ZeroPadding1D", dict(), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=(1, 2)), (2, 5, 3)),
    ("ZeroPadding1D", dict(padding=(0, 3), data_format="channels_first"), (2, 3, 5)),
    ("ZeroPadding2D", dict(), (2, 5, 4, 3)),
    ("ZeroPadding2D", dict(padding=(1, 2)), (2, 5, 4, 3)),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 3))), (2, 5, 4, 3)),
    ("ZeroPadding2D", dict(padding=((0, 2), (1, 0)), data_format="channels_first"), (2, 3, 5, 4)),
    ("ZeroPadding3D", dict(), (2, 3, 4, 5, 2)),
    ("ZeroPadding3D", dict(padding=((1, 0), (0, 2), (2, 1))), (2, 3, 4, 5, 2)),
    ("ZeroPadding3D", dict(padding=(1, 0, 2), data_format="channels_first"), (2, 2, 3, 4, 5)),
    ("Cropping1D", dict(), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(0, 3)), (2, 5, 3)),
    ("Cropping1D", dict(cropping=(2, 0)), (2, 5, 3)),
    ("Cropping2D", dict(), (2, 5, 4, 3)),
    ("Cropping2D", dict(cropping=1), (2, 5, 4, 3)),
    ("Cropping2D", dict(cropping=(2, 1)), (2, 7, 4, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 5, 6, 3)),
    ("Cropping2D", dict(cropping=((0, 2), (1, 0)), data_format="channels_first"), (2, 3, 5, 4)),
    ("Cropping3D", dict(), (2, 3, 4, 5, 2)),
    ("Cropping3D", dict(cropping=((1, 0), (0, 2), (2, 1))), (2, 3, 4, 5, 2)),
    ("Cropping3D", dict(cropping=(0, 1, 2), data_format="channels_first"), (2, 2, 3, 4, 6)),
    ("UpSampling1D", dict(), (2, 5, 3)),
    ("UpSampling1D", dict(size=3), (2, 5, 3)),
    ("UpSampling3D", dict(), (2, 2, 3, 4, 2)),
    ("UpSampling3D", dict(size=(1, 3, 2)), (2, 2, 3, 4, 2)),
    ("UpSampling3D", dict(size=(2, 1, 3), data_format="channels_first"), (2, 2, 3, 4, 2)),
    ("RepeatVector", dict(n=3), (2, 5)),
    ("RepeatVector", dict(n=1), (4, 2)),
    ("Permute", dict(dims=(2, 1)), (2, 5, 3)),
    ("Permute", dict(dims=(3, 1, 2)), (2, 5, 4, 3)),
    ("Permute", dict(dims=(2, 3, 1)), (2, 5, 4, 3)),
    ("Permute", dict(dims=(1, 2)), (2, 5, 3)),
] + [
    ("UpSampling2D", dict(size=size, interpolation=mode, data_format=fmt),
     (2, 5, 4, 3) if fmt == "channels_last" else (2, 3, 5, 4))
    for size in [(2, 2), (3, 2), (1, 3)]
    for mode in ("nearest", "bilinear", "bicubic")
    for fmt in ("channels_last", "channels_first")
]

GLOBAL_CASES = [
    (f"Global{kind}Pooling{dims}D", dict(data_format=fmt, keepdims=keep),
     shape if fmt == "channels_last" else _channels_first(shape))
    for kind in ("Max", "Average")
    for dims, shape in [(1, (2, 7, 3)), (2, (2, 5, 4, 3)), (3, (2, 3, 4, 5, 2))]
    for fmt in ("channels_last", "channels_first")
    for keep in (False, True)
]

ADAPTIVE_CASES = [
    (f"Adaptive{kind}Pooling{dims}D", dict(output_size=size, data_format=fmt),
     shape if fmt == "channels_last" else _channels_first(shape))
    for kind in ("Max", "Average")
    for dims, size, shape in [(1, 3, (2, 7, 3)), (1, 4, (2, 4, 3)), (2, (2, 4), (2, 7, 9, 3)),
                              (2, 3, (2, 5, 5, 3)), (3, (2, 3, 1), (2, 5, 6, 4, 2))]
    for fmt in ("channels_last", "channels_first")
]

ALL_CASES = (_expand(POOLING_CASES, ("MaxPooling", "AveragePooling")) + GLOBAL_CASES
             + ADAPTIVE_CASES + RESHAPING_CASES)


def _ids(cases):
    return [f"{name}-{kwargs}-{shape}" for name, kwargs, shape in cases]


def _input(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _pair(K, name, kwargs):
    return getattr(K.layers, name)(**kwargs), getattr(layers, name)(**kwargs)


@pytest.mark.parametrize("name,kwargs,shape", ALL_CASES, ids=_ids(ALL_CASES))
def test_forward_matches_keras(K, name, kwargs, shape):
    x = _input(shape)
    klayer, ours = _pair(K, name, kwargs)
    expected = K.ops.convert_to_numpy(klayer(x))
    got = ours(torch.from_numpy(x)).detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert ours.get_weights() == [] == klayer.get_weights()


def _shape_variants(shape):
    """The shape, the shape with an unknown batch, and with each other axis unknown too."""
    variants = [tuple(shape), (None, *shape[1:])]
    for axis in range(1, len(shape)):
        variants.append(tuple(None if i in (0, axis) else d for i, d in enumerate(shape)))
    return variants


@pytest.mark.parametrize("name,kwargs,shape", ALL_CASES, ids=_ids(ALL_CASES))
def test_compute_output_shape_matches_keras(K, name, kwargs, shape):
    klayer, ours = _pair(K, name, kwargs)
    for variant in _shape_variants(shape):
        assert tuple(ours.compute_output_shape(variant)) == \
            tuple(klayer.compute_output_shape(variant)), variant


@pytest.mark.parametrize("name,kwargs,shape", ALL_CASES, ids=_ids(ALL_CASES))
def test_config_matches_keras_and_loads_keras_config(K, name, kwargs, shape):
    klayer, ours = _pair(K, name, kwargs)
    kconfig = klayer.get_config()
    own = {k: v for k, v in ours.get_config().items() if k not in _BASE_KEYS}
    assert own == {k: v for k, v in kconfig.items() if k not in _BASE_KEYS}
    loaded = layers.deserialize({"class_name": name, "config": kconfig})
    assert isinstance(loaded, getattr(layers, name))
    x = torch.from_numpy(_input(shape, seed=1))
    torch.testing.assert_close(loaded(x), ours(x), rtol=0, atol=0)


GRAD_CASES = [
    ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("MaxPooling1D", dict(pool_size=4, strides=1, padding="same"), (2, 7, 3)),
    ("AveragePooling2D", dict(pool_size=(4, 3), strides=(1, 2), padding="same"), (2, 7, 6, 3)),
    ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same",
                              data_format="channels_first"), (2, 3, 7)),
    ("AveragePooling3D", dict(pool_size=2, strides=1, padding="same"), (2, 5, 4, 3, 2)),
    ("GlobalMaxPooling2D", dict(), (2, 5, 4, 3)),
    ("GlobalAveragePooling3D", dict(keepdims=True), (2, 3, 4, 5, 2)),
    ("AdaptiveAveragePooling2D", dict(output_size=(2, 4)), (2, 7, 9, 3)),
    ("UpSampling2D", dict(size=(2, 3), interpolation="bilinear"), (2, 5, 4, 3)),
    ("UpSampling2D", dict(size=(3, 2)), (2, 5, 4, 3)),
    ("UpSampling1D", dict(size=3), (2, 5, 3)),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (2, 5, 6, 3)),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 3))), (2, 5, 4, 3)),
    ("RepeatVector", dict(n=3), (2, 5)),
    ("Permute", dict(dims=(3, 1, 2)), (2, 5, 4, 3)),
]


@pytest.mark.parametrize("name,kwargs,shape", GRAD_CASES, ids=_ids(GRAD_CASES))
def test_input_gradient_matches_keras(K, name, kwargs, shape):
    x = _input(shape, seed=2)
    klayer, ours = _pair(K, name, kwargs)
    kx = torch.tensor(x, requires_grad=True)
    kout = klayer(kx)
    weights = torch.from_numpy(_input(tuple(kout.shape), seed=3))
    (kout * weights.to(kout.device)).sum().backward()
    ox = torch.tensor(x, requires_grad=True)
    (ours(ox) * weights).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), kx.grad.cpu().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_average_pooling_1d_mask_matches_keras(K, data_format, keepdims):
    shape = (3, 6, 4) if data_format == "channels_last" else (3, 4, 6)
    x = _input(shape)
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 0, 0]], dtype=bool)
    kwargs = dict(data_format=data_format, keepdims=keepdims)
    klayer, ours = _pair(K, "GlobalAveragePooling1D", kwargs)
    expected = K.ops.convert_to_numpy(klayer(x, mask=torch.from_numpy(mask)))
    explicit = ours(torch.from_numpy(x), mask=torch.from_numpy(mask))
    np.testing.assert_allclose(explicit.detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    carried = torch.from_numpy(x)
    carried._keras_mask = torch.from_numpy(mask)  # as a masking layer leaves it
    out = ours(carried)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-6, atol=1e-6)
    assert getattr(out, "_keras_mask", None) is None


def test_global_average_pooling_1d_mask_gradient_matches_keras(K):
    x = _input((2, 5, 3))
    mask = torch.tensor([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    klayer, ours = _pair(K, "GlobalAveragePooling1D", {})
    kx, ox = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    klayer(kx, mask=mask).sum().backward()
    ours(ox, mask=mask).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), kx.grad.cpu().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["MaxPool2D", "AvgPool1D", "GlobalMaxPool3D", "GlobalAvgPool2D",
                                  "MaxPool3D", "AvgPool3D", "GlobalAvgPool1D", "GlobalMaxPool1D"])
def test_keras_aliases_are_the_same_classes(K, name):
    assert getattr(K.layers, name).__name__ == getattr(layers, name).__name__
    assert layers.get(name) is getattr(layers, getattr(K.layers, name).__name__)


def test_every_keras_pooling_and_reshaping_layer_is_here(K):
    from torchkeras_lite.layers import pooling, reshaping
    wanted = {n for n in dir(K.layers) if any(
        part in n for part in ("Pool", "Padding", "Cropping", "UpSampling"))}
    wanted |= {"RepeatVector", "Permute"}
    assert wanted <= set(pooling.__all__) | set(reshaping.__all__)


def test_functional_shapes_with_unknown_sizes_match_keras(K):
    """Symbolic shapes (None spatial sizes) through a stack of these layers."""
    stack = [("ZeroPadding2D", dict(padding=((1, 0), (2, 1)))),
             ("MaxPooling2D", dict(pool_size=3, strides=2, padding="same")),
             ("UpSampling2D", dict(size=(2, 3))), ("Cropping2D", dict(cropping=1)),
             ("AveragePooling2D", dict(pool_size=2)), ("GlobalMaxPooling2D", dict(keepdims=True))]
    for shape in [(None, None, None, 3), (None, 17, None, 3), (4, 17, 13, 3)]:
        kshape = oshape = shape
        for name, kwargs in stack:
            klayer, ours = _pair(K, name, kwargs)
            kshape = tuple(klayer.compute_output_shape(kshape))
            oshape = tuple(ours.compute_output_shape(oshape))
            assert oshape == kshape, (name, shape)
