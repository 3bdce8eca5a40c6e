"""Unit tests of torchkeras_lite.metrics: errors, catalog, configs, state handling, resolution.

Numbers against real Keras are in tests/parity/test_metrics_parity.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import losses, metrics
from torchkeras_lite.utils import registry

# Arguments for the classes that need some (the rest build with no arguments).
REQUIRED_ARGS = {
    metrics.MeanMetricWrapper: {"fn": losses.mean_squared_error},
    metrics.SensitivityAtSpecificity: {"specificity": 0.5},
    metrics.SpecificityAtSensitivity: {"sensitivity": 0.5},
    metrics.PrecisionAtRecall: {"recall": 0.5},
    metrics.RecallAtPrecision: {"precision": 0.5},
}
ALL_CLASSES = [metrics.METRICS[name] for name in sorted(metrics.METRICS)
               if isinstance(metrics.METRICS[name], type) and name[0].isupper()]

# Non-default arguments per class, to check that configs carry them.
CUSTOM_ARGS = {
    metrics.BinaryAccuracy: {"threshold": 0.3, "name": "ba"},
    metrics.TopKCategoricalAccuracy: {"k": 2},
    metrics.SparseTopKCategoricalAccuracy: {"k": 3, "from_sorted_ids": True},
    metrics.CosineSimilarity: {"axis": 1},
    metrics.BinaryCrossentropy: {"from_logits": True, "label_smoothing": 0.1},
    metrics.CategoricalCrossentropy: {"from_logits": True, "label_smoothing": 0.2, "axis": -1},
    metrics.SparseCategoricalCrossentropy: {"from_logits": True, "ignore_class": 0},
    metrics.MeanMetricWrapper: {"fn": losses.huber, "delta": 0.5, "name": "h"},
    metrics.Precision: {"thresholds": [0.2, 0.7], "top_k": 2, "class_id": 1},
    metrics.Recall: {"thresholds": 0.3, "class_id": 0},
    metrics.TruePositives: {"thresholds": [0.1, 0.9]},
    metrics.AUC: {"num_thresholds": 10, "curve": "PR", "summation_method": "majoring",
                  "multi_label": True, "num_labels": 3, "label_weights": [1.0, 2.0, 3.0],
                  "from_logits": True},
    metrics.PrecisionAtRecall: {"recall": 0.8, "num_thresholds": 20, "class_id": 2},
    metrics.Mean: {"name": "m", "dtype": "float64"},
}


def _y(rng, kind="binary", n=8):
    if kind == "binary":
        return rng.integers(0, 2, (n, 1)).astype("float32"), rng.random((n, 1), dtype="float32")
    labels = rng.integers(0, 3, (n,))
    return np.eye(3, dtype="float32")[labels], rng.random((n, 3), dtype="float32")


# ---- errors ------------------------------------------------------------------------------------


def test_unknown_name_lists_valid_names_and_closest():
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'\. Did you mean 'accuracy'\?"):
        metrics.get("acuracy")
    with pytest.raises(ValueError, match="Valid metric names are: .*binary_accuracy"):
        metrics.get_for_shapes("precission_at", (4, 1), (4, 1))


def test_get_for_shapes_rejects_none():
    with pytest.raises(ValueError, match="Expected a metric, got None"):
        metrics.get_for_shapes(None, (4, 1), (4, 1))


@pytest.mark.parametrize("metric", [
    metrics.BinaryAccuracy(), metrics.MeanSquaredError(), metrics.RootMeanSquaredError(),
    metrics.Precision(), metrics.AUC(), metrics.SparseCategoricalAccuracy(),
], ids=lambda m: m.name)
def test_batch_size_mismatch_names_metric_and_shapes(metric):
    with pytest.raises(ValueError) as info:
        metric.update_state(torch.zeros(4, 1), torch.zeros(3, 1))
    message = str(info.value)
    assert repr(metric.name) in message and "(4, 1)" in message and "(3, 1)" in message


@pytest.mark.parametrize("metric, y_true, y_pred, hint", [
    (metrics.BinaryAccuracy(), torch.zeros(4, 3), torch.zeros(4, 2), "same shape"),
    (metrics.BinaryAccuracy(), torch.zeros(3), torch.zeros(3, 3), "same shape"),
    (metrics.Accuracy(), torch.zeros(4, 2), torch.zeros(4, 3), "same shape"),
    (metrics.CategoricalAccuracy(), torch.zeros(4), torch.zeros(4, 3), "sparse_categorical"),
    (metrics.CategoricalAccuracy(), torch.zeros(4, 2), torch.zeros(4, 3), "one-hot"),
    (metrics.TopKCategoricalAccuracy(), torch.zeros(4, 1), torch.zeros(4, 3), "sparse_top_k"),
    (metrics.SparseCategoricalAccuracy(), torch.zeros(4, 3), torch.zeros(4, 3), "one-hot"),
    (metrics.SparseTopKCategoricalAccuracy(), torch.zeros(4, 2), torch.zeros(4, 3), "integer"),
    (metrics.MeanSquaredError(), torch.zeros(4, 3), torch.zeros(4, 2), "same shape"),
    (metrics.CategoricalCrossentropy(), torch.zeros(4), torch.zeros(4, 3), "sparse"),
    (metrics.RootMeanSquaredError(), torch.zeros(4, 3), torch.zeros(4, 2), "cannot compare"),
    (metrics.Precision(), torch.zeros(4), torch.zeros(4, 3), "same shape"),
    (metrics.AUC(label_weights=[1.0, 2.0]), torch.zeros(4, 3), torch.zeros(4, 3), "label_weights"),
], ids=lambda x: getattr(x, "name", None) if isinstance(x, metrics.Metric) else None)
def test_incompatible_shapes_name_metric_and_shapes(metric, y_true, y_pred, hint):
    with pytest.raises(ValueError) as info:
        metric.update_state(y_true, y_pred)
    message = str(info.value)
    assert repr(metric.name) in message, message
    assert str(tuple(y_true.shape)) in message or str(tuple(y_pred.shape)) in message, message
    assert hint in message, message


def test_sample_weight_of_wrong_shape():
    with pytest.raises(ValueError, match=r"'mean_squared_error'.*sample_weight of shape \(3,\)"):
        metrics.MeanSquaredError().update_state(torch.zeros(4, 2), torch.zeros(4, 2),
                                                sample_weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"'sum'.*sample_weight of shape \(2,\)"):
        metrics.Sum().update_state(torch.zeros(4), sample_weight=torch.ones(2))
    with pytest.raises(ValueError, match=r"'recall'.*sample_weight of shape \(4, 1, 1\)"):
        metrics.Recall().update_state(torch.zeros(4), torch.zeros(4), torch.ones(4, 1))


def test_class_id_and_top_k_out_of_range():
    with pytest.raises(ValueError, match=r"'precision'.*class_id=5.*\(4, 3\)"):
        metrics.Precision(class_id=5).update_state(torch.zeros(4, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"'recall'.*top_k=4.*\(4, 3\)"):
        metrics.Recall(top_k=4).update_state(torch.zeros(4, 3), torch.zeros(4, 3))


@pytest.mark.parametrize("build, argument, received", [
    (lambda: metrics.TopKCategoricalAccuracy(k=0), "k must be a positive integer", "0"),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=1.5), "k must be a positive integer", "1.5"),
    (lambda: metrics.BinaryAccuracy(threshold=1.5), r"threshold must be a float in \[0, 1\]",
     "1.5"),
    (lambda: metrics.Precision(thresholds=[0.5, -0.1]), r"thresholds must be a float in \[0, 1\]",
     "-0.1"),
    (lambda: metrics.Precision(top_k=0), "top_k must be a positive integer", "0"),
    (lambda: metrics.Recall(class_id="a"), "class_id must be an integer", "'a'"),
    (lambda: metrics.Recall(thresholds=[]), "thresholds must not be empty", "[]"),
    (lambda: metrics.AUC(num_thresholds=1), "num_thresholds must be an integer >= 2", "1"),
    (lambda: metrics.AUC(curve="XYZ"), "curve must be one of 'ROC', 'PR', 'PRGAIN'", "'XYZ'"),
    (lambda: metrics.AUC(summation_method="mid"), "summation_method must be one of", "'mid'"),
    (lambda: metrics.AUC(thresholds=[0.5, 2.0]), r"thresholds must be a float in \[0, 1\]", "2.0"),
    (lambda: metrics.AUC(num_labels=3), "num_labels is only used with multi_label=True",
     "num_labels=3"),
    (lambda: metrics.PrecisionAtRecall(recall=1.2), r"recall must be a float in \[0, 1\]", "1.2"),
    (lambda: metrics.SensitivityAtSpecificity(0.5, num_thresholds=0),
     "num_thresholds must be a positive integer", "0"),
    (lambda: metrics.BinaryCrossentropy(label_smoothing=2), "label_smoothing", "2"),
    (lambda: metrics.Mean(dtype="int32"), "dtype must be a float dtype", "'int32'"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_invalid_hyper_parameters(build, argument, received):
    with pytest.raises(ValueError, match=argument) as info:
        build()
    assert f"got {received}" in str(info.value)


def test_mean_metric_wrapper_needs_a_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        metrics.MeanMetricWrapper("mse")


def test_auc_multi_label_needs_rank_2_and_fixed_labels():
    auc = metrics.AUC(multi_label=True)
    with pytest.raises(ValueError, match=r"multi_label=True.*\(4,\)"):
        auc.update_state(torch.zeros(4), torch.zeros(4))
    auc.update_state(torch.zeros(4, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="built for 3 labels"):
        auc.update_state(torch.zeros(4, 2), torch.zeros(4, 2))


# ---- catalog ------------------------------------------------------------------------------------


def test_get_names():
    assert metrics.get("mse") is losses.mean_squared_error
    assert metrics.get("MAE") is losses.mean_absolute_error
    assert metrics.get("huber") is losses.huber
    assert metrics.get("binary_accuracy") is metrics.binary_accuracy
    assert metrics.get("cosine_similarity") is metrics.cosine_similarity  # the metric, not the loss
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("log_cosh_error"), metrics.LogCoshError)
    assert isinstance(metrics.get("SparseTopKCategoricalAccuracy"),
                      metrics.SparseTopKCategoricalAccuracy)


def test_get_dict_class_instance_callable():
    m = metrics.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.7, "name": "b"}})
    assert isinstance(m, metrics.BinaryAccuracy) and m.threshold == 0.7 and m.name == "b"
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    instance = metrics.Precision()
    assert metrics.get(instance) is instance

    def my_metric(y_true, y_pred):
        return y_pred

    assert metrics.get(my_metric) is my_metric
    assert metrics.get(None) is None
    with pytest.raises(ValueError, match="needs a 'class_name'"):
        metrics.get({"config": {}})


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_config_round_trip(cls):
    args = {**REQUIRED_ARGS.get(cls, {}), **CUSTOM_ARGS.get(cls, {})}
    metric = cls(**args)
    config = metric.get_config()
    assert config["name"] == metric.name and config["dtype"] == metric.dtype
    clone = type(metric).from_config(config)
    assert type(clone) is cls
    assert clone.get_config() == config
    for key, value in CUSTOM_ARGS.get(cls, {}).items():
        if key != "fn":
            assert config[key] == value, key
    rebuilt = metrics.get(registry.serialize(metric))  # the {"class_name", "config"} path
    assert type(rebuilt) is cls and rebuilt.get_config() == config


def test_mean_metric_wrapper_config_names_the_function():
    wrapper = metrics.MeanMetricWrapper(losses.huber, delta=0.5)
    assert wrapper.get_config() == {"name": "mean_metric_wrapper", "dtype": "float32",
                                    "fn": "huber", "delta": 0.5}
    assert metrics.MeanMetricWrapper.from_config(wrapper.get_config())._fn is losses.huber


def test_auc_thresholds_config_round_trip():
    auc = metrics.AUC(thresholds=[0.7, 0.2, 0.5])
    config = auc.get_config()
    assert config["thresholds"] == [0.2, 0.5, 0.7] and config["num_thresholds"] == 5
    assert metrics.AUC.from_config(config).thresholds == auc.thresholds


# ---- state ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_state_is_tensors_and_result_is_a_tensor(cls, rng):
    metric = cls(**REQUIRED_ARGS.get(cls, {}))
    if cls in (metrics.Mean, metrics.Sum):
        metric.update_state(rng.random(8, dtype="float32"))
    else:
        kind = "categorical" if cls in (
            metrics.CategoricalAccuracy, metrics.TopKCategoricalAccuracy,
            metrics.CategoricalCrossentropy, metrics.CategoricalHinge, metrics.KLDivergence,
        ) else "binary"
        y_true, y_pred = _y(rng, kind)
        if cls in (metrics.SparseCategoricalAccuracy, metrics.SparseTopKCategoricalAccuracy,
                   metrics.SparseCategoricalCrossentropy):
            y_true, y_pred = rng.integers(0, 3, (8,)), rng.random((8, 3), dtype="float32")
        metric.update_state(y_true, y_pred)
    assert metric.variables and all(isinstance(v, torch.Tensor) for v in metric.variables)
    result = metric.result()
    assert isinstance(result, torch.Tensor) and result.ndim == 0
    assert result.dtype == torch.float32 and bool(torch.isfinite(result))
    metric.reset_state()
    assert all(bool((v == 0).all()) for v in metric.variables)


def test_call_updates_then_returns_result():
    metric = metrics.BinaryAccuracy()
    assert float(metric([[1], [0]], [[0.9], [0.9]])) == 0.5
    assert float(metric([[1], [1]], [[0.9], [0.9]])) == 0.75


def test_state_updates_in_place_and_result_does_not_alias():
    metric = metrics.Sum()
    total = metric.total
    metric.update_state([1.0, 2.0])
    first = metric.result()
    metric.update_state([3.0])
    assert metric.total is total and float(total) == 6.0
    assert float(first) == 3.0


def test_inputs_that_require_grad_leave_no_graph_in_the_state():
    y_pred = torch.rand(4, 3, requires_grad=True)
    for metric in (metrics.MeanSquaredError(), metrics.AUC(), metrics.CategoricalAccuracy()):
        metric.update_state(torch.rand(4, 3).round(), y_pred)
        assert not any(v.requires_grad for v in metric.variables), metric.name
        assert not metric.result().requires_grad


def test_to_cpu_moves_state_and_returns_self():
    metric = metrics.AUC(label_weights=[1.0])
    assert metric.to("cpu") is metric
    assert metric.device == torch.device("cpu")
    assert all(v.device.type == "cpu" for v in metric.variables)
    metric.update_state(np.array([[1.0], [0.0]]), np.array([[0.8], [0.3]]))
    assert float(metric.result()) == pytest.approx(1.0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_update_has_no_host_sync():
    """On CUDA the per-step update and result() never wait for the device."""
    built = [metrics.BinaryAccuracy(), metrics.SparseCategoricalAccuracy(), metrics.Mean(),
             metrics.MeanSquaredError(), metrics.Precision(), metrics.Recall(top_k=1),
             metrics.AUC(), metrics.AUC(multi_label=True, num_labels=3),
             metrics.TopKCategoricalAccuracy(k=2)]
    for metric in built:
        metric.to("cuda")
    y_bin = (torch.rand(16, 1, device="cuda") > 0.5).float()
    p_bin = torch.rand(16, 1, device="cuda")
    labels = torch.randint(0, 3, (16,), device="cuda")
    probs = torch.rand(16, 3, device="cuda")
    onehot = torch.nn.functional.one_hot(labels, 3).float()
    weight = torch.rand(16, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        built[0].update_state(y_bin, p_bin, weight)
        built[1].update_state(labels, probs)
        built[2].update_state(p_bin, weight)
        built[3].update_state(y_bin, p_bin)
        built[4].update_state(y_bin, p_bin, weight)
        built[5].update_state(onehot, probs)
        built[6].update_state(y_bin, p_bin, weight)
        built[7].update_state(onehot, probs)
        built[8].update_state(onehot, probs)
        results = [metric.result() for metric in built]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(r.device.type == "cuda" for r in results)


# ---- compile-time resolution ---------------------------------------------------------------------


@pytest.mark.parametrize("identifier, y_true, y_pred, expected", [
    ("accuracy", (8, 1), (8, 1), metrics.BinaryAccuracy),
    ("acc", (8,), (8, 1), metrics.BinaryAccuracy),
    ("accuracy", (8,), (8, 4), metrics.SparseCategoricalAccuracy),
    ("ACC", (8, 1), (8, 4), metrics.SparseCategoricalAccuracy),
    ("accuracy", (8, 4), (8, 4), metrics.CategoricalAccuracy),
    ("crossentropy", (8, 1), (8, 1), metrics.BinaryCrossentropy),
    ("ce", (8,), (8, 4), metrics.SparseCategoricalCrossentropy),
    ("CE", (8, 4), (8, 4), metrics.CategoricalCrossentropy),
], ids=str)
def test_shape_rule(identifier, y_true, y_pred, expected):
    metric = metrics.get_for_shapes(identifier, y_true, y_pred)
    assert type(metric) is expected and metric.name == identifier


def test_from_logits_reaches_crossentropy_only():
    assert metrics.get_for_shapes("ce", (8,), (8, 4), from_logits=True).from_logits is True
    accuracy = metrics.get_for_shapes("accuracy", (8, 1), (8, 1), from_logits=True)
    assert accuracy.threshold == 0.5  # as Keras: 'accuracy' ignores logits


def test_strings_keep_their_name_and_get_the_keras_class():
    assert type(metrics.get_for_shapes("mse", (8, 1), (8, 1))) is metrics.MeanSquaredError
    assert metrics.get_for_shapes("mse", (8, 1), (8, 1)).name == "mse"
    assert metrics.get_for_shapes("mean_absolute_error", (8, 1), (8, 1)).name == \
        "mean_absolute_error"
    auc = metrics.get_for_shapes("AUC", (8, 1), (8, 1))
    assert type(auc) is metrics.AUC and auc.name == "AUC"
    huber = metrics.get_for_shapes("huber", (8, 1), (8, 1))
    assert type(huber) is metrics.MeanMetricWrapper and huber.name == "huber"


def test_objects_resolve_as_keras_does():
    instance = metrics.Precision(name="p")
    assert metrics.get_for_shapes(instance, (8, 1), (8, 1)) is instance
    assert metrics.get_for_shapes(metrics.AUC, (8, 1), (8, 1)).name == "auc"

    def myMetric(y_true, y_pred):  # noqa: N802 - Keras snake-cases function names
        return (y_true - y_pred).abs()

    wrapped = metrics.get_for_shapes(myMetric, (8, 1), (8, 1))
    assert type(wrapped) is metrics.MeanMetricWrapper and wrapped.name == "my_metric"
    assert float(wrapped(torch.ones(2, 1), torch.zeros(2, 1))) == 1.0
    assert metrics.get_for_shapes(lambda t, p: t, (8, 1), (8, 1)).name == "lambda"
    fn = metrics.get_for_shapes(losses.mean_squared_error, (8, 1), (8, 1))
    assert type(fn) is metrics.MeanMetricWrapper and fn.name == "mean_squared_error"


def test_resolution_rejects_scalars():
    with pytest.raises(ValueError, match="scalar"):
        metrics.get_for_shapes("accuracy", (), (8, 1))


def test_top_k_larger_than_classes_counts_every_sample():
    metric = metrics.SparseTopKCategoricalAccuracy(k=5)
    assert float(metric([0, 1], [[0.1, 0.9, 0.0], [0.5, 0.2, 0.3]])) == 1.0
