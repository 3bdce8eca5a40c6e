"""Training parity with real Keras 3 (torch backend): fit/evaluate/predict give Keras's numbers.

Method: build the same Sequential model in both libraries, copy Keras's initial weights into ours
(``set_weights(kmodel.get_weights())``, same layout), train both with ``shuffle=False`` and
compare History values, evaluate/predict results, final weights, printed progress and summaries.

Tolerances: both sides run float32 torch ops on the same data, but not always the same kernels
(our Dense uses ``addmm`` where Keras does ``matmul`` + ``add``; the default Adam runs torch's fused
kernel; RMSprop and Nadam fuse or reorder Keras's ops), so weights differ by an ulp or so after a
few steps and training amplifies that. Short runs (<= 5 epochs) use rtol 1e-5; the 150-epoch
tutorial uses rtol 1e-4 (measured now: < 1e-6 on 16 data sets). Accuracy may differ by one sample
on a rare epoch when such noise flips an argmax. ``test_training_is_bit_identical`` records which
paths are exactly Keras's.

Runtime: torch is limited to one intra-op thread while this module runs. The models are tiny, so
threads do not help, and on a busy 2-core machine two spinning threads per process made a
150-epoch run take ~60 s instead of ~0.3 s (the numbers are the same either way).
"""
from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest
import torch

import torchkeras_lite as tkl
from torchkeras_lite.layers import Dense, Input
from torchkeras_lite.models import Sequential

keras = pytest.importorskip("keras")

# Keras's own numpy-2 noise (thousands per run), not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

SHORT_RTOL, SHORT_ATOL = 1e-5, 1e-7
LONG_RTOL, LONG_ATOL = 1e-4, 1e-6
_W_LABELS = np.random.default_rng(1234).normal(size=(8, 3))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------ helpers
def make_data(n=60, seed=0, classes=3):
    """``x`` uniform in [0, 1)^8 (float32) and learnable labels: argmax of a fixed linear map."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype("float32")
    labels = np.argmax((x - 0.5) @ _W_LABELS[:, :classes], axis=1)
    return x, labels, np.eye(classes, dtype="float32")[labels]


def build_pair(K, spec=((12, "relu"), (8, "relu"), (3, "softmax")), layer_kwargs=None,
               names=None, model_name=None):
    """The same Dense stack in Keras and in ours, ours holding Keras's initial weights.

    ``spec``: ``(units, activation)`` per layer; ``layer_kwargs``: per-layer extra kwargs (same for
    both libraries); ``names``: optional layer names (for summaries).
    """
    layer_kwargs = layer_kwargs or [{}] * len(spec)
    names = names or [None] * len(spec)
    kmodel = K.Sequential(
        [K.Input((8,))] + [K.layers.Dense(u, activation=a, name=nm, **kw)
                           for (u, a), kw, nm in zip(spec, layer_kwargs, names)],
        name=model_name)
    model = Sequential(
        [Input((8,))] + [Dense(u, activation=a, name=nm, **kw)
                         for (u, a), kw, nm in zip(spec, layer_kwargs, names)],
        name=model_name)
    model.set_weights(kmodel.get_weights())
    return kmodel, model


def compile_both(kmodel, model, optimizer="adam", **kwargs):
    """``optimizer``: a name, or ``lib -> instance`` called with each library's module."""
    kopt = optimizer(keras) if callable(optimizer) else optimizer
    opt = optimizer(tkl) if callable(optimizer) else optimizer
    kmodel.compile(optimizer=kopt, **kwargs)
    model.compile(optimizer=opt, device="cpu", **kwargs)


def fit_both(kmodel, model, x, y, **kwargs):
    kwargs = {"verbose": 0, "shuffle": False, **kwargs}
    return kmodel.fit(x, y, **kwargs), model.fit(x, y, **kwargs)


