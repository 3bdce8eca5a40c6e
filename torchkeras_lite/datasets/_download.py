"""Download-and-cache of dataset files, sharing Keras's cache (``keras.utils.get_file``).

Files land where Keras puts them: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets`` (``/tmp/.keras``
when the home folder is not writable), under the same names, so a cache filled by Keras is reused
and the other way round. What this module adds to Keras's behaviour:

- a download goes to a temporary file in the cache folder, is checked against the expected hash,
  and only then renamed to its final name: an interrupted or corrupted download never leaves a
  file behind that looks complete;
- a failed download raises :class:`DownloadError` naming the URL and the exact path where the file
  can be put by hand (offline machines);
- a cached file whose hash does not match raises (Keras prints a note and downloads again);
- archives are extracted into a temporary folder and renamed into place, refusing members that
  would land outside it; an archive already extracted is not extracted again on every call.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

_CHUNK = 1 << 20
_TIMEOUT_S = 60


class DownloadError(OSError):
    """A dataset file could not be downloaded (offline, blocked URL, server error)."""


def keras_home() -> str:
    """Keras's base folder: ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` if read-only).

    Resolved at each call (Keras reads it once, when ``keras`` is imported).

    Example:
        >>> os.environ["KERAS_HOME"] = "/data/keras"; keras_home()  # doctest: +SKIP
        '/data/keras'
    """
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    home = os.path.expanduser("~")
    if not os.access(home, os.W_OK):
        home = "/tmp"
    return os.path.join(home, ".keras")


def _resolve_algorithm(algorithm: str, file_hash: str | None) -> str:
    if algorithm in ("sha256", "md5"):
        return algorithm
    if algorithm != "auto":
        raise ValueError(
            f"hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}."
        )
    if file_hash is None or len(file_hash) == 64:
        return "sha256"
    if len(file_hash) == 32:
        return "md5"
    raise ValueError(
        "file_hash must be a sha256 (64 hex digits) or md5 (32 hex digits) string, got "
        f"{file_hash!r} ({len(file_hash)} characters)."
    )


def _new_hasher(algorithm: str):
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.sha256()


def hash_file(fpath: str, algorithm: str = "sha256", chunk_size: int = 65535) -> str:
    """The hex digest of a file (``'sha256'``, ``'md5'``; ``'auto'`` means sha256).

    Example:
        >>> len(hash_file(__file__))
        64
    """
    hasher = _new_hasher(_resolve_algorithm(algorithm, None))
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath: str, file_hash: str, algorithm: str = "auto",
                  chunk_size: int = 65535) -> bool:
    """Whether the file's sha256 or md5 digest equals ``file_hash`` (``'auto'``: by its length).

    Example:
        >>> validate_file(__file__, hash_file(__file__))
        True
    """
    algorithm = _resolve_algorithm(algorithm, file_hash)
    return hash_file(fpath, algorithm, chunk_size) == str(file_hash).lower()


def _cache_folder(cache_dir: str | None, cache_subdir: str) -> str:
    base = os.path.expanduser(keras_home() if cache_dir is None else os.fspath(cache_dir))
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    folder = os.path.join(base, cache_subdir)
    os.makedirs(folder, exist_ok=True)
    return folder


def _targets(fname, origin: str, folder: str, extract: bool) -> tuple[str, str | None]:
    """(download path, extraction folder or None), named exactly as Keras names them."""
    given = fname is not None and os.fspath(fname) != ""
    name = os.fspath(fname) if given else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not name:
        raise ValueError(
            f"Cannot take a file name from origin={origin!r}; pass fname='name.ext'."
        )
    if given and os.sep in name:
        raise ValueError(
            f"fname must be a file name, not a path, got fname={name!r}. "
            "Choose the folder with cache_dir= (and cache_subdir=)."
        )
    if not extract:
        return os.path.join(folder, name), None
    if given and "." in name:
        stem = name[: name.find(".")]
        return os.path.join(folder, name), os.path.join(folder, f"{stem}_extracted")
    return os.path.join(folder, f"{name}_archive"), os.path.join(folder, name)


def get_file(fname: str | None = None, origin: str | None = None, untar: bool = False,
             md5_hash: str | None = None, file_hash: str | None = None,
             cache_subdir: str = "datasets", hash_algorithm: str = "auto",
             extract: bool = False, archive_format: str | list | None = "auto",
             cache_dir: str | None = None, force_download: bool = False) -> str:
    """Download a file from ``origin`` unless it is already in the cache; return its local path.

    The file goes to ``cache_dir/cache_subdir/fname`` (default ``~/.keras/datasets`` or
    ``$KERAS_HOME/datasets``), named as ``keras.utils.get_file`` names it, so both share a cache.

    Args:
        fname: local file name (default: the last part of ``origin``'s path). With
            ``extract=True`` and a name without a dot, the archive is stored as
            ``fname + '_archive'`` and extracted into the folder ``fname``; with a dot, the archive
            keeps the name and is extracted into ``stem + '_extracted'``.
        origin: URL of the file (``https://``, ``http://`` or ``file://``).
        untar: deprecated; same as ``extract=True, archive_format='tar'``.
        md5_hash: deprecated; same as ``file_hash`` with ``hash_algorithm='md5'``.
        file_hash: expected sha256 or md5 hex digest; checked on every call, downloaded or cached.
        cache_subdir: folder under the cache dir (``'datasets'``); an absolute path is used as is.
        hash_algorithm: ``'auto'`` (by the hash's length), ``'sha256'`` or ``'md5'``.
        extract: extract the archive (tar, tar.gz, tar.bz2, zip) and return the folder.
        archive_format: ``'auto'`` (tar then zip), ``'tar'``, ``'zip'`` or a list of those.
        cache_dir: base folder of the cache (default: ``$KERAS_HOME`` or ``~/.keras``).
        force_download: download again even if the file is cached.

    Returns:
        The path of the file, or of the extraction folder when ``extract`` is true.

    Raises:
        DownloadError: the download failed; the message says where to put the file by hand.
        ValueError: the file's hash does not match ``file_hash``.

    Example:
        >>> path = get_file("mnist.npz", origin="https://storage.googleapis.com/"
        ...                 "tensorflow/tf-keras-datasets/mnist.npz")  # doctest: +SKIP
    """
    if origin is None:
        raise ValueError("origin is required: pass the URL of the file to download.")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if file_hash is not None:
        file_hash = str(file_hash).lower()
    algorithm = _resolve_algorithm(hash_algorithm, file_hash)
    if untar:
        extract, archive_format = True, "tar"
    folder = _cache_folder(cache_dir, cache_subdir)
    target, extraction_dir = _targets(fname, origin, folder, extract)

    downloaded = force_download or not os.path.exists(target)
    if downloaded:
        _download(origin, target, file_hash, algorithm)
    elif file_hash is not None:
        actual = hash_file(target, algorithm)
        if actual != file_hash:
            raise ValueError(
                f"The cached file {target!r} does not match its expected {algorithm} hash: "
                f"expected {file_hash}, got {actual}. It is incomplete, corrupted or another "
                "version of the file. Delete it to download it again (or pass "
                "force_download=True to get_file)."
            )
    if extraction_dir is None:
        return target
    if downloaded or not os.path.isdir(extraction_dir):
        _extract(target, extraction_dir, archive_format)
    return extraction_dir


def _download(origin: str, target: str, file_hash: str | None, algorithm: str) -> None:
    """Fetch ``origin`` into a temporary file next to ``target``, check it, rename it over."""
    print(f"Downloading data from {origin}")
    folder, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    hasher = _new_hasher(algorithm) if file_hash is not None else None
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                received, expected = _fetch(origin, out, hasher)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
                message = _offline_message(origin, target, file_hash, algorithm, e)
                raise DownloadError(message) from e
        if expected is not None and received != expected:
            raise DownloadError(_offline_message(
                origin, target, file_hash, algorithm,
                f"incomplete download: received {received} of {expected} bytes"))
        if hasher is not None and hasher.hexdigest() != file_hash:
            raise ValueError(
                f"The file downloaded from {origin} does not match its expected {algorithm} "
                f"hash: expected {file_hash}, got {hasher.hexdigest()}. It was not saved. The "
                "download was corrupted or the file on the server changed; try again, or put a "
                f"verified copy at {target!r}."
            )
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _fetch(origin: str, out, hasher) -> tuple[int, int | None]:
    with urllib.request.urlopen(origin, timeout=_TIMEOUT_S) as response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        from ..utils.progbar import Progbar  # display only, imported when a download happens
        bar = Progbar(expected)
        received = 0
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)
            if hasher is not None:
                hasher.update(chunk)
            received += len(chunk)
            bar.update(received, finalize=False)
        bar.update(received, finalize=True)
    return received, expected


def _offline_message(origin, target, file_hash, algorithm, reason) -> str:
    check = f" (its {algorithm} hash must be {file_hash})" if file_hash is not None else ""
    archive = " as downloaded, not extracted," if target.endswith("_archive") else ""
    return (
        f"Could not download {origin}: {reason}. If this machine is offline or cannot reach "
        f"that URL, download the file elsewhere and save it{archive} as {target!r}{check}; it "
        "is then used without downloading. The cache folder is $KERAS_HOME/datasets, or "
        "~/.keras/datasets when KERAS_HOME is not set."
    )


def _extract(archive: str, destination: str, archive_format) -> None:
    """Extract into a fresh temporary folder, then rename it to ``destination``."""
    if archive_format is None:
        formats = []
    elif archive_format == "auto":
        formats = ["tar", "zip"]
    elif isinstance(archive_format, str):
        formats = [archive_format]
    else:
        formats = list(archive_format)
    unknown = [f for f in formats if f not in ("tar", "zip")]
    if unknown:
        raise ValueError(
            "archive_format must be 'auto', 'tar', 'zip' or a list of those, got "
            f"{archive_format!r}."
        )
    is_kind = {"tar": tarfile.is_tarfile, "zip": zipfile.is_zipfile}
    kind = next((f for f in formats if is_kind[f](archive)), None)
    if kind is None:
        raise ValueError(
            f"Cannot extract {archive!r}: it is not a {' or '.join(formats) or 'known'} archive. "
            "Delete it to download it again."
        )
    parent = os.path.dirname(destination)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(destination)}.", suffix=".part")
    try:
        if kind == "tar":
            with tarfile.open(archive) as tar:
                _extract_tar(tar, tmp)
        else:
            with zipfile.ZipFile(archive) as zf:
                _extract_zip(zf, tmp)
        _swap_in(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _inside(base: str, name: str) -> bool:
    path = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([path, base]) == base


def _extract_tar(tar: tarfile.TarFile, dest: str) -> None:
    if hasattr(tarfile, "data_filter"):
        try:
            tar.extractall(dest, filter="data")
        except tarfile.FilterError as e:
            raise ValueError(f"Refusing to extract {tar.name!r}: {e}.") from e
        return
    base = os.path.realpath(dest)
    for member in tar.getmembers():
        unsafe = not _inside(base, member.name) or not (member.isfile() or member.isdir())
        if unsafe:
            raise ValueError(
                f"Refusing to extract {tar.name!r}: member {member.name!r} is a link, a device or "
                "lies outside the extraction folder."
            )
    tar.extractall(dest)


def _extract_zip(zf: zipfile.ZipFile, dest: str) -> None:
    base = os.path.realpath(dest)
    for name in zf.namelist():
        if not _inside(base, name):
            raise ValueError(
                f"Refusing to extract {zf.filename!r}: member {name!r} lies outside the "
                "extraction folder."
            )
    zf.extractall(dest)


def _swap_in(tmp: str, destination: str) -> None:
    """Rename ``tmp`` to ``destination``, replacing an older extraction if there is one."""
    old = None
    if os.path.lexists(destination):
        old = tempfile.mkdtemp(dir=os.path.dirname(destination), suffix=".old")
        os.rmdir(old)
        os.rename(destination, old)
    try:
        os.rename(tmp, destination)
    except OSError:
        if not os.path.isdir(destination):  # not a concurrent extraction that got there first
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    if old is not None:
        if os.path.isdir(old) and not os.path.islink(old):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.remove(old)
