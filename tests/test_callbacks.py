"""Callbacks: argument errors, behaviour without Keras, file writing, and kill-and-resume.

Parity with real Keras (stopping epochs, learning-rate histories, CSV files, checkpoint file
names, hook order) is in tests/parity/test_callbacks_parity.py.
"""
from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import torch

import torchkeras_lite as tkl
from torchkeras_lite import callbacks as C
from torchkeras_lite.layers import Dense, Input
from torchkeras_lite.models import Sequential


def small_model(lr=0.05, optimizer="adam", metrics=("accuracy",)):
    model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(2, activation="softmax")])
    opt = tkl.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})
    model.compile(opt, "categorical_crossentropy", metrics=list(metrics), device="cpu")
    return model


def small_data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[(x.sum(1) > 2).astype(int)]
    return x, y


# ----------------------------------------------------------------------- argument errors
@pytest.mark.parametrize("make", [
    lambda: C.EarlyStopping(mode="maximum"),
    lambda: C.ReduceLROnPlateau(mode="up"),
    lambda: C.ModelCheckpoint("m.keras", mode="best"),
])
def test_bad_mode_is_an_error(make):
    with pytest.raises(ValueError, match=r"mode must be one of 'auto', 'min', 'max', got"):
        make()


def test_auto_mode_needs_a_known_direction():
    model = small_model(metrics=("mae", "accuracy"))
    x, y = small_data()
    stop = C.EarlyStopping(monitor="mystery")
    with pytest.raises(ValueError, match=r"monitor='mystery'.*mode='max'.*mode='min'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[stop])


def test_auto_mode_directions():
    model = small_model(metrics=("mae", "accuracy", tkl.metrics.AUC(name="auc")))
    x, y = small_data()
    model.fit(x, y, epochs=1, verbose=0)
    expected = {"loss": "lt", "val_loss": "lt", "mae": "lt", "val_accuracy": "gt", "auc": "gt",
                "dense_loss": "lt"}
    for monitor, op in expected.items():
        cb = C.EarlyStopping(monitor=monitor, min_delta=0.1)
        cb.set_model(model)
        cb._set_monitor_op()
        assert cb.monitor_op.__name__ == op, monitor
        assert cb.min_delta == (-0.1 if op == "lt" else 0.1)


@pytest.mark.parametrize("kwargs, match", [
    ({"patience": -1}, "patience must be a non-negative integer"),
    ({"start_from_epoch": 1.5}, "start_from_epoch must be a non-negative integer"),
    ({"monitor": ""}, "monitor must be a log key"),
])
def test_early_stopping_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.EarlyStopping(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"factor": 1.0}, r"factor must be a number in \[0, 1\).*factor=1.0"),
    ({"factor": -0.5}, r"factor must be a number in \[0, 1\)"),
    ({"patience": -2}, "patience must be a non-negative integer"),
    ({"cooldown": 0.5}, "cooldown must be a non-negative integer"),
    ({"min_lr": -1e-3}, "min_lr must be a non-negative number"),
])
def test_reduce_lr_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.ReduceLROnPlateau(**kwargs)


def test_reduce_lr_has_no_hidden_keyword_arguments():
    with pytest.raises(TypeError):
        C.ReduceLROnPlateau(epsilon=1e-4)


def test_model_checkpoint_filepath_errors():
    with pytest.raises(ValueError, match=r"save_weights_only=True the filepath must end in "
                                         r"`\.weights\.h5`.*'w\.h5'"):
        C.ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in `\.keras`.*save_weights_only=True"):
        C.ModelCheckpoint("model.pt")
    with pytest.raises(ValueError, match="not a valid format template"):
        C.ModelCheckpoint("ckpt-{epoch:02d.keras")
    with pytest.raises(ValueError, match="positional placeholder"):
        C.ModelCheckpoint("ckpt-{}.keras")
    for bad in (0, -3, "batch", 2.5, True):
        with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive integer"):
            C.ModelCheckpoint("m.keras", save_freq=bad)


