"""The word-index pipeline shared by the IMDB and Reuters loaders, in Keras's steps and order.

1. shift word indices by ``index_from`` and prepend ``start_char``;
2. with ``maxlen``, keep only sequences **shorter** than ``maxlen`` (Keras drops, never truncates);
3. keep words with ``skip_top <= index < num_words``; others become ``oov_char`` (or are dropped
   when it is None). Without ``num_words`` the bound is the largest index present, which,
   as in Keras, is itself excluded.
"""
from __future__ import annotations

import numbers


def check_options(num_words, skip_top, maxlen, start_char, oov_char, index_from) -> None:
    """Refuse option values Keras would silently misread (0 or negatives, floats)."""
    def is_int(value):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    for name, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (not is_int(value) or value < 1):
            raise ValueError(
                f"{name} must be a positive integer or None (no limit), got {value!r}."
            )
    for name, value in (("skip_top", skip_top), ("index_from", index_from)):
        if not is_int(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    for name, value in (("start_char", start_char), ("oov_char", oov_char)):
        if value is not None and not is_int(value):
            raise ValueError(f"{name} must be an integer or None, got {value!r}.")


def check_kwargs(function: str, kwargs: dict) -> None:
    """Keras 3 accepts and ignores unknown keywords; we name them instead."""
    if kwargs:
        hint = " (Keras 3 calls it num_words)" if "nb_words" in kwargs else ""
        raise TypeError(f"{function}() got unexpected keyword arguments {sorted(kwargs)}{hint}.")


def shift(xs, start_char, index_from) -> list:
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def remove_long_seq(maxlen: int, seqs, labels) -> tuple[list, list]:
    kept = [(x, y) for x, y in zip(seqs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def limit_vocabulary(xs: list, num_words, skip_top: int, oov_char) -> list:
    if num_words is None:
        num_words = max(max(x) for x in xs if len(x))
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]
