import numpy as np
import pytest
import torch

from torchkeras_lite import layers
from torchkeras_lite.layers import Activation, Dense, Dropout, Flatten, Input, InputLayer, Reshape


def test_dense_builds_on_first_call_with_keras_layout():
    layer = Dense(4)
    assert not layer.built
    out = layer(torch.ones(2, 3))
    assert layer.built and out.shape == (2, 4)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 4) and bias.shape == (4,)
    assert np.all(bias == 0)
    assert layer.count_params() == 16


def test_dense_input_dim_builds_at_construction():
    layer = Dense(12, input_dim=8, activation="relu")
    assert layer.built and layer.kernel.shape == (8, 12)


def test_dense_applies_to_last_axis_of_nd_input():
    layer = Dense(5)
    x = torch.randn(2, 7, 3)
    out = layer(x)
    assert out.shape == (2, 7, 5)
    torch.testing.assert_close(out, x @ layer.kernel + layer.bias)


def test_dense_forward_matches_numpy():
    layer = Dense(3, activation="relu", input_dim=4)
    w = np.arange(12, dtype="float32").reshape(4, 3) / 10 - 0.5
    b = np.array([0.1, -0.2, 0.3], dtype="float32")
    layer.set_weights([w, b])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(),
                               np.maximum(x @ w + b, 0), rtol=1e-6, atol=1e-6)


def test_auto_names_are_unique_and_keras_style():
    a, b = Dense(1), Dense(1)
    assert a.name.startswith("dense") and b.name.startswith("dense") and a.name != b.name
    assert Dense(1, name="head").name == "head"


@pytest.mark.parametrize("units", [0, -3, 2.5, "8", True])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units must be a positive integer"):
        Dense(units)


@pytest.mark.parametrize("rate", [1.5, -0.1, 1.0])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match=r"rate must be a float in \[0, 1\)"):
        Dropout(rate)


def test_set_weights_wrong_count_names_layer():
    layer = Dense(2, input_dim=3, name="fc")
    with pytest.raises(ValueError, match="Layer 'fc' expects 2 weight arrays.*received 1"):
        layer.set_weights([np.zeros((3, 2))])


def test_set_weights_wrong_shape_names_array():
    layer = Dense(2, input_dim=3, name="fc")
    with pytest.raises(ValueError, match=r"'fc': weight array 0 must have shape \(3, 2\), received shape \(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_dense_wrong_input_width():
    layer = Dense(2, input_dim=3, name="fc")
    with pytest.raises(ValueError, match="last axis is 3, received shape"):
        layer(torch.zeros(4, 5))


def test_trainable_false_freezes_weights():
    layer = Dense(2, input_dim=3)
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


def test_dense_config_round_trip():
    layer = Dense(7, activation="tanh", use_bias=False, kernel_regularizer="l2",
                  kernel_constraint="max_norm", name="d")
    config = layer.get_config()
    clone = Dense.from_config(config)
    assert clone.get_config() == config
    again = layers.deserialize({"class_name": "Dense", "config": config})
    assert isinstance(again, Dense) and again.units == 7


@pytest.mark.parametrize("cls,args", [
    (Activation, ("relu",)), (Dropout, (0.3,)), (Flatten, ()), (Reshape, ((2, 3),)),
])
def test_config_round_trip(cls, args):
    layer = cls(*args)
    config = layer.get_config()
    assert cls.from_config(config).get_config() == config


def test_dropout_is_identity_at_inference_and_inverted_in_training():
    layer = Dropout(0.5, seed=1)
    x = torch.ones(1000)
    assert torch.equal(layer(x), x)
    layer.train()
    y = layer(x)
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    assert 0.4 < (y == 0).float().mean() < 0.6


def test_dropout_seed_reproducible_and_noise_shape():
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    a.train(), b.train()
    x = torch.ones(4, 6)
    assert torch.equal(a(x), b(x))
    shared = Dropout(0.5, noise_shape=(None, 1), seed=0)
    shared.train()
    y = shared(torch.ones(8, 5))
    assert all(len(set(row.tolist())) == 1 for row in y)


def test_flatten_channels_first_moves_channels_last():
    x = torch.arange(24.0).reshape(1, 2, 3, 4)  # (batch, channels, h, w)
    out = Flatten(data_format="channels_first")(x)
    torch.testing.assert_close(out, x.permute(0, 2, 3, 1).reshape(1, -1))
    assert Flatten()(x).shape == (1, 24)


def test_reshape_and_errors():
    assert Reshape((-1, 3))(torch.zeros(2, 12)).shape == (2, 4, 3)
    with pytest.raises(ValueError, match="cannot reshape samples of shape"):
        Reshape((5,))(torch.zeros(2, 12))
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))


def test_input_returns_symbolic_tensor():
    t = Input(shape=(8,), name="features")
    assert t.shape == (None, 8)
    assert isinstance(t._keras_history, InputLayer)
    with pytest.raises(ValueError, match="shape"):
        InputLayer()


def test_layers_get_lists_valid_names():
    with pytest.raises(ValueError, match="Did you mean 'Dense'"):
        layers.deserialize({"class_name": "Dens", "config": {}})


def test_regularizer_penalty_and_constraint():
    layer = Dense(2, input_dim=3, kernel_regularizer="l2", kernel_constraint="non_neg")
    with torch.no_grad():
        layer.kernel.fill_(-1.0)
    (penalty,) = layer.regularization_losses()
    torch.testing.assert_close(penalty, torch.tensor(0.01 * 6.0))
    layer.apply_constraints()
    assert torch.all(layer.kernel == 0)


def test_activity_regularizer_is_normalised_by_batch():
    layer = Dense(2, input_dim=3, kernel_initializer="ones", activity_regularizer="l1")
    layer(torch.ones(4, 3))
    (loss,) = layer.losses
    torch.testing.assert_close(loss, torch.tensor(0.01 * 4 * 2 * 3.0 / 4))


def test_explicit_build_marks_built_and_keeps_weights():
    layer = Dense(3)
    layer.build((None, 4))
    assert layer.built
    layer.set_weights([np.ones((4, 3), "float32"), np.zeros(3, "float32")])
    out = layer(torch.ones(2, 4))
    torch.testing.assert_close(out, torch.full((2, 3), 4.0))