def test_model_checkpoint_unknown_template_key_names_it_and_the_available_keys(tmp_path):
    model = small_model()
    x, y = small_data()
    ckpt = C.ModelCheckpoint(str(tmp_path / "ckpt-{epoch:02d}-{val_acc:.2f}.keras"))
    with pytest.raises(KeyError) as info:
        model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[ckpt])
    message = str(info.value)
    assert "{val_acc}" in message
    assert "['accuracy', 'epoch', 'loss', 'val_accuracy', 'val_loss']" in message
    assert not list(tmp_path.iterdir())


def test_model_checkpoint_bad_format_spec(tmp_path):
    model = small_model()
    x, y = small_data()
    ckpt = C.ModelCheckpoint(str(tmp_path / "ckpt-{loss:02d}.keras"))
    with pytest.raises(ValueError, match=r"cannot format filepath .*'loss': 0\.\d+.*"
                                         r"Unknown format code 'd'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ckpt])


def test_learning_rate_scheduler_errors():
    with pytest.raises(TypeError, match="schedule must be a function"):
        C.LearningRateScheduler(0.1)
    model = small_model()
    x, y = small_data()
    with pytest.raises(ValueError, match=r"should be a float.*got 1 of type int at epoch 0.*"
                                         r"float\(value\)"):
        model.fit(x, y, verbose=0, callbacks=[C.LearningRateScheduler(lambda epoch: 1)])


def test_learning_rate_scheduler_with_a_schedule_optimizer_is_an_error():
    schedule = tkl.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    model = Sequential([Input((4,)), Dense(2)])
    model.compile(tkl.optimizers.SGD(schedule), "mse", device="cpu")
    x, y = small_data()
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        model.fit(x, y, verbose=0, callbacks=[C.LearningRateScheduler(lambda e, lr: lr)])


def test_csv_logger_separator_error():
    with pytest.raises(ValueError, match="separator must be a single character"):
        C.CSVLogger("log.csv", separator=", ")


def test_backup_and_restore_argument_errors():
    with pytest.raises(ValueError, match="backup_dir must be a folder path"):
        C.BackupAndRestore("")
    for bad in (False, 0, "batch"):
        with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive integer"):
            C.BackupAndRestore("dir", save_freq=bad)


def test_catalog_get():
    assert isinstance(C.get("EarlyStopping"), C.EarlyStopping)
    assert C.get({"class_name": "ReduceLROnPlateau", "config": {"patience": 3}}).patience == 3
    with pytest.raises(ValueError, match="Did you mean 'CSVLogger'"):
        C.get("CSVLoger")


# --------------------------------------------------------------------- learning rate API
def test_optimizer_learning_rate_is_readable_and_settable_as_in_keras():
    model = small_model(lr=0.01, optimizer="sgd")
    x, y = small_data()
    assert model.optimizer.learning_rate == 0.01
    model.fit(x, y, verbose=0)  # builds the torch param groups
    model.optimizer.learning_rate = 0.0
    assert model.optimizer.learning_rate == 0.0
    assert all(g["lr"] == 0.0 for g in model.optimizer.param_groups)
    before = model.get_weights()
    model.fit(x, y, verbose=0)
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # a zero learning rate trains nothing
    with pytest.raises(ValueError, match="non-negative"):
        model.optimizer.learning_rate = -1.0


def test_reduce_lr_on_plateau_lowers_rate_and_logs_it():
    model = small_model(lr=0.1, optimizer="sgd")
    x, y = small_data()
    # min_delta=10 makes every epoch "no improvement" after the first. The logged rate is the
    # one the epoch trained with (the reduction happens after logging, as in Keras).
    cb = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10, min_lr=0.02)
    history = model.fit(x, y, epochs=6, verbose=0, callbacks=[cb])
    np.testing.assert_allclose(history.history["learning_rate"],
                               [0.1, 0.1, 0.05, 0.025, 0.02, 0.02])
    assert model.optimizer.learning_rate == 0.02