def assert_history_close(khist, hist, rtol=SHORT_RTOL, atol=SHORT_ATOL):
    assert sorted(hist.history) == sorted(khist.history)
    assert hist.epoch == khist.epoch
    for key, kvalues in khist.history.items():
        np.testing.assert_allclose(hist.history[key], kvalues, rtol=rtol, atol=atol,
                                   err_msg=f"history[{key!r}]")


def assert_weights_close(kmodel, model, rtol=SHORT_RTOL, atol=SHORT_ATOL):
    kweights, weights = kmodel.get_weights(), model.get_weights()
    assert [w.shape for w in weights] == [w.shape for w in kweights]
    for i, (w, kw) in enumerate(zip(weights, kweights)):
        np.testing.assert_allclose(w, kw, rtol=rtol, atol=atol, err_msg=f"weight {i}")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TIME = re.compile(r"\d+s(?: -)? \d+(?:ms|us|s)/step")


def screen_lines(text):
    """What a terminal shows once ``text`` is printed: per line, the last ``\\r`` redraw, with
    backspaces, ANSI colours and trailing padding removed, and time fields replaced by <time>."""
    lines = []
    for line in text.split("\n"):
        final = line.split("\r")[-1].replace("\b", "")
        final = _TIME.sub("<time>", _ANSI.sub("", final)).rstrip()
        lines.append(final)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def captured(fn, *args, **kwargs):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = fn(*args, **kwargs)
    return buf.getvalue(), result


# ------------------------------------------------------------------- 1. the 150-epoch tutorial
TUTORIAL_SEED = 1


def _run_tutorial(seed):
    keras.utils.set_random_seed(seed)
    x, _, y = make_data(100, seed=seed)
    x_test, _, y_test = make_data(50, seed=seed + 100)
    kmodel, model = build_pair(keras)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=150, batch_size=10)
    return dict(kmodel=kmodel, model=model, khist=khist, hist=hist, x_test=x_test,
                y_test=y_test)


@pytest.fixture(scope="module")
def tutorial(_one_thread):
    return _run_tutorial(TUTORIAL_SEED)


def test_tutorial_loss_history(tutorial):
    khist, hist = tutorial["khist"], tutorial["hist"]
    assert sorted(hist.history) == sorted(khist.history) == ["accuracy", "loss"]
    assert hist.epoch == khist.epoch == list(range(150))
    # The first epochs agree to float32 noise; later ones within the long-run tolerance.
    np.testing.assert_allclose(hist.history["loss"][:10], khist.history["loss"][:10],
                               rtol=SHORT_RTOL)
    np.testing.assert_allclose(hist.history["loss"], khist.history["loss"], rtol=LONG_RTOL)


def test_tutorial_accuracy_history(tutorial):
    kacc = np.array(tutorial["khist"].history["accuracy"])
    acc = np.array(tutorial["hist"].history["accuracy"])
    diff = np.abs(acc - kacc) * 100  # in samples (100 training samples)
    # Float noise may flip one argmax on a rare epoch (seen with earlier optimizer code).
    assert diff.max() <= 1 + 1e-3, diff.max()
    assert (diff > 1e-3).sum() <= 3, np.nonzero(diff > 1e-3)
    assert kacc[-1] > 0.9  # the task is learnable: the comparison is not between two failures


def test_tutorial_evaluate_predict_and_weights(tutorial):
    kmodel, model = tutorial["kmodel"], tutorial["model"]
    x_test, y_test = tutorial["x_test"], tutorial["y_test"]
    kresult = kmodel.evaluate(x_test, y_test, verbose=0)
    result = model.evaluate(x_test, y_test, verbose=0)
    assert isinstance(result, list) and all(isinstance(v, float) for v in result)
    np.testing.assert_allclose(result, kresult, rtol=LONG_RTOL)
    kpred = kmodel.predict(x_test, verbose=0)
    pred = model.predict(x_test, verbose=0)
    assert isinstance(pred, np.ndarray) and pred.dtype == kpred.dtype == np.float32
    np.testing.assert_allclose(pred, kpred, rtol=LONG_RTOL, atol=LONG_ATOL)
    assert_weights_close(kmodel, model, rtol=LONG_RTOL, atol=LONG_ATOL)


