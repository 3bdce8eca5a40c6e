"""Saving and loading: round trips, resumed training, custom objects, atomic writes, errors.

Compatibility with real Keras's files is checked in tests/parity/test_saving_parity.py.
"""
import json
import os
import zipfile

import h5py
import numpy as np
import pytest
import torch

import torchkeras_lite as tkl
from torchkeras_lite import layers, optimizers
from torchkeras_lite.models import Sequential, load_model
from torchkeras_lite.saving import (CustomObjectScope, atomic_write, get_registered_name,
                                    get_registered_object, register_keras_serializable,
                                    saving_lib)


def _mlp(optimizer="adam", device="cpu"):
    model = Sequential([layers.Input((8,)), layers.Dense(12, activation="relu"),
                        layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"],
                  device=device)
    return model


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.random((n, 8)).astype("float32")
    return x, np.eye(3, dtype="float32")[np.argmax(x[:, :3], 1)]


def _fit(model, epochs):
    x, y = _data()
    return model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0).history


def _same_weights(a, b, atol=0.0):
    assert len(a.get_weights()) == len(b.get_weights())
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


# ---------------------------------------------------------------------- round trips
def test_save_and_load_round_trip(tmp_path):
    model = _mlp()
    _fit(model, 1)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert isinstance(loaded, Sequential)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    x, _ = _data()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.iterations == model.optimizer.iterations == 5
    assert loaded.loss == "categorical_crossentropy"


def test_archive_holds_keras_members_and_layout(tmp_path):
    model = _mlp()
    _fit(model, 1)
    model.save(tmp_path / "m.keras")
    archive = zipfile.ZipFile(tmp_path / "m.keras")
    assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
    metadata = json.loads(archive.read("metadata.json"))
    assert {"keras_version", "date_saved"} <= set(metadata)
    config = json.loads(archive.read("config.json"))
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    dense = config["config"]["layers"][1]
    assert dense["module"] == "keras.layers" and dense["registered_name"] is None
    assert dense["config"]["dtype"]["class_name"] == "DTypePolicy"
    assert dense["config"]["kernel_initializer"]["module"] == "keras.initializers"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    with h5py.File(archive.open("model.weights.h5")) as f:
        assert f["layers/dense_1/vars/0"].shape == (12, 8)
        assert f["optimizer/vars/0"][()] == 5  # iterations, then learning rate, then slots
        assert len(f["optimizer/vars"]) == 2 + 2 * 6


@pytest.mark.parametrize("optimizer", [
    "adam", optimizers.SGD(0.05, momentum=0.9), optimizers.RMSprop(momentum=0.5, centered=True),
    optimizers.Nadam(0.01), optimizers.Adam(0.01, amsgrad=True),
], ids=["adam", "sgd", "rmsprop", "nadam", "adam_amsgrad"])
def test_resumed_training_equals_uninterrupted_training(tmp_path, optimizer):
    torch.manual_seed(1)
    straight = _mlp(optimizer)
    torch.manual_seed(1)
    fresh = optimizer if isinstance(optimizer, str) else type(optimizer).from_config(
        optimizer.get_config())
    first = _mlp(fresh)
    _same_weights(first, straight)
    history = _fit(straight, 10)
    _fit(first, 5)
    first.save(tmp_path / "half.keras")
    resumed = load_model(tmp_path / "half.keras")
    second = _fit(resumed, 5)
    _same_weights(resumed, straight, atol=1e-6)
    np.testing.assert_allclose(second["loss"], history["loss"][5:], rtol=1e-5)


def test_every_optimizer_state_tensor_round_trips(tmp_path):
    # EMA averages and gradient accumulators too (fit's final EMA swap makes a 5 + 5 epoch
    # run differ from a 10 epoch one, in Keras as here, so they are compared directly).
    model = _mlp(optimizers.Adam(0.01, use_ema=True, gradient_accumulation_steps=2))
    _fit(model, 1)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    saved, restored = model.optimizer, loaded.optimizer
    assert restored._iterations == saved._iterations == 5
    for p, q in zip(model.parameters(), loaded.parameters()):
        assert sorted(restored.state[q]) == sorted(saved.state[p])
        for name in ("exp_avg", "exp_avg_sq", "average", "gradient_accumulator"):
            torch.testing.assert_close(restored.state[q][name], saved.state[p][name],
                                       rtol=0, atol=0)