def test_learning_rate_scheduler_sets_rate_before_each_epoch():
    model = small_model(lr=0.1, optimizer="sgd")
    x, y = small_data()
    seen = []
    spy = C.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        model.optimizer.param_groups[0]["lr"]))
    cb = C.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[cb, spy])
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.1 / 3])
    np.testing.assert_allclose(history.history["learning_rate"], seen)


# --------------------------------------------------------------------------- behaviour
def test_early_stopping_without_the_monitored_key_warns_and_trains_on():
    model = small_model()
    x, y = small_data()
    with pytest.warns(UserWarning, match=r"`val_loss` which is not available. Available "
                                         r"metrics are: accuracy,loss"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[C.EarlyStopping()])
    assert len(history.history["loss"]) == 3


def test_early_stopping_restore_best_weights_sets_best_epoch_weights():
    model = small_model(lr=0.5, optimizer="sgd")
    x, y = small_data()
    saved = {}
    spy = C.LambdaCallback(on_epoch_end=lambda e, logs: saved.__setitem__(
        e, (logs["loss"], model.get_weights())))
    stop = C.EarlyStopping(monitor="loss", patience=2, min_delta=0.5, restore_best_weights=True)
    model.fit(x, y, epochs=10, verbose=0, callbacks=[spy, stop])
    assert stop.stopped_epoch == 2 and stop.best_epoch == 0
    for w, best in zip(model.get_weights(), saved[0][1]):
        np.testing.assert_array_equal(w, best)


def test_csv_logger_writes_epochs_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    model = small_model()
    x, y = small_data()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[C.CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1"]
    model.fit(x, y, epochs=1, verbose=0, callbacks=[C.CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[-1].endswith(",NA,NA")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[C.CSVLogger(path)])  # overwrite
    assert len(path.read_text().splitlines()) == 2


def test_callbacks_do_not_read_batch_logs_unless_needed():
    """EarlyStopping & co. only look at epoch logs; ModelCheckpoint(save_freq=N) only at the
    batches where it saves (logs become floats, a host sync, only then)."""
    for cb in (C.EarlyStopping(), C.ReduceLROnPlateau(), C.CSVLogger("unused.csv"),
               C.LearningRateScheduler(lambda e, lr: lr)):
        assert not any(type(cb).__dict__.get(h) for h in (
            "on_train_batch_end", "on_batch_end", "on_test_batch_end"))
    ckpt = C.ModelCheckpoint("m-{batch}.keras", save_freq=3)
    assert C.ModelCheckpoint("m.keras").needs_batch_logs(0) is False
    assert C.BackupAndRestore("dir", save_freq=1).needs_batch_logs(0) is False
    wanted = []
    for batch in [0, 1, 2, 3, 4, 0, 1, 2]:  # two epochs of 5 then 3 batches
        wanted.append(ckpt.needs_batch_logs(batch))
        ckpt._should_save_on_batch(batch)
    assert wanted == [False, False, True, False, False, True, False, False]


# ----------------------------------------------------------------------------- TensorBoard
def test_tensorboard_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r"needs the `tensorboard` package.*"
                                          r"pip install tensorboard"):
        C.TensorBoard(log_dir="logs")


def test_tensorboard_unsupported_options_are_errors():
    pytest.importorskip("tensorboard")
    with pytest.raises(ValueError, match="write_images=True is not supported"):
        C.TensorBoard(write_images=True)
    with pytest.raises(ValueError, match="profile_batch=5 is not supported"):
        C.TensorBoard(profile_batch=5)
    with pytest.raises(ValueError, match="update_freq must be 'epoch', 'batch' or a positive"):
        C.TensorBoard(update_freq=0)


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    out = {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    return out, acc.Tags()["histograms"]


def test_tensorboard_writes_epoch_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    model = small_model()
    x, y = small_data()
    tb = C.TensorBoard(log_dir=tmp_path, histogram_freq=1, update_freq=2)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25,
                        callbacks=[tb])
    train, histograms = _scalars(tmp_path / "train")
    val, _ = _scalars(tmp_path / "validation")
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss",
            "batch_accuracy"} <= set(train)
    assert {"epoch_loss", "epoch_accuracy", "evaluation_loss_vs_iterations"} <= set(val)
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"],
                               rtol=1e-6)
    np.testing.assert_allclose([v for _, v in val["epoch_loss"]], history.history["val_loss"],
                               rtol=1e-6)
    assert [s for s, _ in train["epoch_loss"]] == [0, 1]
    # 3 batches per epoch; every 2nd batch, counted across epochs (Keras's global step).
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6]
    assert [s for s, _ in val["evaluation_loss_vs_iterations"]] == [3, 6]
    assert f"{model.layers[0].name}/kernel/histogram" in histograms