# Bit-level parity: where our ops are Keras's ops in Keras's order, training is bit-identical.
# Anything else (fused kernels, rewritten formulas) differs in the last bit; long runs amplify
# that chaotically (before Adam's step size was computed in float32 as Keras does, two data sets
# of 14 tried drifted to 4-5e-4 relative in the 150-epoch tutorial), so bit-identical is the
# robust goal.
_NOT_BITWISE = {
    "sgd+bias": "Dense.call uses torch.addmm(bias, x, kernel); Keras does matmul then add: "
                "weights differ by 1.5e-8 after 2 steps (bias-free Dense is bit-identical)",
    "adam": "the default Adam() runs torch._fused_adam_ on CPU with a rewritten lr/eps: ~1 ulp "
            "per step (3e-8 after 18 steps); Adam(fused=False) is bit-identical",
    "adamw": "same as adam: fused kernel by default; AdamW(fused=False) is bit-identical",
    "rmsprop": "RMSprop._update fuses Keras's ops into foreach addcmul/addcdiv (last-bit "
               "differences, 3e-8 after 18 steps); rmsprop is compile()'s default optimizer",
    "nadam": "Nadam._update rewrites Keras's 15 ops as 9 with Python-float scalars "
             "(6e-8 after 18 steps)",
}


@pytest.mark.parametrize("case", [
    "sgd", "sgd_nesterov", "adagrad", "adadelta", "adamax", "adam_foreach", "adamw_foreach",
    *[pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=r))
      for c, r in _NOT_BITWISE.items()],
])
def test_training_is_bit_identical(K, case, exact_ops):
    name, _, bias = case.partition("+")
    kmodel, model = build_pair(K, layer_kwargs=[{"use_bias": bias == "bias"}] * 3)
    compile_both(kmodel, model, OPTIMIZERS[name], loss="categorical_crossentropy")
    x, _, y = make_data(60)
    fit_both(kmodel, model, x, y, epochs=3, batch_size=10)
    for w, kw in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_array_equal(w, kw)


# -------------------------------------------------------------------------- 2. validation
def test_validation_split_history(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10, validation_split=0.2)
    assert sorted(khist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)


def test_validation_data_history(K):
    x, _, y = make_data(60)
    x_val, _, y_val = make_data(25, seed=7)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10,
                           validation_data=(x_val, y_val))
    assert_history_close(khist, hist)


def test_validation_data_with_sample_weights_and_batch_size(K):
    x, _, y = make_data(60)
    x_val, _, y_val = make_data(25, seed=7)
    sw_val = np.random.default_rng(3).uniform(0.2, 2.0, 25).astype("float32")
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"],
                 weighted_metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=3, batch_size=10,
                           validation_data=(x_val, y_val, sw_val), validation_batch_size=7)
    assert_history_close(khist, hist)


def test_validation_freq_and_initial_epoch(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=20, validation_split=0.2,
                           validation_freq=2)
    assert len(khist.history["val_loss"]) == 2 and len(khist.history["loss"]) == 4
    assert_history_close(khist, hist)
    khist, hist = fit_both(kmodel, model, x, y, epochs=5, batch_size=20, initial_epoch=3)
    assert khist.epoch == [3, 4]
    assert_history_close(khist, hist)


def test_second_fit_continues_optimizer_state(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    fit_both(kmodel, model, x, y, epochs=2, batch_size=10)
    khist, hist = fit_both(kmodel, model, x[::-1].copy(), y[::-1].copy(), epochs=2,
                           batch_size=15)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)
    assert int(model.optimizer.iterations) == int(kmodel.optimizer.iterations) == 20


