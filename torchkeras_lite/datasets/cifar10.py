"""CIFAR-10 (``keras.datasets.cifar10``): 50,000 + 10,000 32x32 color images in 10 classes.

Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
9 truck. Same archive, URL, hash and cache names as Keras (``cifar-10-batches-py-target_archive``
extracted into ``cifar-10-batches-py-target``). The batches are Python pickles; they are read
with an unpickler that only rebuilds numpy arrays (see ``_safe_load``).
"""
from __future__ import annotations

import os

import numpy as np

from ._cifar import load_batch, to_image_format
from ._download import get_file

_ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
_DIRNAME = "cifar-10-batches-py-target"


def load_data():
    """Load CIFAR-10, downloading and extracting the archive into the Keras cache if needed.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)`` (``(n, 3, 32, 32)`` when ``config.image_data_format()`` is
        ``'channels_first'``), uint8 labels in 0..9 of shape ``(50000, 1)`` and ``(10000, 1)``.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = cifar10.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.shape  # doctest: +SKIP
        ((50000, 32, 32, 3), (50000, 1))
    """
    folder = get_file(fname=_DIRNAME, origin=_ORIGIN, extract=True, file_hash=_FILE_HASH)
    folder = os.path.join(folder, "cifar-10-batches-py")
    batches = [load_batch(os.path.join(folder, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([x for x, _ in batches])
    y_train = np.concatenate([np.asarray(y, dtype="uint8") for _, y in batches])
    x_test, y_test = load_batch(os.path.join(folder, "test_batch"))
    y_test = np.asarray(y_test, dtype="uint8")
    return ((to_image_format(x_train), y_train.reshape(-1, 1)),
            (to_image_format(x_test), y_test.reshape(-1, 1)))
