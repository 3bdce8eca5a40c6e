"""Fashion-MNIST (``keras.datasets.fashion_mnist``): 60,000 + 10,000 28x28 grayscale clothes.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot. The four gzipped IDX files come from Keras's URLs into Keras's cache folder
``datasets/fashion-mnist``. Keras gives no hash for them, so none is checked (as in Keras); the
IDX headers are checked instead. Fashion-MNIST is by Zalando SE, under the MIT license.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ._download import get_file

_ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
_LABELS_MAGIC, _IMAGES_MAGIC = 2049, 2051


def _read_idx(path: str, magic: int, header: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(
            f"Cannot read the dataset file {path!r}: {e}. Delete it to download it again."
        ) from e
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic or len(raw) < header:
        raise ValueError(
            f"{path!r} is not an IDX {'label' if magic == _LABELS_MAGIC else 'image'} file "
            f"(magic number {found}, expected {magic}). Delete it to download it again."
        )
    count = int.from_bytes(raw[4:8], "big")
    data = np.frombuffer(raw, np.uint8, offset=header).copy()
    expected = count * (28 * 28 if magic == _IMAGES_MAGIC else 1)
    if data.size != expected:
        raise ValueError(
            f"{path!r} is truncated: its header announces {count} items ({expected} bytes), it "
            f"holds {data.size} bytes. Delete it to download it again."
        )
    return data


def load_data():
    """Load Fashion-MNIST, downloading the four files into the Keras cache if needed.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape ``(60000, 28, 28)`` and
        ``(10000, 28, 28)``, uint8 labels in 0..9 of shape ``(60000,)`` and ``(10000,)``.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()  # doctest: +SKIP
        >>> x_test.shape  # doctest: +SKIP
        (10000, 28, 28)
    """
    paths = [get_file(name, origin=_ORIGIN_FOLDER + name, cache_subdir=_CACHE_SUBDIR)
             for name in _FILES]
    splits = []
    for labels_path, images_path in (paths[:2], paths[2:]):
        labels = _read_idx(labels_path, _LABELS_MAGIC, 8)
        images = _read_idx(images_path, _IMAGES_MAGIC, 16)
        if images.size != labels.size * 28 * 28:
            raise ValueError(
                f"{images_path!r} holds {images.size // (28 * 28)} images but {labels_path!r} "
                f"holds {labels.size} labels. Delete both to download them again."
            )
        splits.append((images.reshape(len(labels), 28, 28), labels))
    return splits[0], splits[1]