def test_steps_per_epoch_continues_through_the_data(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy")
    khist, hist = fit_both(kmodel, model, x, y, epochs=2, batch_size=10, steps_per_epoch=3)
    assert_history_close(khist, hist)


def test_batch_and_epoch_logs_seen_by_callbacks(K):
    """Batch logs are running averages over the epoch so far (loss and metrics), as in Keras."""
    x, _, y = make_data(45)
    sw = np.random.default_rng(5).uniform(0.1, 3.0, 45).astype("float32")
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"],
                 weighted_metrics=["mse"])
    klogs, logs = [], []

    def recorder(lib, out):
        return lib.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: out.append(("batch", batch, dict(logs))),
            on_epoch_end=lambda epoch, logs: out.append(("epoch", epoch, dict(logs))))

    kmodel.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0, sample_weight=sw,
               validation_split=0.2, callbacks=[recorder(K, klogs)])
    model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0, sample_weight=sw,
              validation_split=0.2, callbacks=[recorder(tkl, logs)])
    assert [(kind, i, sorted(d)) for kind, i, d in logs] == \
        [(kind, i, sorted(d)) for kind, i, d in klogs]
    for (kind, i, d), (_, _, kd) in zip(logs, klogs):
        for key in kd:
            assert d[key] == pytest.approx(float(kd[key]), rel=SHORT_RTOL), (kind, i, key)


# ------------------------------------------------------------------------ 3. weighting
def test_class_weight_history(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10,
                           class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)


def test_class_weight_with_sparse_labels_and_weighted_metrics(K):
    x, labels, _ = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"], weighted_metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, labels, epochs=3, batch_size=10,
                           class_weight={0: 1.0, 1: 2.0, 2: 0.5})
    assert_history_close(khist, hist)


def test_sample_weight_history(K):
    x, _, y = make_data(60)
    sw = np.random.default_rng(5).uniform(0.1, 3.0, 60).astype("float32")
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10, sample_weight=sw)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)


@pytest.mark.parametrize("metrics", [None, ["accuracy"]], ids=["weighted_only", "both"])
def test_weighted_metrics_with_sample_weight(K, metrics):
    x, _, y = make_data(60)
    sw = np.random.default_rng(5).uniform(0.1, 3.0, 60).astype("float32")
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=metrics,
                 weighted_metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=3, batch_size=10, sample_weight=sw)
    assert_history_close(khist, hist)
    x_test, _, y_test = make_data(30, seed=9)
    sw_test = np.random.default_rng(6).uniform(0.1, 3.0, 30).astype("float32")
    kres = kmodel.evaluate(x_test, y_test, sample_weight=sw_test, verbose=0, return_dict=True)
    res = model.evaluate(x_test, y_test, sample_weight=sw_test, verbose=0, return_dict=True)
    assert sorted(res) == sorted(kres)
    for key in kres:
        assert res[key] == pytest.approx(kres[key], rel=SHORT_RTOL), key


# -------------------------------------------------------------------- 4. sparse labels
@pytest.mark.parametrize("label_shape", ["(n,)", "(n,1)"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "float32"])
def test_sparse_categorical_crossentropy(K, label_shape, dtype):
    x, labels, _ = make_data(60)
    labels = labels.astype(dtype)
    if label_shape == "(n,1)":
        labels = labels[:, None]
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, labels, epochs=3, batch_size=10)
    assert_history_close(khist, hist)
    kres = kmodel.evaluate(x, labels, verbose=0)
    res = model.evaluate(x, labels, verbose=0)
    np.testing.assert_allclose(res, kres, rtol=SHORT_RTOL)


