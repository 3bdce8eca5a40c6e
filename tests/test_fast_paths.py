"""The training fast paths are taken, stay equal to the exact paths, and do not sync."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import _fused, config, losses, metrics
from torchkeras_lite.layers import Activation, Dense, Layer, Softmax
from torchkeras_lite.models import Sequential


def _data(n=60, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8), dtype=np.float32)
    labels = rng.integers(0, classes, n)
    return x, np.eye(classes, dtype=np.float32)[labels], labels


def _model(last=None, seed=0):
    torch.manual_seed(seed)
    layers = [Dense(12, input_dim=8, activation="relu")]
    layers += last or [Dense(3, activation="softmax")]
    return Sequential(layers)


@pytest.mark.parametrize("loss,sparse", [("categorical_crossentropy", False),
                                         ("sparse_categorical_crossentropy", True)])
@pytest.mark.parametrize("last", ["dense", "activation", "softmax_layer"])
def test_fused_crossentropy_is_taken_and_matches_exact_ops(monkeypatch, loss, sparse, last):
    x, y, labels = _data()
    target = labels if sparse else y
    heads = {"dense": [Dense(3, activation="softmax")],
             "activation": [Dense(3), Activation("softmax")],
             "softmax_layer": [Dense(3), Softmax()]}
    calls = []
    for name in ("categorical_crossentropy_mean", "sparse_categorical_crossentropy_mean"):
        original = getattr(_fused, name)
        monkeypatch.setattr(_fused, name, lambda *a, _o=original, **k: calls.append(1) or _o(*a, **k))
    histories, weights = [], []
    for fused in (True, False):
        config.set_fused_ops(fused)
        try:
            model = _model([type(l).from_config(l.get_config()) for l in heads[last]])
            model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            histories.append(model.fit(x, target, epochs=3, batch_size=10, verbose=0).history)
            weights.append(model.get_weights())
        finally:
            config.set_fused_ops(True)
        if fused:
            assert len(calls) == 18  # 6 steps x 3 epochs, every step fused
            calls.clear()
        else:
            assert not calls
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
    assert histories[0]["accuracy"] == histories[1]["accuracy"]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fused_loss_equals_keras_formula_at_saturated_probabilities():
    """The clip of Keras's formula (loss capped, zero gradient) is reproduced in log space."""
    z = torch.tensor([[40.0, -40.0, 0.0], [0.1, 0.2, 0.3], [-30.0, 30.0, 1.0]],
                     requires_grad=True)
    y = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, 0]])
    for fn in (losses.CategoricalCrossentropy(), losses.SparseCategoricalCrossentropy()):
        target = y if isinstance(fn, losses.CategoricalCrossentropy) else y.argmax(-1)
        exact = fn(target, torch.softmax(z, -1))
        exact.backward()
        g_exact, z.grad = z.grad.clone(), None
        fused = fn(target, _fused.attach_logits(torch.softmax(z, -1), z))
        assert fused.grad_fn is not None and "Softmax" not in type(fused.grad_fn).__name__
        fused.backward()
        torch.testing.assert_close(fused, exact, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(z.grad, g_exact, rtol=1e-5, atol=1e-7)
        z.grad = None


def test_fused_path_not_used_when_probabilities_were_modified_or_in_inference_mode():
    z = torch.randn(4, 3, requires_grad=True)
    probs = _fused.attach_logits(torch.softmax(z, -1), z)
    assert _fused.logits_of(probs) is z
    probs.mul_(1.0)  # in place: the logits no longer describe it
    assert _fused.logits_of(probs) is None
    with torch.inference_mode():
        zi = torch.randn(4, 3)
        assert not hasattr(_fused.attach_logits(torch.softmax(zi, -1), zi), "_tkl_logits")
    config.set_fused_ops(False)
    try:
        assert _fused.logits_of(_fused.attach_logits(torch.softmax(z, -1), z)) is None
    finally:
        config.set_fused_ops(True)


@pytest.mark.parametrize("sparse", [False, True])
def test_fast_accuracy_update_matches_general_path(sparse):
    rng = np.random.default_rng(3)
    y_pred = torch.tensor(rng.random((50, 4), dtype=np.float32))
    labels = torch.tensor(rng.integers(0, 4, 50))
    y_true = labels if sparse else torch.nn.functional.one_hot(labels, 4).float()
    cls = metrics.SparseCategoricalAccuracy if sparse else metrics.CategoricalAccuracy
    fast, general = cls(), cls()
    for i in range(0, 50, 20):
        fast.update_state(y_true[i:i + 20], y_pred[i:i + 20])
        general.update_state(y_true[i:i + 20], y_pred[i:i + 20], sample_weight=torch.ones(
            len(y_true[i:i + 20])))
    assert torch.equal(fast.result(), general.result())
    assert torch.equal(fast.count, general.count)


def test_training_step_bypasses_module_call_and_does_not_sync(monkeypatch):
    """fit's steps call layer math directly (no nn.Module.__call__) and never copy a value to
    the host per step: .item()/float()/bool() on tensors happen a bounded number of times per
    epoch (the epoch's logs), not per batch."""
    x, y, _ = _data(200)
    model = _model([Dense(8, activation="relu"), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=10, verbose=0)  # build and warm up
    module_calls = []
    original_call = Layer.__call__
    monkeypatch.setattr(Layer, "__call__",
                        lambda self, *a, **k: module_calls.append(self.name)
                        or original_call(self, *a, **k))
    syncs = []
    for name in ("item", "__float__", "__bool__", "tolist", "numpy", "__int__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name,
                            lambda self, *a, _o=original, _n=name, **k:
                            syncs.append(_n) or _o(self, *a, **k))
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)  # 20 steps per epoch
    assert module_calls == []
    assert len(syncs) <= 2 * 6, syncs  # per epoch: loss and accuracy (+ a few), never per step


def test_jit_compile_true_matches_eager(monkeypatch):
    """jit_compile=True runs the forward pass and loss through torch.compile (the 'aot_eager'
    backend here: no C++ compiler or minutes of compiling in the test run)."""
    monkeypatch.setattr(config, "_JIT_BACKEND", "aot_eager")
    torch._dynamo.reset()
    x, y, _ = _data(40)
    histories, weights = [], []
    for jit in (False, True):
        model = _model(seed=3)
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                      jit_compile=jit)
        histories.append(model.fit(x, y, epochs=3, batch_size=10, verbose=0).history)
        weights.append(model.get_weights())
        assert (model._trainer._compiled_step is not None) == jit
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-5)
    assert histories[1]["accuracy"] == histories[0]["accuracy"]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_jit_compile_auto_is_eager_and_bad_values_are_refused():
    model = _model()
    model.compile(optimizer="adam", loss="mse", jit_compile="auto")
    assert model._trainer.jit_compile is False
    with pytest.raises(ValueError, match="jit_compile must be 'auto', True or False, got 'xla'"):
        model.compile(optimizer="adam", loss="mse", jit_compile="xla")


