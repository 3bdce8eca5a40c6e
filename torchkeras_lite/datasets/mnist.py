"""MNIST handwritten digits (``keras.datasets.mnist``): 60,000 + 10,000 28x28 grayscale images.

Same file, URL, hash and cache as Keras. MNIST is by Yann LeCun and Corinna Cortes, derived from
NIST, under CC BY-SA 3.0.
"""
from __future__ import annotations

from ._download import get_file
from ._safe_load import load_npz

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
_FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: str = "mnist.npz"):
    """Load MNIST, downloading ``mnist.npz`` into the Keras cache if needed.

    Args:
        path: file name in the cache folder (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)`` with values 0..255, uint8 digit labels of shape ``(60000,)`` and
        ``(10000,)``.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_train.dtype  # doctest: +SKIP
        ((60000, 28, 28), dtype('uint8'))
    """
    path = get_file(fname=path, origin=_ORIGIN, file_hash=_FILE_HASH)
    data = load_npz(path, ["x_train", "y_train", "x_test", "y_test"])
    return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
