"""Our .keras and .weights.h5 files against real Keras 3 (torch backend), in both directions.

Real Keras opens what we save and we open what it saves: the same predictions, the same HDF5
layout, and training continues identically from the saved optimizer state (History within
rtol 1e-4: the two libraries' training steps agree to float32 rounding, which compounds a
little over the steps; see test_training_parity.py).
"""
import functools
import io
import zipfile

import h5py
import numpy as np
import pytest

import torchkeras_lite as tkl
from torchkeras_lite import layers
from torchkeras_lite.layers import ALL_LAYERS
from torchkeras_lite.saving import register_keras_serializable

# ------------------------------------------------------------------------------- models


def _mlp(lib, L):
    return lib.Sequential([lib.Input((8,)), L.Dense(12, activation="relu"),
                           L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")])


def _convnet(lib, L, rate=0.25):
    return lib.Sequential([lib.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"),
                           L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(),
                           L.Dropout(rate), L.Dense(3, activation="softmax")])


def _text_lstm(lib, L):
    return lib.Sequential([lib.Input((10,), dtype="int32"), L.Embedding(20, 8, mask_zero=True),
                           L.LSTM(6), L.Dense(1, activation="sigmoid")])


def _two_input(lib, L):
    profile, activity = lib.Input((10,), name="profile"), lib.Input((6,), name="activity")
    x = L.Concatenate()([L.Dense(16, activation="relu")(profile),
                         L.Dense(16, activation="relu")(activity)])
    x = L.Dense(32, activation="relu")(x)
    return lib.Model([profile, activity], [L.Dense(1, name="score")(x),
                                           L.Dense(3, activation="softmax", name="segment")(x)])


def _data(case, n=32):
    rng = np.random.default_rng(0)
    if case == "mlp":
        x = rng.random((n, 8)).astype("float32")
        return x, np.eye(3, dtype="float32")[np.argmax(x[:, :3], 1)]
    if case == "convnet":
        x = rng.random((n, 8, 8, 1)).astype("float32")
        return x, np.argmax(x.reshape(n, -1)[:, :3], 1)
    if case == "text_lstm":
        x = rng.integers(0, 20, (n, 10)).astype("int32")
        x[:, :3] = 0  # padding, masked by the Embedding
        return x, ((x == 7).sum(1) > (x == 9).sum(1)).astype("float32")
    profile, activity = rng.normal(size=(n, 10)), rng.normal(size=(n, 6))
    x = [profile.astype("float32"), activity.astype("float32")]
    y = [(profile[:, :3].sum(1, keepdims=True) - activity[:, :1]).astype("float32"),
         np.eye(3, dtype="float32")[np.argmax(activity[:, :3], 1)]]
    return x, y


_COMPILE = {
    "mlp": dict(loss="categorical_crossentropy", metrics=["accuracy"]),
    "convnet": dict(loss="sparse_categorical_crossentropy", metrics=["accuracy"]),
    "text_lstm": dict(loss="binary_crossentropy", metrics=["accuracy"]),
    "two_input": dict(loss={"score": "mse", "segment": "categorical_crossentropy"},
                      loss_weights={"score": 1.0, "segment": 0.5},
                      metrics={"score": ["mae"], "segment": ["accuracy"]}),
}
# Dropout draws different random masks in the two libraries, so models that are trained on
# both sides use a rate of 0 (predictions are compared with the 0.25 model).
_BUILDERS = {"mlp": _mlp, "convnet": _convnet, "text_lstm": _text_lstm, "two_input": _two_input}
_TRAIN_BUILDERS = dict(_BUILDERS, convnet=functools.partial(_convnet, rate=0.0))
CASES = sorted(_BUILDERS)


def _keras_model(K, case, builders=_BUILDERS, optimizer="adam"):
    model = builders[case](K, K.layers)
    model.compile(optimizer=optimizer, **_COMPILE[case])
    return model


def _our_model(case, builders=_BUILDERS, optimizer="adam"):
    model = builders[case](tkl, layers)
    model.compile(optimizer=optimizer, device="cpu", **_COMPILE[case])
    return model


def _predict(model, x):
    out = model.predict(x, batch_size=16, verbose=0)
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


def _assert_same_predictions(a, b, x, rtol=1e-5):
    for ours, theirs in zip(_predict(a, x), _predict(b, x)):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol / 10)


def _assert_same_history(hist, khist):
    assert sorted(hist) == sorted(khist)
    for key in khist:
        np.testing.assert_allclose(hist[key], khist[key], rtol=1e-4, atol=1e-6, err_msg=key)


def _fit(model, case, epochs):
    x, y = _data(case)
    return model.fit(x, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0).history


def _dataset_paths(data):
    paths = set()
    with h5py.File(data, "r") as f:
        f.visititems(lambda name, obj: paths.add(name) if isinstance(obj, h5py.Dataset) else None)
    return paths


def _archive_weights(path):
    return io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5"))


# ------------------------------------------------------------------- the four models
@pytest.mark.parametrize("case", CASES)
def test_our_file_opens_in_keras_with_same_predictions(K, case, tmp_path):
    model = _our_model(case)
    _fit(model, case, 1)
    model.save(tmp_path / "ours.keras")
    kmodel = K.saving.load_model(tmp_path / "ours.keras")
    _assert_same_predictions(model, kmodel, _data(case)[0])
    kmodel.save(tmp_path / "keras.keras")
    assert _dataset_paths(_archive_weights(tmp_path / "ours.keras")) == \
        _dataset_paths(_archive_weights(tmp_path / "keras.keras"))


@pytest.mark.parametrize("case", CASES)
def test_keras_file_opens_in_ours_with_same_predictions(K, case, tmp_path):
    kmodel = _keras_model(K, case)
    _fit(kmodel, case, 1)
    kmodel.save(tmp_path / "keras.keras")
    model = tkl.models.load_model(tmp_path / "keras.keras")
    _assert_same_predictions(model, kmodel, _data(case)[0])
    assert [w.shape for w in model.get_weights()] == [w.shape for w in kmodel.get_weights()]


@pytest.mark.parametrize("case", CASES)
def test_keras_trained_file_continues_training_in_ours_as_in_keras(K, case, tmp_path):
    kmodel = _keras_model(K, case, _TRAIN_BUILDERS)
    _fit(kmodel, case, 2)
    kmodel.save(tmp_path / "keras.keras")
    model = tkl.models.load_model(tmp_path / "keras.keras")
    assert model.optimizer.iterations == int(kmodel.optimizer.iterations)
    _assert_same_history(_fit(model, case, 2), _fit(kmodel, case, 2))
    # after training, float32 rounding differences of the two libraries have compounded
    _assert_same_predictions(model, kmodel, _data(case)[0], rtol=1e-3)


@pytest.mark.parametrize("case", CASES)
def test_our_trained_file_continues_training_in_keras_as_in_ours(K, case, tmp_path):
    model = _our_model(case, _TRAIN_BUILDERS)
    _fit(model, case, 2)
    model.save(tmp_path / "ours.keras")
    kmodel = K.saving.load_model(tmp_path / "ours.keras")
    assert int(kmodel.optimizer.iterations) == model.optimizer.iterations
    _assert_same_history(_fit(model, case, 2), _fit(kmodel, case, 2))


@pytest.mark.parametrize("case", CASES)
def test_weights_h5_both_ways(K, case, tmp_path):
    kmodel = _keras_model(K, case)
    _fit(kmodel, case, 1)
    kmodel.save_weights(tmp_path / "keras.weights.h5")
    model = _our_model(case)
    with pytest.warns(UserWarning, match="not been built"):  # as Keras: fresh optimizer
        model.load_weights(tmp_path / "keras.weights.h5")
    x = _data(case)[0]
    _assert_same_predictions(model, kmodel, x)

    _fit(model, case, 1)
    model.save_weights(tmp_path / "ours.weights.h5")
    kmodel.load_weights(tmp_path / "ours.weights.h5")
    _assert_same_predictions(model, kmodel, x)
    assert _dataset_paths(tmp_path / "ours.weights.h5") == \
        _dataset_paths(tmp_path / "keras.weights.h5")


def test_tutorial_mlp_as_written_opens_in_keras(K, tmp_path):
    # examples/tutorial_mlp.py declares the input with input_dim=8 on the first layer
    model = tkl.Sequential()
    model.add(layers.Dense(12, input_dim=8, activation="relu"))
    model.add(layers.Dense(8, activation="relu"))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    _fit(model, "mlp", 2)
    model.save(tmp_path / "tutorial.keras")
    kmodel = K.saving.load_model(tmp_path / "tutorial.keras")
    _assert_same_predictions(model, kmodel, _data("mlp")[0])
    _assert_same_history(_fit(model, "mlp", 1), _fit(kmodel, "mlp", 1))


# ------------------------------------------------------------------ optimizer state
_OPTIMIZERS = {
    "sgd_nesterov": ("SGD", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    "rmsprop_centered": ("RMSprop", dict(momentum=0.5, centered=True)),
    "adam_amsgrad": ("Adam", dict(learning_rate=0.01, amsgrad=True)),
    "adamw": ("AdamW", dict(learning_rate=0.01)),
    "adagrad": ("Adagrad", dict(learning_rate=0.05)),
    "adadelta": ("Adadelta", dict(learning_rate=1.0)),
    "adamax": ("Adamax", dict(learning_rate=0.01)),
    "nadam": ("Nadam", dict(learning_rate=0.01)),
    "adam_accumulation": ("Adam", dict(learning_rate=0.01, gradient_accumulation_steps=2)),
}


def _optimizers(K, key):
    name, kwargs = _OPTIMIZERS[key]
    return getattr(K.optimizers, name)(**kwargs), getattr(tkl.optimizers, name)(**kwargs)


@pytest.mark.parametrize("key", sorted(_OPTIMIZERS))
def test_optimizer_slots_map_to_keras_both_ways(K, key, tmp_path):
    kopt, opt = _optimizers(K, key)
    kmodel = _keras_model(K, "mlp", optimizer=kopt)
    _fit(kmodel, "mlp", 2)
    kmodel.save(tmp_path / "keras.keras")
    model = tkl.models.load_model(tmp_path / "keras.keras")
    assert type(model.optimizer).__name__ == type(kopt).__name__
    _assert_same_history(_fit(model, "mlp", 2), _fit(kmodel, "mlp", 2))

    ours = _our_model("mlp", optimizer=opt)
    _fit(ours, "mlp", 2)
    ours.save(tmp_path / "ours.keras")
    kloaded = K.saving.load_model(tmp_path / "ours.keras")
    assert len(kloaded.optimizer.variables) == len(kopt.variables)
    _assert_same_history(_fit(ours, "mlp", 2), _fit(kloaded, "mlp", 2))


# ------------------------------------------------------------------ every layer kind
_ARGS = {
    "Activation": ("relu",), "Dense": (4,), "Dropout": (0.2,), "Reshape": ((15,),),
    "Conv1D": (2, 3), "Conv2D": (2, 3), "Conv3D": (2, 3), "Conv2DTranspose": (2, 3),
    "SeparableConv2D": (2, 3), "DepthwiseConv2D": (3,), "Embedding": (10, 4),
    "SimpleRNN": (4,), "LSTM": (4,), "GRU": (4,), "RepeatVector": (3,), "Permute": ((2, 1),),
    "SpatialDropout1D": (0.2,), "SpatialDropout2D": (0.2,), "SpatialDropout3D": (0.2,),
    "GaussianNoise": (0.1,), "GaussianDropout": (0.1,), "AlphaDropout": (0.1,),
    "Rescaling": (0.5,), "Dot": (1,),
}
_PAIRS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"}
_SEQUENCE_PAIRS = {"Attention", "AdditiveAttention"}
_SHAPES = {"1D": (8, 3), "2D": (8, 8, 3), "3D": (6, 6, 6, 3)}
# MultiHeadAttention cannot be called on symbolic inputs yet (its build needs two shapes); its
# weight layout is checked with a subclassed model below.
_LAYER_NAMES = sorted(n for n in ALL_LAYERS if n not in ("InputLayer", "MultiHeadAttention"))


def _layer_and_inputs(L, name):
    cls = getattr(L, name)
    args = _ARGS.get(name, ())
    if "Pool" in name and not name.startswith(("Global", "Adaptive")):
        args = (2,)
    if name.startswith("Adaptive"):
        args = (2,)
    if name == "TimeDistributed":
        return cls(L.Dense(2)), [(5, 3)]
    if name == "Bidirectional":
        return cls(L.LSTM(2)), [(5, 3)]
    if name == "GroupNormalization":
        return cls(groups=2), [(4, 4)]
    if name in _PAIRS:
        return cls(*args), [(4,), (4,)]
    if name in _SEQUENCE_PAIRS:
        return cls(*args), [(5, 4), (6, 4)]
    if name == "Embedding":
        return cls(*args), [(5,)]
    if name in ("Dense", "Activation", "Dropout", "RepeatVector", "Rescaling") or \
            name.startswith(("Gaussian", "Alpha")):
        return cls(*args), [(3,)]
    for suffix, shape in _SHAPES.items():
        if suffix in name:
            return cls(*args), [shape]
    return cls(*args), [(5, 3)]


def _single_layer_model(lib, name):
    layer, shapes = _layer_and_inputs(lib.layers, name)
    dtype = "int32" if name == "Embedding" else "float32"
    inputs = [lib.Input(shape, dtype=dtype) for shape in shapes]
    if name == "Normalization":
        layer.adapt(np.random.default_rng(1).normal(size=(20, 5, 3)).astype("float32"))
    outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    return lib.Model(inputs if len(inputs) > 1 else inputs[0], outputs), shapes


def _layer_inputs(name, shapes):
    rng = np.random.default_rng(0)
    if name == "Embedding":
        return rng.integers(0, 10, (4, 5)).astype("int32")
    xs = [rng.normal(size=(4,) + shape).astype("float32") for shape in shapes]
    return xs if len(xs) > 1 else xs[0]


@pytest.mark.parametrize("name", _LAYER_NAMES)
def test_every_layer_round_trips_with_keras(K, name, tmp_path):
    model, shapes = _single_layer_model(tkl, name)
    kmodel, _ = _single_layer_model(K, name)
    x = _layer_inputs(name, shapes)
    model.save(tmp_path / "ours.keras")
    _assert_same_predictions(model, K.saving.load_model(tmp_path / "ours.keras"), x)
    kmodel.save(tmp_path / "keras.keras")
    _assert_same_predictions(tkl.models.load_model(tmp_path / "keras.keras"), kmodel, x)
    assert _dataset_paths(_archive_weights(tmp_path / "ours.keras")) == \
        _dataset_paths(_archive_weights(tmp_path / "keras.keras"))


def test_multi_head_attention_weights_in_a_subclassed_model(K, tmp_path):
    class KerasAttend(K.Model):
        def __init__(self):
            super().__init__()
            self.attention = K.layers.MultiHeadAttention(2, 4)

        def call(self, x):
            return self.attention(x, x)

    class Attend(tkl.Model):
        def __init__(self):
            super().__init__()
            self.attention = layers.MultiHeadAttention(2, 4)

        def call(self, x):
            return self.attention(x, x)

    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    kmodel, model = KerasAttend(), Attend()
    kmodel(x), model.build_from_data(__import__("torch").as_tensor(x))
    kmodel.save_weights(tmp_path / "keras.weights.h5")
    model.load_weights(tmp_path / "keras.weights.h5")
    _assert_same_predictions(model, kmodel, x)
    model.save_weights(tmp_path / "ours.weights.h5")
    assert _dataset_paths(tmp_path / "ours.weights.h5") == \
        _dataset_paths(tmp_path / "keras.weights.h5")


def test_nested_model_layout_matches_keras(K, tmp_path):
    def build(lib):
        inner = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3), lib.layers.Dropout(0.1)],
                               name="inner")
        x = lib.Input((4,))
        return lib.Model(x, lib.layers.Dense(2)(inner(x)))

    kmodel, model = build(K), build(tkl)
    kmodel.save(tmp_path / "keras.keras")
    loaded = tkl.models.load_model(tmp_path / "keras.keras")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    _assert_same_predictions(loaded, kmodel, x)
    model.save(tmp_path / "ours.keras")
    _assert_same_predictions(model, K.saving.load_model(tmp_path / "ours.keras"), x)
    assert _dataset_paths(_archive_weights(tmp_path / "ours.keras")) == \
        _dataset_paths(_archive_weights(tmp_path / "keras.keras"))