def test_tf32_switch_is_explicit_and_checked():
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        config.set_tf32(False)
        assert config.tf32() is False
        assert torch.backends.cuda.matmul.allow_tf32 is False
        with pytest.raises(TypeError, match="set_tf32 expects True or False"):
            config.set_tf32("yes")
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_small_steps_run_on_one_thread_and_threads_are_restored(monkeypatch):
    """Tiny models train on one intra-op thread (thread hand-offs cost more than their ops);
    the caller's setting is restored afterwards, also when fit raises."""
    if torch.get_num_threads() == 1:
        monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    seen = []
    model = _model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y, _ = _data(40)
    from torchkeras_lite.callbacks import LambdaCallback
    record = LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(torch.get_num_threads()))
    set_calls = []
    original = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: set_calls.append(n) or original(n))
    model.fit(x, y, epochs=1, batch_size=10, verbose=0, callbacks=[record])
    assert set_calls[0] == 1 and len(set_calls) == 2  # one thread, then restored
    assert seen == [1]
    set_calls.clear()
    big = Sequential([Dense(512, input_dim=8, activation="relu"), Dense(3)])
    big.compile(optimizer="adam", loss="mse")
    big.fit(x, y, epochs=1, batch_size=20, verbose=0)  # 20 x 6k params: still small
    assert set_calls[:1] == [1]
    set_calls.clear()
    big.fit(np.repeat(x, 20, 0), np.repeat(y, 20, 0), epochs=1, batch_size=800, verbose=0)
    assert set_calls == []  # 800 x 6k params: left alone
    set_calls.clear()
    with pytest.raises(ValueError):
        model.fit(x, y[:, :2], epochs=1, batch_size=10, verbose=0)
    assert set_calls == [] or set_calls[-1] != 1
