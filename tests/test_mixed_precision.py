"""Mixed precision policies: float32 weights, low-precision compute, float32 softmax/loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import mixed_precision
from torchkeras_lite.layers import Activation, Dense
from torchkeras_lite.models import Sequential, load_model


@pytest.fixture
def policy():
    def set_policy(name):
        mixed_precision.set_global_policy(name)
    yield set_policy
    mixed_precision.set_global_policy(None)


def _data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return x, y


def test_policy_objects_and_errors():
    p = mixed_precision.DTypePolicy("mixed_bfloat16")
    assert (p.compute_dtype, p.variable_dtype, p.is_mixed) == ("bfloat16", "float32", True)
    assert mixed_precision.get({"config": {"name": "mixed_float16"}}).compute_dtype == "float16"
    assert mixed_precision.global_policy().name == "float32"
    with pytest.raises(ValueError, match="Unknown dtype policy 'mixed_float8'.*mixed_bfloat16"):
        mixed_precision.set_global_policy("mixed_float8")


def test_global_policy_applies_to_new_layers(policy):
    before = Dense(2)
    policy("mixed_bfloat16")
    layer = Dense(4, input_dim=3)
    assert before.dtype_policy.name == "float32"
    assert layer.dtype_policy.name == "mixed_bfloat16"
    assert layer.kernel.dtype == torch.float32 and layer.compute_dtype == "bfloat16"
    out = layer(torch.ones(2, 3))
    assert out.dtype == torch.bfloat16
    assert layer.get_config()["dtype"] == "mixed_bfloat16"
    assert Dense(4, dtype="float32").dtype_policy.name == "float32"


def test_softmax_and_float32_layers_inside_mixed_model(policy):
    policy("mixed_bfloat16")
    model = Sequential([Dense(6, input_dim=8, activation="relu"), Dense(3),
                        Activation("softmax")])
    out = model(torch.randn(5, 8))
    assert out.dtype == torch.float32  # softmax runs and returns float32
    model2 = Sequential([Dense(6, input_dim=8, activation="relu"), Dense(3, dtype="float32")])
    x = torch.randn(5, 8)
    out2 = model2(x)
    assert out2.dtype == torch.float32  # the float32 layer computes in float32
    inner = model2.layers[0](x)
    assert inner.dtype == torch.bfloat16
    expected = inner.float() @ model2.layers[1].kernel + model2.layers[1].bias
    torch.testing.assert_close(out2, expected)


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_fit_evaluate_predict_under_mixed_policy(policy, name):
    x, y = _data()
    torch.manual_seed(0)
    reference = Sequential([Dense(16, input_dim=8, activation="relu"),
                            Dense(3, activation="softmax")])
    reference.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    policy(name)
    model = Sequential([Dense(16, input_dim=8, activation="relu"),
                        Dense(3, activation="softmax")])
    model.set_weights(reference.get_weights())
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    h_ref = reference.fit(x, y, epochs=5, batch_size=16, verbose=0).history
    h = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history
    assert all(w.dtype == torch.float32 for w in model.parameters())
    # Low-precision compute: close to the float32 run, not equal.
    np.testing.assert_allclose(h["loss"], h_ref["loss"], rtol=3e-2)
    assert h["loss"][-1] < h["loss"][0]
    pred = model.predict(x, verbose=0)
    assert pred.dtype == np.float32
    np.testing.assert_allclose(pred, reference.predict(x, verbose=0), atol=3e-2)
    result = model.evaluate(x, y, verbose=0)
    assert np.isfinite(result).all()


def test_float16_uses_dynamic_loss_scaling(policy):
    policy("mixed_float16")
    x, y = _data()
    model = Sequential([Dense(8, input_dim=8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    scaler = model._trainer._scaler
    assert scaler is not None and scaler.get_scale() == 2.0 ** 15


def test_mixed_model_saves_and_loads_its_policy(policy, tmp_path):
    policy("mixed_bfloat16")
    model = Sequential([Dense(4, input_dim=3, activation="relu"), Dense(2, dtype="float32")])
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    path = tmp_path / "mixed.keras"
    model.save(path)
    policy(None)
    restored = load_model(path)
    assert restored.layers[0].dtype_policy.name == "mixed_bfloat16"
    assert restored.layers[1].dtype_policy.name == "float32"
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_explicitly_typed_layer_casts_its_inputs():
    """As in Keras, a layer casts floating inputs to its own dtype."""
    layer = Dense(2, input_dim=3, dtype="float64")
    out = layer(torch.ones(4, 3))
    assert out.dtype == torch.float64 and layer.kernel.dtype == torch.float64
