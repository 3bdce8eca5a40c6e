import io

import numpy as np
import pytest
import torch

import torchkeras_lite as tkl
from torchkeras_lite.callbacks import Callback, LambdaCallback, TerminateOnNaN
from torchkeras_lite.layers import Dense, Dropout, Flatten, Input
from torchkeras_lite.models import Sequential
from torchkeras_lite.utils import to_categorical


def tutorial_model():
    model = Sequential()
    model.add(Dense(12, input_dim=8, activation="relu"))
    model.add(Dense(8, activation="relu"))
    model.add(Dense(3, activation="softmax"))
    return model


def data(n=100, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype("float32")
    y = to_categorical(rng.integers(0, 3, n), 3)
    return x, y


# ------------------------------------------------------------------ structure
def test_layers_add_pop_and_build():
    model = tutorial_model()
    assert [type(l).__name__ for l in model.layers] == ["Dense"] * 3
    assert model.built and model.count_params() == 8 * 12 + 12 + 12 * 8 + 8 + 8 * 3 + 3
    popped = model.pop()
    assert popped.units == 3 and len(model.layers) == 2


def test_input_first_and_built_from_data():
    model = Sequential([Input(shape=(8,)), Dense(4)])
    assert model.built and model.input_shape == (None, 8)
    lazy = Sequential([Dense(4), Dense(2)])
    assert not lazy.built
    lazy.compile(optimizer="sgd", loss="mse", device="cpu")
    lazy.fit(np.zeros((6, 5), "float32"), np.zeros((6, 2), "float32"), verbose=0)
    assert lazy.built and lazy.layers[0].kernel.shape == (5, 4)


def test_build_with_input_shape():
    model = Sequential([Dense(4), Dense(2)])
    model.build((None, 3))
    assert model.count_params() == 3 * 4 + 4 + 4 * 2 + 2


def test_nn_module_behaviour():
    model = tutorial_model()
    assert len(list(model.parameters())) == 6
    keys = list(model.state_dict())
    assert keys[0].endswith("kernel") and len(keys) == 6
    out = model(torch.zeros(2, 8))
    assert out.shape == (2, 3)
    clone = tutorial_model()
    clone.load_state_dict(model.state_dict())
    for a, b in zip(model.get_weights(), clone.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.to("cpu")
    assert model.device.type == "cpu"


def test_model_weights_keras_order_round_trip():
    model = tutorial_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(8, 12), (12,), (12, 8), (8,), (8, 3), (3,)]
    new = [np.full(s, 0.5, "float32") for s in shapes]
    model.set_weights(new)
    assert all(np.all(w == 0.5) for w in model.get_weights())
    with pytest.raises(ValueError, match="expects 6 weight arrays"):
        model.set_weights(new[:2])


def test_config_round_trip():
    model = tutorial_model()
    clone = Sequential.from_config(model.get_config())
    assert [l.get_config() for l in clone.layers] == [l.get_config() for l in model.layers]
    assert clone.count_params() == model.count_params()


def test_summary_table():
    model = Sequential([Input((8,)), Dense(12, name="dense_a"), Dense(3, name="dense_b")],
                       name="seq")
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert len(lines) == 1 and text.splitlines()[0] == 'Model: "seq"'
    assert "│ dense_a (Dense)                 │ (None, 12)             │           108 │" in text
    assert " Total params: 147 (588.00 B)" in text
    assert " Non-trainable params: 0 (0.00 B)" in text


def test_summary_before_build_raises():
    with pytest.raises(ValueError, match="not yet been built"):
        Sequential([Dense(2)]).summary()


# -------------------------------------------------------------------- training
def test_fit_returns_history_and_learns():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    history = model.fit(x, y, epochs=3, batch_size=10, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert sorted(history.history) == ["accuracy", "loss"]
    assert history.params["epochs"] == 3 and history.params["steps"] == 10
    assert history.model is model and model.history is history
    assert all(isinstance(v, float) for v in history.history["loss"])


def test_evaluate_returns_float_list_or_dict():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    as_dict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(as_dict) == ["accuracy", "loss"]


def test_predict_returns_numpy_in_order():
    x, _ = data()
    model = tutorial_model()
    out = model.predict(x, batch_size=7, verbose=0)
    assert isinstance(out, np.ndarray) and out.shape == (100, 3)
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), out[:5], rtol=1e-6)


