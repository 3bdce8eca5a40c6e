"""TensorBoard: write training curves (and weight histograms) for TensorBoard, through
``torch.utils.tensorboard.SummaryWriter``."""
from __future__ import annotations

import importlib
import os
import time
from typing import Any

from .. import distribution
from .callback import Callback
from .monitor_callback import is_chief


def _require_tensorboard() -> None:
    try:
        importlib.import_module("tensorboard")
    except ImportError:
        raise ImportError(
            "The TensorBoard callback needs the `tensorboard` package, which is not installed. "
            "Install it with `pip install tensorboard` (torch.utils.tensorboard writes through "
            "it), or remove the TensorBoard callback."
        ) from None


class TensorBoard(Callback):
    """Log scalars for TensorBoard: ``log_dir/train`` gets ``epoch_<key>`` for every training
    log key (and ``epoch_learning_rate``), ``log_dir/validation`` gets ``epoch_<key>`` for the
    ``val_`` keys, with the epoch (from 0) as step, as Keras writes them. Each evaluation adds
    ``evaluation_<key>_vs_iterations`` at the optimizer's step count. View with
    ``tensorboard --logdir <log_dir>``.

    Needs the ``tensorboard`` package (``pip install tensorboard``); constructing the callback
    without it raises an ImportError that says so.

    Args:
        log_dir: folder for the event files (default ``'logs'``).
        histogram_freq: every this many epochs, write a histogram of every weight
            (``<layer>/<weight>/histogram``); 0 (default) writes none.
        write_graph: accepted for compatibility; no graph is written (torch's writer can only
            trace a model with example inputs). Default True, as in Keras.
        write_images: must be False (weight images are not supported).
        write_steps_per_second: also log training steps per second (default False).
        update_freq: ``'epoch'`` (default), ``'batch'`` or an integer N: also write
            ``batch_<key>`` every N training batches (running averages of the epoch so far;
            each write waits for the device).
        profile_batch: must be 0 (profiling is not supported with the torch backend, as in
            Keras).
        embeddings_freq: must be 0 (the embedding projector is not supported).
        embeddings_metadata: must be None.

    Example:
        >>> tb = TensorBoard(log_dir="./logs")  # doctest: +SKIP
        >>> # model.fit(x, y, epochs=5, callbacks=[tb])
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Any = None) -> None:
        super().__init__()
        _require_tensorboard()
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) \
                or histogram_freq < 0:
            raise ValueError("TensorBoard: histogram_freq must be a non-negative integer "
                             f"(epochs), got {histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool)
                                       or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError("TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"integer (batches), got {update_freq!r}")
        unsupported = {"write_images": (write_images, False), "profile_batch": (profile_batch, 0),
                       "embeddings_freq": (embeddings_freq, 0),
                       "embeddings_metadata": (embeddings_metadata, None)}
        for name, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(
                    f"TensorBoard: {name}={value!r} is not supported by torchkeras_lite; leave "
                    f"it at {default!r}. Scalars and weight histograms (histogram_freq) are "
                    "written."
                )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.profile_batch = profile_batch
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._in_fit = False
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0
        self._epoch_start_iterations = 0

    # --------------------------------------------------------------------------- writers
    def _writer(self, name: str) -> Any:
        if name not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            self._writers[name] = SummaryWriter(os.path.join(self.log_dir, name))
        return self._writers[name]

    def _scalars(self, writer: str, values: dict, prefix: str, step: int) -> None:
        if not values or not is_chief():
            return
        out = self._writer(writer)
        for name, value in values.items():
            if isinstance(value, (int, float)):
                out.add_scalar(f"{prefix}{name}", value, global_step=step)

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # ----------------------------------------------------------------------------- hooks
    def needs_batch_logs(self, batch):
        return self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()
        distribution.barrier()  # distributed: rank 0's event files are complete for everyone

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start_iterations = self._iterations()
            self._epoch_start_time = time.time()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        values = dict(logs or {})
        if self.write_steps_per_second:
            values["steps_per_second"] = 1.0 / max(time.time() - self._batch_start_time, 1e-9)
        self._scalars("train", values, "batch_", self._global_train_batch)

    def on_test_end(self, logs=None):
        if getattr(getattr(self.model, "optimizer", None), "iterations", None) is None:
            return
        values = {f"evaluation_{k}_vs_iterations": v for k, v in (logs or {}).items()}
        self._scalars("validation", values, "", self._iterations())
        if not self._in_fit:  # a standalone evaluate(): nothing else will close the files
            self._close_writers()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            seconds = max(time.time() - self._epoch_start_time, 1e-9)
            train["steps_per_second"] = (self._iterations() - self._epoch_start_iterations) / seconds
        self._scalars("train", train, "epoch_", epoch)
        self._scalars("validation", val, "epoch_", epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._histograms(epoch)

    # --------------------------------------------------------------------------- helpers
    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        return int(getattr(optimizer, "iterations", 0) or 0)

    def _histograms(self, epoch: int) -> None:
        if not is_chief():
            return
        writer = self._writer("train")
        for layer in getattr(self.model, "layers", []):
            for name, weight in layer.named_parameters():
                tag = f"{layer.name}/{name.replace('.', '/')}/histogram"
                writer.add_histogram(tag, weight.detach().cpu(), global_step=epoch)
