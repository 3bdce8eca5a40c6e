"""TerminateOnNaN: stop training when the loss becomes NaN or infinite."""
from __future__ import annotations

import math

from .callback import Callback


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite and says where.

    It reads the loss after every batch, which waits for the device each step (as in Keras).
    """

    def __init__(self) -> None:
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training "
                  f"(epoch {self._epoch + 1}, batch {batch + 1}: loss is {loss}).")
            self.model.stop_training = True