# ------------------------------------------------------------------------ ModelCheckpoint
def test_model_checkpoint_best_only_with_fixed_name_keeps_best_weights(tmp_path):
    model = small_model(lr=0.5, optimizer="sgd")
    x, y = small_data()
    saved = {}
    spy = C.LambdaCallback(on_epoch_end=lambda e, logs: saved.__setitem__(
        e, (logs["loss"], model.get_weights())))
    path = tmp_path / "sub" / "best.weights.h5"
    ckpt = C.ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=True)
    model.fit(x, y, epochs=6, verbose=0, callbacks=[spy, ckpt])
    best = min(saved, key=lambda e: saved[e][0])
    model.load_weights(path)
    for w, expected in zip(model.get_weights(), saved[best][1]):
        np.testing.assert_array_equal(w, expected)
    assert ckpt.best == saved[best][0]


def test_model_checkpoint_every_n_batches_names_epoch_and_batch(tmp_path):
    model = small_model()
    x, y = small_data()  # 4 batches of 8 per epoch
    ckpt = C.ModelCheckpoint(tmp_path / "m-{epoch}-{batch}.weights.h5", save_freq=3,
                             save_weights_only=True)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m-1-3.weights.h5", "m-2-2.weights.h5"]


def test_model_checkpoint_existing_directory_is_an_error(tmp_path):
    (tmp_path / "model.keras").mkdir()
    model = small_model()
    x, y = small_data()
    with pytest.raises(IsADirectoryError, match="non-directory filepath"):
        model.fit(x, y, verbose=0, callbacks=[C.ModelCheckpoint(tmp_path / "model.keras")])


# ------------------------------------------------------------------------- BackupAndRestore
def _resumable_model():
    tkl.utils.set_random_seed(0)
    model = Sequential([Input((4,)), Dense(16, activation="relu"), tkl.layers.Dropout(0.3),
                        Dense(2, activation="softmax")])
    model.compile(tkl.optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    return model


class _Interrupt(Exception):
    pass


def _interrupt_at(epoch):
    def on_epoch_begin(e, logs):
        if e == epoch:
            raise _Interrupt(e)
    return C.LambdaCallback(on_epoch_begin=on_epoch_begin)


def test_backup_and_restore_resumes_an_interrupted_fit_exactly(tmp_path):
    """Shuffling, dropout and Adam's state all continue: the resumed run ends with the same
    weights as an uninterrupted one."""
    x, y = small_data(40)
    reference = _resumable_model()
    reference.fit(x, y, epochs=6, batch_size=8, verbose=0)

    model = _resumable_model()
    backup = C.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(_Interrupt):
        model.fit(x, y, epochs=6, batch_size=8, verbose=0, callbacks=[_interrupt_at(3), backup])
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert (metadata["epoch"], metadata["batch"]) == (3, 0)
    assert sorted(os.listdir(tmp_path / "backup")) == ["checkpoint-3.weights.h5",
                                                       "training_metadata.json"]
    model = _resumable_model()  # a fresh process would rebuild the model like this
    history = model.fit(x, y, epochs=6, batch_size=8, verbose=0,
                        callbacks=[C.BackupAndRestore(tmp_path / "backup")])
    assert history.epoch == [3, 4, 5]
    assert model.optimizer.iterations == reference.optimizer.iterations == 30
    for w, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(w, expected, rtol=0, atol=1e-6)
    assert not (tmp_path / "backup").exists()  # delete_checkpoint=True


def test_backup_and_restore_keeps_backup_and_other_files(tmp_path):
    x, y = small_data()
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    model = _resumable_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[C.BackupAndRestore(folder)])
    assert sorted(os.listdir(folder)) == ["notes.txt"]  # ours removed, the user's kept
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[C.BackupAndRestore(folder, delete_checkpoint=False)])
    assert "training_metadata.json" in os.listdir(folder)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[C.BackupAndRestore(folder)])
    assert history.epoch == [2]