def test_train_and_test_on_batch():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    before = model.test_on_batch(x[:10], y[:10])
    logs = model.train_on_batch(x[:10], y[:10], return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]
    assert logs["loss"] == pytest.approx(before[0], rel=1e-6)
    assert model.test_on_batch(x[:10], y[:10])[0] < before[0]


def test_sparse_labels_with_sparse_loss():
    x, _ = data()
    labels = np.random.default_rng(0).integers(0, 3, 100)
    model = tutorial_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device="cpu")
    history = model.fit(x, labels, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_validation_split_and_data_keys():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    history = model.fit(x, y, epochs=2, batch_size=10, validation_split=0.2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history.params["steps"] == 8
    history = model.fit(x, y, epochs=2, validation_data=(x[:10], y[:10]), verbose=0)
    assert len(history.history["val_loss"]) == 2


def test_stop_training_is_honoured():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")

    def stop(epoch, logs):
        model.stop_training = epoch == 1

    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[LambdaCallback(on_epoch_end=stop)])
    assert history.epoch == [0, 1]


def test_callback_hook_order():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin{epoch}")
        def on_train_batch_end(self, batch, logs=None): calls.append(f"batch_end{batch}:{sorted(logs)}")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end{epoch}")
        def on_train_end(self, logs=None): calls.append("train_end")

    x, y = data(20)
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[Recorder()])
    assert calls == ["train_begin", "epoch_begin0", "batch_end0:['loss']",
                     "batch_end1:['loss']", "epoch_end0", "train_end"]


def test_batch_logs_are_running_averages():
    x, y = data(30)
    model = tutorial_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", device="cpu")
    batch_losses, seen = [], []
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, shuffle=False,
              callbacks=[LambdaCallback(on_train_batch_end=lambda b, l: seen.append(l["loss"]))])
    hist = model.history.history["loss"][0]
    assert seen[-1] == pytest.approx(hist, rel=1e-6)


def test_dropout_only_active_in_fit():
    model = Sequential([Input((4,)), Dropout(0.5), Dense(1)])
    x = torch.ones(3, 4)
    assert torch.equal(model(x), model(x))
    assert not model.training


def test_terminate_on_nan_names_epoch_and_batch(capsys):
    x, y = data(40)
    y[25] = 1e30  # finite target whose squared error overflows to inf
    model = tutorial_model()
    model.compile(optimizer="sgd", loss="mse", device="cpu")
    history = model.fit(x, y, batch_size=10, epochs=3, shuffle=False, verbose=0,
                        callbacks=[TerminateOnNaN()])
    assert "epoch 1, batch 3" in capsys.readouterr().out
    assert len(history.epoch) == 1


# ---------------------------------------------------------------------- output
def test_progress_bar_final_line_format():
    import contextlib
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, epochs=2, batch_size=10, verbose=1)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert "\b" not in buf.getvalue() and "\x1b" not in buf.getvalue()
    import re
    assert re.fullmatch(r"10/10 ━{20} \d+s \d+(ms|us|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}",
                        lines[1]), lines[1]


def test_verbose_2_and_single_epoch_has_no_epoch_line():
    import contextlib
    import re
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, epochs=1, batch_size=10, verbose=2, validation_split=0.2)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"8/8 - \d+s - \d+(ms|us|s)/step - accuracy: \S+ - loss: \S+ - "
                        r"val_accuracy: \S+ - val_loss: \S+", lines[0]), lines[0]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        model.fit(x, y, epochs=2, verbose=0)
        model.predict(x, verbose=0)
    assert buf.getvalue() == ""


# ---------------------------------------------------------------------- errors
def test_fit_before_compile():
    x, y = data()
    with pytest.raises(RuntimeError, match=r"compile\(\) before fit\(\)"):
        tutorial_model().fit(x, y)


def compiled(loss="categorical_crossentropy"):
    model = tutorial_model()
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], device="cpu")
    return model


def test_mismatched_lengths():
    x, y = data()
    with pytest.raises(ValueError, match=r"same number of samples.*x has \[100\].*y has \[99\]"):
        compiled().fit(x, y[:99], verbose=0)


def test_wrong_feature_shape():
    x, y = data()
    with pytest.raises(ValueError, match=r"per-sample shape \(10,\).*expects \(8,\)"):
        compiled().fit(np.zeros((100, 10), "float32"), y, verbose=0)
    with pytest.raises(ValueError, match="reshape"):
        compiled().predict(np.zeros((4, 2, 4), "float32"), verbose=0)


