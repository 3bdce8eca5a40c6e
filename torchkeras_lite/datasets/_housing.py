"""The shuffle-then-split shared by the Boston and California housing loaders (Keras's order)."""
from __future__ import annotations

import numbers

import numpy as np

from ._download import get_file
from ._safe_load import load_npz


def load_split(path: str, origin: str, file_hash: str, test_split, seed, first=None):
    if not isinstance(test_split, numbers.Real) or not 0 <= test_split < 1:
        raise ValueError(f"test_split must be a fraction in [0, 1), got {test_split!r}.")
    path = get_file(path, origin=origin, file_hash=file_hash)
    data = load_npz(path, ["x", "y"])
    x, y = data["x"][:first], data["y"][:first]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])
