"""CallbackList: the single dispatcher, and the one place where tensors become floats.

The trainer calls ``on_*`` here with logs as a dict of 0-d tensors (or, for batch hooks, a
function returning that dict). Conversion to Python floats (a host sync) happens only when a
callback needs the values: at epoch ends, and at batch ends only for callbacks that override
the batch hook and say ``needs_batch_logs`` for that batch. A batch hook that nobody overrides
costs one empty loop.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from .callback import Callback

_BATCH_HOOKS = (
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
    "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
)
# Callback.on_train_batch_* call the Keras 2 names; a callback overriding either listens.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def to_floats(logs: Mapping[str, Any] | None) -> dict:
    """Logs as ``{name: float}`` with sorted keys (tensors are read once each)."""
    if not logs:
        return {}
    return {k: _to_float(logs[k]) for k in sorted(logs)}


def _to_float(value: Any) -> Any:
    if hasattr(value, "detach"):
        # Scalars (losses, metrics) become floats; other tensors (predict's batch outputs) stay.
        return float(value.detach()) if value.numel() == 1 and value.dim() == 0 else value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def _overrides(cb: Callback, hook: str) -> bool:
    bound = getattr(cb, hook)
    return getattr(bound, "__func__", bound) is not getattr(Callback, hook)


class CallbackList:
    """Holds callbacks and dispatches every hook to them in order.

    Args:
        callbacks: user callbacks.
        add_history: append a History callback (fit) unless one is given.
        add_progbar: append a ProgbarLogger unless one is given (verbose != 0).
        model: the model, given to every callback.
        **params: ``verbose``, ``epochs``, ``steps`` for ``set_params``.
    """

    def __init__(self, callbacks: Iterable[Callback] | None = None, *,
                 add_history: bool = False, add_progbar: bool = False,
                 model: Any = None, **params: Any) -> None:
        from .history import History
        from .progbar_logger import ProgbarLogger

        self.callbacks: list[Callback] = []
        for cb in callbacks or []:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "callbacks must be instances of torchkeras_lite.callbacks.Callback, "
                    f"got {type(cb).__name__}: {cb!r}"
                )
            self.callbacks.append(cb)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        self._batch_listeners = {
            hook: [c for c in self.callbacks
                   if _overrides(c, hook) or (hook in _ALIASES and _overrides(c, _ALIASES[hook]))]
            for hook in _BATCH_HOOKS
        }
        self.model = model
        self.params = params
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    # ------------------------------------------------------------------ dispatch
    def _call(self, hook: str, *args: Any, logs: Any = None) -> None:
        floats = to_floats(logs() if callable(logs) else logs)
        for cb in self.callbacks:
            getattr(cb, hook)(*args, floats)

    def _call_batch(self, hook: str, batch: int, logs: Any) -> None:
        listeners = self._batch_listeners[hook]
        if not listeners:
            return
        floats = None
        for cb in listeners:
            if floats is None and cb.needs_batch_logs(batch):
                floats = to_floats(logs() if callable(logs) else logs)
            getattr(cb, hook)(batch, floats)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs=logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs=logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs=logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs=logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)
