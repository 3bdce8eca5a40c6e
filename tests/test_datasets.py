"""Dataset loaders: tiny files in Keras's cache formats, no network.

Every test runs with ``KERAS_HOME`` in a temporary folder and with ``urlopen`` allowed only for
``file://`` URLs, so nothing is downloaded. Each dataset module keeps its origin and expected hash
in ``_ORIGIN``/``_FILE_HASH``; the tests point the hash at the tiny file they write.
"""
import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest

from torchkeras_lite import config
from torchkeras_lite.datasets import (DownloadError, boston_housing, california_housing, cifar10,
                                      cifar100, fashion_mnist, get_file, imdb, mnist, reuters)
from torchkeras_lite.datasets import _download

_REAL_URLOPEN = urllib.request.urlopen


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A fresh Keras cache; network URLs refused, ``file://`` URLs served."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))

    def local_only(url, *args, **kwargs):
        if not str(url).startswith("file://"):
            raise urllib.error.URLError("network disabled in tests")
        return _REAL_URLOPEN(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)
    folder = home / "datasets"
    folder.mkdir(parents=True)
    return folder


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def expect(monkeypatch, module, path, attr="_FILE_HASH"):
    """Make ``module`` expect the file we wrote at ``path``."""
    monkeypatch.setattr(module, attr, sha256(path) if len(getattr(module, attr)) == 64
                        else hashlib.md5(open(path, "rb").read()).hexdigest())


def ragged(seqs):
    out = np.empty(len(seqs), dtype=object)
    out[:] = [list(s) for s in seqs]
    return out


# ---------------------------------------------------------------- images


def test_mnist_reads_the_cached_npz(cache, monkeypatch):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 5, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 3, dtype=np.uint8)}
    np.savez(cache / "mnist.npz", **arrays)
    expect(monkeypatch, mnist, cache / "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    for name, got in zip(["x_train", "y_train", "x_test", "y_test"],
                         [x_train, y_train, x_test, y_test]):
        assert got.dtype == np.uint8 and np.array_equal(got, arrays[name])


