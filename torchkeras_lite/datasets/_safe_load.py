"""Reading dataset files without executing code from them.

Two dataset formats need pickle: the CIFAR "python version" batches (a pickled dict of bytes,
lists, ints and one uint8 numpy array) and the ragged ``dtype=object`` arrays inside
``imdb.npz`` / ``reuters.npz`` (numpy stores object arrays as a pickle stream). Plain
``pickle.load`` would run whatever callable a tampered file names. :class:`RestrictedUnpickler`
resolves exactly three globals, the ones numpy needs to rebuild an array, and refuses all others:

- ``numpy.ndarray`` and ``numpy.dtype``;
- ``numpy.core.multiarray._reconstruct`` (the name in files written by numpy < 2, CIFAR's
  included) and ``numpy._core.multiarray._reconstruct`` (numpy >= 2); both map to the same
  function of the installed numpy.

Everything else in these files is pickle's own data (dicts, lists, ints, bytes, str), which needs
no global. Numeric ``.npy`` members are read with pickle disabled.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from typing import Sequence

import numpy as np

_ALLOWED_NAMES = (
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
)


def _reconstruct_function():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals numpy needs to rebuild arrays.

    Example:
        >>> import io, pickle
        >>> RestrictedUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2]}))).load()
        {'a': [1, 2]}
    """

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_NAMES:
            raise pickle.UnpicklingError(
                f"refusing to load the global '{module}.{name}': dataset files may only hold "
                "plain data and numpy arrays (the file is corrupted or was tampered with)"
            )
        if name == "_reconstruct":
            return _reconstruct_function()
        return getattr(np, name)


def restricted_load(fileobj, encoding: str = "ASCII"):
    """Unpickle ``fileobj`` with :class:`RestrictedUnpickler`; any failure is a ValueError."""
    try:
        return RestrictedUnpickler(fileobj, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(str(e) or type(e).__name__) from e


def _read_npy(buffer: io.BytesIO, key: str) -> np.ndarray:
    version = np.lib.format.read_magic(buffer)
    if version[0] not in (1, 2, 3):
        raise ValueError(f"array {key!r}: unsupported .npy format version {version}")
    # Format 3.0 differs from 2.0 only in the header's text encoding; the layout is the same.
    read_header = (np.lib.format.read_array_header_1_0 if version[0] == 1
                   else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read_header(buffer)
    if not dtype.hasobject:
        buffer.seek(0)
        return np.lib.format.read_array(buffer, allow_pickle=False)
    try:
        array = restricted_load(buffer, encoding="latin1")
    except ValueError as e:
        raise ValueError(f"array {key!r}: {e}") from e
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError(
            f"array {key!r}: the header announces shape {tuple(shape)}, the data holds a "
            f"{type(array).__name__} of shape {getattr(array, 'shape', None)}"
        )
    return array


def load_npz(path: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Read the arrays ``keys`` from an ``.npz`` file; object arrays via the restricted unpickler.

    Args:
        path: the ``.npz`` file.
        keys: the member names that must be there (without ``.npy``).

    Returns:
        A dict from each key to its array.

    Example:
        >>> load_npz("imdb.npz", ["x_train", "y_train"])  # doctest: +SKIP
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
            missing = [k for k in keys if k not in members]
            if missing:
                raise ValueError(
                    f"it has no array named {', '.join(missing)} (it holds {sorted(members)})"
                )
            arrays = {}
            for key in keys:
                buffer = io.BytesIO(archive.read(members[key]))
                arrays[key] = _read_npy(buffer, key)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(
            f"Cannot read the dataset file {path!r}: {e}. Delete it to download it again."
        ) from e
    return arrays
