"""Metrics against real Keras 3 (torch backend): same streaming values batch after batch.

Each case feeds the same three random batches (the second with sample weights) to our metric and
to ``keras.metrics.<Class>``, compares ``result()`` after every update, then resets both and
compares once more. Tolerance rtol 1e-5 / atol 1e-6: both sides run the same float32 torch ops,
but sums may be accumulated in a different order (e.g. bucket sums, per-sample reductions).
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from torchkeras_lite import losses, metrics

pytest.importorskip("keras")
from keras.src.trainers.compile_utils import get_metric  # noqa: E402 (Keras's own resolver)
from keras.src.utils.naming import reset_uids  # noqa: E402

N, C = 16, 5
RTOL, ATOL = 1e-5, 1e-6


# ---- data makers: (rng) -> (y_true, y_pred) as float32 / int numpy arrays ----------------------


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def binary_col(rng):
    return rng.integers(0, 2, (N, 1)).astype("float32"), rng.random((N, 1), dtype="float32")


def binary_flat(rng):
    return rng.integers(0, 2, (N,)).astype("float32"), rng.random((N,), dtype="float32")


def binary_logits(rng):
    return rng.integers(0, 2, (N, 1)).astype("float32"), rng.normal(size=(N, 1)).astype("float32")


def multilabel(rng):
    return rng.integers(0, 2, (N, 3)).astype("float32"), rng.random((N, 3), dtype="float32")


def onehot(rng):
    labels = rng.integers(0, C, (N,))
    return np.eye(C, dtype="float32")[labels], _softmax(rng.normal(size=(N, C)))


def onehot_logits(rng):
    labels = rng.integers(0, C, (N,))
    return np.eye(C, dtype="float32")[labels], rng.normal(size=(N, C)).astype("float32")


def sparse(rng):
    return rng.integers(0, C, (N,)), _softmax(rng.normal(size=(N, C)))


def sparse_col(rng):
    return rng.integers(0, C, (N, 1)), _softmax(rng.normal(size=(N, C)))


def sparse_logits(rng):
    return rng.integers(0, C, (N,)), rng.normal(size=(N, C)).astype("float32")


def sorted_ids(rng):
    ids = np.argsort(-rng.random((N, C)), axis=-1).astype("float32")
    return rng.integers(0, C, (N,)), ids


def exact(rng):
    y_true = rng.integers(0, 3, (N, 1)).astype("float32")
    flip = rng.random((N, 1)) < 0.4
    return y_true, np.where(flip, (y_true + 1) % 3, y_true).astype("float32")


def regression(rng):
    return rng.normal(size=(N, 3)).astype("float32"), rng.normal(size=(N, 3)).astype("float32")


def regression_col(rng):
    return rng.normal(size=(N,)).astype("float32"), rng.normal(size=(N, 1)).astype("float32")


def sequence(rng):
    shape = (N, 4, 3)
    return rng.normal(size=shape).astype("float32"), rng.normal(size=shape).astype("float32")


def positive(rng):
    return (rng.random((N, 3), dtype="float32") + 0.1), (rng.random((N, 3), dtype="float32") + 0.1)


def distributions(rng):
    return _softmax(rng.normal(size=(N, C))), _softmax(rng.normal(size=(N, C)))


def signed(rng):
    labels = rng.choice([-1.0, 1.0], (N, 3)).astype("float32")
    return labels, rng.normal(size=(N, 3)).astype("float32")


# ---- cases: id -> (class name, kwargs, data maker) ----------------------------------------------

CASES = {
    "Accuracy": ("Accuracy", {}, exact),
    "BinaryAccuracy": ("BinaryAccuracy", {}, binary_col),
    "BinaryAccuracy-flat": ("BinaryAccuracy", {}, binary_flat),
    "BinaryAccuracy-threshold": ("BinaryAccuracy", {"threshold": 0.3}, binary_col),
    "CategoricalAccuracy": ("CategoricalAccuracy", {}, onehot),
    "SparseCategoricalAccuracy": ("SparseCategoricalAccuracy", {}, sparse),
    "SparseCategoricalAccuracy-col": ("SparseCategoricalAccuracy", {}, sparse_col),
    "TopKCategoricalAccuracy": ("TopKCategoricalAccuracy", {"k": 2}, onehot),
    "SparseTopKCategoricalAccuracy": ("SparseTopKCategoricalAccuracy", {"k": 3}, sparse),
    "SparseTopKCategoricalAccuracy-col": ("SparseTopKCategoricalAccuracy", {"k": 2}, sparse_col),
    "SparseTopKCategoricalAccuracy-sorted": (
        "SparseTopKCategoricalAccuracy", {"k": 2, "from_sorted_ids": True}, sorted_ids),
    "MeanSquaredError": ("MeanSquaredError", {}, regression),
    "MeanSquaredError-col": ("MeanSquaredError", {}, regression_col),
    "MeanSquaredError-seq": ("MeanSquaredError", {}, sequence),
    "MeanAbsoluteError": ("MeanAbsoluteError", {}, regression),
    "MeanAbsolutePercentageError": ("MeanAbsolutePercentageError", {}, positive),
    "MeanSquaredLogarithmicError": ("MeanSquaredLogarithmicError", {}, positive),
    "RootMeanSquaredError": ("RootMeanSquaredError", {}, regression),
    "RootMeanSquaredError-col": ("RootMeanSquaredError", {}, regression_col),
    "LogCoshError": ("LogCoshError", {}, regression),
    "CosineSimilarity": ("CosineSimilarity", {}, regression),
    "CosineSimilarity-seq": ("CosineSimilarity", {}, sequence),
    "BinaryCrossentropy": ("BinaryCrossentropy", {}, binary_col),
    "BinaryCrossentropy-logits-smoothing": (
        "BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, binary_logits),
    "CategoricalCrossentropy": ("CategoricalCrossentropy", {}, onehot),
    "CategoricalCrossentropy-logits-smoothing": (
        "CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, onehot_logits),
    "SparseCategoricalCrossentropy": ("SparseCategoricalCrossentropy", {}, sparse),
    "SparseCategoricalCrossentropy-logits": (
        "SparseCategoricalCrossentropy", {"from_logits": True}, sparse_logits),
    "SparseCategoricalCrossentropy-ignore": (
        "SparseCategoricalCrossentropy", {"ignore_class": 0}, sparse),
    "KLDivergence": ("KLDivergence", {}, distributions),
    "Poisson": ("Poisson", {}, positive),
    "Hinge": ("Hinge", {}, signed),
    "SquaredHinge": ("SquaredHinge", {}, signed),
    "CategoricalHinge": ("CategoricalHinge", {}, onehot),
    "TruePositives": ("TruePositives", {}, binary_col),
    "FalsePositives": ("FalsePositives", {"thresholds": [0.2, 0.7]}, binary_flat),
    "TrueNegatives": ("TrueNegatives", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, multilabel),
    "FalseNegatives": ("FalseNegatives", {}, multilabel),
    "Precision": ("Precision", {}, binary_col),
    "Precision-thresholds": ("Precision", {"thresholds": [0.3, 0.6, 0.9]}, multilabel),
    "Precision-even-thresholds": ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, binary_flat),
    "Precision-top_k": ("Precision", {"top_k": 2}, onehot),
    "Precision-class_id": ("Precision", {"class_id": 2}, onehot),
    "Precision-top_k-class_id": ("Precision", {"top_k": 2, "class_id": 1}, onehot),
    "Recall": ("Recall", {}, binary_col),
    "Recall-thresholds": ("Recall", {"thresholds": [0.3, 0.6, 0.9]}, multilabel),
    "Recall-top_k": ("Recall", {"top_k": 3}, onehot),
    "Recall-class_id": ("Recall", {"class_id": 0}, onehot),
    "AUC": ("AUC", {}, binary_col),
    "AUC-flat": ("AUC", {}, binary_flat),
    "AUC-PR": ("AUC", {"curve": "PR"}, binary_col),
    "AUC-PR-majoring": ("AUC", {"curve": "PR", "summation_method": "majoring"}, binary_col),
    "AUC-ROC-minoring": ("AUC", {"summation_method": "minoring", "num_thresholds": 7}, binary_col),
    "AUC-PRGAIN": ("AUC", {"curve": "PRGAIN"}, binary_col),
    "AUC-few-thresholds": ("AUC", {"num_thresholds": 10}, multilabel),
    "AUC-thresholds": ("AUC", {"thresholds": [0.1, 0.45, 0.5, 0.8]}, binary_col),
    "AUC-PR-thresholds": ("AUC", {"curve": "PR", "thresholds": [0.3, 0.2, 0.6]}, multilabel),
    "AUC-multi_label": ("AUC", {"multi_label": True}, multilabel),
    "AUC-multi_label-PR": (
        "AUC", {"multi_label": True, "curve": "PR", "num_labels": 3}, multilabel),
    "AUC-multi_label-weights": (
        "AUC", {"multi_label": True, "label_weights": [0.5, 1.0, 2.0]}, multilabel),
    "AUC-multi_label-thresholds": (
        "AUC", {"multi_label": True, "thresholds": [0.25, 0.6]}, multilabel),
    "AUC-label_weights": ("AUC", {"label_weights": [0.5, 1.0, 2.0]}, multilabel),
    "AUC-from_logits": ("AUC", {"from_logits": True}, binary_logits),
    "SensitivityAtSpecificity": ("SensitivityAtSpecificity", {"specificity": 0.6}, binary_col),
    "SpecificityAtSensitivity": (
        "SpecificityAtSensitivity", {"sensitivity": 0.5, "num_thresholds": 20}, binary_col),
    "PrecisionAtRecall": ("PrecisionAtRecall", {"recall": 0.7}, binary_flat),
    "RecallAtPrecision": ("RecallAtPrecision", {"precision": 0.4, "class_id": 1}, onehot),
}

# Sample weights of the second batch, by the rank of y_true (sequence data gets (N, T) weights).
def _sample_weight(rng, y_true):
    shape = (N, 4) if y_true.ndim == 3 else (N,)
    return rng.random(shape, dtype="float32")


def _check(ours, theirs, K, where):
    expected = K.ops.convert_to_numpy(theirs.result())
    got = ours.result()
    assert isinstance(got, torch.Tensor), f"{where}: result() must return a tensor"
    np.testing.assert_allclose(got.numpy(), expected, rtol=RTOL, atol=ATOL, err_msg=where)


@pytest.mark.parametrize("case", list(CASES))
def test_metric_class_matches_keras(case, K):
    class_name, kwargs, make = CASES[case]
    ours = getattr(metrics, class_name)(**kwargs)
    reset_uids()  # Keras numbers repeated default names ('auc_1'); we do not
    theirs = getattr(K.metrics, class_name)(**kwargs)
    assert ours.name == theirs.name
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    for step in range(3):
        y_true, y_pred = make(rng)
        sample_weight = _sample_weight(rng, y_true) if step == 1 else None
        theirs.update_state(y_true, y_pred, sample_weight=sample_weight)
        if step == 2:  # numpy in, as a user calling the metric by hand would
            ours.update_state(y_true, y_pred, sample_weight=sample_weight)
        else:
            ours.update_state(
                torch.from_numpy(y_true), torch.from_numpy(y_pred),
                sample_weight=None if sample_weight is None else torch.from_numpy(sample_weight),
            )
        _check(ours, theirs, K, f"{case}: after update {step + 1}")
    ours.reset_state()
    theirs.reset_state()
    _check(ours, theirs, K, f"{case}: after reset_state")
    y_true, y_pred = make(rng)
    ours.update_state(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    theirs.update_state(y_true, y_pred)
    _check(ours, theirs, K, f"{case}: after reset_state and one update")


# ---- Mean / Sum over values, with Keras's rules for N-D values and weights ----------------------

REDUCTION_CASES = {
    "1d": ((N,), None),
    "1d-weights": ((N,), (N,)),
    "2d": ((N, 3), None),
    "2d-weights": ((N, 3), (N,)),
    "2d-column-weights": ((N, 1), (N,)),
    "2d-full-weights": ((N, 3), (N, 3)),
    "3d-weights": ((N, 4, 3), (N, 4)),
    "1d-column-weights": ((N,), (N, 1)),
    "scalar-weight": ((N, 3), ()),
}


@pytest.mark.parametrize("class_name", ["Mean", "Sum"])
@pytest.mark.parametrize("case", list(REDUCTION_CASES))
def test_reduction_matches_keras(class_name, case, K):
    values_shape, weight_shape = REDUCTION_CASES[case]
    ours, theirs = getattr(metrics, class_name)(), getattr(K.metrics, class_name)()
    rng = np.random.default_rng(1)
    for step in range(3):
        values = rng.normal(size=values_shape).astype("float32")
        weights = None
        if weight_shape is not None and step != 2:
            weights = rng.random(weight_shape, dtype="float32")
        ours.update_state(torch.from_numpy(values),
                          None if weights is None else torch.from_numpy(weights))
        theirs.update_state(values, weights)
        _check(ours, theirs, K, f"{class_name} {case}: after update {step + 1}")


CONFUSION_WEIGHT_CASES = {
    "Precision-col-weights": ("Precision", {}, binary_col, (N, 1)),
    "Recall-even-thresholds-weights": ("Recall", {"thresholds": [0.0, 0.5, 1.0]}, binary_col, (N,)),
    "AUC-col-weights": ("AUC", {}, binary_col, (N, 1)),
    "AUC-multilabel-full-weights": ("AUC", {}, multilabel, (N, 3)),
    "AUC-multi_label-full-weights": ("AUC", {"multi_label": True}, multilabel, (N, 3)),
    "Precision-thresholds-full-weights": (
        "Precision", {"thresholds": [0.3, 0.6]}, multilabel, (N, 3)),
    "Recall-class_id-weights": ("Recall", {"class_id": 1}, onehot, (N,)),
    "AUC-scalar-weight": ("AUC", {"num_thresholds": 11}, binary_col, ()),
}


@pytest.mark.parametrize("case", list(CONFUSION_WEIGHT_CASES))
def test_confusion_metric_weight_shapes_match_keras(case, K):
    class_name, kwargs, make, weight_shape = CONFUSION_WEIGHT_CASES[case]
    ours, theirs = getattr(metrics, class_name)(**kwargs), getattr(K.metrics, class_name)(**kwargs)
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    for step in range(2):
        y_true, y_pred = make(rng)
        weights = rng.random(weight_shape, dtype="float32") if weight_shape else np.float32(0.7)
        ours.update_state(y_true, y_pred, sample_weight=weights)
        theirs.update_state(y_true, y_pred, sample_weight=weights)
        _check(ours, theirs, K, f"{case}: after update {step + 1}")


def test_mean_metric_wrapper_of_a_loss_matches_keras(K):
    ours = metrics.MeanMetricWrapper(losses.huber, delta=0.5)
    reset_uids()
    theirs = K.metrics.MeanMetricWrapper(K.losses.huber, delta=0.5)
    assert ours.name == theirs.name == "mean_metric_wrapper"
    rng = np.random.default_rng(2)
    for step in range(3):
        y_true, y_pred = sequence(rng)
        weights = rng.random((N,), dtype="float32") if step else None
        ours.update_state(y_true, y_pred, weights)
        theirs.update_state(y_true, y_pred, weights)
        _check(ours, theirs, K, f"huber wrapper after update {step + 1}")


def test_precision_recall_default_names_match_keras(K):
    reset_uids()  # Keras numbers repeated auto names ('auc_1'); start fresh
    for class_name in ("Precision", "Recall", "AUC", "TruePositives", "FalseNegatives"):
        assert getattr(metrics, class_name)().name == getattr(K.metrics, class_name)().name


# ---- compile-time resolution ---------------------------------------------------------------------

RESOLUTION_CASES = {
    "binary-col": ("accuracy", (N, 1), (N, 1)),
    "binary-flat-true": ("accuracy", (N,), (N, 1)),
    "sparse-flat": ("accuracy", (N,), (N, C)),
    "sparse-col": ("acc", (N, 1), (N, C)),
    "categorical": ("accuracy", (N, C), (N, C)),
    "categorical-seq": ("acc", (N, 4, C), (N, 4, C)),
    "sparse-seq": ("accuracy", (N, 4), (N, 4, C)),
    "upper-case": ("Accuracy", (N,), (N, C)),
    "mse": ("mse", (N, 1), (N, 1)),
    "MSE": ("MSE", (N, 1), (N, 1)),
    "mae": ("mae", (N, 1), (N, 1)),
    "mean_squared_error": ("mean_squared_error", (N, 1), (N, 1)),
    "binary_crossentropy": ("binary_crossentropy", (N, 1), (N, 1)),
    "categorical_crossentropy": ("categorical_crossentropy", (N, C), (N, C)),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy", (N,), (N, C)),
    "kl_divergence": ("kl_divergence", (N, C), (N, C)),
    "poisson": ("poisson", (N, 1), (N, 1)),
    "hinge": ("hinge", (N, 1), (N, 1)),
    "cosine_similarity": ("cosine_similarity", (N, 3), (N, 3)),
    "binary_accuracy": ("binary_accuracy", (N, 1), (N, 1)),
    "top_k_categorical_accuracy": ("top_k_categorical_accuracy", (N, C), (N, C)),
    "AUC": ("AUC", (N, 1), (N, 1)),
    "auc": ("auc", (N, 1), (N, 1)),
    "precision": ("precision", (N, 1), (N, 1)),
    "log_cosh_error": ("log_cosh_error", (N, 1), (N, 1)),
    "root_mean_squared_error": ("root_mean_squared_error", (N, 1), (N, 1)),
}


@pytest.mark.parametrize("case", list(RESOLUTION_CASES))
def test_string_resolution_matches_keras(case, K):
    identifier, true_shape, pred_shape = RESOLUTION_CASES[case]
    theirs = get_metric(identifier, np.zeros(true_shape), np.zeros(pred_shape))
    ours = metrics.get_for_shapes(identifier, true_shape, pred_shape)
    assert (type(ours).__name__, ours.name) == (type(theirs).__name__, theirs.name)


def test_object_resolution_matches_keras(K):
    shapes = ((N, 1), (N, 1))
    arrays = tuple(np.zeros(s) for s in shapes)

    def my_metric(y_true, y_pred):
        return y_pred

    pairs = [
        (losses.mean_squared_error, K.losses.mean_squared_error),
        (metrics.binary_accuracy, K.metrics.binary_accuracy),
        (my_metric, my_metric),
        (metrics.AUC, K.metrics.AUC),
        (metrics.Precision(name="p"), K.metrics.Precision(name="p")),
        ({"class_name": "BinaryAccuracy", "config": {"threshold": 0.7}},
         {"class_name": "BinaryAccuracy", "config": {"threshold": 0.7}}),
    ]
    reset_uids()
    for ours_id, keras_id in pairs:
        theirs = get_metric(keras_id, *arrays)
        ours = metrics.get_for_shapes(ours_id, *shapes)
        assert (type(ours).__name__, ours.name) == (type(theirs).__name__, theirs.name), ours_id


def test_resolved_accuracy_values_match_keras(K):
    """The resolved 'accuracy' metric gives Keras's number on each kind of data."""
    rng = np.random.default_rng(3)
    for make in (binary_col, binary_flat, sparse, sparse_col, onehot):
        y_true, y_pred = make(rng)
        theirs = get_metric("accuracy", y_true, y_pred)
        ours = metrics.get_for_shapes("accuracy", y_true.shape, y_pred.shape)
        theirs.update_state(y_true, y_pred)
        ours.update_state(y_true, y_pred)
        _check(ours, theirs, K, f"'accuracy' on {make.__name__}")
