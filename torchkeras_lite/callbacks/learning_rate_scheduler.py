"""LearningRateScheduler: set the learning rate at the start of every epoch from a function."""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from .callback import Callback
from .monitor_callback import format_lr, is_chief


def _takes_two_arguments(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: use Keras's 2-argument form
        return True
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class LearningRateScheduler(Callback):
    """At the start of each epoch, set ``model.optimizer.learning_rate`` to
    ``schedule(epoch, lr)`` (``epoch`` counts from 0, ``lr`` is the current rate); a
    ``schedule(epoch)`` of one argument is accepted too. Each epoch's logs get a
    ``learning_rate`` entry, as in Keras.

    Args:
        schedule: function ``(epoch, lr) -> float`` or ``(epoch) -> float``.
        verbose: 1 prints the rate set at every epoch (default 0).

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> cb = LearningRateScheduler(schedule)
        >>> # model.fit(x, y, epochs=15, callbacks=[cb])
    """

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function (epoch, lr) -> float, "
                f"got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._two_arguments = _takes_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        if self._two_arguments:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (float, np.floating)):
            raise ValueError(
                "The output of the `schedule` function should be a float (Python or numpy), "
                f"got {lr!r} of type {type(lr).__name__} at epoch {epoch}. Return e.g. "
                "float(value)."
            )
        optimizer.learning_rate = float(lr)
        if self.verbose > 0 and is_chief():
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{format_lr(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
