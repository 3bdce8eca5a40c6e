"""IMDB movie-review sentiment dataset (``keras.datasets.imdb``).

25,000 training and 25,000 test reviews, each a list of word indices (words ranked by frequency),
labelled 0 (negative) or 1 (positive). Same file, URL, hash and cache as Keras.
"""
from __future__ import annotations

import json

import numpy as np

from . import _text
from ._download import get_file
from ._safe_load import load_npz

_ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_ORIGIN = _ORIGIN_FOLDER + "imdb.npz"
_FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_WORD_INDEX_ORIGIN = _ORIGIN_FOLDER + "imdb_word_index.json"
_WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3, **kwargs):
    """Load the IMDB dataset, downloading ``imdb.npz`` into the Keras cache if needed.

    Args:
        path: file name in the cache folder (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``).
        num_words: keep the ``num_words`` most frequent words (indices below ``num_words``);
            others become ``oov_char``. None keeps all words.
        skip_top: the ``skip_top`` most frequent words also become ``oov_char`` (0).
        maxlen: keep only reviews shorter than ``maxlen`` after adding ``start_char``; longer
            reviews are dropped, not truncated (None keeps all).
        seed: seed of the shuffle of each split (113).
        start_char: index put at the start of each review (1); None puts nothing.
        oov_char: index of words cut by ``num_words``/``skip_top`` (2); None drops them.
        index_from: offset added to every word index (3), leaving 0 (padding), 1 and 2 free.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x_*`` are object arrays of lists of ints,
        ``y_*`` int arrays of 0/1 labels.

    Example:
        >>> (x_train, y_train), _ = imdb.load_data(num_words=10000)  # doctest: +SKIP
        >>> x_train.shape, y_train.shape  # doctest: +SKIP
        ((25000,), (25000,))
    """
    _text.check_kwargs("imdb.load_data", kwargs)
    _text.check_options(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    path = get_file(fname=path, origin=_ORIGIN, file_hash=_FILE_HASH)
    data = load_npz(path, ["x_train", "y_train", "x_test", "y_test"])

    rng = np.random.RandomState(seed)
    order = np.arange(len(data["x_train"]))
    rng.shuffle(order)
    x_train, labels_train = data["x_train"][order], data["y_train"][order]
    order = np.arange(len(data["x_test"]))
    rng.shuffle(order)
    x_test, labels_test = data["x_test"][order], data["y_test"][order]

    x_train = _text.shift(x_train, start_char, index_from)
    x_test = _text.shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = _text.remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = _text.remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(
                f"No review is shorter than maxlen={maxlen} in the "
                f"{'training' if not x_train else 'test'} split; increase maxlen."
            )
    split = len(x_train)
    labels = np.concatenate([labels_train, labels_test])
    xs = _text.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    return ((np.array(xs[:split], dtype="object"), labels[:split]),
            (np.array(xs[split:], dtype="object"), labels[split:]))


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """The dict from word to its frequency rank in the IMDB data (downloaded and cached).

    A word of rank ``i`` appears in ``load_data``'s sequences as ``i + index_from``.

    Args:
        path: file name in the cache folder.

    Example:
        >>> index = imdb.get_word_index()  # doctest: +SKIP
        >>> words = {i + 3: w for w, i in index.items()}  # doctest: +SKIP
    """
    path = get_file(fname=path, origin=_WORD_INDEX_ORIGIN, file_hash=_WORD_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        return json.load(f)
