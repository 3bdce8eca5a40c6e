"""History: records every epoch's logs; ``fit`` returns it."""
from __future__ import annotations

from .callback import Callback


class History(Callback):
    """``history.history`` maps each log key to its per-epoch values; ``history.epoch`` lists
    the epoch indices; ``history.params`` and ``history.model`` are set by fit."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
