"""ReduceLROnPlateau: lower the learning rate when a monitored value stops improving."""
from __future__ import annotations

import warnings

import numpy as np

from .monitor_callback import MonitorCallback, format_lr, is_chief


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the optimizer's learning rate by ``factor`` after ``patience`` epochs
    without improvement of ``monitor``, never going below ``min_lr``.

    Each epoch's logs get a ``learning_rate`` entry (so ``history.history['learning_rate']``
    lists the rate used in every epoch), as in Keras.

    Args:
        monitor: log key to watch (default ``'val_loss'``).
        factor: new rate = rate * factor; must be in [0, 1) (default 0.1).
        patience: epochs without improvement before lowering the rate (default 10).
        verbose: 1 prints a line when the rate is lowered (default 0).
        mode: ``'auto'`` (default), ``'min'`` or ``'max'``.
        min_delta: smallest change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again (default 0).
        min_lr: lower bound on the learning rate (default 0.0).

    Example:
        >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5,
        ...                               min_lr=0.001)
        >>> # model.fit(x, y, validation_split=0.2, callbacks=[reduce_lr])
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) \
                or not 0 <= factor < 1:
            raise ValueError(
                f"ReduceLROnPlateau: factor must be a number in [0, 1) (the new learning rate is "
                f"the old one times factor), got factor={factor!r}."
            )
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"ReduceLROnPlateau: {name} must be a non-negative integer, got {value!r}")
        if not isinstance(min_lr, (int, float)) or isinstance(min_lr, bool) or min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be a non-negative number, "
                             f"got {min_lr!r}")
        self.factor = float(factor)
        self.min_lr = float(min_lr)
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, optimizer, epoch: int) -> bool:
        old_lr = float(optimizer.learning_rate)
        # Keras keeps the rate in float32; comparing there stops at min_lr exactly as it does.
        if not np.float32(old_lr) > np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0 and is_chief():
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                  f"{format_lr(new_lr)}.")
        return True
