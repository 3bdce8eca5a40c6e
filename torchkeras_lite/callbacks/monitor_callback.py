"""MonitorCallback: the shared "did the monitored value improve?" logic of EarlyStopping,
ModelCheckpoint and ReduceLROnPlateau, plus small helpers those callbacks share."""
from __future__ import annotations

import operator
from typing import Any, Callable

import torch

from .callback import Callback

_MODES = ("auto", "min", "max")

# Keras 3 marks these metrics as "higher is better" (``_direction = "up"``) ...
_UP = frozenset({
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision", "Recall",
    "SensitivityAtSpecificity", "SpecificityAtSensitivity", "PrecisionAtRecall",
    "RecallAtPrecision", "AUC", "CosineSimilarity", "R2Score", "F1Score", "FBetaScore",
    "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation",
    "ConcordanceCorrelation",
})
# ... and these (and every metric wrapping a loss) as "lower is better".
_DOWN = frozenset({
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "RootMeanSquaredError", "LogCoshError",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson",
})


def check_mode(mode: Any, owner: str) -> str:
    """``mode`` if it is 'auto', 'min' or 'max', else a ValueError naming ``owner``."""
    if mode not in _MODES:
        raise ValueError(
            f"{owner}: mode must be one of 'auto', 'min', 'max', got {mode!r}. Use 'min' when "
            "lower values are better (losses, errors), 'max' when higher are (accuracy, AUC), "
            "or 'auto' to infer it from the monitored metric."
        )
    return mode


def metric_direction(metric: Any) -> str | None:
    """'up', 'down' or None (unknown) for a metric object, as Keras 3 decides it."""
    direction = getattr(metric, "_direction", None)
    if direction in ("up", "down"):
        return direction
    for cls in type(metric).__mro__:
        if cls.__name__ in _UP:
            return "up"
        if cls.__name__ in _DOWN:
            return "down"
    return None


def is_chief() -> bool:
    """Whether this process writes files: always, except on ranks > 0 of a distributed run
    (inside ``distribution.local()`` every process counts as alone)."""
    from .. import distribution

    return not distribution.is_distributed() or torch.distributed.get_rank() == 0


def format_lr(value: float) -> str:
    """A learning rate as Keras prints it (``repr`` of the float)."""
    return repr(float(value))


class MonitorCallback(Callback):
    """Base class of callbacks that watch one logged value and act when it improves.

    Args:
        monitor: the log key to watch (default ``'val_loss'``).
        mode: ``'min'``, ``'max'`` or ``'auto'`` (default). ``'auto'`` minimises ``loss``,
            ``val_loss`` and ``*_loss`` keys, and otherwise asks the compiled metric of that
            name whether higher or lower is better (accuracy-like metrics go up).
        baseline: initial "best" value; None (default) takes the first value seen.
        min_delta: an improvement must beat the best value by more than ``abs(min_delta)``.

    Example:
        >>> class Watch(MonitorCallback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         value = (logs or {}).get(self.monitor)
        ...         if value is not None and self._is_improvement(value, self.best):
        ...             self.best = value
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"{type(self).__name__}: monitor must be a log key such as "
                             f"'val_loss' or 'accuracy', got {monitor!r}")
        self.monitor = monitor
        self.mode = check_mode(mode, type(self).__name__)
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Callable[[float, float], bool] | None = None

    def _set_monitor_op(self) -> None:
        direction = None
        if self.mode != "auto":
            direction = "down" if self.mode == "min" else "up"
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss" or name.endswith("_loss"):
                direction = "down"
            for metric in getattr(self.model, "metrics", None) or []:
                if getattr(metric, "name", None) == name:
                    direction = metric_direction(metric) or direction
        if direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor!r}, but cannot "
                "tell whether it should be maximized or minimized. Pass mode='max' to keep the "
                "highest value, or mode='min' to keep the lowest."
            )
        self.monitor_op = operator.lt if direction == "down" else operator.gt
        if direction == "down":
            self.min_delta = -abs(self.min_delta)
        else:
            self.min_delta = abs(self.min_delta)

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        return bool(self.monitor_op(value - self.min_delta, reference))
