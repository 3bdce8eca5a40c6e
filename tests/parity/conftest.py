"""Parity tests compare against real Keras 3 on its torch backend; skipped where it is absent."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402

keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - depends on the environment
    pytest.skip("parity tests need KERAS_BACKEND=torch", allow_module_level=True)


@pytest.fixture
def K():
    """The real Keras module, with its global seed state reset for reproducibility."""
    keras.utils.set_random_seed(0)
    return keras


@pytest.fixture
def exact_ops():
    """Keras's exact op sequence (no fused softmax+crossentropy) for bit-level comparisons."""
    from torchkeras_lite import config
    config.set_fused_ops(False)
    yield
    config.set_fused_ops(True)
