"""CIFAR-100 (``keras.datasets.cifar100``): 50,000 + 10,000 32x32 color images in 100 classes.

The 100 fine classes are grouped into 20 coarse superclasses. Same archive, URL, hash and cache
names as Keras (``cifar-100-python-target_archive`` extracted into ``cifar-100-python-target``).
The batches are Python pickles; they are read with an unpickler that only rebuilds numpy arrays.
"""
from __future__ import annotations

import os

import numpy as np

from ._cifar import load_batch, to_image_format
from ._download import get_file

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
_FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
_DIRNAME = "cifar-100-python-target"


def load_data(label_mode: str = "fine"):
    """Load CIFAR-100, downloading and extracting the archive into the Keras cache if needed.

    Args:
        label_mode: ``'fine'`` (100 classes) or ``'coarse'`` (20 superclasses).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)`` (channels first if so configured), int64 labels of shape
        ``(50000, 1)`` and ``(10000, 1)`` (Keras documents uint8 but returns int64; so do we).

    Example:
        >>> (x_train, y_train), _ = cifar100.load_data(label_mode="coarse")  # doctest: +SKIP
        >>> int(y_train.max())  # doctest: +SKIP
        19
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}.")
    folder = get_file(fname=_DIRNAME, origin=_ORIGIN, extract=True, file_hash=_FILE_HASH)
    folder = os.path.join(folder, "cifar-100-python")
    splits = []
    for name in ("train", "test"):
        x, y = load_batch(os.path.join(folder, name), label_key=f"{label_mode}_labels")
        splits.append((to_image_format(x), np.reshape(y, (len(y), 1))))
    return splits[0], splits[1]
