"""fit/evaluate/predict from batch sources: torch Dataset/DataLoader, generators, PyDataset.

The reference is always our own array path: when a source yields the same batches, History,
evaluate and predict must equal what arrays give (same float32 ops in the same order, so the
comparisons are exact up to float rounding of identical computations).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from torchkeras_lite.callbacks import Callback
from torchkeras_lite.layers import Concatenate, Dense, Input
from torchkeras_lite.models import Model, Sequential
from torchkeras_lite.trainers import data as data_lib
from torchkeras_lite.utils import PyDataset, Sequence

N, BS = 50, 8
STEPS = math.ceil(N / BS)  # 7 batches, the last one of 2 samples


def make_data(n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4))  # float64 on purpose: converted to float32 once
    y = (x.sum(1) > 2).astype("float32")[:, None]
    return x, y


X, Y = make_data()
SW = np.linspace(0.5, 1.5, N).astype("float32")


def make_model(metrics=("accuracy",), seed=0):
    torch.manual_seed(seed)
    model = Sequential([Input((4,)), Dense(6, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=list(metrics), device="cpu")
    return model


def batches(x=X, y=Y, sw=None, bs=BS):
    for i in range(0, len(x), bs):
        yield (x[i:i + bs], y[i:i + bs]) if sw is None else (x[i:i + bs], y[i:i + bs],
                                                             sw[i:i + bs])


def cycle(x=X, y=Y, sw=None, bs=BS):
    while True:
        yield from batches(x, y, sw, bs)


class ArrayBatches(PyDataset):
    def __init__(self, x=X, y=Y, sw=None, bs=BS, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sw, self.bs = x, y, sw, bs
        self.calls = []

    def __len__(self):
        return math.ceil(len(self.x) / self.bs)

    def __getitem__(self, index):
        self.calls.append(index)
        part = slice(index * self.bs, (index + 1) * self.bs)
        if self.sw is None:
            return self.x[part], self.y[part]
        return self.x[part], self.y[part], self.sw[part]

    def on_epoch_begin(self):
        self.calls.append("begin")

    def on_epoch_end(self):
        self.calls.append("end")


class Samples(torch.utils.data.Dataset):
    """A map-style Dataset of (x, y) samples as numpy arrays."""

    def __init__(self, x=X, y=Y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Stream(torch.utils.data.IterableDataset):
    def __iter__(self):
        return iter(zip(X, Y))


def loader(**kwargs):
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    return torch.utils.data.DataLoader(ds, batch_size=BS, **kwargs)


def assert_same_history(history, reference):
    assert history.epoch == reference.epoch
    assert sorted(history.history) == sorted(reference.history)
    for key, values in reference.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-6, err_msg=key)


@pytest.fixture(scope="module")
def reference():
    return make_model().fit(X, Y, batch_size=BS, epochs=3, shuffle=False, verbose=0)


# ----------------------------------------------------------------- same History as arrays
@pytest.mark.parametrize("source", [
    "generator", "dataloader", "pydataset", "keras_sequence_alias", "dataset", "tensor_dataset",
    "iterable_dataset", "iterator"])
def test_sources_train_like_arrays(source, reference):
    fit_kwargs = {"epochs": 3, "shuffle": False, "verbose": 0}
    if source == "generator":
        x = cycle()
        fit_kwargs["steps_per_epoch"] = STEPS
    elif source == "iterator":
        x = iter(list(batches()) * 3)
        fit_kwargs["steps_per_epoch"] = STEPS
    elif source == "dataloader":
        x = loader()
    elif source == "pydataset":
        x = ArrayBatches()
    elif source == "keras_sequence_alias":
        assert Sequence is PyDataset
        x = ArrayBatches()
    elif source == "dataset":
        x, fit_kwargs["batch_size"] = Samples(), BS
    elif source == "tensor_dataset":
        x = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
        fit_kwargs["batch_size"] = BS
    else:
        x, fit_kwargs["batch_size"] = Stream(), BS
    history = make_model().fit(x, **fit_kwargs)
    assert_same_history(history, reference)
    expected_steps = None if source == "iterable_dataset" else STEPS
    assert history.params == {"verbose": 0, "epochs": 3, "steps": expected_steps}


@pytest.mark.parametrize("source", ["dataset", "tensor_dataset"])
def test_torch_datasets_shuffle_like_arrays(source):
    """Map-style Datasets draw the same randperm per epoch as arrays: equal Histories."""
    model = make_model(seed=1)
    torch.manual_seed(7)
    reference = model.fit(X, Y, batch_size=BS, epochs=3, verbose=0)
    ds = Samples() if source == "dataset" else torch.utils.data.TensorDataset(
        torch.from_numpy(X), torch.from_numpy(Y))
    model = make_model(seed=1)
    torch.manual_seed(7)
    assert_same_history(model.fit(ds, batch_size=BS, epochs=3, verbose=0), reference)


@pytest.mark.parametrize("make_x", [loader, lambda: Stream()], ids=["dataloader", "iterable"])
def test_sources_with_their_own_order_ignore_shuffle(make_x, reference):
    kwargs = {"batch_size": BS} if not isinstance(make_x(), torch.utils.data.DataLoader) else {}
    history = make_model().fit(make_x(), epochs=3, shuffle=True, verbose=0, **kwargs)
    assert_same_history(history, reference)


def test_finite_generator_one_epoch_unknown_length(reference):
    history = make_model().fit(batches(), epochs=1, verbose=0)
    assert history.params["steps"] is None
    np.testing.assert_allclose(history.history["loss"], reference.history["loss"][:1],
                               rtol=1e-6)


def test_sample_weights_in_batches_match_array_sample_weight():
    reference = make_model().fit(X, Y, sample_weight=SW, batch_size=BS, epochs=2,
                                 shuffle=False, verbose=0)
    history = make_model().fit(cycle(sw=SW), steps_per_epoch=STEPS, epochs=2, verbose=0)
    assert_same_history(history, reference)
    history = make_model().fit(ArrayBatches(sw=SW), epochs=2, shuffle=False, verbose=0)
    assert_same_history(history, reference)


@pytest.mark.parametrize("source", ["generator", "pydataset", "dataloader"])
def test_class_weight_applies_per_batch(source):
    class_weight = {0: 0.3, 1: 2.0}
    reference = make_model().fit(X, Y, class_weight=class_weight, batch_size=BS, epochs=2,
                                 shuffle=False, verbose=0)
    x = {"generator": cycle(), "pydataset": ArrayBatches(), "dataloader": loader()}[source]
    kwargs = {"steps_per_epoch": STEPS} if source == "generator" else {}
    history = make_model().fit(x, class_weight=class_weight, epochs=2, shuffle=False,
                               verbose=0, **kwargs)
    assert_same_history(history, reference)


def test_validation_data_from_each_source():
    xv, yv = make_data(20, seed=3)
    reference = make_model().fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0,
                                 validation_data=(xv, yv), validation_batch_size=5)
    val_sources = {
        "generator": (cycle(xv, yv, bs=5), {"validation_steps": 4}),
        "dataloader": (torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)),
            batch_size=5), {}),
        "pydataset": (ArrayBatches(xv, yv, bs=5), {}),
        "dataset": (Samples(xv, yv), {"validation_batch_size": 5}),
    }
    for name, (val, kwargs) in val_sources.items():
        history = make_model().fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0,
                                   validation_data=val, **kwargs)
        assert_same_history(history, reference)
    # A source for training and arrays for validation: validation batch size defaults to 32.
    history = make_model().fit(loader(), epochs=2, verbose=0, validation_data=(xv, yv))
    assert "val_loss" in history.history


def test_validation_split_of_a_map_dataset_takes_the_last_samples():
    reference = make_model().fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0,
                                 validation_split=0.2)
    history = make_model().fit(Samples(), batch_size=BS, epochs=2, shuffle=False, verbose=0,
                               validation_split=0.2)
    assert_same_history(history, reference)


def test_dict_inputs_for_named_functional_inputs():
    def build():
        torch.manual_seed(0)
        a, b = Input((4,), name="a"), Input((2,), name="b")
        out = Dense(1, activation="sigmoid")(Concatenate()([Dense(3)(a), b]))
        model = Model([a, b], out)
        model.compile("sgd", "binary_crossentropy", device="cpu")
        return model

    xb = np.random.default_rng(1).random((N, 2)).astype("float32")
    inputs = {"a": X, "b": xb}
    reference = build().fit(inputs, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0)

    def dict_batches():
        while True:
            for i in range(0, N, BS):
                yield {"a": X[i:i + BS], "b": xb[i:i + BS]}, Y[i:i + BS]

    model = build()
    history = model.fit(dict_batches(), steps_per_epoch=STEPS, epochs=2, verbose=0)
    assert_same_history(history, reference)
    np.testing.assert_allclose(model.predict(({"a": X[i:i + BS], "b": xb[i:i + BS]}
                                              for i in range(0, N, BS)), verbose=0),
                               model.predict(inputs, verbose=0), rtol=1e-6)


def test_custom_train_step_gets_source_batches_and_needs_no_y():
    seen = []

    class Custom(Sequential):
        def train_step(self, data):
            x, y, sw = data
            seen.append((x.dtype, None if y is None else y.dtype, sw))
            return {"n": torch.tensor(float(len(x)))}

    model = Custom([Input((4,)), Dense(1)])
    model.compile("sgd", "mse", device="cpu")
    labels = np.arange(N) % 3
    model.fit(((X[i:i + BS], labels[i:i + BS]) for i in range(0, N, BS)), verbose=0)
    model.fit((X[i:i + BS] for i in range(0, N, BS)), verbose=0)  # x only
    assert seen[0] == (torch.float32, torch.int64, None)  # float64 -> float32, int labels kept
    assert seen[-1] == (torch.float32, None, None) and len(seen) == 2 * STEPS


# ------------------------------------------------------------------- evaluate / predict
@pytest.mark.parametrize("source", ["generator", "dataloader", "pydataset", "dataset",
                                    "tensor_dataset"])
def test_evaluate_and_predict_from_sources(source):
    model = make_model()
    expected_eval = model.evaluate(X, Y, batch_size=BS, verbose=0)
    expected_pred = model.predict(X, batch_size=BS, verbose=0)

    def make_source():
        return {
            "generator": lambda: batches(),
            "dataloader": loader,
            "pydataset": ArrayBatches,
            "dataset": Samples,
            "tensor_dataset": lambda: torch.utils.data.TensorDataset(
                torch.from_numpy(X), torch.from_numpy(Y)),
        }[source]()

    kwargs = {"batch_size": BS} if source in ("dataset", "tensor_dataset") else {}
    np.testing.assert_allclose(model.evaluate(make_source(), verbose=0, **kwargs),
                               expected_eval, rtol=1e-6)
    prediction = model.predict(make_source(), verbose=0, **kwargs)
    assert isinstance(prediction, np.ndarray)
    np.testing.assert_allclose(prediction, expected_pred, rtol=1e-6)


def test_predict_accepts_x_only_batches_and_steps():
    model = make_model()
    expected = model.predict(X[:16], verbose=0)
    np.testing.assert_allclose(model.predict(cycle(), steps=2, verbose=0), expected, rtol=1e-6)
    np.testing.assert_allclose(model.predict((X[i:i + 8] for i in (0, 8)), verbose=0),
                               expected, rtol=1e-6)


def test_unbuilt_model_is_built_from_the_first_batch_without_losing_it(reference):
    torch.manual_seed(0)
    model = Sequential([Dense(6, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"], device="cpu")
    history = model.fit(batches(), epochs=1, verbose=0)
    assert model.built and history.params["steps"] is None
    np.testing.assert_allclose(history.history["loss"], reference.history["loss"][:1],
                               rtol=1e-6)


# ------------------------------------------------------------ steps, passes and running out
def test_infinite_generator_is_consumed_across_epochs():
    drawn = []

    def counting():
        i = 0
        while True:
            drawn.append(i)
            yield X[:BS], Y[:BS]
            i += 1

    history = make_model().fit(counting(), steps_per_epoch=3, epochs=4, verbose=0)
    assert history.epoch == [0, 1, 2, 3] and history.params["steps"] == 3
    assert drawn == list(range(12))  # nothing skipped, nothing replayed, nothing read ahead


def test_generator_running_out_mid_epoch_warns_and_stops():
    with pytest.warns(UserWarning, match=r"ran out of data after 3 of steps_per_epoch=4 .*"
                                         r"training stops after this epoch"):
        history = make_model().fit(batches(), steps_per_epoch=4, epochs=5, verbose=0)
    assert history.epoch == [0, 1]  # 7 batches: 4 + 3


def test_generator_used_up_exactly_at_an_epoch_end_warns_and_stops():
    with pytest.warns(UserWarning, match=r"used up after 7 batches \(1 epoch"):
        history = make_model().fit(batches(), epochs=3, verbose=0)
    assert history.epoch == [0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_model().fit(batches(), epochs=1, verbose=0)  # one epoch: no warning


def test_pydataset_steps_per_epoch_continue_the_pass_like_keras():
    ds = ArrayBatches(X[:24])  # 3 batches
    with pytest.warns(UserWarning, match="ran out of data after 1 of steps_per_epoch=2"):
        make_model().fit(ds, steps_per_epoch=2, epochs=3, shuffle=False, verbose=0)
    assert ds.calls == ["end", "begin", 0, 1, "end", "begin", 2, "end", "begin", 0, 1, "end"]


def test_pydataset_hooks_follow_keras_order():
    train, val = ArrayBatches(X[:16]), ArrayBatches(X[:8])
    make_model().fit(train, validation_data=val, epochs=2, shuffle=False, verbose=0)
    # Keras 3 calls on_epoch_end once when fit (and every validation) starts.
    assert train.calls == ["end", "begin", 0, 1, "end", "begin", 0, 1, "end"]
    assert val.calls == ["end", "begin", 0, "end"] * 2
    ds = ArrayBatches(X[:16])
    make_model().evaluate(ds, verbose=0)
    assert ds.calls == ["end", "begin", 0, 1, "end"]
    ds = ArrayBatches(X[:16])
    make_model().predict(ds, verbose=0)
    assert ds.calls == ["begin", 0, 1, "end"]


def test_pydataset_shuffle_reorders_batches_each_epoch():
    ds, model = ArrayBatches(), make_model()
    torch.manual_seed(3)
    model.fit(ds, epochs=2, verbose=0)  # shuffle=True by default: one randperm per pass
    epochs = []
    for call in ds.calls:
        if call == "begin":
            epochs.append([])
        elif isinstance(call, int) and epochs:
            epochs[-1].append(call)
    assert all(sorted(e) == list(range(STEPS)) for e in epochs)
    assert epochs[0] != list(range(STEPS)) and epochs[0] != epochs[1]


def test_pydataset_workers_arguments_are_accepted():
    ds = ArrayBatches(workers=4, use_multiprocessing=True, max_queue_size=3)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (4, True, 3)
    history = make_model().fit(ds, epochs=1, shuffle=False, verbose=0)
    assert history.params["steps"] == STEPS


def test_infinite_pydataset_needs_steps():
    class Endless(PyDataset):
        num_batches = None

        def __getitem__(self, index):
            return X[:BS], Y[:BS]

    with pytest.raises(ValueError, match="infinite PyDataset.*steps_per_epoch"):
        make_model().fit(Endless(), verbose=0)
    history = make_model().fit(Endless(), steps_per_epoch=2, epochs=2, verbose=0)
    assert history.params["steps"] == 2
    assert make_model().predict(Endless(), steps=2, verbose=0).shape == (16, 1)


def test_unknown_length_progress_bar(capsys):
    make_model().fit(batches(), epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith(f"{STEPS}/{STEPS} ") and "loss:" in out


def test_one_shot_validation_generator_needs_validation_steps():
    with pytest.raises(ValueError, match="validation_data is a generator.*validation_steps"):
        make_model().fit(X, Y, epochs=2, verbose=0, validation_data=batches())
    history = make_model().fit(X, Y, epochs=1, verbose=0, validation_data=batches())
    assert "val_loss" in history.history
    history = make_model().fit(X, Y, epochs=3, verbose=0, validation_data=cycle(),
                               validation_steps=2)
    assert len(history.history["val_loss"]) == 3


def test_evaluate_with_steps_beyond_a_generator_warns():
    with pytest.warns(UserWarning, match="ran out of data after 7 of steps=9"):
        make_model().evaluate(batches(), steps=9, verbose=0)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("make_x", [batches, loader, ArrayBatches], ids=["gen", "dl", "pyds"])
def test_batch_size_with_a_source_that_batches_itself(make_x):
    with pytest.raises(ValueError, match="batch_size=16 with x as .*makes its own batches"):
        make_model().fit(make_x(), batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        make_model().predict(make_x(), batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="validation_batch_size=4 with validation_data"):
        make_model().fit(X, Y, validation_data=make_x(), validation_batch_size=4, verbose=0)


@pytest.mark.parametrize("make_x", [batches, loader, ArrayBatches], ids=["gen", "dl", "pyds"])
def test_validation_split_with_a_source_that_cannot_split(make_x):
    with pytest.raises(ValueError, match="validation_split is only supported .* cannot be split"):
        make_model().fit(make_x(), validation_split=0.2, verbose=0)


def test_y_or_sample_weight_with_a_source():
    with pytest.raises(ValueError, match="x as a generator and y"):
        make_model().fit(batches(), Y, verbose=0)
    with pytest.raises(ValueError, match="x as a torch DataLoader and sample_weight"):
        make_model().fit(loader(), sample_weight=SW, verbose=0)
    with pytest.raises(ValueError, match="x as a torch Dataset and y"):
        make_model().evaluate(Samples(), Y, verbose=0)


def test_targets_next_to_a_validation_source():
    with pytest.raises(ValueError, match="got validation_data as a generator and y"):
        make_model().fit(X, Y, validation_data=(batches(), Y), verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_x_none(method):
    with pytest.raises(ValueError, match=rf"{method}\(\) needs data, got x=None"):
        getattr(make_model(), method)(None, verbose=0)


def test_generator_function_instead_of_generator():
    with pytest.raises(TypeError, match=r"x='batches', a function.*x=gen\(\), not x=gen"):
        make_model().fit(batches, verbose=0)


def test_inconsistent_structure_names_the_batch():
    def gen():
        yield X[:8], Y[:8]
        yield X[8:16], Y[8:16]
        yield X[16:24], Y[16:24], SW[16:24]

    with pytest.raises(ValueError, match=r"Batch 2 of x \(a generator\) has a different "
                                         r"structure than batch 0.*sample_weight was absent, "
                                         r"now an array"):
        make_model().fit(gen(), verbose=0)


def test_changed_input_shape_names_the_batch():
    def gen():
        yield X[:8], Y[:8]
        yield np.zeros((8, 5)), Y[8:16]

    with pytest.raises(ValueError, match=r"x in batch 1 of x \(a generator\) has per-sample "
                                         r"shape \(5,\), but model .* expects \(4,\)"):
        make_model().fit(gen(), verbose=0)


def test_changed_target_shape_or_rank_names_the_batch():
    def gen(second_y):
        yield X[:8], Y[:8]
        yield X[8:16], second_y

    with pytest.raises(ValueError, match=r"Batch 1 .* changed y: shape \(8,\) .* batch 0 .* "
                                         r"shape \(8, 1\)"):
        make_model().fit(gen(Y[8:16, 0]), verbose=0)
    with pytest.raises(ValueError, match=r"Batch 1 .* changed y: per-sample shape \(2,\)"):
        make_model().fit(gen(np.zeros((8, 2), "float32")), verbose=0)
    with pytest.raises(ValueError, match=r"Batch 1 .* changed y: .*dtype torch.int64"):
        make_model().fit(gen(np.zeros((8, 1), "int64")), verbose=0)


def test_variable_length_axes_may_change_together():
    """y may change shape along with x (variable-length sequences); the model decides x."""
    seen = []

    class Recorder(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)

        def call(self, inputs, training=None):
            return self.dense(inputs)

        def train_step(self, data):
            seen.append((tuple(data[0].shape), tuple(data[1].shape)))
            return {}

    model = Recorder()
    model.compile("sgd", "mse", device="cpu")
    model.fit(iter([(np.zeros((2, 3, 1)), np.zeros((2, 3, 1))),
                    (np.zeros((2, 5, 1)), np.zeros((2, 5, 1)))]), verbose=0)
    assert seen == [((2, 3, 1), (2, 3, 1)), ((2, 5, 1), (2, 5, 1))]


def test_tuple_of_wrong_length_names_the_batch():
    def gen():
        yield X[:8], Y[:8], SW[:8], SW[:8]

    with pytest.raises(ValueError, match=r"Batch 0 of x \(a generator\) is a tuple of 4 "
                                         r"elements; a batch must be x, \(x,\), \(x, y\)"):
        make_model().fit(gen(), verbose=0)


def test_batch_without_targets_and_mismatched_lengths():
    with pytest.raises(ValueError, match=r"Batch 0 of x \(a generator\) has no targets"):
        make_model().fit((X[i:i + 8] for i in range(0, 16, 8)), verbose=0)
    with pytest.raises(ValueError, match=r"Batch 0 .*: x, y and sample_weight must have the "
                                         r"same number of samples"):
        make_model().fit(iter([(X[:8], Y[:7])]), verbose=0)


def test_nan_in_a_batch_is_named():
    bad = X[:8].copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"Batch 1 of x \(an iterator\): x contains 1 NaN"):
        make_model().fit(iter([(X[:8], Y[:8]), (bad, Y[:8])]), verbose=0)


def test_class_weight_with_batch_sample_weights():
    with pytest.raises(ValueError, match="has sample weights and class_weight was given"):
        make_model().fit(batches(sw=SW), class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_empty_sources():
    with pytest.raises(ValueError, match=r"x \(an iterator\) yielded no batches"):
        make_model().fit(iter([]), verbose=0)
    with pytest.raises(ValueError, match="is empty"):
        make_model().fit(Samples(X[:0], Y[:0]), verbose=0)


def test_steps_beyond_a_finite_source():
    with pytest.raises(ValueError, match=r"steps_per_epoch=9 asks for more batches than x "
                                         r"\(a PyDataset\) holds \(7 batches\)"):
        make_model().fit(ArrayBatches(), steps_per_epoch=9, verbose=0)
    with pytest.raises(ValueError, match=r"steps=8 asks for more batches than x "
                                         r"\(a torch DataLoader\) holds \(7 batches\)"):
        make_model().evaluate(loader(), steps=8, verbose=0)


def test_unstackable_dataset_samples():
    class Ragged(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.zeros(4 + i % 2), np.zeros(1)

    with pytest.raises(ValueError, match=r"samples \[0, 1, 2, 3\] of the torch Dataset "
                                         r"Ragged could not be stacked"):
        make_model().fit(Ragged(), shuffle=False, verbose=0)


def test_pydataset_without_len():
    class NoLen(PyDataset):
        def __getitem__(self, index):
            return X[:8], Y[:8]

    with pytest.raises(NotImplementedError, match="must define __len__"):
        make_model().fit(NoLen(), verbose=0)


# ------------------------------------------------------------------------------ helpers
def test_is_batch_source_and_unpack():
    for arrays in (X, torch.zeros(2), [X, X], {"a": X}, (X,), range(3)):
        assert not data_lib.is_batch_source(arrays)
    for source in (batches(), loader(), ArrayBatches(), Samples(), Stream(), iter([])):
        assert data_lib.is_batch_source(source)
    assert data_lib.unpack_batch([1, 2], "b") == (1, 2, None)
    assert data_lib.unpack_batch({"a": 1}, "b") == ({"a": 1}, None, None)
    with pytest.raises(ValueError, match="tuple of 0 elements"):
        data_lib.unpack_batch((), "batch 0")


def test_callbacks_see_unknown_steps_and_batches():
    class Count(Callback):
        def __init__(self):
            super().__init__()
            self.batches = 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

    counter = Count()
    make_model().fit(batches(), epochs=1, verbose=0, callbacks=[counter])
    assert counter.batches == STEPS and counter.params["steps"] is None


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_from_pinned_dataloader():
    model = make_model()
    model.to("cuda")
    reference = make_model().fit(X, Y, batch_size=BS, epochs=2, shuffle=False, verbose=0)
    history = model.fit(loader(pin_memory=True), epochs=2, verbose=0)
    np.testing.assert_allclose(history.history["loss"], reference.history["loss"], rtol=1e-4)
    assert model.predict(batches(), verbose=0).shape == (N, 1)