# ------------------------------------------------------- 5. optimizers and other losses
OPTIMIZERS = {
    "sgd": "sgd",
    "sgd_momentum": lambda lib: lib.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "sgd_nesterov": lambda lib: lib.optimizers.SGD(learning_rate=0.05, momentum=0.9,
                                                   nesterov=True),
    "rmsprop": "rmsprop",
    "rmsprop_momentum_centered": lambda lib: lib.optimizers.RMSprop(
        learning_rate=0.01, momentum=0.5, centered=True),
    "adam": "adam",
    "adam_foreach": lambda lib: (lib.optimizers.Adam(fused=False) if lib is tkl
                                 else lib.optimizers.Adam()),
    "adam_amsgrad": lambda lib: lib.optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "adamw": "adamw",
    "adamw_foreach": lambda lib: (lib.optimizers.AdamW(fused=False) if lib is tkl
                                  else lib.optimizers.AdamW()),
    "adagrad": "adagrad",
    "adadelta": "adadelta",
    "adamax": "adamax",
    "nadam": "nadam",
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_training_run(K, name):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, OPTIMIZERS[name], loss="categorical_crossentropy",
                 metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)


def test_binary_crossentropy_sigmoid_accuracy(K):
    x, _, _ = make_data(60)
    y = ((x - 0.5) @ _W_LABELS[:, :1] > 0).astype("float32")
    kmodel, model = build_pair(K, spec=((12, "relu"), (1, "sigmoid")))
    compile_both(kmodel, model, "adam", loss="binary_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10)
    assert sorted(khist.history) == ["accuracy", "loss"]
    assert_history_close(khist, hist)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0),
                               rtol=SHORT_RTOL)


@pytest.mark.parametrize("target", ["onehot", "sparse", "binary"])
def test_crossentropy_resolved_from_shapes(K, target):
    x, labels, y = make_data(60)
    spec = ((12, "relu"), (3, "softmax"))
    if target == "sparse":
        y = labels
    elif target == "binary":
        y, spec = (labels == 1).astype("float32")[:, None], ((12, "relu"), (1, "sigmoid"))
    kmodel, model = build_pair(K, spec=spec)
    compile_both(kmodel, model, "adam", loss="crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=3, batch_size=20)
    assert_history_close(khist, hist)


@pytest.mark.parametrize("loss_weights", [0.5, [0.5]])
def test_loss_weights(K, loss_weights):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"],
                 loss_weights=loss_weights)
    khist, hist = fit_both(kmodel, model, x, y, epochs=3, batch_size=20)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)


def test_from_logits_loss_instance(K):
    x, labels, _ = make_data(60)
    kmodel, model = build_pair(K, spec=((12, "relu"), (3, None)))
    kmodel.compile("adam", loss=K.losses.SparseCategoricalCrossentropy(from_logits=True),
                   metrics=["accuracy"])
    model.compile("adam", loss=tkl.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], device="cpu")
    khist, hist = fit_both(kmodel, model, x, labels, epochs=3, batch_size=20)
    assert_history_close(khist, hist)
    np.testing.assert_allclose(model.evaluate(x, labels, verbose=0),
                               kmodel.evaluate(x, labels, verbose=0), rtol=SHORT_RTOL)


@pytest.mark.parametrize("loss,metrics", [
    ("mse", ["mae"]),
    ("mae", ["mae"]),
    ("mse", ["mean_absolute_error", "mse"]),
    ("mean_squared_error", ["mean_squared_error"]),
    ("huber", ["mae", "root_mean_squared_error"]),
])
def test_regression_losses_and_metric_names(K, loss, metrics):
    x, _, _ = make_data(60)
    rng = np.random.default_rng(11)
    y = (x @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(60, 1))).astype("float32")
    kmodel, model = build_pair(K, spec=((12, "relu"), (1, None)))
    compile_both(kmodel, model, "rmsprop", loss=loss, metrics=metrics)
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10, validation_split=0.25)
    assert sorted(hist.history) == sorted(khist.history)
    assert_history_close(khist, hist)
    kres = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(res) == sorted(kres)
    for key in kres:
        assert res[key] == pytest.approx(kres[key], rel=SHORT_RTOL), key


