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


def test_mixed_bfloat16_dense_stack_close_to_keras(K):
    """Keras's mixed_bfloat16 (float32 variables, bfloat16 compute) and ours give the same
    outputs within bfloat16 rounding from the same weights."""
    import torch
    from torchkeras_lite import mixed_precision
    from torchkeras_lite.layers import Dense as TDense
    from torchkeras_lite.models import Sequential as TSequential
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 8)).astype(np.float32)
    K.mixed_precision.set_global_policy("mixed_bfloat16")
    mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        kmodel = K.Sequential([K.Input((8,)), K.layers.Dense(16, activation="relu"),
                               K.layers.Dense(3, activation="softmax")])
        model = TSequential([TDense(16, input_dim=8, activation="relu"),
                             TDense(3, activation="softmax")])
        model.set_weights(kmodel.get_weights())
        kout = np.asarray(kmodel.predict(x, verbose=0), dtype=np.float32)
        out = model.predict(x, verbose=0)
    finally:
        K.mixed_precision.set_global_policy("float32")
        mixed_precision.set_global_policy(None)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, kout, atol=1e-2)
    assert torch.get_default_dtype() == torch.float32
