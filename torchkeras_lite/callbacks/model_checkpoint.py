"""ModelCheckpoint: save the model (or its weights) during training, every epoch or every N
batches, optionally only when a monitored value improves."""
from __future__ import annotations

import os
import string
import warnings

from .. import distribution
from .monitor_callback import MonitorCallback, is_chief


class TemplateKeyError(KeyError):
    """A placeholder of ModelCheckpoint's filepath that the logs do not provide."""

    def __str__(self) -> str:
        return str(self.args[0])


def _template_fields(filepath: str) -> set[str]:
    """Names used in a ``str.format`` template (``{epoch:02d}`` -> ``epoch``)."""
    try:
        parsed = list(string.Formatter().parse(filepath))
    except ValueError as e:
        raise ValueError(
            f"ModelCheckpoint: filepath {filepath!r} is not a valid format template ({e}). "
            "Use placeholders like {epoch:02d} or {val_loss:.2f}, and double braces {{ }} "
            "for literal braces."
        ) from None
    fields = set()
    for _, field, _, _ in parsed:
        if field is None:
            continue
        name = field.split(".")[0].split("[")[0]
        if not name or name.isdigit():
            raise ValueError(
                f"ModelCheckpoint: filepath {filepath!r} has a positional placeholder "
                f"{{{field}}}; name the value instead, e.g. {{epoch:02d}} or {{val_loss:.2f}}."
            )
        fields.add(name)
    return fields


class ModelCheckpoint(MonitorCallback):
    """Save the model or its weights at some frequency during ``fit``.

    ``filepath`` may hold ``str.format`` placeholders filled with ``epoch`` (counted from 1),
    ``batch`` (from 1, when saving every N batches) and any log key, e.g.
    ``'ckpt-{epoch:02d}-{val_loss:.2f}.keras'``. An unknown placeholder raises a KeyError
    naming it and the available keys.

    Args:
        filepath: where to save; must end in ``.keras`` (whole model) or, with
            ``save_weights_only=True``, in ``.weights.h5``.
        monitor: log key deciding what "best" means (default ``'val_loss'``).
        verbose: 1 prints a line for every save decision (default 0).
        save_best_only: save only when ``monitor`` improves on the best value so far
            (default False). With a fixed ``filepath`` the file always holds the best model.
        save_weights_only: save with ``model.save_weights`` instead of ``model.save``
            (default False).
        mode: ``'auto'`` (default), ``'min'`` or ``'max'``.
        save_freq: ``'epoch'`` (default) or an integer N: save after every N batches (the
            values of the batch logs are running averages of the epoch so far).
        initial_value_threshold: starting "best" value; with ``save_best_only`` only a better
            value is saved (default None).

    Example:
        >>> checkpoint = ModelCheckpoint("best.keras", monitor="val_accuracy",
        ...                              save_best_only=True)
        >>> # model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[checkpoint])
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: str | int = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                f"ModelCheckpoint: save_freq must be 'epoch' or a positive integer (a number of "
                f"batches), got save_freq={save_freq!r}."
            )
        self.save_freq = save_freq
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                f"`.weights.h5` (Keras weights format), got filepath={self.filepath!r}. "
                "Rename it, e.g. 'ckpt-{epoch:02d}.weights.h5'."
            )
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(
                "ModelCheckpoint: the filepath must end in `.keras` (Keras model format), got "
                f"filepath={self.filepath!r}. To save only the weights, use "
                "save_weights_only=True and a name ending in `.weights.h5`."
            )
        self._fields = _template_fields(self.filepath)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen: int | None = None
        self._current_epoch = 0

    # ---------------------------------------------------------------------------- hooks
    def needs_batch_logs(self, batch):
        return self.save_freq != "epoch" and self._batches_after(batch) >= self.save_freq

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # the model's metrics are built by now
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    # ---------------------------------------------------------------------------- logic
    def _batches_after(self, batch: int) -> int:
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch started
        else:
            added = batch - self._last_batch_seen
        return self._batches_seen_since_last_saving + added

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        self._batches_seen_since_last_saving = self._batches_after(batch)
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch: int, logs: dict, filepath: str) -> bool:
        verbose = self.verbose > 0 and is_chief()
        if not self.save_best_only:
            if verbose:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=2)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if verbose:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if verbose:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch: int, batch: int | None, logs: dict | None) -> None:
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        should_save = self._should_save_model(epoch, logs, filepath)
        if batch is not None and self.save_best_only:
            # Batch logs are each rank's own values: in a distributed run rank 0 decides.
            should_save = distribution.main_decides(should_save)
        if not should_save:
            return
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname and is_chief():
            os.makedirs(dirname, exist_ok=True)
        # Every rank calls save: rank 0 writes, the others wait until the file is complete.
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0 and is_chief():
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch: int, batch: int | None, logs: dict) -> str:
        values = dict(logs)
        values["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        missing = sorted(self._fields - set(values))
        if missing:
            raise TemplateKeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} uses {{{missing[0]}}}, which is not "
                f"a key of the logs at this point. Available keys: {sorted(values)}. Use one "
                "of them, or compile the metric that produces it (val_ keys need validation "
                "data)."
            )
        try:
            return self.filepath.format(**values)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r} with "
                f"{ {k: values[k] for k in sorted(self._fields)} }: {e}."
            ) from None
