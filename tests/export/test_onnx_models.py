"""Whole models, the catalog, the CLI and the errors of the ONNX exporter."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import assert_exports, onnx, run_onnx
from torchkeras_lite import activations
from torchkeras_lite.export import UnsupportedLayerError, export_onnx
from torchkeras_lite.layers import (ALL_LAYERS, LSTM, Conv2D, Dense, Dropout, Embedding, Flatten,
                                    Input, Layer, MaxPooling2D, concatenate)
from torchkeras_lite.models import Model, Sequential

import test_onnx_layers_a as family_a  # noqa: E402
import test_onnx_layers_b as family_b  # noqa: E402


def test_every_catalog_layer_and_activation_has_an_export_case():
    covered = set(family_a.CASES) | set(family_b.CASES) | set(family_a.CORE_CASES)
    # Dense and Activation: every activation case uses both; Dropout: the convnet below.
    covered |= {"Dense", "Activation", "Dropout"}
    missing = sorted(set(ALL_LAYERS) - covered - {"InputLayer"})
    assert not missing, f"layers without an ONNX export test: {missing}"
    acts = set(family_a.ACTIVATION_CASES)
    assert set(activations.ACTIVATIONS) - {"linear"} <= acts | {"linear"}


def tutorial_model():
    torch.manual_seed(0)
    model = Sequential()
    model.add(Dense(12, input_dim=8, activation="relu"))
    model.add(Dense(8, activation="relu"))
    model.add(Dense(3, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((100, 8), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 100)]
    model.fit(x, y, epochs=3, batch_size=10, verbose=0)
    return model


def test_tutorial_model(tmp_path):
    model = tutorial_model()
    proto = assert_exports(model, tmp_path)
    assert [i.name for i in proto.graph.input] == [model._input_layer.name]
    assert [o.name for o in proto.graph.output] == [model.layers[-1].name]
    assert proto.opset_import[0].version >= 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert proto.producer_name == "torchkeras_lite" and "keras_config" in meta
    assert '"class_name": "Sequential"' in meta["keras_config"]


def test_mnist_convnet_keeps_channels_last_input_and_two_transposes(tmp_path):
    model = Sequential([Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
                        Conv2D(64, 3, activation="relu"), MaxPooling2D(2), Flatten(),
                        Dropout(0.5), Dense(10, activation="softmax")])
    proto = assert_exports(model, tmp_path)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 28, 28, 1]
    ops = [n.op_type for n in proto.graph.node]
    assert "Dropout" not in ops and ops.count("Transpose") == 2, ops


def test_embedding_lstm_text_model(tmp_path):
    inputs = Input((None,), dtype="int64", name="tokens")
    x = Embedding(50, 8, mask_zero=True)(inputs)
    x = LSTM(6)(x)
    model = Model(inputs, Dense(1, activation="sigmoid", name="score")(x))
    rng = np.random.default_rng(0)

    def feeds(batch):
        tokens = rng.integers(0, 50, (batch, 9 if batch > 1 else 4))
        tokens[:, -2:] = 0  # padding
        return {"tokens": tokens.astype(np.int64)}

    proto = assert_exports(model, tmp_path, feeds=feeds)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[1].dim_param  # dynamic sequence length
    assert [o.name for o in proto.graph.output] == ["score"]


def test_two_input_two_output_functional_model(tmp_path):
    a = Input((4,), name="numbers")
    b = Input((3, 2), name="table")
    h = concatenate([Dense(5, activation="relu")(a), Flatten()(b)])
    model = Model([a, b], [Dense(2, activation="softmax", name="kind")(h),
                           Dense(1, name="amount")(h)])
    proto = assert_exports(model, tmp_path)
    assert [i.name for i in proto.graph.input] == ["numbers", "table"]
    assert [o.name for o in proto.graph.output] == ["kind", "amount"]


def test_dict_inputs_and_outputs(tmp_path):
    a = Input((4,), name="a")
    b = Input((4,), name="b")
    model = Model({"a": a, "b": b}, {"sum": Dense(2, name="s")(a), "prod": Dense(3, name="p")(b)})
    proto = assert_exports(model, tmp_path)
    assert [o.name for o in proto.graph.output] == ["sum", "prod"]


def test_model_export_method_and_verify(tmp_path, capsys):
    model = tutorial_model()
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx", verify=True)
    assert "Saved ONNX model" in capsys.readouterr().out
    x = np.random.default_rng(1).random((5, 8), dtype=np.float32)
    name = onnx.load(str(path)).graph.input[0].name
    assert name == model._input_layer.name  # the Sequential's input layer
    (out,) = run_onnx(path, {name: x})
    np.testing.assert_allclose(out, model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="format must be 'onnx'.*tf_saved_model"):
        model.export(tmp_path / "m", format="tf_saved_model")


def test_cli_on_saved_model(tmp_path):
    model = tutorial_model()
    model.save(tmp_path / "m.keras")
    result = subprocess.run(
        [sys.executable, "-m", "torchkeras_lite.export", str(tmp_path / "m.keras"),
         str(tmp_path / "m.onnx"), "--opset", "17", "--check"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "matched predict in onnxruntime" in result.stdout
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.opset_import[0].version == 17
    bad = subprocess.run(
        [sys.executable, "-m", "torchkeras_lite.export", str(tmp_path / "missing.keras"),
         str(tmp_path / "x.onnx")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "missing.keras" in bad.stderr
    assert not (tmp_path / "x.onnx").exists()


class Doubler(Layer):
    def call(self, x):
        return x * 2.0 + 1.0


class Eigen(Layer):
    def call(self, x):
        m = x.reshape(x.shape[0], 2, 2)
        return torch.linalg.eigvals(m).real.reshape(x.shape[0], 2)


def test_custom_layer_falls_back_to_torch_onnx(tmp_path):
    model = Sequential([Dense(4, input_dim=3), Doubler(), Dense(2)])
    assert_exports(model, tmp_path)


def test_custom_layer_that_cannot_export_names_itself(tmp_path):
    model = Sequential([Dense(4, input_dim=3), Eigen(name="eig")])
    path = tmp_path / "e.onnx"
    with pytest.raises(UnsupportedLayerError, match=r"'eig' \(Eigen\).*register_converter"):
        export_onnx(model, path)
    assert not path.exists()


def test_unbuilt_model_and_input_signature(tmp_path):
    model = Sequential([Dense(4), Dense(2)])
    with pytest.raises(ValueError, match="not built.*input_signature"):
        export_onnx(model, tmp_path / "u.onnx")
    assert not (tmp_path / "u.onnx").exists()
    model.build((None, 3))
    assert_exports(model, tmp_path)


def test_bad_opset_and_paths(tmp_path):
    model = tutorial_model()
    with pytest.raises(ValueError, match="opset must be an integer from 13"):
        export_onnx(model, tmp_path / "a.onnx", opset=11)
    with pytest.raises(ValueError, match="end in '.onnx'"):
        export_onnx(model, tmp_path / "a.keras")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(model, tmp_path / "nowhere" / "a.onnx")
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(PermissionError):
                export_onnx(model, locked / "a.onnx")
            assert os.listdir(locked) == []
        finally:
            locked.chmod(0o700)


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    model = tutorial_model()
    path = tmp_path / "keep.onnx"
    path.write_bytes(b"previous")
    import torchkeras_lite.export.onnx_export as onnx_export

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(onnx_export.os, "replace", boom, raising=False)
    import torchkeras_lite.saving.atomic as atomic
    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        export_onnx(model, path)
    assert path.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["keep.onnx"]


def test_export_example_runs():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, os.path.join(root, "examples", "export_onnx.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    diff = float(result.stdout.strip().splitlines()[-1].split(":")[1])
    assert diff < 1e-5


class TwoDense(Model):
    def __init__(self):
        super().__init__()
        self.hidden = Dense(4, activation="relu")
        self.out = Dense(2)

    def call(self, x):
        return self.out(self.hidden(x))


class Halve(Layer):
    def call(self, x):
        return x[:, : x.shape[1] // 2] * 3.0

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] // 2)


def test_subclassed_model_exports_through_torch(tmp_path):
    """A single-input subclassed model goes through torch's exporter as a whole; its output
    shape is the one torch infers (not Layer's identity default)."""
    model = TwoDense()
    model(torch.zeros(3, 5))
    proto = assert_exports(model, tmp_path)
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert dims[1].dim_value == 2
    unbuilt = TwoDense()
    with pytest.raises(ValueError, match="not built"):
        export_onnx(unbuilt, tmp_path / "u.onnx")
    assert_exports(unbuilt, tmp_path, input_signature=(None, 5))


def test_shape_changing_custom_layer_in_sequential(tmp_path):
    model = Sequential([Dense(6, input_dim=3), Halve(), Dense(2)])
    proto = assert_exports(model, tmp_path)
    assert "Slice" in [n.op_type for n in proto.graph.node]
