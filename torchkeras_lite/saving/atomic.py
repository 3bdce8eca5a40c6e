"""Atomic file writes: write a temporary file next to the target, then rename it over the target.

``os.replace`` within one folder is atomic on POSIX and Windows, so a reader (or a crash) sees
either the previous file or the complete new one, never a half-written file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path: "str | os.PathLike") -> Iterator[str]:
    """Yield a temporary path in ``path``'s folder; on success it is renamed over ``path``.

    If the block raises (or the process dies), ``path`` is left as it was and the temporary
    file is removed (a killed process may leave a hidden ``.<name>.*.tmp`` file behind).
    The new file gets the permissions a plain ``open(path, "w")`` would give it.

    Args:
        path: the file to write.

    Example:
        >>> with atomic_write("notes.txt") as tmp:
        ...     with open(tmp, "w") as f:
        ...         f.write("done")
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"Cannot write {path!r}: the folder {folder!r} does not exist. Create it first "
            "(os.makedirs(folder, exist_ok=True))."
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
