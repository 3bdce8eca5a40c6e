import numpy as np
import pytest
import torch

from torchkeras_lite import Input, Model
from torchkeras_lite.layers import Dense, Dropout, Layer
from torchkeras_lite.models import Sequential
from torchkeras_lite.models.functional import Functional


class SumPair(Layer):
    """A custom two-input layer without compute_output_shape (shape found by a probe run)."""

    def call(self, inputs):
        return inputs[0] + inputs[1]


def two_input_two_output():
    a = Input(shape=(4,), name="a")
    b = Input(shape=(3,), name="b")
    ha = Dense(5, activation="relu", name="ha")(a)
    hb = Dense(5, activation="relu", name="hb")(b)
    h = SumPair(name="sum")([ha, hb])
    reg = Dense(1, name="reg")(h)
    cls = Dense(3, activation="softmax", name="cls")(h)
    return Model(inputs=[a, b], outputs=[reg, cls], name="two")


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = [rng.random((n, 4)).astype("float32"), rng.random((n, 3)).astype("float32")]
    y = [rng.random((n, 1)).astype("float32"),
         np.eye(3, dtype="float32")[rng.integers(0, 3, n)]]
    return x, y


def test_model_with_inputs_is_functional_and_runs():
    model = two_input_two_output()
    assert isinstance(model, Functional) and isinstance(model, Model)
    assert [l.name for l in model.layers] == ["a", "b", "ha", "hb", "sum", "reg", "cls"]
    assert model.output_names == ["reg", "cls"]
    reg, cls = model([torch.zeros(2, 4), torch.zeros(2, 3)])
    assert reg.shape == (2, 1) and cls.shape == (2, 3)
    assert model.output_shape == [(None, 1), (None, 3)]


def test_multi_output_fit_logs_and_evaluate():
    model = two_input_two_output()
    model.compile(optimizer="adam", loss=["mse", "categorical_crossentropy"],
                  metrics=[["mae"], ["accuracy"]], loss_weights=[1.0, 0.5], device="cpu")
    x, y = data()
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert sorted(history.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    loss, reg_loss, cls_loss = (history.history[k][-1] for k in ("loss", "reg_loss", "cls_loss"))
    assert loss == pytest.approx(reg_loss + 0.5 * cls_loss, rel=1e-5)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(result) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    preds = model.predict(x, verbose=0)
    assert [p.shape for p in preds] == [(40, 1), (40, 3)]


def test_dict_inputs_outputs_and_missing_name():
    model = two_input_two_output()
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "categorical_crossentropy"},
                  metrics={"cls": "accuracy"}, device="cpu")
    x, y = data()
    history = model.fit({"a": x[0], "b": x[1]}, {"reg": y[0], "cls": y[1]}, epochs=1, verbose=0)
    assert sorted(history.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss"]
    with pytest.raises(ValueError, match=r"missing input\(s\) \['b'\]"):
        model.predict({"a": x[0]}, verbose=0)
    with pytest.raises(ValueError, match="not output names"):
        model.compile(optimizer="adam", loss={"nope": "mse"})


def test_shared_layer_and_nested_model():
    shared = Dense(4, name="shared")
    a, b = Input((4,), name="x1"), Input((4,), name="x2")
    out = SumPair(name="s")([shared(a), shared(b)])
    model = Model([a, b], out)
    assert len(model.trainable_weights) == 2
    inner_in = Input((3,), name="inner_in")
    inner = Model(inner_in, Dense(2, name="inner_dense")(inner_in), name="inner")
    outer_in = Input((3,), name="outer_in")
    outer = Model(outer_in, Dense(1, name="head")(inner(outer_in)), name="outer")
    assert outer(torch.zeros(5, 3)).shape == (5, 1)
    assert len(outer.get_weights()) == 4


def test_unreachable_output_is_an_error():
    a, b = Input((2,), name="in_a"), Input((2,), name="in_b")
    with pytest.raises(ValueError, match="not reachable from the model's inputs"):
        Model(a, Dense(1)(b))


def test_config_round_trip_keeps_graph_and_predictions():
    model = two_input_two_output()
    config = model.get_config()
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["layers"][4]["inbound_nodes"][0]["args"][0][0]["config"]["keras_history"] \
        == ["ha", 0, 0]
    clone = Functional.from_config(config, custom_objects={"SumPair": SumPair})
    clone.set_weights(model.get_weights())
    x, _ = data(5)
    for p, q in zip(model.predict(x, verbose=0), clone.predict(x, verbose=0)):
        np.testing.assert_allclose(p, q, rtol=1e-6)


def test_sequential_input_then_functional_use():
    seq = Sequential([Input((4,)), Dense(3)])
    x = Input((4,), name="xin")
    model = Model(x, Dense(1, name="top")(seq(x)))
    assert model(torch.zeros(2, 4)).shape == (2, 1)


def test_subclassed_model_builds_from_data_and_trains():
    class TwoLayer(Model):
        def __init__(self):
            super().__init__(name="two_layer")
            self.blocks = [Dense(8, activation="relu"), Dropout(0.1)]
            self.out = Dense(1)

        def call(self, inputs, training=None):
            x = inputs
            for block in self.blocks:
                x = block(x)
            return self.out(x)

    model = TwoLayer()
    model.compile(optimizer="adam", loss="mse", device="cpu")
    x, y = data()
    history = model.fit(x[0], y[0], epochs=30, batch_size=8, verbose=0)
    assert len(model.get_weights()) == 4 and len(list(model.parameters())) == 4
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_custom_train_step_is_used():
    calls = []

    class Custom(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            x, y, _ = data
            calls.append(len(x))
            self.zero_grad()
            loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            loss.backward()
            self.optimizer.step()
            return {"loss": loss.detach(), "custom": torch.tensor(1.0)}

    model = Custom()
    model.compile(optimizer="sgd", loss="mse", device="cpu")
    x, y = data(20)
    history = model.fit(x[0], y[0], batch_size=10, epochs=2, verbose=0)
    assert calls == [10, 10, 10, 10]
    assert history.history["custom"] == [1.0, 1.0]


def test_wrong_number_of_inputs():
    model = two_input_two_output()
    with pytest.raises(ValueError, match=r"has 2 inputs"):
        model.compile(optimizer="adam", loss="mse", device="cpu") or \
            model.predict(np.zeros((3, 4), "float32"), verbose=0)


@pytest.mark.parametrize("steps", [(5, 6), (None, None)], ids=["known", "unknown_lengths"])
def test_multi_input_layer_in_a_graph(steps):
    from torchkeras_lite.layers import MultiHeadAttention
    q, v = Input((steps[0], 4), name="q"), Input((steps[1], 4), name="v")
    model = Model([q, v], MultiHeadAttention(2, 4, name="mha")(q, v))
    assert model.output_shape == (None, steps[0], 4)
    assert model([torch.zeros(2, 5, 4), torch.zeros(2, 6, 4)]).shape == (2, 5, 4)


def test_plain_torch_optimizer_can_be_compiled():
    model = Sequential([Input((3,)), Dense(1)])
    model.compile(torch.optim.SGD(model.parameters(), lr=0.1), "mse", device="cpu")
    history = model.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), epochs=3,
                        verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
