"""Boston Housing prices (``keras.datasets.boston_housing``): 506 samples of 13 attributes.

**Warning** (Keras's too): the data has an ethical problem; its feature "B" may appear to assume
that racial self-segregation influences house prices. Prefer ``california_housing`` except to
illustrate ethical issues in data science. Same file, URL, hash and cache as Keras.
"""
from __future__ import annotations

from ._housing import load_split

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
_FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Load Boston Housing, downloading ``boston_housing.npz`` into the Keras cache if needed.

    The samples are shuffled with ``seed``; the last ``test_split`` fraction is the test set.

    Args:
        path: file name in the cache folder (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``).
        test_split: fraction of the data used for testing, in [0, 1) (0.2).
        seed: seed of the shuffle (113).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float64 features of shape ``(n, 13)`` and
        float64 median prices in k$ of shape ``(n,)`` (404 train and 102 test by default).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = boston_housing.load_data()  # doctest: +SKIP
        >>> x_train.shape, x_test.shape  # doctest: +SKIP
        ((404, 13), (102, 13))
    """
    return load_split(path, _ORIGIN, _FILE_HASH, test_split, seed)
