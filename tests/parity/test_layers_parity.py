"""Core layers against real Keras 3: forward passes from Keras's own weights."""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers


def _run(layer, x):
    return layer(torch.from_numpy(x)).detach().numpy()


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (2, 2, 3, 4)])
@pytest.mark.parametrize("activation", [None, "relu", "softmax", "gelu"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_forward_from_keras_weights(K, shape, activation, use_bias):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    klayer = K.layers.Dense(6, activation=activation, use_bias=use_bias)
    expected = K.ops.convert_to_numpy(klayer(x))
    ours = layers.Dense(6, activation=activation, use_bias=use_bias)
    ours.build((None, shape[-1]))
    ours.set_weights(klayer.get_weights())
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in klayer.get_weights()]
    # matmul vs Keras's matmul+add: same float32 ops up to summation order (1 ulp scale).
    np.testing.assert_allclose(_run(ours, x), expected, rtol=1e-6, atol=1e-6)


def test_dense_default_initialisation_matches_keras_distribution(K):
    klayer = K.layers.Dense(400)
    klayer.build((None, 300))
    ours = layers.Dense(400)
    ours.build((None, 300))
    kk, kb = klayer.get_weights()
    ok, ob = ours.get_weights()
    assert np.all(ob == 0) and np.all(kb == 0)
    limit = np.sqrt(6 / (300 + 400))
    assert ok.min() >= -limit and ok.max() <= limit
    # std of U(-l, l) is l/sqrt(3); 120k samples give ~0.3% relative error, allow 2%.
    np.testing.assert_allclose(ok.std(), kk.std(), rtol=0.02)


@pytest.mark.parametrize("make", [
    lambda m: m.Flatten(),
    lambda m: m.Flatten(data_format="channels_first"),
    lambda m: m.Reshape((3, -1)),
    lambda m: m.Activation("tanh"),
    lambda m: m.Dropout(0.5),
])
def test_shape_layers_match_keras(K, make):
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 2)).astype("float32")
    expected = K.ops.convert_to_numpy(make(K.layers)(x))
    np.testing.assert_allclose(_run(make(layers), x), expected, rtol=1e-6, atol=1e-7)


def test_output_shapes_match_keras(K):
    for make in (lambda m: m.Dense(7), lambda m: m.Flatten(), lambda m: m.Reshape((4, 6))):
        assert tuple(make(layers).compute_output_shape((None, 2, 12))) == \
            tuple(make(K.layers).compute_output_shape((None, 2, 12)))