# ------------------------------------------------------------------ 6. batching
@pytest.mark.parametrize("n,batch_size", [(95, 10), (61, 32), (100, None), (70, None),
                                          (20, None)])
def test_partial_last_batch_and_default_batch_size(K, n, batch_size):
    x, _, y = make_data(n)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=3, batch_size=batch_size)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)
    assert hist.params["steps"] == khist.params["steps"]
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=batch_size),
                               kmodel.evaluate(x, y, verbose=0, batch_size=batch_size),
                               rtol=SHORT_RTOL)


def test_predict_batch_sizes(K):
    x, _, _ = make_data(77)
    kmodel, model = build_pair(K)
    for batch_size in (None, 5, 77, 200):
        np.testing.assert_allclose(model.predict(x, batch_size=batch_size, verbose=0),
                                   kmodel.predict(x, batch_size=batch_size, verbose=0),
                                   rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------- 7. regularizers
REGULARIZED = [{"kernel_regularizer": "l2", "activity_regularizer": "l1"},
               {"kernel_regularizer": "l1", "bias_regularizer": "l2"},
               {"activity_regularizer": "l2"}]


def test_regularizer_penalties_in_loss_history_and_evaluate(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K, layer_kwargs=REGULARIZED)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    # Before training: evaluate's loss includes the kernel and activity penalties.
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=16),
                               kmodel.evaluate(x, y, verbose=0, batch_size=16), rtol=SHORT_RTOL)
    khist, hist = fit_both(kmodel, model, x, y, epochs=4, batch_size=10, validation_split=0.2)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=16),
                               kmodel.evaluate(x, y, verbose=0, batch_size=16), rtol=SHORT_RTOL)


@pytest.mark.parametrize("before", ["predict", "call"])
def test_activity_penalties_from_inference_do_not_leak_into_training(K, before):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K, layer_kwargs=REGULARIZED)
    compile_both(kmodel, model, "sgd", loss="categorical_crossentropy")
    if before == "predict":
        np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                                   rtol=1e-6, atol=1e-7)
    else:
        kmodel(x[:5])
        model(torch.from_numpy(x[:5]))
    khist, hist = fit_both(kmodel, model, x, y, epochs=2, batch_size=10)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)


def test_model_losses_after_repeated_calls(K):
    x, _, _ = make_data(10)
    kmodel, model = build_pair(K, layer_kwargs=REGULARIZED)
    for _ in range(3):
        kmodel(x)
        model(torch.from_numpy(x))
    klosses = sorted(float(K.ops.convert_to_numpy(v)) for v in kmodel.losses)
    losses = sorted(float(v.detach()) for v in model.losses)
    assert len(klosses) == 5  # 3 weight penalties + 2 activity penalties (last call only)
    assert len(losses) == len(klosses)
    np.testing.assert_allclose(losses, klosses, rtol=1e-6)


# --------------------------------------------------------------------------- 8. summary
NAMES = ["hidden_a", "hidden_b", "probs"]


def _summaries(kmodel, model):
    ktext = []
    kmodel.summary(print_fn=lambda text, *args, **kwargs: ktext.append(text))
    text = []
    model.summary(print_fn=text.append)
    klines = "".join(ktext).rstrip("\n").split("\n")
    return klines, "".join(text).rstrip("\n").split("\n")


def _count_lines(lines):
    return [line for line in lines if re.match(r" (Total|Trainable|Non-trainable) params", line)]


@pytest.mark.parametrize("frozen", [None, 1], ids=["all_trainable", "one_frozen"])
def test_summary_param_counts_and_table(K, frozen):
    kwargs = [{} for _ in NAMES]
    if frozen is not None:
        kwargs[frozen] = {"trainable": False}
    kmodel, model = build_pair(K, layer_kwargs=kwargs, names=NAMES, model_name="tutorial")
    klines, lines = _summaries(kmodel, model)
    assert _count_lines(lines) == _count_lines(klines)
    assert len(_count_lines(lines)) == 3
    assert lines == klines


