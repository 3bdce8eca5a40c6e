"""Argument checks shared by the layer families (one place for each message)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import config as _config


def is_int(value: Any) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value: Any, argument: str) -> int:
    if not is_int(value) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


def int_tuple(value: Any, n: int, argument: str, *, allow_zero: bool = False) -> tuple:
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` ints, each positive
    (or non-negative with ``allow_zero``)."""
    kind = "non-negative" if allow_zero else "positive"
    expected = f"a {kind} integer or a tuple of {n} {kind} integers"
    items = (value,) * n if is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        raise ValueError(f"{argument} must be {expected}, got {value!r}") from None
    if len(items) != n or not all(is_int(v) and v >= (0 if allow_zero else 1) for v in items):
        raise ValueError(f"{argument} must be {expected}, got {value!r}")
    return tuple(int(v) for v in items)


def data_format(value: Any) -> str:
    """``'channels_last'`` or ``'channels_first'``; None means ``config.image_data_format()``."""
    if value is None:
        return _config.image_data_format()
    fmt = value.lower() if isinstance(value, str) else value
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"data_format must be 'channels_last' or 'channels_first', got {value!r}"
        )
    return fmt

