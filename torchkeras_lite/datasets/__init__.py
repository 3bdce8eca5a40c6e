"""Small NumPy datasets with ``keras.datasets``'s loaders, URLs, hashes and cache.

Each module has ``load_data()`` with Keras's signature and return values. Files are downloaded
once into Keras's cache (``$KERAS_HOME/datasets`` or ``~/.keras/datasets``) under Keras's names,
so a cache that Keras filled is reused. Offline, the error names the URL and the exact path where
the file can be put by hand. Nothing is unpickled beyond numpy arrays (see ``_safe_load``).

Importing this package is cheap: it imports only the standard library and numpy.

Example:
    >>> from torchkeras_lite.datasets import mnist
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
"""
from . import (boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb, mnist,
               reuters)
from ._download import DownloadError, get_file

__all__ = ["DownloadError", "boston_housing", "california_housing", "cifar10", "cifar100",
           "fashion_mnist", "get_file", "imdb", "mnist", "reuters"]
