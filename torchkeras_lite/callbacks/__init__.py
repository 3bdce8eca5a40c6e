"""Callbacks: hooks into fit, evaluate and predict, and their single dispatcher."""
from __future__ import annotations

from typing import Any

from ..utils.registry import lookup
from .callback import Callback
from .callback_list import CallbackList
from .history import History
from .lambda_callback import LambdaCallback
from .progbar_logger import ProgbarLogger
from .terminate_on_nan import TerminateOnNaN

ALL_CALLBACKS = {cls.__name__: cls for cls in (History, LambdaCallback, ProgbarLogger, TerminateOnNaN)}


def get(identifier: Any) -> Callback:
    """A callback instance from a name, class, config dict or instance."""
    return lookup(identifier, ALL_CALLBACKS, "callback", base=Callback)


__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "ProgbarLogger", "TerminateOnNaN", "get"]