def test_integer_labels_to_categorical_loss():
    x, _ = data()
    labels = np.random.default_rng(0).integers(0, 3, 100)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy|to_categorical"):
        compiled().fit(x, labels, verbose=0)


def test_nan_inputs_named():
    x, y = data()
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        compiled().fit(x, y, verbose=0)


@pytest.mark.parametrize("split", [1.0, -0.1, 0.999])
def test_bad_validation_split(split):
    x, y = data()
    with pytest.raises(ValueError, match="validation_split"):
        compiled().fit(x, y, validation_split=split, verbose=0)


@pytest.mark.parametrize("bs", [0, -1, 2.5])
def test_bad_batch_size(bs):
    x, y = data()
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        compiled().fit(x, y, batch_size=bs, verbose=0)


def test_unavailable_device():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(RuntimeError, match=r"CUDA is not available.*Available devices: \['cpu'"):
        tutorial_model().compile(optimizer="adam", loss="mse", device="cuda")
    with pytest.raises(ValueError, match="device must be"):
        tutorial_model().compile(optimizer="adam", loss="mse", device="tpu9")


def test_env_var_overrides_auto(monkeypatch):
    monkeypatch.setenv("TORCHKERAS_LITE_DEVICE", "cpu")
    assert tkl.resolve_device("auto") == torch.device("cpu")


def test_unknown_names_fail_at_compile():
    with pytest.raises(ValueError, match="Did you mean 'categorical_crossentropy'"):
        tutorial_model().compile(optimizer="adam", loss="categorical_crossentropyy")
    with pytest.raises(ValueError, match="Unknown optimizer"):
        tutorial_model().compile(optimizer="adamm", loss="mse")


def test_class_weight_and_sample_weight_together():
    x, y = data()
    with pytest.raises(ValueError, match="class_weight and sample_weight"):
        compiled().fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(100), verbose=0)


def test_flatten_reshape_mnist_shaped():
    x = np.random.default_rng(0).random((64, 28, 28)).astype("float32")
    y = to_categorical(np.random.default_rng(1).integers(0, 10, 64), 10)
    model = Sequential([Input((784,)), Dense(16, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")
    model.fit(x.reshape(64, 784), y, verbose=0)
    flat = Sequential([Input((28, 28)), Flatten(), Dense(10, activation="softmax")])
    flat.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")
    flat.fit(x, y, verbose=0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_and_predict_returns_cpu_numpy():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cuda")
    assert model.device.type == "cuda"
    model.fit(x, y, epochs=2, verbose=0)
    out = model.predict(x, verbose=0)
    assert isinstance(out, np.ndarray)
    model.to("cpu")
    model.fit(x, y, epochs=1, verbose=0)
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_to_after_compile_keeps_optimizer_state_usable():
    x, y = data()
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")
    model.fit(x, y, epochs=1, verbose=0)
    state_before = {k: v.clone() if torch.is_tensor(v) else v
                    for k, v in model.optimizer.state[model.layers[0].kernel].items()}
    model.to("cpu")
    after = model.optimizer.state[model.layers[0].kernel]
    for key, value in state_before.items():
        if torch.is_tensor(value):
            assert torch.equal(value, after[key])
    model.fit(x, y, epochs=1, verbose=0)


def test_forward_hooks_still_fire_inside_fit():
    x, y = data(20)
    model = tutorial_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", device="cpu")
    seen = []
    handle = model.layers[1].register_forward_hook(lambda mod, inp, out: seen.append(out.shape))
    model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    handle.remove()
    assert seen == [torch.Size([10, 8])] * 2


def test_progbar_remembers_unknown_length_after_first_epoch(capsys):
    from torchkeras_lite.callbacks import ProgbarLogger

    def batches():
        x, y = data(30)
        for i in range(0, 30, 10):
            yield x[i:i + 10], y[i:i + 10]

    class Source:
        def __iter__(self):
            return batches()

    model = compiled()
    logger = ProgbarLogger()
    model.fit(Source(), epochs=2, verbose=1, callbacks=[logger])
    assert logger.target == 3
    lines = [l for l in capsys.readouterr().out.splitlines() if "step" in l]
    assert len(lines) == 2 and all(l.startswith("3/3 ") for l in lines)