def test_summary_with_frozen_layer_trains_the_others(K):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K, layer_kwargs=[{}, {"trainable": False}, {}])
    frozen_before = model.layers[1].get_weights()
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    khist, hist = fit_both(kmodel, model, x, y, epochs=3, batch_size=10)
    assert_history_close(khist, hist)
    assert_weights_close(kmodel, model)
    for before, after in zip(frozen_before, model.layers[1].get_weights()):
        np.testing.assert_array_equal(before, after)


def test_summary_after_training_counts_optimizer_params(K):
    x, _, y = make_data(30)
    kmodel, model = build_pair(K, names=NAMES, model_name="tutorial")
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy")
    fit_both(kmodel, model, x, y, epochs=1, batch_size=10)
    klines, lines = _summaries(kmodel, model)
    assert lines == klines


def test_summary_print_fn_called_once_with_the_table(K):
    kmodel, model = build_pair(K, names=NAMES, model_name="tutorial")
    kcalls, calls = [], []
    kmodel.summary(print_fn=lambda text, *args, **kwargs: kcalls.append(text))
    model.summary(print_fn=lambda text, *args, **kwargs: calls.append(text))
    assert len(kcalls) == 1
    assert len(calls) == len(kcalls)


# ------------------------------------------------------------------ 9. progress output
def _fit_output(kmodel, model, x, y, **kwargs):
    kwargs = {"shuffle": False, **kwargs}
    ktext, khist = captured(kmodel.fit, x, y, **kwargs)
    text, hist = captured(model.fit, x, y, **kwargs)
    return ktext, text, khist, hist


def test_progress_verbose_1_final_lines(K):
    x, _, y = make_data(100)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ktext, text, khist, hist = _fit_output(kmodel, model, x, y, epochs=2, batch_size=10,
                                           verbose=1)
    assert "\b" not in text and "\r" not in text and "\x1b" not in text  # not a TTY
    klines, lines = screen_lines(ktext), screen_lines(text)
    assert [i for i, l in enumerate(lines) if l.startswith("Epoch")] == \
        [i for i, l in enumerate(klines) if l.startswith("Epoch")] == [0, 2]
    assert lines == klines, (lines, klines)
    assert klines[1].startswith("10/10 " + "━" * 20 + " <time> - accuracy: ")
    assert_history_close(khist, hist)


def test_progress_verbose_2_with_validation(K):
    x, _, y = make_data(100)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ktext, text, _, _ = _fit_output(kmodel, model, x, y, epochs=2, batch_size=10, verbose=2,
                                    validation_split=0.2)
    klines, lines = screen_lines(ktext), screen_lines(text)
    assert text.count("\n") == len(lines) == 4
    assert lines == klines, (lines, klines)
    assert re.fullmatch(r"8/8 - <time> - accuracy: \S+ - loss: \S+ - val_accuracy: \S+ - "
                        r"val_loss: \S+", klines[1]), klines[1]


def test_progress_single_epoch_and_partial_batches(K):
    x, _, y = make_data(95)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ktext, text, _, _ = _fit_output(kmodel, model, x, y, epochs=1, batch_size=10, verbose=1,
                                    validation_data=(x[:20], y[:20]))
    assert screen_lines(text) == screen_lines(ktext)  # no "Epoch 1/1" line; val_ keys shown


def test_progress_evaluate_verbose_1(K):
    x, _, y = make_data(100)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ktext, kres = captured(kmodel.evaluate, x, y, verbose=1)
    text, res = captured(model.evaluate, x, y, verbose=1)
    # Keras draws the final evaluate line twice ("\r" redraw); a terminal shows it once.
    assert screen_lines(text) == screen_lines(ktext)
    assert len(screen_lines(text)) == 1
    assert screen_lines(text)[0].startswith("4/4 " + "━" * 20 + " <time> - accuracy: ")
    np.testing.assert_allclose(res, kres, rtol=SHORT_RTOL)