def _keras_scale_class(K):
    @K.saving.register_keras_serializable(package="parity")
    class Scale(K.layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return Scale


def _our_scale_class():
    @register_keras_serializable(package="parity")
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    return Scale


def test_registered_custom_layer_crosses_over(K, tmp_path):
    KScale, Scale = _keras_scale_class(K), _our_scale_class()
    kmodel = K.Sequential([K.Input((3,)), KScale(3.0), K.layers.Dense(2)])
    kmodel.layers[0].w.assign(np.array([1.0, 2.0, 3.0], dtype="float32"))
    kmodel.save(tmp_path / "keras.keras")
    model = tkl.models.load_model(tmp_path / "keras.keras")
    assert isinstance(model.layers[0], Scale) and model.layers[0].factor == 3.0
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    _assert_same_predictions(model, kmodel, x)
    model.save(tmp_path / "ours.keras")
    _assert_same_predictions(model, K.saving.load_model(tmp_path / "ours.keras"), x)


def _keras_net_class(K):
    @K.saving.register_keras_serializable(package="parity")
    class Net(K.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = K.layers.Dense(units, activation="relu")
            self.out = K.layers.Dense(1)  # sorts after "layers": Keras saves it as layers/dense_1

        def call(self, x):
            return self.out(self.hidden(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Net


def _our_net_class():
    @register_keras_serializable(package="parity")
    class Net(tkl.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = layers.Dense(units, activation="relu")
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Net


def test_keras_subclassed_model_loads_and_saves_back(K, tmp_path):
    KNet, Net = _keras_net_class(K), _our_net_class()
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    kmodel = KNet(5)
    kmodel(x)
    kmodel.compile(optimizer="adam", loss="mse")
    kmodel.fit(x, x[:, :1], epochs=1, verbose=0)
    kmodel.save(tmp_path / "keras.keras")
    model = tkl.models.load_model(tmp_path / "keras.keras")
    assert isinstance(model, Net) and model.units == 5
    assert model.optimizer.iterations == 1
    _assert_same_predictions(model, kmodel, x)
    model.save(tmp_path / "ours.keras")
    _assert_same_predictions(model, K.saving.load_model(tmp_path / "ours.keras"), x)
    assert _dataset_paths(_archive_weights(tmp_path / "ours.keras")) == \
        _dataset_paths(_archive_weights(tmp_path / "keras.keras"))


def test_functional_multi_head_attention_round_trips_with_keras(K, tmp_path):
    q, v = K.Input((5, 4), name="q"), K.Input((6, 4), name="v")
    out = K.layers.Dense(3, name="head")(K.layers.MultiHeadAttention(2, 4, name="mha")(q, v))
    kmodel = K.Model([q, v], out)
    kmodel.save(tmp_path / "keras.keras")
    ours = tkl.saving.load_model(tmp_path / "keras.keras")
    rng = np.random.default_rng(0)
    x = [rng.random((2, 5, 4)).astype("float32"), rng.random((2, 6, 4)).astype("float32")]
    expected = K.ops.convert_to_numpy(kmodel.predict(x, verbose=0))
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, atol=1e-6)
    ours.save(tmp_path / "ours.keras")
    again = K.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(K.ops.convert_to_numpy(again.predict(x, verbose=0)), expected,
                               atol=1e-6)