def test_functional_two_inputs_and_nested_model_round_trip(tmp_path):
    inner = Sequential([layers.Input((16,)), layers.Dense(4, activation="relu")], name="inner")
    a, b = tkl.Input((5,), name="a"), tkl.Input((3,), name="b")
    merged = layers.Concatenate()([layers.Dense(8)(a), layers.Dense(8)(b)])
    model = tkl.Model([a, b], [layers.Dense(1, name="score")(inner(merged)),
                               layers.Dense(2, activation="softmax", name="kind")(merged)])
    model.compile(optimizer="sgd", loss={"score": "mse", "kind": "categorical_crossentropy"},
                  loss_weights={"score": 2.0, "kind": 1.0}, metrics={"kind": ["accuracy"]},
                  device="cpu")
    rng = np.random.default_rng(0)
    x = [rng.random((12, 5)).astype("float32"), rng.random((12, 3)).astype("float32")]
    y = [rng.random((12, 1)).astype("float32"), np.eye(2, dtype="float32")[rng.integers(0, 2, 12)]]
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "f.keras")
    loaded = load_model(tmp_path / "f.keras")
    for ours, theirs in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(ours, theirs)
    assert loaded.output_names == ["score", "kind"]
    history = loaded.fit(x, y, epochs=1, verbose=0).history
    assert sorted(history) == sorted(model.fit(x, y, epochs=1, verbose=0).history)


def test_compile_false_skips_compile_and_optimizer_state(tmp_path):
    model = _mlp()
    _fit(model, 1)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", compile=False)
    assert loaded.optimizer is None
    x, _ = _data()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_uncompiled_model_round_trip(tmp_path):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    assert "compile_config" not in json.loads(
        zipfile.ZipFile(tmp_path / "m.keras").read("config.json"))
    assert load_model(tmp_path / "m.keras").optimizer is None