def test_progress_predict_verbose_1(K):
    x, _, _ = make_data(70)
    kmodel, model = build_pair(K)
    ktext, kpred = captured(kmodel.predict, x, verbose=1)
    text, pred = captured(model.predict, x, verbose=1)
    assert screen_lines(text) == screen_lines(ktext)
    assert screen_lines(ktext) == ["3/3 " + "━" * 20 + " <time>"]
    np.testing.assert_allclose(pred, kpred, rtol=1e-6, atol=1e-7)


def test_progress_small_values_use_exponent_format(K):
    """Values below 1e-3 print as ``{:.4e}`` in both."""
    x, _, _ = make_data(40)
    y = np.zeros((40, 1), "float32")
    kmodel, model = build_pair(K, spec=((1, None),))
    for m in (kmodel, model):
        m.set_weights([np.full((8, 1), 1e-3, "float32"), np.zeros(1, "float32")])
    compile_both(kmodel, model, "sgd", loss="mse", metrics=["mae"])
    ktext, text, _, _ = _fit_output(kmodel, model, x, y, epochs=2, batch_size=20, verbose=1)
    lines = screen_lines(text)
    assert lines == screen_lines(ktext)
    assert re.search(r"loss: \d\.\d{4}e-0\d", lines[1]), lines[1]


# ------------------------------------------------------------------ 10. evaluate returns
@pytest.mark.parametrize("metrics", [None, [], ["accuracy"], ["accuracy", "mse"],
                                     ["categorical_crossentropy", "accuracy"]])
def test_evaluate_return_types_and_values(K, metrics):
    x, _, y = make_data(60)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=metrics)
    fit_both(kmodel, model, x, y, epochs=1, batch_size=10)
    kres = kmodel.evaluate(x, y, verbose=0)
    res = model.evaluate(x, y, verbose=0)
    assert type(res) is type(kres)
    if isinstance(kres, float):
        assert res == pytest.approx(kres, rel=SHORT_RTOL)
    else:
        assert len(res) == len(kres) and all(isinstance(v, float) for v in res)
        np.testing.assert_allclose(res, kres, rtol=SHORT_RTOL)
    kdict = kmodel.evaluate(x, y, verbose=0, return_dict=True)
    rdict = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(rdict) == sorted(kdict)
    assert all(isinstance(v, float) for v in rdict.values())
    for key in kdict:
        assert rdict[key] == pytest.approx(kdict[key], rel=SHORT_RTOL), key


def test_return_dict_key_order(K):
    x, _, y = make_data(30)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy",
                 metrics=["mse", "accuracy"], weighted_metrics=["mae"])
    assert list(model.evaluate(x, y, verbose=0, return_dict=True)) == \
        list(kmodel.evaluate(x, y, verbose=0, return_dict=True))
    assert list(model.train_on_batch(x, y, return_dict=True)) == \
        list(kmodel.train_on_batch(x, y, return_dict=True))


def test_train_and_test_on_batch_values(K):
    x, _, y = make_data(20)
    kmodel, model = build_pair(K)
    compile_both(kmodel, model, "adam", loss="categorical_crossentropy", metrics=["accuracy"])
    for _ in range(3):
        kres = kmodel.train_on_batch(x, y, return_dict=True)
        res = model.train_on_batch(x, y, return_dict=True)
        assert sorted(res) == sorted(kres)
        for key in kres:
            assert res[key] == pytest.approx(kres[key], rel=SHORT_RTOL), key
    np.testing.assert_allclose(model.test_on_batch(x, y), kmodel.test_on_batch(x, y),
                               rtol=SHORT_RTOL)
    np.testing.assert_allclose(model.predict_on_batch(x), kmodel.predict_on_batch(x),
                               rtol=1e-6, atol=1e-7)
