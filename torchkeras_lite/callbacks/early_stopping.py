"""EarlyStopping: stop training when a monitored value stops improving."""
from __future__ import annotations

import warnings

from .monitor_callback import MonitorCallback, is_chief


def _check_non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"EarlyStopping: {name} must be a non-negative integer, got {value!r}")
    return value


class EarlyStopping(MonitorCallback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: log key to watch (default ``'val_loss'``).
        min_delta: smallest change that counts as an improvement (default 0).
        patience: epochs without improvement before stopping (default 0).
        verbose: 1 prints when training stops and when weights are restored (default 0).
        mode: ``'auto'`` (default), ``'min'`` or ``'max'``.
        baseline: training also stops when no epoch beats this value within ``patience``
            epochs (default None).
        restore_best_weights: at the end of training, set the weights of the best epoch seen
            (default False: keep the last weights).
        start_from_epoch: epochs to wait before watching at all (default 0).

    Example:
        >>> stop = EarlyStopping(monitor="loss", patience=3)
        >>> # model.fit(x, y, epochs=100, callbacks=[stop])
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = _check_non_negative_int(patience, "patience")
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = _check_non_negative_int(start_from_epoch, "start_from_epoch")
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first watched epoch is the best so far even if it misses the baseline.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0 and is_chief():
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0 and is_chief():
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """The monitored value from ``logs``, or None (with a warning naming the keys)."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs)}",
                stacklevel=2,
            )
        return value
