"""Batch sources against real Keras 3 (torch backend): the same generator, PyDataset or
DataLoader must give the same History, evaluate and predict results.

Both models start from the same weights (Keras's, copied into ours) and see the same batches
in the same order (shuffle=False), so the runs are deterministic. Tolerances: Adam runs on
torch's fused kernel in ours (float rounding, see test_training_parity.py), so a few epochs
agree to ~1e-6 relative; we allow 1e-5.

Keras's own sources quirks that are not compared here (documented in docs/semantics.md): a
finite generator that runs out, and a generator used for several validations without
validation_steps (Keras replays the two batches it peeked at).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchkeras_lite.layers import Concatenate, Dense, Input
from torchkeras_lite.models import Model, Sequential
from torchkeras_lite.utils import PyDataset

keras = pytest.importorskip("keras")

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    "ignore:`shuffle=True` was passed:UserWarning",
    "ignore:Your input ran out of data:UserWarning",
)

RTOL, ATOL = 1e-5, 1e-7
N, BS = 50, 8
STEPS = math.ceil(N / BS)


def make_data(n=N, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype(dtype)
    y = (x.sum(1) > 2).astype("float32")[:, None]
    return x, y


X, Y = make_data()
XV, YV = make_data(20, seed=5)
SW = np.linspace(0.5, 1.5, N).astype("float32")


def build_pair(K, optimizer="adam"):
    kmodel = K.Sequential([K.Input((4,)), K.layers.Dense(6, activation="relu"),
                           K.layers.Dense(1, activation="sigmoid")])
    model = Sequential([Input((4,)), Dense(6, activation="relu"),
                        Dense(1, activation="sigmoid")])
    model.set_weights(kmodel.get_weights())
    kmodel.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"],
                  device="cpu")
    return kmodel, model


def batches(x=X, y=Y, sw=None, bs=BS):
    for i in range(0, len(x), bs):
        yield (x[i:i + bs], y[i:i + bs]) if sw is None else (x[i:i + bs], y[i:i + bs],
                                                             sw[i:i + bs])


def cycle(x=X, y=Y, sw=None, bs=BS):
    while True:
        yield from batches(x, y, sw, bs)


def py_dataset_class(base):
    """The same PyDataset for both libraries (``base``: keras.utils.PyDataset or ours)."""

    class Batches(base):
        def __init__(self, x=X, y=Y, sw=None, bs=BS, reshuffle_seed=None, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.sw, self.bs = x, y, sw, bs
            self.order = np.arange(len(x))
            self.rng = None if reshuffle_seed is None else np.random.default_rng(reshuffle_seed)
            self.calls = []

        def __len__(self):
            return math.ceil(len(self.x) / self.bs)

        def __getitem__(self, index):
            self.calls.append(index)
            rows = self.order[index * self.bs:(index + 1) * self.bs]
            if self.sw is None:
                return self.x[rows], self.y[rows]
            return self.x[rows], self.y[rows], self.sw[rows]

        def on_epoch_begin(self):
            self.calls.append("begin")

        def on_epoch_end(self):
            self.calls.append("end")
            if self.rng is not None:
                self.order = self.rng.permutation(len(self.x))

    return Batches


def assert_history_close(khist, hist):
    assert sorted(hist.history) == sorted(khist.history)
    assert hist.epoch == khist.epoch
    assert hist.params == khist.params
    for key, kvalues in khist.history.items():
        np.testing.assert_allclose(hist.history[key], kvalues, rtol=RTOL, atol=ATOL,
                                   err_msg=f"history[{key!r}]")


def fit_both(kmodel, model, make_x, **kwargs):
    kwargs = {"verbose": 0, "shuffle": False, **kwargs}
    return kmodel.fit(make_x(keras), **kwargs), model.fit(make_x(None), **kwargs)


# ------------------------------------------------------------------------------- fit
def test_infinite_generator_with_steps_and_validation_generator(K):
    kmodel, model = build_pair(K)
    khist, hist = fit_both(kmodel, model, lambda lib: cycle(), steps_per_epoch=STEPS, epochs=3,
                           validation_data=None)
    assert_history_close(khist, hist)
    kmodel, model = build_pair(K)
    # The validation generator cycles over exactly validation_steps batches, so Keras's replay
    # of the batches it peeked at does not change which batches each validation sees.
    kwargs = {"steps_per_epoch": 4, "epochs": 3, "validation_steps": 2, "verbose": 0}
    khist = kmodel.fit(cycle(), validation_data=cycle(XV[:10], YV[:10], bs=5), **kwargs)
    hist = model.fit(cycle(), validation_data=cycle(XV[:10], YV[:10], bs=5), **kwargs)
    assert_history_close(khist, hist)


def test_finite_generator_one_epoch_unknown_steps(K):
    kmodel, model = build_pair(K)
    x64, y = make_data(dtype="float64")
    khist, hist = fit_both(kmodel, model, lambda lib: batches(x64, y), epochs=1)
    assert hist.params["steps"] is None
    assert_history_close(khist, hist)


def test_generator_with_sample_weights(K):
    kmodel, model = build_pair(K)
    khist, hist = fit_both(kmodel, model, lambda lib: cycle(sw=SW), steps_per_epoch=STEPS,
                           epochs=2)
    assert_history_close(khist, hist)


@pytest.mark.parametrize("kwargs", [{}, {"class_weight": {0: 0.4, 1: 1.7}}],
                         ids=["plain", "class_weight"])
def test_py_dataset(K, kwargs):
    kmodel, model = build_pair(K)
    kcls, cls = py_dataset_class(K.utils.PyDataset), py_dataset_class(PyDataset)
    kval, val = kcls(XV, YV, bs=6), cls(XV, YV, bs=6)
    khist = kmodel.fit(kcls(), epochs=3, shuffle=False, verbose=0, validation_data=kval,
                       **kwargs)
    hist = model.fit(cls(), epochs=3, shuffle=False, verbose=0, validation_data=val, **kwargs)
    assert_history_close(khist, hist)


def test_py_dataset_with_sample_weights(K):
    kmodel, model = build_pair(K)
    kcls, cls = py_dataset_class(K.utils.PyDataset), py_dataset_class(PyDataset)
    khist = kmodel.fit(kcls(sw=SW), epochs=2, shuffle=False, verbose=0)
    hist = model.fit(cls(sw=SW), epochs=2, shuffle=False, verbose=0)
    assert_history_close(khist, hist)


def test_py_dataset_reshuffling_in_on_epoch_end(K):
    """Keras 3 calls on_epoch_end once before the first epoch, so a dataset that reshuffles
    there starts from a shuffled order; ours does the same, giving the same History."""
    kmodel, model = build_pair(K)
    kcls, cls = py_dataset_class(K.utils.PyDataset), py_dataset_class(PyDataset)
    khist = kmodel.fit(kcls(reshuffle_seed=3), epochs=3, shuffle=False, verbose=0)
    hist = model.fit(cls(reshuffle_seed=3), epochs=3, shuffle=False, verbose=0)
    assert_history_close(khist, hist)


def test_py_dataset_steps_per_epoch_and_hook_order(K):
    kmodel, model = build_pair(K)
    kcls, cls = py_dataset_class(K.utils.PyDataset), py_dataset_class(PyDataset)
    kmodel.fit(kcls(), epochs=1, shuffle=False, verbose=0)  # Keras builds its step here
    model.fit(cls(), epochs=1, shuffle=False, verbose=0)
    kds, ds = kcls(X[:24], Y[:24]), cls(X[:24], Y[:24])
    kval, val = kcls(XV, YV, bs=10), cls(XV, YV, bs=10)
    kwargs = {"steps_per_epoch": 2, "epochs": 3, "shuffle": False, "verbose": 0}
    with pytest.warns(UserWarning):
        khist = kmodel.fit(kds, validation_data=kval, **kwargs)
    with pytest.warns(UserWarning, match="ran out of data after 1 of steps_per_epoch=2"):
        hist = model.fit(ds, validation_data=val, **kwargs)
    assert_history_close(khist, hist)
    assert ds.calls == kds.calls
    assert val.calls == kval.calls


def test_dataloader(K):
    kmodel, model = build_pair(K)

    def make_loader(lib):
        ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
        return torch.utils.data.DataLoader(ds, batch_size=BS)

    khist, hist = fit_both(kmodel, model, make_loader, epochs=3)
    assert_history_close(khist, hist)


def test_dict_inputs_from_a_generator(K):
    def build(lib, inputs_cls, dense, concat, model_cls):
        a, b = inputs_cls((4,), name="a"), inputs_cls((2,), name="b")
        out = dense(1, activation="sigmoid", name="out")(
            concat(name="cat")([dense(3, name="h")(a), b]))
        return model_cls({"a": a, "b": b}, out)

    kmodel = build(K, K.Input, K.layers.Dense, K.layers.Concatenate, K.Model)
    model = build(None, Input, Dense, Concatenate, Model)
    model.set_weights(kmodel.get_weights())
    kmodel.compile("adam", "binary_crossentropy")
    model.compile("adam", "binary_crossentropy", device="cpu")
    xb = np.random.default_rng(1).random((N, 2)).astype("float32")

    def dict_batches():
        while True:
            for i in range(0, N, BS):
                yield {"a": X[i:i + BS], "b": xb[i:i + BS]}, Y[i:i + BS]

    kwargs = {"steps_per_epoch": STEPS, "epochs": 2, "verbose": 0}
    assert_history_close(kmodel.fit(dict_batches(), **kwargs), model.fit(dict_batches(),
                                                                          **kwargs))
    test = [{"a": X[i:i + BS], "b": xb[i:i + BS]} for i in range(0, N, BS)]
    np.testing.assert_allclose(model.predict(iter(test), verbose=0),  # x-only batches
                               kmodel.predict(((t,) for t in test), verbose=0),
                               rtol=RTOL, atol=ATOL)


# ----------------------------------------------------------------- evaluate / predict
@pytest.mark.parametrize("source", ["generator", "py_dataset", "dataloader"])
def test_evaluate_and_predict(K, source):
    kmodel, model = build_pair(K)

    def make(lib):
        if source == "generator":
            return batches()
        if source == "py_dataset":
            return py_dataset_class(K.utils.PyDataset if lib is K else PyDataset)()
        ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
        return torch.utils.data.DataLoader(ds, batch_size=BS)

    np.testing.assert_allclose(model.evaluate(make(None), verbose=0),
                               kmodel.evaluate(make(K), verbose=0), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model.evaluate(make(None), steps=3, verbose=0, return_dict=True)
                               ["loss"],
                               kmodel.evaluate(make(K), steps=3, verbose=0, return_dict=True)
                               ["loss"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model.predict(make(None), verbose=0),
                               kmodel.predict(make(K), verbose=0), rtol=RTOL, atol=ATOL)