def test_save_weights_and_load_weights(tmp_path):
    model = _mlp()
    _fit(model, 1)
    model.save_weights(tmp_path / "m.weights.h5")
    other = _mlp()
    _fit(other, 1)  # built optimizer: the saved state is restored into it
    other.load_weights(tmp_path / "m.weights.h5")
    _same_weights(other, model)
    assert other.optimizer.iterations == model.optimizer.iterations
    model.save(tmp_path / "m.keras")
    fourth = Sequential([layers.Input((8,)), layers.Dense(12, activation="relu"),
                         layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
    fourth.load_weights(tmp_path / "m.keras")  # a .keras archive works too
    _same_weights(fourth, model)


def test_load_weights_into_unbuilt_optimizer_warns_as_keras(tmp_path):
    model = _mlp()
    _fit(model, 1)
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = _mlp()
    with pytest.warns(UserWarning, match="optimizer state was not loaded"):
        fresh.load_weights(tmp_path / "m.weights.h5")
    _same_weights(fresh, model)


def test_state_dict_works_with_torch_save_and_weights_only_load(tmp_path):
    model = _mlp()
    _fit(model, 1)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    other = _mlp()
    other.load_state_dict(state)
    _same_weights(other, model)
    torch.save(model.optimizer.state_dict(), tmp_path / "opt.pt")
    assert torch.load(tmp_path / "opt.pt", weights_only=True)["iterations"] == 5


# ------------------------------------------------------------------- custom objects
@register_keras_serializable(package="tests")
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


class Shift(layers.Layer):  # not registered: found through custom_objects
    def __init__(self, shift=1.0, **kwargs):
        super().__init__(**kwargs)
        self.shift = shift

    def call(self, x):
        return x + self.shift

    def get_config(self):
        return {**super().get_config(), "shift": self.shift}


@register_keras_serializable(package="tests")
def doubled_mse(y_true, y_pred):
    return 2.0 * torch.mean((y_true - y_pred) ** 2, dim=-1)


def scaled_mae(y_true, y_pred):
    return torch.mean(torch.abs(y_true - y_pred), dim=-1)


def test_register_keras_serializable_names():
    assert get_registered_name(Scale) == "tests>Scale"
    assert get_registered_object("tests>Scale") is Scale
    assert get_registered_name(Shift) == "Shift"

    @register_keras_serializable("pkg", name="Other")
    def fn(x):
        return x

    assert get_registered_name(fn) == "pkg>Other"
    with pytest.raises(ValueError, match="get_config"):
        register_keras_serializable()(type("NoConfig", (), {}))


def test_custom_layers_losses_and_metrics(tmp_path):
    model = Sequential([layers.Input((3,)), Scale(3.0), Shift(0.5), layers.Dense(2)])
    model.compile(optimizer="adam", loss=doubled_mse, metrics=[scaled_mae], device="cpu")
    x = np.random.default_rng(0).random((8, 3)).astype("float32")
    model.fit(x, x[:, :2], epochs=1, verbose=0)
    model.save(tmp_path / "c.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "c.keras").read("config.json"))
    assert config["config"]["layers"][1]["registered_name"] == "tests>Scale"
    with pytest.raises(ValueError, match="custom_objects=.*Shift"):
        load_model(tmp_path / "c.keras")
    loaded = load_model(tmp_path / "c.keras",
                        custom_objects={"Shift": Shift, "scaled_mae": scaled_mae})
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[0].factor == 3.0 and loaded.layers[1].shift == 0.5
    assert loaded.loss is doubled_mse
    with CustomObjectScope({"Shift": Shift, "scaled_mae": scaled_mae}):
        assert isinstance(load_model(tmp_path / "c.keras").layers[1], Shift)


# ------------------------------------------------------------------- atomic writes
def test_atomic_write_keeps_previous_file_on_failure(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["notes.txt"]
    with atomic_write(path) as tmp:
        with open(tmp, "w") as f:
            f.write("new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["notes.txt"]


def test_interrupted_save_leaves_previous_model_intact(tmp_path, monkeypatch):
    model = _mlp()
    model.save(tmp_path / "m.keras")
    before = (tmp_path / "m.keras").read_bytes()
    _fit(model, 1)
    writes = []

    def failing_writestr(self, name, data, *args, **kwargs):
        writes.append(name)
        if name == "model.weights.h5":
            raise OSError("disk full")
        return original(self, name, data, *args, **kwargs)

    original = zipfile.ZipFile.writestr
    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "m.keras")
    assert writes == ["metadata.json", "config.json", "model.weights.h5"]
    assert (tmp_path / "m.keras").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]
    monkeypatch.undo()
    load_model(tmp_path / "m.keras")


def test_interrupted_save_weights_leaves_previous_file_intact(tmp_path, monkeypatch):
    model = _mlp()
    _fit(model, 1)
    model.save_weights(tmp_path / "m.weights.h5")
    before = (tmp_path / "m.weights.h5").read_bytes()
    _fit(model, 1)

    def fail(*args):
        raise RuntimeError("killed mid-write")

    monkeypatch.setattr(saving_lib, "_read_optimizer_variable", fail)  # after the layers
    with pytest.raises(RuntimeError, match="mid-write"):
        model.save_weights(tmp_path / "m.weights.h5")
    assert (tmp_path / "m.weights.h5").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.weights.h5"]


# -------------------------------------------------------------------------- errors
def test_suffix_errors(tmp_path):
    model = _mlp()
    with pytest.raises(ValueError, match=r"must end in '\.keras'"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"must end in '\.weights\.h5'"):
        model.save_weights(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="Legacy Keras 2"):
        load_model(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="Legacy Keras 2"):
        model.load_weights(tmp_path / "m.h5")


def test_overwrite_false_refuses_existing_file(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "m.keras", overwrite=False)
    model.save_weights(tmp_path / "m.weights.h5")
    with pytest.raises(FileExistsError):
        model.save_weights(tmp_path / "m.weights.h5", overwrite=False)


def test_unbuilt_model_errors(tmp_path):
    model = Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not been built"):
        model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="not been built"):
        model.load_weights(tmp_path / "m.weights.h5")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        load_model(tmp_path / "nope.keras")


def test_truncated_keras_file(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.keras.*truncated or corrupt"):
        load_model(tmp_path / "cut.keras")


def _rewrite_archive(src, dst, **replace):
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for name in a.namelist():
            if replace.get(name, "") is not None:
                b.writestr(name, replace.get(name, a.read(name)))


def test_corrupt_members(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")
    _rewrite_archive(tmp_path / "m.keras", tmp_path / "w.keras",
                     **{"model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 50})
    with pytest.raises(ValueError, match=r"w\.keras.*model\.weights\.h5.*HDF5.*corrupt"):
        load_model(tmp_path / "w.keras")
    _rewrite_archive(tmp_path / "m.keras", tmp_path / "c.keras", **{"config.json": b"{not json"})
    with pytest.raises(ValueError, match=r"c\.keras.*config\.json is not valid JSON"):
        load_model(tmp_path / "c.keras")
    _rewrite_archive(tmp_path / "m.keras", tmp_path / "n.keras", **{"config.json": None})
    with pytest.raises(ValueError, match=r"n\.keras.*no 'config\.json'"):
        load_model(tmp_path / "n.keras")


def test_corrupt_weights_file(tmp_path):
    model = _mlp()
    model.save_weights(tmp_path / "m.weights.h5")
    data = (tmp_path / "m.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(data[:300])
    with pytest.raises(ValueError, match=r"cut\.weights\.h5.*truncated or corrupt"):
        model.load_weights(tmp_path / "cut.weights.h5")


def _edit_config(src, dst, edit):
    config = json.loads(zipfile.ZipFile(src).read("config.json"))
    edit(config)
    _rewrite_archive(src, dst, **{"config.json": json.dumps(config).encode()})


def test_unknown_layer_suggests_custom_objects(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")

    def rename(config):
        config["config"]["layers"][1].update(module=None, class_name="MyDense",
                                             registered_name="Custom>MyDense")

    _edit_config(tmp_path / "m.keras", tmp_path / "u.keras", rename)
    with pytest.raises(ValueError, match=r"Unknown layer 'MyDense'.*u\.keras.*custom_objects"):
        load_model(tmp_path / "u.keras")

    def keras_only(config):
        config["config"]["layers"][1]["class_name"] = "EinsumDense"

    _edit_config(tmp_path / "m.keras", tmp_path / "e.keras", keras_only)
    with pytest.raises(ValueError, match="Keras layer that torchkeras_lite does not implement"):
        load_model(tmp_path / "e.keras")


def test_lambda_layers_and_bytecode_are_refused(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")

    def add_lambda(config):
        config["config"]["layers"].append({
            "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "lambda", "function": {
                "class_name": "__lambda__", "config": {"value": "4wEAAAAAAAAA"}}}})

    _edit_config(tmp_path / "m.keras", tmp_path / "l.keras", add_lambda)
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="Lambda layer.*never"):
            load_model(tmp_path / "l.keras", safe_mode=safe_mode)

    def lambda_activation(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": None, "class_name": "__lambda__", "config": {"value": "4wEAAAAAAAAA"},
            "registered_name": None}

    _edit_config(tmp_path / "m.keras", tmp_path / "a.keras", lambda_activation)
    with pytest.raises(ValueError, match="lambda as bytecode"):
        load_model(tmp_path / "a.keras")


def test_unsupported_keras_options_are_refused(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")

    def quantize(config):
        config["config"]["layers"][1]["config"]["quantization_config"] = {"mode": "int8"}

    _edit_config(tmp_path / "m.keras", tmp_path / "q.keras", quantize)
    with pytest.raises(ValueError, match="quantization_config"):
        load_model(tmp_path / "q.keras")

    def quantized_policy(config):
        config["config"]["layers"][1]["config"]["dtype"]["config"]["name"] = "int8_from_float32"

    _edit_config(tmp_path / "m.keras", tmp_path / "p.keras", quantized_policy)
    with pytest.raises(ValueError, match="int8_from_float32"):
        load_model(tmp_path / "p.keras")


def test_unknown_compile_objects_point_to_compile_false(tmp_path):
    model = _mlp()
    model.save(tmp_path / "m.keras")

    def keras_loss(config):
        config["compile_config"]["loss"] = {"module": "keras.losses", "class_name": "Tversky",
                                            "config": {}, "registered_name": None}

    _edit_config(tmp_path / "m.keras", tmp_path / "t.keras", keras_loss)
    with pytest.raises(ValueError, match="Unknown loss 'Tversky'.*compile=False"):
        load_model(tmp_path / "t.keras")
    assert load_model(tmp_path / "t.keras", compile=False).optimizer is None


def test_torch_optimizer_model_is_saved_without_compile_settings(tmp_path):
    model = Sequential([layers.Input((4,)), layers.Dense(2)])
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss="mse",
                  device="cpu")
    x = np.ones((4, 4), dtype="float32")
    with pytest.warns(UserWarning) as caught:
        model.save(tmp_path / "m.keras")
    messages = " | ".join(str(w.message) for w in caught)
    assert "without its compile settings" in messages and "optimizer.state_dict" in messages
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.optimizer is None
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_weights_that_do_not_fit_name_layer_and_shapes(tmp_path):
    model = _mlp()
    model.save_weights(tmp_path / "m.weights.h5")
    other = Sequential([layers.Input((8,)), layers.Dense(10, activation="relu", name="hidden"),
                        layers.Dense(8), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"layer 'hidden' \(Dense\).*\(8, 10\).*\(8, 12\)"):
        other.load_weights(tmp_path / "m.weights.h5")
    shorter = Sequential([layers.Input((8,)), layers.Dense(12), layers.Dense(8)])
    with pytest.raises(ValueError, match="no place for.*dense_2"):
        shorter.load_weights(tmp_path / "m.weights.h5")
    before = shorter.get_weights()
    with pytest.warns(UserWarning, match="skip_mismatch"):
        shorter.load_weights(tmp_path / "m.weights.h5", skip_mismatch=True)
    assert not np.array_equal(before[0], shorter.get_weights()[0])
    np.testing.assert_array_equal(shorter.get_weights()[0], model.get_weights()[0])


def test_subclassed_model_save_explains_the_alternative(tmp_path):
    class Net(tkl.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x[0] + x[1])

    pair = [torch.zeros(2, 3), torch.zeros(2, 3)]
    net = Net()
    net(pair)  # a list input: no single input shape to record for a loader
    with pytest.raises(ValueError, match="save_weights"):
        net.save(tmp_path / "n.keras")
    net.save_weights(tmp_path / "n.weights.h5")
    with h5py.File(tmp_path / "n.weights.h5") as f:
        assert f["dense/vars/0"].shape == (3, 2)
    other = Net()
    other(pair)
    other.load_weights(tmp_path / "n.weights.h5")
    _same_weights(other, net)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resume_on_cuda(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHKERAS_LITE_DEVICE", raising=False)
    torch.manual_seed(1)
    straight = _mlp(device="cuda")
    torch.manual_seed(1)
    first = _mlp(device="cuda")
    _fit(straight, 4)
    _fit(first, 2)
    first.save(tmp_path / "half.keras")
    resumed = load_model(tmp_path / "half.keras")  # compiles on 'auto': the GPU
    assert resumed.device.type == "cuda"
    assert all(s.device.type == "cuda" for state in resumed.optimizer.state.values()
               for s in state.values() if isinstance(s, torch.Tensor) and s.dim())
    _fit(resumed, 2)
    _same_weights(resumed, straight, atol=1e-6)


def test_subclassed_model_built_from_data_saves_and_loads(tmp_path):
    import torchkeras_lite as tkl
    from torchkeras_lite.saving import register_keras_serializable

    @register_keras_serializable(package="SubclassTest")
    class Net(tkl.Model):
        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = tkl.layers.Dense(units, activation="relu")
            self.head = tkl.layers.Dense(1)

        def call(self, inputs):
            return self.head(self.hidden(inputs))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = Net(5)
    model.compile("adam", "mse", device="cpu")
    x = np.random.default_rng(0).random((20, 3)).astype("float32")
    model.fit(x, x.sum(1, keepdims=True), epochs=2, verbose=0)
    model.save(tmp_path / "net.keras")
    loaded = tkl.saving.load_model(tmp_path / "net.keras")
    assert type(loaded).__name__ == "Net" and loaded.units == 5
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