def test_backup_and_restore_double_checkpoint_falls_back_to_previous(tmp_path):
    x, y = small_data()
    folder = tmp_path / "backup"
    model = _resumable_model()
    with pytest.raises(_Interrupt):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[
            _interrupt_at(3), C.BackupAndRestore(folder, double_checkpoint=True)])
    assert sorted(os.listdir(folder)) == ["checkpoint-2.weights.h5", "checkpoint-3.weights.h5",
                                          "training_metadata.json"]
    (folder / "checkpoint-3.weights.h5").write_bytes(b"not an h5 file")
    model = _resumable_model()
    with pytest.warns(UserWarning, match="cannot be read.*restoring the previous one"):
        history = model.fit(x, y, epochs=5, verbose=0,
                            callbacks=[C.BackupAndRestore(folder, double_checkpoint=True)])
    assert history.epoch == [2, 3, 4]


def test_backup_and_restore_corrupt_backup_is_a_clear_error(tmp_path):
    x, y = small_data()
    folder = tmp_path / "backup"
    model = _resumable_model()
    with pytest.raises(_Interrupt):
        model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[_interrupt_at(2), C.BackupAndRestore(folder)])
    (folder / "checkpoint-2.weights.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot restore the backup .*checkpoint-2\.weights\.h5"
                                         r".*Delete .* to start training from scratch"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[C.BackupAndRestore(folder)])
    (folder / "training_metadata.json").write_text("{}")
    with pytest.raises(ValueError, match="not a backup written by torchkeras_lite"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[C.BackupAndRestore(folder)])


def test_backup_and_restore_every_n_batches(tmp_path):
    x, y = small_data()  # 4 batches of 8 per epoch
    folder = tmp_path / "backup"
    model = _resumable_model()
    where = {}

    def interrupt(batch, logs):
        if (where["epoch"], batch) == (1, 2):
            raise _Interrupt()

    callbacks = [C.LambdaCallback(on_epoch_begin=lambda e, logs: where.update(epoch=e)),
                 C.BackupAndRestore(folder, save_freq=3),
                 C.LambdaCallback(on_train_batch_end=interrupt)]
    with pytest.raises(_Interrupt):
        model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=callbacks)
    # Backups after the 3rd and 6th batches; the 6th is batch index 1 of epoch 1.
    metadata = json.loads((folder / "training_metadata.json").read_text())
    assert (metadata["epoch"], metadata["batch"]) == (1, 1)
    history = _resumable_model().fit(x, y, epochs=3, batch_size=8, verbose=0,
                                     callbacks=[C.BackupAndRestore(folder, save_freq=3)])
    assert history.epoch == [1, 2]  # the interrupted epoch restarts from its first batch


