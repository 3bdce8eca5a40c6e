"""One test over the whole layer catalog: every class builds, runs, and round-trips its config."""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers
from torchkeras_lite.layers import ALL_LAYERS, InputLayer

# Constructor arguments and an input shape for each class that needs them.
_CASES = {
    "Activation": (("relu",), (2, 3)),
    "Dense": ((4,), (2, 3)),
    "Dropout": ((0.2,), (2, 3)),
    "Reshape": (((3, 1),), (2, 3)),
    "Conv1D": ((2, 3), (2, 8, 3)),
    "Conv2D": ((2, 3), (2, 8, 8, 3)),
    "Conv3D": ((2, 3), (2, 6, 6, 6, 3)),
    "Conv2DTranspose": ((2, 3), (2, 8, 8, 3)),
    "SeparableConv2D": ((2, 3), (2, 8, 8, 3)),
    "DepthwiseConv2D": ((3,), (2, 8, 8, 3)),
    "Embedding": ((10, 4), None),
    "SimpleRNN": ((4,), (2, 5, 3)),
    "LSTM": ((4,), (2, 5, 3)),
    "GRU": ((4,), (2, 5, 3)),
    "RepeatVector": ((3,), (2, 4)),
    "Permute": (((2, 1),), (2, 3, 4)),
    "SpatialDropout1D": ((0.2,), (2, 5, 3)),
    "SpatialDropout2D": ((0.2,), (2, 4, 4, 3)),
    "SpatialDropout3D": ((0.2,), (2, 4, 4, 4, 3)),
    "GaussianNoise": ((0.1,), (2, 3)),
    "GaussianDropout": ((0.1,), (2, 3)),
    "AlphaDropout": ((0.1,), (2, 3)),
    "Rescaling": ((0.5,), (2, 3)),
    "GroupNormalization": ((), (2, 4, 4)),
    "Concatenate": ((), "pair"),
    "Dot": ((1,), "pair"),
    "Attention": ((), "seq_pair"),
    "AdditiveAttention": ((), "seq_pair"),
    "MultiHeadAttention": ((2, 4), "mha"),
    "TimeDistributed": (None, (2, 5, 3)),
    "Bidirectional": (None, (2, 5, 3)),
}
_MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
_SPATIAL = ("1D", "2D", "3D")


def _case(name):
    if name in _CASES:
        return _CASES[name]
    if name in _MERGES:
        return (), "pair"
    for suffix, shape in zip(_SPATIAL, ((2, 8, 3), (2, 8, 8, 3), (2, 6, 6, 6, 3))):
        if name.endswith(suffix):
            return ((2,) if name.startswith("Adaptive") else ()), shape
    return (), (2, 5, 3)


def _make(name):
    cls = ALL_LAYERS[name]
    args, shape = _case(name)
    if name == "TimeDistributed":
        return cls(layers.Dense(2)), shape
    if name == "Bidirectional":
        return cls(layers.LSTM(2)), shape
    if name == "GroupNormalization":
        return cls(groups=2), shape
    return cls(*args), shape


def _inputs(shape):
    rng = torch.Generator().manual_seed(0)
    if shape is None:
        return (torch.randint(0, 10, (2, 5)),), {}
    if shape == "pair":
        return ([torch.randn(2, 4, generator=rng), torch.randn(2, 4, generator=rng)],), {}
    if shape == "seq_pair":
        return ([torch.randn(2, 5, 4, generator=rng), torch.randn(2, 6, 4, generator=rng)],), {}
    if shape == "mha":
        return (torch.randn(2, 5, 4, generator=rng), torch.randn(2, 6, 4, generator=rng)), {}
    return (torch.randn(*shape, generator=rng),), {}


@pytest.mark.parametrize("name", sorted(n for n in ALL_LAYERS if n != "InputLayer"))
def test_every_layer_runs_and_round_trips_its_config(name):
    layer, shape = _make(name)
    args, kwargs = _inputs(shape)
    if name == "Normalization":
        layer.adapt(np.random.default_rng(0).normal(size=(20, 5, 3)).astype("float32"))
    out = layer(*args, **kwargs)
    assert isinstance(out, torch.Tensor) and torch.isfinite(out).all()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(*args, **kwargs)  # the clone builds on the same inputs
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in layer.get_weights()]
    clone.set_weights(layer.get_weights())
    layer.eval(), clone.eval()
    torch.testing.assert_close(clone(*args, **kwargs), layer(*args, **kwargs))


def test_catalog_lookup_by_name_and_config():
    dense = layers.deserialize({"class_name": "Dense", "config": {"units": 3}})
    assert isinstance(dense, layers.Dense) and dense.units == 3
    assert ALL_LAYERS["MaxPool2D"] is ALL_LAYERS["MaxPooling2D"]
    assert ALL_LAYERS["InputLayer"] is InputLayer
