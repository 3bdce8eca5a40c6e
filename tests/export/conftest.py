"""Shared check for ONNX export tests: export, full checker, onnxruntime == predict."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from torchkeras_lite.export import export_onnx  # noqa: E402
from torchkeras_lite.export.onnx_export import random_inputs  # noqa: E402


def run_onnx(path, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def assert_exports(model, tmp_path, *, batches=(1, 37), atol=1e-5, feeds=None, **kwargs):
    """Export ``model``, run the full checker, and compare onnxruntime with ``predict`` at
    each batch size (random inputs unless ``feeds(batch) -> dict`` is given). Returns the
    loaded ONNX model."""
    path = tmp_path / "model.onnx"
    export_onnx(model, path, **kwargs)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for batch in batches:
        inputs = feeds(batch) if feeds is not None else random_inputs(model, proto, batch,
                                                                      seed=batch)
        got = run_onnx(path, inputs)
        x = [inputs[i.name] for i in proto.graph.input]
        if isinstance(getattr(model, "_input_struct", None), dict):
            x = [dict(zip(model.input_names, x))]
        want = model.predict(x[0] if len(x) == 1 else x, verbose=0, batch_size=batch)
        if isinstance(want, dict):
            want = list(want.values())
        if not isinstance(want, (list, tuple)):
            want = [want]
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert a.shape == b.shape, (a.shape, b.shape)
            np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)
    return proto
