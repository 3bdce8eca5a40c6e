"""ProgbarLogger: adapts the display-only Progbar to fit/evaluate/predict hooks."""
from __future__ import annotations

from ..utils.progbar import Progbar
from .callback import Callback


class ProgbarLogger(Callback):
    """Prints ``Epoch i/N`` (when N > 1) and a progress bar per epoch, evaluation or
    prediction, as Keras 3 does. Added by fit/evaluate/predict when ``verbose`` is not 0."""

    def __init__(self) -> None:
        super().__init__()
        self.progbar: Progbar | None = None
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _new_bar(self) -> None:
        self.progbar = Progbar(self.target, verbose=self.verbose)

    def needs_batch_logs(self, batch):
        return self.progbar is not None and self.progbar.due(batch + 1)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._new_bar()
        if self.verbose and self.epochs > 1:
            self.progbar.stream.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            self.progbar.stream.flush()

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _update(self, batch, logs):
        self.seen = batch + 1
        if self.progbar is not None:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finish(self, logs):
        if self.progbar is None:
            return
        if self.progbar.target is None:
            # Unknown length: remember the first epoch's step count for the next bars (Keras).
            self.target = self.progbar.target = getattr(self, "seen", 0)
        self.progbar.update(self.progbar.target, list((logs or {}).items()), finalize=True)
