"""Reuters newswire topic dataset (``keras.datasets.reuters``).

11,228 newswires, each a list of word indices (words ranked by frequency), labelled with one of 46
topics. Same file, URL, hash and cache as Keras.
"""
from __future__ import annotations

import json
import numbers

import numpy as np

from . import _text
from ._download import get_file
from ._safe_load import load_npz

_ORIGIN_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_ORIGIN = _ORIGIN_FOLDER + "reuters.npz"
_FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
_WORD_INDEX_ORIGIN = _ORIGIN_FOLDER + "reuters_word_index.json"
_WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"

_LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)


def load_data(path: str = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113,
              start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3):
    """Load the Reuters dataset, downloading ``reuters.npz`` into the Keras cache if needed.

    The newswires are shuffled with ``seed``, then the last ``test_split`` fraction is the test set.

    Args:
        path: file name in the cache folder (``~/.keras/datasets`` or ``$KERAS_HOME/datasets``).
        num_words: keep the ``num_words`` most frequent words (indices below ``num_words``);
            others become ``oov_char``. None keeps all words.
        skip_top: the ``skip_top`` most frequent words also become ``oov_char`` (0).
        maxlen: keep only newswires shorter than ``maxlen`` after adding ``start_char``; longer
            ones are dropped, not truncated (None keeps all).
        test_split: fraction of the newswires used as test data, in [0, 1] (0.2).
        seed: seed of the shuffle (113).
        start_char: index put at the start of each newswire (1); None puts nothing.
        oov_char: index of words cut by ``num_words``/``skip_top`` (2); None drops them.
        index_from: offset added to every word index (3).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x_*`` are object arrays of lists of ints,
        ``y_*`` int arrays of topic labels in 0..45 (names: :func:`get_label_names`).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = reuters.load_data(  # doctest: +SKIP
        ...     num_words=10000)
        >>> len(x_train), len(x_test)  # doctest: +SKIP
        (8982, 2246)
    """
    _text.check_options(num_words, skip_top, maxlen, start_char, oov_char, index_from)
    if not isinstance(test_split, numbers.Real) or not 0 <= test_split <= 1:
        raise ValueError(f"test_split must be a fraction in [0, 1], got {test_split!r}.")
    path = get_file(fname=path, origin=_ORIGIN, file_hash=_FILE_HASH)
    data = load_npz(path, ["x", "y"])

    rng = np.random.RandomState(seed)
    order = np.arange(len(data["x"]))
    rng.shuffle(order)
    xs, labels = data["x"][order], data["y"][order]

    xs = _text.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = _text.remove_long_seq(maxlen, xs, labels)
        if not xs:
            raise ValueError(f"No newswire is shorter than maxlen={maxlen}; increase maxlen.")
    xs = _text.limit_vocabulary(xs, num_words, skip_top, oov_char)

    split = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:split], dtype="object"), np.array(labels[:split])),
            (np.array(xs[split:], dtype="object"), np.array(labels[split:])))


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """The dict from word to its frequency rank in the Reuters data (downloaded and cached).

    A word of rank ``i`` appears in ``load_data``'s sequences as ``i + index_from``.

    Args:
        path: file name in the cache folder.

    Example:
        >>> index = reuters.get_word_index()  # doctest: +SKIP
    """
    path = get_file(fname=path, origin=_WORD_INDEX_ORIGIN, file_hash=_WORD_INDEX_HASH)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def get_label_names() -> tuple:
    """The 46 topic names, in label order (``get_label_names()[3] == 'earn'``).

    Example:
        >>> get_label_names()[:3]
        ('cocoa', 'grain', 'veg-oil')
    """
    return _LABEL_NAMES