def test_mnist_names_a_missing_array(cache, monkeypatch):
    np.savez(cache / "mnist.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    expect(monkeypatch, mnist, cache / "mnist.npz")
    with pytest.raises(ValueError, match=r"mnist\.npz.*y_train.*Delete it"):
        mnist.load_data()


def _idx(path, magic, items, dims=()):
    header = struct.pack(">I", magic) + struct.pack(">I", len(items))
    header += b"".join(struct.pack(">I", d) for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + np.asarray(items, np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files_in_its_cache_subfolder(cache):
    folder = cache / "fashion-mnist"
    folder.mkdir()
    images = np.arange(4 * 28 * 28, dtype=np.uint8).reshape(4, 28, 28)
    _idx(folder / "train-labels-idx1-ubyte.gz", 2049, [1, 2, 3, 4])
    _idx(folder / "train-images-idx3-ubyte.gz", 2051, images, (28, 28))
    _idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, [9])
    _idx(folder / "t10k-images-idx3-ubyte.gz", 2051, images[:1], (28, 28))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (4, 28, 28) and x_test.shape == (1, 28, 28)
    assert np.array_equal(x_train, images) and y_train.tolist() == [1, 2, 3, 4]
    assert y_test.dtype == x_test.dtype == np.uint8 and y_test.tolist() == [9]
    x_train += 1  # writable, unlike Keras's np.frombuffer views

    _idx(folder / "t10k-images-idx3-ubyte.gz", 2051, images[:1, :5], (28, 28))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*truncated"):
        fashion_mnist.load_data()


class _Py2Pickler(pickle._Pickler):
    """Writes pickles as Python 2 did for CIFAR: byte strings, ``numpy.core`` global names."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str

    def save_global(self, obj, name=None):
        name = name or obj.__qualname__
        module = pickle.whichmodule(obj, name).replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
        self.memoize(obj)


def _py2_pickle(obj):
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _tar_gz(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _images(n, offset):
    return ((np.arange(n * 3072) + offset) % 251).astype(np.uint8).reshape(n, 3072)


def _cifar10_archive(path, per_batch=2):
    members = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        members[f"cifar-10-batches-py/{name}"] = _py2_pickle({
            "batch_label": f"batch {i}", "labels": [(i + j) % 10 for j in range(per_batch)],
            "data": _images(per_batch, i), "filenames": [f"{i}_{j}.png" for j in range(per_batch)]})
    members["cifar-10-batches-py/batches.meta"] = _py2_pickle({"label_names": ["airplane"]})
    _tar_gz(path, members)


def test_cifar10_extracts_the_archive_and_reads_py2_pickles(cache, monkeypatch):
    archive = cache / "cifar-10-batches-py-target_archive"
    _cifar10_archive(archive)
    expect(monkeypatch, cifar10, archive)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data()
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    assert y_train.shape == (10, 1) and y_test.shape == (2, 1)
    assert x_train.dtype == x_test.dtype == y_train.dtype == y_test.dtype == np.uint8
    # Row layout: channel-major 3x32x32, moved to channels_last.
    first = _images(2, 0)[1].reshape(3, 32, 32)
    assert np.array_equal(x_train[1], first.transpose(1, 2, 0))
    assert y_train[:, 0].tolist() == [(i + j) % 10 for i in range(5) for j in range(2)]
    assert np.array_equal(x_test.reshape(2, -1),
                          _images(2, 5).reshape(2, 3, 32, 32).transpose(0, 2, 3, 1).reshape(2, -1))
    assert (cache / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch").exists()

    monkeypatch.setattr(config, "_IMAGE_DATA_FORMAT", "channels_first")
    (x_train, _), _ = cifar10.load_data()
    assert x_train.shape == (10, 3, 32, 32) and np.array_equal(x_train[1], first)


def test_cifar_missing_batch_names_the_folder_to_delete(cache, monkeypatch):
    archive = cache / "cifar-10-batches-py-target_archive"
    _cifar10_archive(archive)
    expect(monkeypatch, cifar10, archive)
    cifar10.load_data()
    os.remove(cache / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(ValueError, match=r"data_batch_3.*missing.*Delete that folder"):
        cifar10.load_data()


def test_cifar100_label_modes(cache, monkeypatch):
    archive = cache / "cifar-100-python-target_archive"
    members = {}
    for name, n in (("train", 3), ("test", 2)):
        members[f"cifar-100-python/{name}"] = _py2_pickle({
            "filenames": ["x.png"] * n, "batch_label": name, "data": _images(n, n),
            "fine_labels": [99 - k for k in range(n)], "coarse_labels": [19 - k for k in range(n)]})
    _tar_gz(archive, members)
    expect(monkeypatch, cifar100, archive)
    (x_train, y_train), (x_test, y_test) = cifar100.load_data()
    assert x_train.shape == (3, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64  # as Keras returns
    assert y_train[:, 0].tolist() == [99, 98, 97] and y_test.shape == (2, 1)
    (_, y_train), _ = cifar100.load_data(label_mode="coarse")
    assert y_train[:, 0].tolist() == [19, 18, 17]
    with pytest.raises(ValueError, match="label_mode must be 'fine' or 'coarse', got 'medium'"):
        cifar100.load_data("medium")


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_pickle_naming_any_other_global_is_refused(cache, monkeypatch, tmp_path):
    marker = str(tmp_path / "pwned")
    archive = cache / "cifar-100-python-target_archive"
    evil = pickle.dumps({b"data": _Exploit(marker), b"fine_labels": [1]}, protocol=4)
    _tar_gz(archive, {"cifar-100-python/train": evil, "cifar-100-python/test": evil})
    expect(monkeypatch, cifar100, archive)
    with pytest.raises(ValueError, match=r"refusing to load the global '(posix|os)\.mkdir'"):
        cifar100.load_data()
    assert not os.path.exists(marker)

    payload = np.empty(1, dtype=object)
    payload[0] = _Exploit(marker)
    np.savez(cache / "imdb.npz", x_train=payload, y_train=np.zeros(1), x_test=payload,
             y_test=np.zeros(1))
    expect(monkeypatch, imdb, cache / "imdb.npz")
    with pytest.raises(ValueError, match=r"imdb\.npz.*x_train.*refusing"):
        imdb.load_data()
    assert not os.path.exists(marker)


# ---------------------------------------------------------------- tables


def _housing_file(cache, monkeypatch, module, name, n, features):
    x = np.arange(n * features, dtype=np.float64).reshape(n, features)
    y = np.arange(n, dtype=np.float64) * 10
    np.savez(cache / name, x=x, y=y)
    expect(monkeypatch, module, cache / name)
    return x, y


def test_boston_housing_shuffles_with_seed_then_splits(cache, monkeypatch):
    x, y = _housing_file(cache, monkeypatch, boston_housing, "boston_housing.npz", 11, 13)
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(test_split=0.3, seed=7)
    order = np.arange(11)
    np.random.RandomState(7).shuffle(order)
    assert len(x_train) == int(11 * 0.7) == 7 and x_test.shape == (4, 13)
    assert np.array_equal(np.concatenate([x_train, x_test]), x[order])
    assert np.array_equal(np.concatenate([y_train, y_test]), y[order])
    for bad in (1.0, -0.1, "0.2"):
        with pytest.raises(ValueError, match="test_split must be a fraction in"):
            boston_housing.load_data(test_split=bad)


def test_california_housing_small_takes_the_first_600(cache, monkeypatch):
    _housing_file(cache, monkeypatch, california_housing, "california_housing.npz", 700, 8)
    (x_train, _), (x_test, _) = california_housing.load_data("small", test_split=0.5)
    assert len(x_train) == len(x_test) == 300 and x_train.max() < 600 * 8
    (x_train, _), _ = california_housing.load_data()
    assert x_train.shape == (560, 8)
    with pytest.raises(ValueError, match="version must be 'small' or 'large'"):
        california_housing.load_data("medium")


# ---------------------------------------------------------------- text


@pytest.fixture
def imdb_file(cache, monkeypatch):
    seqs = {"x_train": ragged([[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]),
            "y_train": np.array([0, 1, 1, 0]),
            "x_test": ragged([[3, 2], [11, 1, 1], [5]]),
            "y_test": np.array([1, 0, 1])}
    np.savez(cache / "imdb.npz", **seqs)
    expect(monkeypatch, imdb, cache / "imdb.npz")
    return seqs


def test_imdb_default_options(imdb_file):
    (x_train, y_train), (x_test, y_test) = imdb.load_data()
    assert x_train.dtype == object and x_train.shape == (4,) and y_train.shape == (4,)
    assert x_test.shape == (3,) and y_test.dtype == imdb_file["y_test"].dtype
    order = np.arange(4)
    rng = np.random.RandomState(113)
    rng.shuffle(order)
    # start_char 1, index_from 3; no num_words: the largest index (14) itself becomes oov (2).
    expected = [[1] + [w + 3 for w in imdb_file["x_train"][i]] for i in order]
    expected = [[w if w < 14 else 2 for w in s] for s in expected]
    assert [list(s) for s in x_train] == expected
    assert y_train.tolist() == imdb_file["y_train"][order].tolist()


def test_imdb_options(imdb_file):
    (x_train, _), (x_test, _) = imdb.load_data(num_words=6, skip_top=2, oov_char=0)
    assert all(w == 0 or 2 <= w < 6 for s in list(x_train) + list(x_test) for w in s)
    (x_train, y_train), (x_test, _) = imdb.load_data(maxlen=4)
    assert all(len(s) < 4 for s in x_train) and len(x_train) == len(y_train) == 2
    (x_train, _), _ = imdb.load_data(start_char=None, index_from=0, oov_char=None, num_words=100)
    assert sorted(map(sorted, x_train)) == sorted(map(sorted, imdb_file["x_train"]))
    with pytest.raises(ValueError, match="maxlen=1.*increase maxlen"):
        imdb.load_data(maxlen=1)
    with pytest.raises(ValueError, match=r"num_words must be a positive integer or None .*got 0"):
        imdb.load_data(num_words=0)
    with pytest.raises(TypeError, match="nb_words.*num_words"):
        imdb.load_data(nb_words=10)


def test_reuters_split_and_label_names(cache, monkeypatch):
    xs = ragged([[k, k + 1] * (k % 3 + 1) for k in range(1, 11)])
    np.savez(cache / "reuters.npz", x=xs, y=np.arange(10) % 4)
    expect(monkeypatch, reuters, cache / "reuters.npz")
    (x_train, y_train), (x_test, y_test) = reuters.load_data(test_split=0.3, seed=1)
    assert len(x_train) == 7 and len(x_test) == 3 and x_train.dtype == object
    order = np.arange(10)
    np.random.RandomState(1).shuffle(order)
    assert np.concatenate([y_train, y_test]).tolist() == (np.arange(10) % 4)[order].tolist()
    (x_train, _), (x_test, _) = reuters.load_data(maxlen=4, test_split=0)
    assert len(x_test) == 0 and all(len(s) < 4 for s in x_train)
    with pytest.raises(ValueError, match=r"test_split must be a fraction in \[0, 1\], got 1.5"):
        reuters.load_data(test_split=1.5)
    names = reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[-1] == "lead"


def test_word_indexes_are_plain_json_checked_by_md5(cache, monkeypatch):
    for module, name in ((imdb, "imdb_word_index.json"), (reuters, "reuters_word_index.json")):
        (cache / name).write_text(json.dumps({"the": 1, "café": 2}), encoding="utf-8")
        expect(monkeypatch, module, cache / name, attr="_WORD_INDEX_HASH")
        assert module.get_word_index() == {"the": 1, "café": 2}


# ---------------------------------------------------------------- cache and download


def test_cache_location_follows_keras(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    assert _download.keras_home() == str(tmp_path / "home" / ".keras")
    real_access = os.access
    monkeypatch.setattr(_download.os, "access",
                        lambda p, mode: False if str(p).startswith(str(tmp_path)) else
                        real_access(p, mode))
    assert _download.keras_home() == "/tmp/.keras"
    # An unwritable cache_dir falls back to /tmp/.keras, as in Keras.
    assert _download._cache_folder(str(tmp_path / "ro"), "datasets") == "/tmp/.keras/datasets"


def test_wrong_hash_of_a_cached_file_is_an_error(cache, monkeypatch):
    np.savez(cache / "mnist.npz", x_train=np.zeros(1))
    actual = sha256(cache / "mnist.npz")
    with pytest.raises(ValueError) as info:
        mnist.load_data()
    message = str(info.value)
    for part in (str(cache / "mnist.npz"), mnist._FILE_HASH, actual, "Delete it"):
        assert part in message
    assert (cache / "mnist.npz").exists()


def test_offline_error_names_the_url_and_where_to_put_the_file(cache):
    with pytest.raises(DownloadError) as info:
        mnist.load_data()
    message = str(info.value)
    assert mnist._ORIGIN in message and str(cache / "mnist.npz") in message
    assert mnist._FILE_HASH in message and "network disabled" in message
    assert os.listdir(cache) == []  # no partial file left

    with pytest.raises(DownloadError) as info:
        cifar10.load_data()
    assert str(cache / "cifar-10-batches-py-target_archive") in str(info.value)
    assert "not extracted" in str(info.value)


def test_download_from_file_url_verifies_and_renames(cache, tmp_path, monkeypatch):
    source = tmp_path / "remote" / "data.bin"
    source.parent.mkdir()
    source.write_bytes(b"x" * 3000)
    url = source.as_uri()
    path = get_file("data.bin", origin=url, file_hash=sha256(source))
    assert path == str(cache / "data.bin") and open(path, "rb").read() == b"x" * 3000
    assert os.listdir(cache) == ["data.bin"]

    md5 = hashlib.md5(b"x" * 3000).hexdigest()
    other = get_file(origin=url, file_hash=md5, cache_subdir="other")  # name from the URL
    assert other == str(cache.parent / "other" / "data.bin")

    source.unlink()  # cached now: no download
    assert get_file("data.bin", origin=url, file_hash=sha256(path)) == path

    with pytest.raises(DownloadError, match=r"Could not download file://.*data\.bin"):
        get_file("data.bin", origin=url, force_download=True)
    assert os.path.exists(path)  # the cached copy survives a failed re-download


def test_download_with_wrong_hash_leaves_nothing(cache, tmp_path):
    source = tmp_path / "data.bin"
    source.write_bytes(b"abc")
    with pytest.raises(ValueError, match=r"does not match its expected sha256 hash.*not saved"):
        get_file("data.bin", origin=source.as_uri(), file_hash="0" * 64)
    assert os.listdir(cache) == []
    with pytest.raises(ValueError, match="file_hash must be a sha256"):
        get_file("data.bin", origin=source.as_uri(), file_hash="abc")
    with pytest.raises(ValueError, match="fname must be a file name, not a path"):
        get_file(os.path.join("a", "b.bin"), origin=source.as_uri())


class _Response(io.BytesIO):
    def __init__(self, data, length, fail_after=None):
        super().__init__(data)
        self.headers = {"Content-Length": str(length)}
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, 10))


def test_interrupted_or_short_download_leaves_nothing(cache, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: _Response(b"y" * 100, 100, fail_after=30))
    with pytest.raises(DownloadError, match="connection reset by peer"):
        get_file("f.bin", origin="https://example.com/f.bin")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _Response(b"y" * 50, 100))
    with pytest.raises(DownloadError, match="received 50 of 100 bytes"):
        get_file("f.bin", origin="https://example.com/f.bin")
    assert os.listdir(cache) == []


def test_extract_names_like_keras_and_reextracts_only_when_needed(cache, tmp_path):
    source = tmp_path / "pack.tar.gz"
    _tar_gz(source, {"inner/a.txt": b"A"})
    folder = get_file("pack", origin=source.as_uri(), extract=True)
    assert folder == str(cache / "pack")
    assert (cache / "pack_archive").is_file() and (cache / "pack" / "inner" / "a.txt").exists()
    dotted = get_file("pack.tar.gz", origin=source.as_uri(), extract=True)
    assert dotted == str(cache / "pack_extracted") and (cache / "pack.tar.gz").is_file()

    (cache / "pack" / "inner" / "a.txt").write_text("edited")
    get_file("pack", origin=source.as_uri(), extract=True)
    assert (cache / "pack" / "inner" / "a.txt").read_text() == "edited"  # not re-extracted
    get_file("pack", origin=source.as_uri(), extract=True, force_download=True)
    assert (cache / "pack" / "inner" / "a.txt").read_text() == "A"
    assert sorted(os.listdir(cache)) == ["pack", "pack.tar.gz", "pack_archive", "pack_extracted"]


def test_extract_refuses_members_outside_the_folder(cache, tmp_path):
    source = tmp_path / "evil.tar.gz"
    _tar_gz(source, {"../escaped.txt": b"E"})
    with pytest.raises(ValueError, match="Refusing to extract"):
        get_file("evil", origin=source.as_uri(), extract=True)
    assert not (cache / "escaped.txt").exists()
    assert sorted(os.listdir(cache)) == ["evil_archive"]

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="is not a tar or zip archive"):
        get_file("plain", origin=plain.as_uri(), extract=True)
