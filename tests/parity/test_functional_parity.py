"""The functional API against real Keras 3: the same graph, Keras's weights, the same History."""
import numpy as np
import pytest

import torchkeras_lite as tkl
from torchkeras_lite import layers


def _build(lib, layers_mod):
    a = lib.Input(shape=(4,), name="a")
    b = lib.Input(shape=(3,), name="b")
    h = layers_mod.Concatenate(name="concat")([
        layers_mod.Dense(6, activation="relu", name="ha")(a),
        layers_mod.Dense(6, activation="tanh", name="hb")(b)])
    h = layers_mod.Dense(5, activation="relu", name="trunk")(h)
    reg = layers_mod.Dense(1, name="reg")(h)
    cls = layers_mod.Dense(3, activation="softmax", name="cls")(h)
    return lib.Model(inputs=[a, b], outputs=[reg, cls], name="two")


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = [rng.random((n, 4)).astype("float32"), rng.random((n, 3)).astype("float32")]
    y = [(x[0].sum(1, keepdims=True) - x[1][:, :1]).astype("float32"),
         np.eye(3, dtype="float32")[np.argmax(x[1], 1)]]
    return x, y


@pytest.mark.parametrize("as_dict", [False, True], ids=["lists", "dicts"])
def test_two_input_two_output_history_matches_keras(K, as_dict):
    kmodel = _build(K, K.layers)
    model = _build(tkl, layers)
    model.set_weights(kmodel.get_weights())
    compile_kwargs = dict(loss={"reg": "mse", "cls": "categorical_crossentropy"},
                          loss_weights={"reg": 1.0, "cls": 0.5},
                          metrics={"reg": ["mae"], "cls": ["accuracy"]})
    kmodel.compile(optimizer=K.optimizers.Adam(), **compile_kwargs)
    model.compile(optimizer="adam", device="cpu", **compile_kwargs)
    x, y = _data()
    if as_dict:
        x, y = {"a": x[0], "b": x[1]}, {"reg": y[0], "cls": y[1]}
    khist = kmodel.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0).history
    hist = model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0).history
    assert sorted(hist) == sorted(khist)
    for key in khist:
        np.testing.assert_allclose(hist[key], khist[key], rtol=1e-4, atol=1e-6, err_msg=key)
    for ours, theirs in zip(model.predict(x, verbose=0), kmodel.predict(x, verbose=0)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0),
                               rtol=1e-4)


def test_summary_matches_keras(K):
    kmodel, model = _build(K, K.layers), _build(tkl, layers)
    ktext, text = [], []
    kmodel.summary(print_fn=lambda t, *a, **k: ktext.append(t))
    model.summary(print_fn=text.append)
    assert "".join(text).rstrip("\n").split("\n") == "".join(ktext).rstrip("\n").split("\n")


def test_config_matches_keras_structure(K):
    kconfig = _build(K, K.layers).get_config()
    config = _build(tkl, layers).get_config()
    assert config["input_layers"] == kconfig["input_layers"]
    assert config["output_layers"] == kconfig["output_layers"]
    assert [l["name"] for l in config["layers"]] == [l["name"] for l in kconfig["layers"]]
    for ours, theirs in zip(config["layers"], kconfig["layers"]):
        refs = lambda entry: [a["config"]["keras_history"]  # noqa: E731
                              for node in entry["inbound_nodes"]
                              for a in np.ravel(node["args"]).tolist() if isinstance(a, dict)]
        assert refs(ours) == refs(theirs)
