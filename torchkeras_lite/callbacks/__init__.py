"""Callbacks: hooks into fit, evaluate and predict, and their single dispatcher."""
from __future__ import annotations

from typing import Any

from ..utils.registry import lookup
from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .monitor_callback import MonitorCallback
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

ALL_CALLBACKS = {cls.__name__: cls for cls in (
    BackupAndRestore, CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateScheduler,
    ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau, TensorBoard, TerminateOnNaN)}


def get(identifier: Any) -> Callback:
    """A callback instance from a name, class, config dict or instance."""
    return lookup(identifier, ALL_CALLBACKS, "callback", base=Callback)


__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard",
           "TerminateOnNaN", "get"]
