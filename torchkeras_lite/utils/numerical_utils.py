"""Array helpers from ``keras.utils``: to_categorical and normalize."""
from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class labels.

    Args:
        x: array-like of non-negative integer labels (any shape; a trailing axis of size 1 is
            dropped, as Keras does).
        num_classes: number of classes; defaults to ``max(x) + 1``.

    Returns:
        A float32 array of shape ``x.shape + (num_classes,)``.

    Example:
        >>> to_categorical([0, 2, 1]).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(
                "to_categorical expects integer class labels, got non-integer values "
                f"(dtype {arr.dtype}). Round or map your labels to 0..num_classes-1 first."
            )
    arr = arr.astype("int64")
    if arr.ndim > 1 and arr.shape[-1] == 1:
        arr = arr.reshape(arr.shape[:-1])
    if arr.size and arr.min() < 0:
        raise ValueError(f"to_categorical expects non-negative labels, got min {arr.min()}.")
    if num_classes is None:
        num_classes = int(arr.max()) + 1 if arr.size else 0
    elif arr.size and arr.max() >= num_classes:
        raise ValueError(
            f"num_classes={num_classes} but the labels contain {int(arr.max())}; "
            f"labels must be < num_classes (pass num_classes={int(arr.max()) + 1} or more)."
        )
    out = np.zeros(arr.shape + (int(num_classes),), dtype="float32")
    np.put_along_axis(out, arr[..., None], 1.0, axis=-1)
    return out


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale ``x`` to unit ``order``-norm along ``axis`` (zero vectors stay zero).

    Example:
        >>> normalize(np.array([[3.0, 4.0]])).tolist()
        [[0.6, 0.8]]
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype("float32")
    norm = np.atleast_1d(np.linalg.norm(arr, order, axis))
    norm[norm == 0] = 1
    return arr / np.expand_dims(norm, axis)
