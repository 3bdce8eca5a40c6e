"""CUDA fast paths (skipped without a GPU): data on the device, no per-step sync, CUDA-graph
capture through jit_compile=True, mixed precision, TF32 switch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import config, mixed_precision
from torchkeras_lite.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from torchkeras_lite.models import Sequential

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
pytestmark = [pytest.mark.cuda, cuda]


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8), dtype=np.float32)
    return x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


def _model(seed=0):
    torch.manual_seed(seed)
    return Sequential([Dense(32, input_dim=8, activation="relu"), Dense(3, activation="softmax")])


def test_fit_on_cuda_matches_cpu():
    x, y = _data()
    histories, weights = [], []
    for device in ("cpu", "cuda"):
        model = _model()
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                      device=device)
        histories.append(model.fit(x, y, epochs=3, batch_size=32, verbose=0).history)
        weights.append(model.get_weights())
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-4)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_no_host_sync_per_step_on_cuda():
    x, y = _data(2048)
    model = _model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cuda")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call in the steps raises
    try:
        with pytest.raises(RuntimeError):
            torch.ones(1, device="cuda").item()
        # The epoch end converts the logs (that is the allowed sync): run the steps only.
        trainer = model._trainer
        xb = torch.from_numpy(x[:32]).cuda()
        yb = torch.from_numpy(y[:32]).cuda()
        model.train()
        for _ in range(10):
            trainer.train_step(xb, yb, None)
    finally:
        torch.cuda.set_sync_debug_mode(0)
        model.eval()


def test_jit_compile_with_cuda_graphs_matches_eager():
    x, y = _data(640)
    histories = []
    for jit in (False, True):
        model = _model(seed=1)
        model.compile(optimizer="adam", loss="categorical_crossentropy", device="cuda",
                      jit_compile=jit)
        histories.append(model.fit(x, y, epochs=3, batch_size=64, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_convnet_on_cuda(policy):
    mixed_precision.set_global_policy(policy)
    try:
        model = Sequential([Input((16, 16, 1)), Conv2D(8, 3, activation="relu"),
                            MaxPooling2D(2), Flatten(), Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", device="cuda")
        rng = np.random.default_rng(0)
        x = rng.random((128, 16, 16, 1), dtype=np.float32)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 128)]
        history = model.fit(x, y, epochs=3, batch_size=32, verbose=0).history["loss"]
        assert np.isfinite(history).all() and history[-1] < history[0]
        assert all(p.dtype == torch.float32 for p in model.parameters())
    finally:
        mixed_precision.set_global_policy(None)


def test_tf32_switch():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        config.set_tf32(True)
        assert config.tf32()
        config.set_tf32(False)
        assert not config.tf32() and not torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
