"""Reading the CIFAR "python version" batches without unpickling arbitrary code.

Each batch file is a Python 2 pickle of a dict with byte-string keys: ``b'data'`` (a uint8 array of
shape ``(n, 3072)``, one row per image in channels-first order), the labels (``b'labels'`` for
CIFAR-10, ``b'fine_labels'``/``b'coarse_labels'`` for CIFAR-100) as a list of ints, and names and
filenames. :class:`._safe_load.RestrictedUnpickler` reads it: only numpy's array globals resolve.
"""
from __future__ import annotations

import os

import numpy as np

from ._safe_load import restricted_load


def load_batch(fpath: str, label_key: str = "labels") -> tuple[np.ndarray, list]:
    """Read one batch: ``(data of shape (n, 3, 32, 32) uint8, labels as a list of ints)``."""
    if not os.path.isfile(fpath):
        folder = os.path.dirname(os.path.dirname(fpath))
        raise ValueError(
            f"The CIFAR batch {fpath!r} is missing: the extracted folder {folder!r} is "
            "incomplete. Delete that folder to extract the archive again."
        )
    try:
        with open(fpath, "rb") as f:
            batch = restricted_load(f, encoding="bytes")
        if not isinstance(batch, dict):
            raise ValueError(f"it holds a {type(batch).__name__}, not a dict")
        batch = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
        if "data" not in batch or label_key not in batch:
            raise ValueError(f"it has no 'data' or {label_key!r} entry (keys: {sorted(batch)})")
        data, labels = batch["data"], batch[label_key]
        if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
                or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data)):
            raise ValueError(
                f"expected uint8 data of shape (n, 3072) and n labels, got "
                f"{getattr(data, 'dtype', type(data).__name__)} data of shape "
                f"{getattr(data, 'shape', None)} and {len(labels)} labels"
            )
    except (ValueError, OSError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"Cannot read the CIFAR batch {fpath!r}: {e}. Delete the archive and its extracted "
            "folder to download them again."
        ) from e
    return data.reshape(len(data), 3, 32, 32), labels


def to_image_format(x: np.ndarray) -> np.ndarray:
    """Channels-first batches to the configured ``image_data_format`` (contiguous)."""
    from ..config import image_data_format

    if image_data_format() == "channels_last":
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return x
