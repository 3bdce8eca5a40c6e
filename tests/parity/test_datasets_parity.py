"""Dataset loaders against real Keras, both reading the same tiny files from one cache folder.

Keras is pointed at a temporary cache (its ``_KERAS_DIR``), its hash check is disabled (the tiny
files cannot match the real hashes) and its downloader is made to fail, so nothing is downloaded.
Our loaders expect the hashes of the tiny files. Every option combination must give the same
arrays, dtypes and shapes. CIFAR-10 is left out: Keras's loader assumes 10,000 images per batch.
"""
import gzip
import hashlib
import io
import struct
import tarfile

import numpy as np
import pytest

from torchkeras_lite.datasets import (boston_housing, california_housing, cifar100, fashion_mnist,
                                      imdb, mnist, reuters)


@pytest.fixture
def cache(K, tmp_path, monkeypatch):
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    def no_download(*args, **kwargs):
        raise AssertionError("parity tests must not download")

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "validate_file", lambda *args, **kwargs: True)
    monkeypatch.setattr(file_utils, "urlretrieve", no_download)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = tmp_path / "datasets"
    folder.mkdir()
    return folder


def expect(monkeypatch, module, path):
    monkeypatch.setattr(module, "_FILE_HASH", hashlib.sha256(path.read_bytes()).hexdigest())


def assert_same(ours, theirs):
    for (a_x, a_y), (b_x, b_y) in zip(ours, theirs):
        for a, b in ((a_x, b_x), (a_y, b_y)):
            assert a.dtype == b.dtype and a.shape == b.shape
            if a.dtype == object:
                assert [list(s) for s in a.ravel()] == [list(s) for s in b.ravel()]
            else:
                assert np.array_equal(a, b)


def ragged(rng, n, vocab=50):
    out = np.empty(n, dtype=object)
    out[:] = [rng.integers(1, vocab, rng.integers(1, 12)).tolist() for _ in range(n)]
    return out


TEXT_OPTIONS = [
    {},
    {"num_words": 20},
    {"skip_top": 5},
    {"num_words": 30, "skip_top": 3, "oov_char": 7, "index_from": 2},
    {"maxlen": 8},
    {"maxlen": 10, "num_words": 25, "seed": 3},
    {"start_char": None},
    {"start_char": None, "index_from": 0},
    {"oov_char": None, "num_words": 15},
    {"start_char": 9, "oov_char": None, "skip_top": 10, "seed": 0},
]


@pytest.mark.parametrize("options", TEXT_OPTIONS)
def test_imdb_matches_keras(K, cache, monkeypatch, options):
    rng = np.random.default_rng(0)
    np.savez(cache / "imdb.npz", x_train=ragged(rng, 20), y_train=rng.integers(0, 2, 20),
             x_test=ragged(rng, 15), y_test=rng.integers(0, 2, 15))
    expect(monkeypatch, imdb, cache / "imdb.npz")
    assert_same(imdb.load_data(**options), K.datasets.imdb.load_data(**options))


@pytest.mark.parametrize("options", TEXT_OPTIONS + [{"test_split": 0.5}, {"test_split": 0.0},
                                                    {"test_split": 1.0, "maxlen": 9}])
def test_reuters_matches_keras(K, cache, monkeypatch, options):
    rng = np.random.default_rng(1)
    np.savez(cache / "reuters.npz", x=ragged(rng, 30), y=rng.integers(0, 46, 30))
    expect(monkeypatch, reuters, cache / "reuters.npz")
    assert_same(reuters.load_data(**options), K.datasets.reuters.load_data(**options))
    assert reuters.get_label_names() == K.datasets.reuters.get_label_names()


@pytest.mark.parametrize("options", [{}, {"test_split": 0.35, "seed": 5}, {"test_split": 0.0}])
def test_housing_matches_keras(K, cache, monkeypatch, options):
    rng = np.random.default_rng(2)
    np.savez(cache / "boston_housing.npz", x=rng.normal(size=(23, 13)), y=rng.normal(size=23))
    expect(monkeypatch, boston_housing, cache / "boston_housing.npz")
    assert_same(boston_housing.load_data(**options), K.datasets.boston_housing.load_data(**options))
    np.savez(cache / "california_housing.npz", x=rng.normal(size=(650, 8)).astype("float32"),
             y=rng.normal(size=650).astype("float32"))
    expect(monkeypatch, california_housing, cache / "california_housing.npz")
    for version in ("small", "large"):
        assert_same(california_housing.load_data(version, **options),
                    K.datasets.california_housing.load_data(version, **options))


def test_mnist_and_fashion_mnist_match_keras(K, cache, monkeypatch):
    rng = np.random.default_rng(3)
    np.savez(cache / "mnist.npz", x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 6, dtype=np.uint8),
             x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 2, dtype=np.uint8))
    expect(monkeypatch, mnist, cache / "mnist.npz")
    assert_same(mnist.load_data(), K.datasets.mnist.load_data())

    folder = cache / "fashion-mnist"
    folder.mkdir()
    for prefix, n in (("train", 5), ("t10k", 3)):
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 2049, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes())
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28)
                    + rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes())
    assert_same(fashion_mnist.load_data(), K.datasets.fashion_mnist.load_data())


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(K, cache, monkeypatch, label_mode):
    import pickle

    rng = np.random.default_rng(4)
    archive = cache / "cifar-100-python-target_archive"
    with tarfile.open(archive, "w:gz") as tar:
        for name, n in (("train", 4), ("test", 3)):
            data = pickle.dumps({b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                                 b"fine_labels": rng.integers(0, 100, n).tolist(),
                                 b"coarse_labels": rng.integers(0, 20, n).tolist()}, protocol=4)
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    expect(monkeypatch, cifar100, archive)
    assert_same(cifar100.load_data(label_mode), K.datasets.cifar100.load_data(label_mode))
