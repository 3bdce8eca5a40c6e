"""Callbacks against real Keras 3 (torch backend) on the same deterministic runs.

Method: the same small classifier in both libraries, ours holding Keras's initial weights
(``set_weights``), trained with ``shuffle=False``. The data (25% noisy labels, a separate
validation set) make ``val_loss`` fall for a few epochs and then rise, so EarlyStopping,
ReduceLROnPlateau and ModelCheckpoint(save_best_only) all act within 30 epochs.

Tolerances: training matches Keras to float rounding (see test_training_parity.py), so weights
and logs are compared with rtol 1e-5. The monitored values that decide when callbacks act are
far from ties at that precision (the closest pair, val_loss 1.0122 vs 1.0125, differs by 3e-4).
Learning rates: Keras keeps them in a float32 variable, we keep Python floats, so learning-rate
histories agree to float32 precision (rtol 1e-6).
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import re

import numpy as np
import pytest
import torch

import torchkeras_lite as tkl
from torchkeras_lite import callbacks as C

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

RTOL, ATOL = 1e-5, 1e-6
_W = np.random.default_rng(1234).normal(size=(8, 3))


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype("float32")
    labels = np.argmax((x - 0.5) @ _W, axis=1)
    noisy = rng.random(n) < 0.25
    labels[noisy] = rng.integers(0, 3, noisy.sum())
    return x, np.eye(3, dtype="float32")[labels]


X, Y = _data(48, 0)
XV, YV = _data(24, 1)


def _pair(K, lr=0.05):
    kmodel = K.Sequential([K.Input((8,)), K.layers.Dense(16, activation="relu"),
                           K.layers.Dense(3, activation="softmax")])
    model = tkl.Sequential([tkl.Input((8,)), tkl.layers.Dense(16, activation="relu"),
                            tkl.layers.Dense(3, activation="softmax")])
    model.set_weights(kmodel.get_weights())
    kmodel.compile(K.optimizers.Adam(lr), "categorical_crossentropy", metrics=["accuracy"])
    model.compile(tkl.optimizers.Adam(lr), "categorical_crossentropy", metrics=["accuracy"])
    return kmodel, model


def _fit_both(K, make_callbacks, epochs=30, validation=True, **fit_kwargs):
    """Fit both models with callbacks from ``make_callbacks(module)``; returns
    ``(kmodel, model, khistory, history, kcallbacks, callbacks, kprinted, printed)``."""
    kmodel, model = _pair(K)
    kwargs = dict(epochs=epochs, batch_size=16, shuffle=False, verbose=0, **fit_kwargs)
    if validation:
        kwargs["validation_data"] = (XV, YV)
    runs = []
    for lib, m in ((K, kmodel), (tkl, model)):
        cbs = make_callbacks(lib.callbacks)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            history = m.fit(X, Y, callbacks=cbs, **kwargs)
        runs.append((history, cbs, out.getvalue()))
    (kh, kcbs, kout), (h, cbs, out) = runs
    return kmodel, model, kh, h, kcbs, cbs, kout, out


def _assert_same_history(kh, h, rtol=RTOL):
    assert sorted(kh.history) == sorted(h.history)
    assert kh.epoch == h.epoch
    for key in kh.history:
        np.testing.assert_allclose(h.history[key], kh.history[key], rtol=rtol, atol=ATOL,
                                   err_msg=key)


def _assert_same_weights(kmodel, model):
    for kw, w in zip(kmodel.get_weights(), model.get_weights()):
        np.testing.assert_allclose(w, kw, rtol=RTOL, atol=ATOL)


def _numbers_rounded(text):
    """Printed messages with every number rounded to 6 significant digits."""
    return re.sub(r"\d+\.\d+(e-?\d+)?", lambda m: f"{float(m.group()):.6g}", text)


# -------------------------------------------------------------------------- EarlyStopping
EARLY_STOPPING_CASES = {
    "val_loss_patience2_restore": dict(patience=2, restore_best_weights=True),
    "val_loss_patience2_keep_last": dict(patience=2, restore_best_weights=False),
    "patience0": dict(patience=0),
    "min_delta": dict(monitor="loss", min_delta=0.05, patience=1, restore_best_weights=True),
    "baseline_not_reached": dict(baseline=1.0, patience=3, restore_best_weights=True),
    "baseline_reached": dict(baseline=1.02, patience=2, restore_best_weights=True),
    "start_from_epoch": dict(patience=1, start_from_epoch=8, restore_best_weights=True),
    "max_val_accuracy": dict(monitor="val_accuracy", mode="max", patience=3,
                             restore_best_weights=True),
    "auto_val_accuracy": dict(monitor="val_accuracy", patience=3, restore_best_weights=True),
    "min_mode_loss": dict(monitor="loss", mode="min", patience=1, min_delta=0.02),
}


@pytest.mark.parametrize("case", sorted(EARLY_STOPPING_CASES))
def test_early_stopping_matches_keras(K, case):
    kwargs = EARLY_STOPPING_CASES[case]
    kmodel, model, kh, h, (kcb,), (cb,), kout, out = _fit_both(
        K, lambda lib: [lib.EarlyStopping(verbose=1, **kwargs)])
    assert len(h.history["loss"]) == len(kh.history["loss"])
    assert len(h.history["loss"]) < 30  # every case stops early
    assert (cb.stopped_epoch, cb.best_epoch, cb.wait) == (kcb.stopped_epoch, kcb.best_epoch,
                                                          kcb.wait)
    np.testing.assert_allclose(cb.best, kcb.best, rtol=RTOL)
    assert out == kout
    _assert_same_history(kh, h)
    _assert_same_weights(kmodel, model)


def test_early_stopping_restores_best_not_last(K):
    kmodel, model, kh, h, _, (cb,), _, _ = _fit_both(
        K, lambda lib: [lib.EarlyStopping(patience=2, restore_best_weights=True)])
    # Stopped two epochs after the best one: the weights are those of the best epoch.
    assert cb.best_epoch == len(h.history["loss"]) - 3
    best = float(np.min(h.history["val_loss"]))
    np.testing.assert_allclose(model.evaluate(XV, YV, verbose=0)[0], best, rtol=1e-5)


# ---------------------------------------------------------------------- learning rates
def test_reduce_lr_on_plateau_matches_keras(K):
    kmodel, model, kh, h, _, _, kout, out = _fit_both(
        K, lambda lib: [lib.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1,
                                              min_lr=0.005, verbose=1)])
    lrs = h.history["learning_rate"]
    np.testing.assert_allclose(lrs, kh.history["learning_rate"], rtol=1e-6)
    assert lrs[0] == 0.05 and lrs[-1] == 0.005 and len(set(lrs)) == 5  # it acted, to min_lr
    _assert_same_history(kh, h, rtol=1e-4)
    assert _numbers_rounded(out) == _numbers_rounded(kout)


def test_reduce_lr_on_plateau_max_mode_matches_keras(K):
    kmodel, model, kh, h, _, _, _, _ = _fit_both(
        K, lambda lib: [lib.ReduceLROnPlateau(monitor="val_accuracy", factor=0.2, patience=1,
                                              min_delta=0.0)], epochs=15)
    np.testing.assert_allclose(h.history["learning_rate"], kh.history["learning_rate"],
                               rtol=1e-6)
    _assert_same_history(kh, h, rtol=1e-4)


@pytest.mark.parametrize("arity", [1, 2])
def test_learning_rate_scheduler_matches_keras(K, arity):
    if arity == 2:
        def schedule(epoch, lr):
            return lr if epoch < 2 else lr * 0.5
    else:
        def schedule(epoch):
            return 0.01 * (epoch + 1)
    kmodel, model, kh, h, _, _, kout, out = _fit_both(
        K, lambda lib: [lib.LearningRateScheduler(schedule, verbose=1)], epochs=6,
        validation=False)
    np.testing.assert_allclose(h.history["learning_rate"], kh.history["learning_rate"],
                               rtol=1e-6)
    _assert_same_history(kh, h, rtol=1e-4)
    _assert_same_weights(kmodel, model)
    assert _numbers_rounded(out) == _numbers_rounded(kout)


def test_learning_rate_scheduler_and_reduce_lr_together_match_keras(K):
    kmodel, model, kh, h, _, _, _, _ = _fit_both(
        K, lambda lib: [lib.LearningRateScheduler(lambda e, lr: lr * 0.95),
                        lib.ReduceLROnPlateau(factor=0.5, patience=1)], epochs=12)
    np.testing.assert_allclose(h.history["learning_rate"], kh.history["learning_rate"],
                               rtol=1e-6)


# ----------------------------------------------------------------------------- CSVLogger
def _read_csv(path, sep=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=sep))


def _assert_same_csv(ours, theirs):
    assert len(ours) == len(theirs)
    assert ours[0] == theirs[0]  # header
    for row, krow in zip(ours[1:], theirs[1:]):
        assert len(row) == len(krow)
        for cell, kcell in zip(row, krow):
            if kcell == "NA" or cell == "NA" or kcell.isdigit():
                assert cell == kcell
            else:
                np.testing.assert_allclose(float(cell), float(kcell), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_logger_matches_keras(K, tmp_path, separator):
    paths = {"keras": tmp_path / "keras.csv", "ours": tmp_path / "ours.csv"}

    def run(validation, append, epochs):
        def make(lib):
            name = "keras" if lib is K.callbacks else "ours"
            return [lib.CSVLogger(paths[name], separator=separator, append=append)]
        return _fit_both(K, make, epochs=epochs, validation=validation)

    run(validation=True, append=False, epochs=3)
    _assert_same_csv(_read_csv(paths["ours"], separator), _read_csv(paths["keras"], separator))
    # A second fit appending without validation: no second header, NA in the val_ columns.
    run(validation=False, append=True, epochs=2)
    ours, theirs = _read_csv(paths["ours"], separator), _read_csv(paths["keras"], separator)
    _assert_same_csv(ours, theirs)
    assert ours[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(ours) == 6 and ours[-1][-1] == "NA"


def test_csv_logger_without_validation_and_with_lr_matches_keras(K, tmp_path):
    def make(lib):
        name = "keras" if lib is K.callbacks else "ours"
        return [lib.LearningRateScheduler(lambda e, lr: lr * 0.5),
                lib.CSVLogger(tmp_path / f"{name}.csv")]
    _fit_both(K, make, epochs=3, validation=False)
    ours, theirs = _read_csv(tmp_path / "ours.csv"), _read_csv(tmp_path / "keras.csv")
    _assert_same_csv(ours, theirs)
    assert ours[0] == ["epoch", "accuracy", "learning_rate", "loss", "val_accuracy",
                       "val_learning_rate", "val_loss"]


# ------------------------------------------------------------------------ hook order

def _recorder(lib):
    class Recorder(lib.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls = []

    def make_hook(hook):
        def record(self, *args, **kwargs):
            logs = kwargs.get("logs", args[-1] if args else None)
            index = [a for a in args if isinstance(a, int)]
            self.calls.append((hook, *index, None if logs is None else tuple(sorted(logs))))
        return record

    for hook in [h for h in dir(lib.callbacks.Callback) if h.startswith("on_")]:
        setattr(Recorder, hook, make_hook(hook))
    return Recorder()


def _record_hooks(lib):
    model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2)])
    model.compile("sgd", "mse", metrics=["mae"])
    x, y = np.ones((5, 3), "float32"), np.ones((5, 2), "float32")
    rec = _recorder(lib)
    model.fit(x, y, batch_size=2, epochs=2, validation_data=(x[:3], y[:3]), callbacks=[rec],
              verbose=0, shuffle=False)
    model.evaluate(x, y, batch_size=4, callbacks=[rec], verbose=0)
    model.predict(x, batch_size=4, callbacks=[rec], verbose=0)
    return rec.calls


def test_hook_order_is_exactly_keras(K):
    assert _record_hooks(tkl) == _record_hooks(K)


# ------------------------------------------------------------------------ ModelCheckpoint
CHECKPOINT_CASES = {
    "template_best_only": dict(filepath="ckpt-{epoch:02d}-{val_loss:.2f}.keras",
                               save_best_only=True),
    "template_every_epoch": dict(filepath="ckpt-{epoch:02d}-{val_loss:.2f}.keras"),
    "weights_best_accuracy": dict(filepath="w-{epoch:02d}-{val_accuracy:.3f}.weights.h5",
                                  monitor="val_accuracy", mode="max", save_best_only=True,
                                  save_weights_only=True),
    "auto_mode_accuracy": dict(filepath="a-{epoch}.weights.h5", monitor="val_accuracy",
                               save_best_only=True, save_weights_only=True),
    "threshold": dict(filepath="t-{epoch:02d}.weights.h5", save_best_only=True,
                      save_weights_only=True, initial_value_threshold=1.02),
    "every_5_batches": dict(filepath="b-{epoch:02d}-{batch:02d}-{loss:.3f}.weights.h5",
                            save_freq=5, save_weights_only=True),
    "every_4_batches_best_loss": dict(filepath="bb-{epoch}-{batch}.weights.h5", save_freq=4,
                                      monitor="loss", save_best_only=True,
                                      save_weights_only=True),
    "subfolder_template": dict(filepath="run/{epoch:02d}/model.keras", save_best_only=True),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_model_checkpoint_writes_the_same_files_as_keras(K, tmp_path, case):
    kwargs = dict(CHECKPOINT_CASES[case])
    template = kwargs.pop("filepath")
    dirs = {"keras": tmp_path / "keras", "ours": tmp_path / "ours"}

    def make(lib):
        name = "keras" if lib is K.callbacks else "ours"
        return [lib.ModelCheckpoint(str(dirs[name] / template), verbose=1, **kwargs)]

    _, _, kh, h, _, _, kout, out = _fit_both(K, make, epochs=12)
    _assert_same_history(kh, h, rtol=1e-4)
    files = {name: sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
             for name, d in dirs.items()}
    assert files["ours"] == files["keras"]
    assert files["ours"]
    if kwargs.get("save_best_only"):
        assert len(files["ours"]) < (12 if "save_freq" not in kwargs else 36)
    # The printed decisions ("improved from ... to ..., saving model to ...") are the same.
    assert _numbers_rounded(out.replace(str(dirs["ours"]), "DIR")) == \
        _numbers_rounded(kout.replace(str(dirs["keras"]), "DIR"))


@pytest.mark.filterwarnings("ignore:.*optimizer state was not loaded:UserWarning")
def test_model_checkpoint_best_only_keeps_the_best_model(K, tmp_path):
    """A fixed filepath with save_best_only holds the best epoch's model; our file and
    Keras's file hold the same weights, and each library reads the other's."""
    def make(lib):
        name = "keras" if lib is K.callbacks else "ours"
        return [lib.ModelCheckpoint(str(tmp_path / f"{name}.keras"), save_best_only=True),
                lib.ModelCheckpoint(str(tmp_path / f"{name}.weights.h5"), save_best_only=True,
                                    save_weights_only=True)]

    kmodel, model, kh, h, _, _, _, _ = _fit_both(K, make, epochs=12)
    best_epoch = int(np.argmin(h.history["val_loss"]))
    assert best_epoch < 11
    ours = tkl.models.load_model(tmp_path / "ours.keras")
    theirs = K.models.load_model(tmp_path / "keras.keras")
    for w, kw in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(w, kw, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.evaluate(XV, YV, verbose=0)[0],
                               h.history["val_loss"][best_epoch], rtol=1e-5)
    fresh = _pair(K)[1]
    fresh.load_weights(tmp_path / "ours.weights.h5")
    for w, kw in zip(fresh.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(w, kw)
