"""California Housing prices (``keras.datasets.california_housing``): 20,640 samples of 8 features.

Features: median income, house age, average rooms, average bedrooms, population, average
occupancy, latitude, longitude (1990 U.S. census, one row per block group); the target is the
median house value in dollars. Same file, URL, hash and cache as Keras.
"""
from __future__ import annotations

from ._housing import load_split

_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
_FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version: str = "large", path: str = "california_housing.npz",
              test_split: float = 0.2, seed: int = 113):
    """Load California Housing, downloading the file into the Keras cache if needed.

    Args:
        version: ``'large'`` (all 20,640 samples) or ``'small'`` (the first 600, a stand-in for
            Boston Housing).
        path: file name in the cache folder (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``).
        test_split: fraction of the data used for testing, in [0, 1) (0.2).
        seed: seed of the shuffle (113).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: features of shape ``(n, 8)`` and targets of
        shape ``(n,)``.

    Example:
        >>> (x_train, y_train), _ = california_housing.load_data("small")  # doctest: +SKIP
        >>> x_train.shape  # doctest: +SKIP
        (480, 8)
    """
    if version not in ("small", "large"):
        raise ValueError(f"version must be 'small' or 'large', got {version!r}.")
    first = 600 if version == "small" else None
    return load_split(path, _ORIGIN, _FILE_HASH, test_split, seed, first=first)