# ----------------------------------------------------------------- kill -9 and resume
_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    import torchkeras_lite as tkl
    from torchkeras_lite import callbacks as C
    from torchkeras_lite.layers import Dense, Dropout, Input

    mode, folder, out = sys.argv[1:4]
    tkl.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((40, 4)).astype("float32")
    y = np.eye(2, dtype="float32")[(x.sum(1) > 2).astype(int)]
    model = tkl.Sequential([Input((4,)), Dense(16, activation="relu"), Dropout(0.3),
                            Dense(2, activation="softmax")])
    model.compile(tkl.optimizers.Adam(0.01), "categorical_crossentropy", device="cpu")

    def kill_self():
        os.kill(os.getpid(), signal.SIGKILL)

    callbacks = []
    if mode == "kill-at-epoch-3":
        callbacks.append(C.LambdaCallback(on_epoch_begin=lambda e, logs: e == 3 and kill_self()))
    if mode == "kill-while-writing":
        # Die inside the third backup's weights file, after data went in, before it is closed.
        import h5py
        close = h5py.File.close
        def dying_close(self):
            if os.path.basename(self.filename).startswith(".checkpoint-3."):
                self.flush()
                kill_self()
            close(self)
        h5py.File.close = dying_close
    if mode == "checkpoint-killed-while-writing":
        # Die while the third epoch's .keras archive is being written (config already in it).
        import zipfile
        writestr = zipfile.ZipFile.writestr
        state = {"epoch": 0}
        def dying_writestr(self, name, data, *args, **kwargs):
            if state["epoch"] == 2 and name == "model.weights.h5":
                self.fp.flush()
                kill_self()
            return writestr(self, name, data, *args, **kwargs)
        zipfile.ZipFile.writestr = dying_writestr
        callbacks += [
            C.LambdaCallback(on_epoch_end=lambda e, logs: (
                state.__setitem__("epoch", e),
                np.savez(os.path.join(folder, f"weights-{e}.npz"), *model.get_weights()))),
            C.ModelCheckpoint(os.path.join(folder, "model.keras")),
        ]
    elif mode != "plain":
        callbacks.append(C.BackupAndRestore(folder))
    history = model.fit(x, y, epochs=6, batch_size=8, verbose=0, callbacks=callbacks)
    np.savez(out, *model.get_weights(), epochs=np.array(history.epoch))
''')


def _run_script(tmp_path, mode, folder, out):
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(tkl.__file__)), os.environ.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(script), mode, str(folder), str(out)], env=env,
                          capture_output=True, text=True, timeout=120)


def _weights(path):
    data = np.load(path)
    return [data[f"arr_{i}"] for i in range(len(data.files) - 1)], list(data["epochs"])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The script's uninterrupted run, in this process (saves a Python start-up)."""
    tmp = tmp_path_factory.mktemp("reference")
    (tmp / "train.py").write_text(_SCRIPT)
    argv, threads = sys.argv, torch.get_num_threads()
    sys.argv = ["train.py", "plain", str(tmp / "backup"), str(tmp / "ref.npz")]
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 in the subprocesses
    try:
        runpy.run_path(str(tmp / "train.py"), run_name="__main__")
    finally:
        sys.argv = argv
        torch.set_num_threads(threads)
    return _weights(tmp / "ref.npz")


@pytest.mark.parametrize("mode, resumed_epochs", [("kill-at-epoch-3", [3, 4, 5]),
                                                  ("kill-while-writing", [2, 3, 4, 5])])
def test_sigkilled_fit_resumes_to_the_same_weights(tmp_path, uninterrupted, mode,
                                                   resumed_epochs):
    folder = tmp_path / "backup"
    killed = _run_script(tmp_path, mode, folder, tmp_path / "never.npz")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "never.npz").exists()
    left = sorted(os.listdir(folder))
    if mode == "kill-while-writing":
        # The half-written third backup is a leftover temporary file; the metadata still
        # names the complete second one.
        assert any(name.startswith(".checkpoint-3.weights.h5.") for name in left), left
        assert json.loads((folder / "training_metadata.json").read_text())["epoch"] == 2
    resumed = _run_script(tmp_path, "resume", folder, tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    weights, epochs = _weights(tmp_path / "resumed.npz")
    ref_weights, ref_epochs = uninterrupted
    assert epochs == resumed_epochs and ref_epochs == list(range(6))
    for w, expected in zip(weights, ref_weights):
        np.testing.assert_allclose(w, expected, rtol=0, atol=1e-6)
    assert not folder.exists()  # the completed run removed its backup and the leftovers


def test_checkpoint_killed_while_writing_leaves_the_previous_file(tmp_path):
    killed = _run_script(tmp_path, "checkpoint-killed-while-writing", tmp_path, tmp_path / "x")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".model.keras.")]
    assert leftovers, "the process did not die inside the write"
    model = tkl.models.load_model(tmp_path / "model.keras")  # the epoch-2 file, intact
    expected = np.load(tmp_path / "weights-1.npz")
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, expected[f"arr_{i}"])
