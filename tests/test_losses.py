"""Unit tests of torchkeras_lite.losses: errors, the catalog, configs and the base class.

Numbers against real Keras are in tests/parity/test_losses_parity.py.
"""
import numpy as np
import pytest
import torch

from torchkeras_lite import losses

# A non-default value for every constructor argument, to round-trip configs.
NON_DEFAULT_ARGS = {
    "BinaryCrossentropy": {"from_logits": True, "label_smoothing": 0.1, "axis": 1},
    "CategoricalCrossentropy": {"from_logits": True, "label_smoothing": 0.2, "axis": 1},
    "SparseCategoricalCrossentropy": {"from_logits": True, "ignore_class": -1, "axis": 1},
    "Huber": {"delta": 2.5},
    "CosineSimilarity": {"axis": 1},
}
CLASS_NAMES = sorted(n for n, obj in losses.LOSSES.items() if isinstance(obj, type))
MSE = losses.MeanSquaredError()


# --- errors -------------------------------------------------------------------------------


def test_unknown_name_lists_valid_names_and_suggests_the_closest():
    with pytest.raises(ValueError, match=r"Unknown loss 'logcosh'.*Did you mean 'log_cosh'.*mse"):
        losses.get("logcosh")


def test_unknown_class_name_in_config_dict():
    with pytest.raises(ValueError, match=r"Unknown loss 'MeanSquareError'.*MeanSquaredError"):
        losses.get({"class_name": "MeanSquareError", "config": {}})


def test_mismatched_shapes_name_the_loss_both_shapes_and_a_fix():
    with pytest.raises(
        ValueError,
        match=r"mean_squared_error: .*y_true.shape=\(4, 2\).*y_pred.shape=\(4, 3\).*reshape",
    ):
        losses.MeanSquaredError()(torch.zeros(4, 2), torch.zeros(4, 3))


@pytest.mark.parametrize(
    "fn", [losses.mean_absolute_error, losses.hinge, losses.binary_crossentropy]
)
def test_functions_check_shapes_too(fn):
    with pytest.raises(ValueError, match=fn.__name__ + r".*\(4,\).*\(4, 3\)"):
        fn(torch.zeros(4), torch.zeros(4, 3))


@pytest.mark.parametrize("label_shape", [(4,), (4, 1)])
def test_integer_labels_to_categorical_crossentropy_point_to_sparse(label_shape):
    y_true = torch.zeros(label_shape, dtype=torch.long)
    with pytest.raises(
        ValueError, match=r"integer class labels.*sparse_categorical_crossentropy.*to_categorical"
    ):
        losses.CategoricalCrossentropy()(y_true, torch.full((4, 3), 1 / 3))


def test_one_hot_labels_to_sparse_crossentropy_point_to_categorical():
    with pytest.raises(ValueError, match=r"looks one-hot.*Use loss='categorical_crossentropy'"):
        losses.SparseCategoricalCrossentropy()(torch.eye(3), torch.full((3, 3), 1 / 3))


def test_sparse_crossentropy_with_wrong_label_shape():
    with pytest.raises(ValueError, match=r"labels of shape \(4,\).*y_true.shape=\(5,\)"):
        losses.sparse_categorical_crossentropy(torch.zeros(5, dtype=torch.long), torch.ones(4, 3))


def test_sparse_crossentropy_axis_out_of_range():
    with pytest.raises(ValueError, match=r"axis=2 is not an axis"):
        losses.sparse_categorical_crossentropy(
            torch.zeros(4, dtype=torch.long), torch.ones(4, 3), axis=2
        )


def test_single_class_categorical_crossentropy_warns():
    with pytest.warns(UserWarning, match="binary_crossentropy"):
        losses.categorical_crossentropy(torch.ones(4, 1), torch.ones(4, 1))


@pytest.mark.parametrize("weight_shape", [(3,), (4, 2), (4, 3, 1, 1)])
def test_sample_weight_that_does_not_broadcast(weight_shape):
    with pytest.raises(ValueError, match=r"sample_weight of shape .*cannot be broadcast.*\(4,\)"):
        MSE(torch.zeros(4, 2), torch.zeros(4, 2), sample_weight=torch.ones(weight_shape))


def test_per_sample_weights_on_sequence_losses_say_how_to_reshape():
    # (N,) weights on (N, T) losses: Keras aligns from the right and fails (or, when T == N,
    # silently weights the time steps). Both are refused with the fix.
    with pytest.raises(
        ValueError,
        match=r"sample_weight of shape \(4,\) cannot be broadcast.*reshape .* to \(4, 1\)",
    ):
        MSE(torch.zeros(4, 3, 2), torch.zeros(4, 3, 2), sample_weight=torch.ones(4))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4,\) is ambiguous.*\(4, 1\)"):
        MSE(torch.zeros(4, 4, 2), torch.zeros(4, 4, 2), sample_weight=torch.ones(4))


def test_mask_with_wrong_shape():
    with pytest.raises(ValueError, match=r"mask of shape \(3,\)"):
        MSE(torch.zeros(4, 2), torch.zeros(4, 2), mask=torch.ones(3, dtype=torch.bool))


@pytest.mark.parametrize("reduction", ["avg", "SUM", "batch"])
def test_bad_reduction_lists_the_valid_ones(reduction):
    with pytest.raises(ValueError, match=r"Invalid reduction.*'sum_over_batch_size', 'sum'"):
        losses.MeanSquaredError(reduction=reduction)


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.1", True])
@pytest.mark.parametrize("cls", [losses.CategoricalCrossentropy, losses.BinaryCrossentropy])
def test_label_smoothing_outside_0_1(cls, value):
    with pytest.raises(ValueError, match=r"label_smoothing must be a float in \[0, 1\]"):
        cls(label_smoothing=value)


@pytest.mark.parametrize("fn", [losses.categorical_crossentropy, losses.binary_crossentropy])
def test_label_smoothing_checked_by_functions(fn):
    with pytest.raises(ValueError, match="label_smoothing"):
        fn(torch.ones(2, 2), torch.ones(2, 2), label_smoothing=2.0)


def test_other_argument_checks():
    with pytest.raises(ValueError, match="delta must be a positive number, got 0"):
        losses.Huber(delta=0)
    with pytest.raises(ValueError, match="ignore_class must be an integer or None, got 1.5"):
        losses.SparseCategoricalCrossentropy(ignore_class=1.5)
    with pytest.raises(ValueError, match="axis must be an integer, got True"):
        losses.CategoricalCrossentropy(axis=True)
    with pytest.raises(ValueError, match="dtype must be"):
        losses.MeanSquaredError(dtype="int32")
    with pytest.raises(TypeError, match="fn must be a callable"):
        losses.LossFunctionWrapper("mse")
    with pytest.raises(NotImplementedError, match="must implement call"):
        losses.Loss()(torch.zeros(2), torch.zeros(2))


# --- the base class ----------------------------------------------------------------------


class AbsoluteSum(losses.Loss):
    def call(self, y_true, y_pred):
        return torch.abs(y_true - y_pred).sum(dim=-1)


def test_subclass_writes_only_call_and_the_base_reduces_once():
    y_true, y_pred = torch.zeros(4, 2), torch.ones(4, 2)
    weight = torch.tensor([1.0, 0.0, 2.0, 1.0])
    assert AbsoluteSum().name == "absolute_sum"
    assert torch.equal(AbsoluteSum(reduction="none")(y_true, y_pred), torch.full((4,), 2.0))
    assert AbsoluteSum(reduction="sum")(y_true, y_pred, weight).item() == 8.0
    # sum_over_batch_size divides by the number of values, not by the sum of the weights
    assert AbsoluteSum()(y_true, y_pred, weight).item() == 2.0
    assert AbsoluteSum(reduction="mean_with_sample_weight")(y_true, y_pred, weight).item() == 2.0
    assert AbsoluteSum(reduction=None)(y_true, y_pred).shape == (4,)


def test_base_reconciles_rank_1_against_a_trailing_axis():
    loss = losses.MeanAbsoluteError(reduction="none")
    assert loss(torch.zeros(4), torch.ones(4, 1)).shape == (4,)
    assert loss(torch.zeros(4, 1), torch.ones(4)).shape == (4,)
    assert loss(torch.zeros(4, 3), torch.ones(4, 3, 1)).shape == (4,)


def test_numpy_inputs_and_dtype():
    out = losses.MeanSquaredError()(np.array([1, 2]), np.array([[1.0], [4.0]]))
    assert out.dtype == torch.float32 and out.item() == 2.0
    out = losses.MeanSquaredError(dtype="float64")(np.array([1.0]), np.array([3.0]))
    assert out.dtype == torch.float64
    assert losses.MeanSquaredError(dtype=torch.float64).get_config()["dtype"] == "float64"


def test_mask_leaves_entries_out_of_the_mean():
    y_true, y_pred = torch.zeros(4, 1), torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    mask = torch.tensor([True, False, True, False])
    assert losses.MeanAbsoluteError()(y_true, y_pred, mask=mask).item() == 2.0
    assert losses.MeanAbsoluteError(reduction="sum")(y_true, y_pred, mask=mask).item() == 4.0


def test_ignore_class_mean_is_over_the_other_entries():
    y_pred = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    y_true = torch.tensor([0, -1, 1])
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)(y_true, y_pred)
    expected = -(np.log(0.5) + np.log(0.8)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    per_entry = losses.sparse_categorical_crossentropy(y_true, y_pred, ignore_class=-1)
    assert per_entry[1].item() == 0.0


def test_no_host_sync_losses_run_on_meta_tensors():
    # A meta tensor has no data: any .item(), bool() or data-dependent branch would raise.
    for name in CLASS_NAMES:
        loss = getattr(losses, name)(**NON_DEFAULT_ARGS.get(name, {}))
        if name == "SparseCategoricalCrossentropy":
            y_true = torch.zeros(4, 3, device="meta", dtype=torch.long)
        else:
            y_true = torch.zeros(4, 5, 3, device="meta")
        y_pred = torch.zeros(4, 5, 3, device="meta", requires_grad=True)
        out = loss(y_true, y_pred, sample_weight=torch.ones(4, 1, device="meta"))
        assert out.shape == () and out.device.type == "meta", name


# --- catalog, configs --------------------------------------------------------------------


def test_get_resolves_names_aliases_dicts_classes_and_callables():
    assert losses.get(None) is None
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("MAE") is losses.mean_absolute_error
    assert losses.get("bce") is losses.binary_crossentropy
    assert losses.get("kld") is losses.kl_divergence
    assert losses.get("huber") is losses.huber
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    huber = losses.get({"class_name": "Huber", "config": {"delta": 2.0}})
    assert isinstance(huber, losses.Huber) and huber.delta == 2.0
    keras_fn = {"module": "builtins", "class_name": "function", "config": "mse"}
    assert losses.get(keras_fn) is losses.mean_squared_error
    assert isinstance(losses.get(losses.Poisson), losses.Poisson)
    instance = losses.Hinge()
    assert losses.get(instance) is instance

    def custom(y_true, y_pred):
        return y_pred

    assert losses.get(custom) is custom


def test_get_refuses_what_keras_refuses():
    for name in ("logcosh", "cce", "huber_loss", "LossFunctionWrapper", "Loss"):
        with pytest.raises(ValueError, match="Unknown loss"):
            losses.get(name)


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_config_round_trip(name):
    cls = getattr(losses, name)
    loss = cls(**NON_DEFAULT_ARGS.get(name, {}), reduction="sum", name="custom", dtype="float64")
    config = loss.get_config()
    expected = {"name": "custom", "reduction": "sum", "dtype": "float64"}
    assert config == {**expected, **NON_DEFAULT_ARGS.get(name, {})}
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.get_config() == config
    restored = losses.deserialize(losses.serialize(loss))
    assert type(restored) is cls and restored.get_config() == config


def test_default_config_mirrors_init():
    assert losses.SparseCategoricalCrossentropy().get_config() == {
        "name": "sparse_categorical_crossentropy",
        "reduction": "sum_over_batch_size",
        "dtype": None,
        "from_logits": False,
        "ignore_class": None,
        "axis": -1,
    }


def test_keras_config_without_dtype_loads():
    loss = losses.get({"class_name": "Huber", "config": {"name": "huber_loss", "reduction": "sum"}})
    assert loss.reduction == "sum" and loss.delta == 1.0


def test_loss_function_wrapper_round_trip():
    loss = losses.LossFunctionWrapper(losses.huber, reduction="none", name="h", delta=0.5)
    config = loss.get_config()
    assert config == {"name": "h", "reduction": "none", "dtype": None, "delta": 0.5, "fn": "huber"}
    restored = losses.deserialize(losses.serialize(loss))
    assert isinstance(restored, losses.LossFunctionWrapper) and restored.fn is losses.huber
    y_true, y_pred = torch.zeros(2, 1), torch.ones(2, 1)
    assert torch.equal(restored(y_true, y_pred), loss(y_true, y_pred))
    assert losses.LossFunctionWrapper(losses.huber).name == "loss_function_wrapper"


def test_serialize_functions_and_deserialize_with_custom_objects():
    assert losses.serialize(losses.mean_squared_error) == "mean_squared_error"
    assert losses.deserialize("mean_squared_error") is losses.mean_squared_error
    config = losses.serialize(AbsoluteSum(reduction="sum"))
    restored = losses.deserialize(config, custom_objects={"AbsoluteSum": AbsoluteSum})
    assert isinstance(restored, AbsoluteSum) and restored.reduction == "sum"


def test_sparse_wrapper_from_a_function_honours_ignore_class():
    y_pred = torch.tensor([[0.5, 0.5], [0.9, 0.1]])
    y_true = torch.tensor([0, 1])
    wrapped = losses.LossFunctionWrapper(losses.sparse_categorical_crossentropy, ignore_class=1)
    direct = losses.SparseCategoricalCrossentropy(ignore_class=1)
    assert torch.equal(wrapped(y_true, y_pred), direct(y_true, y_pred))
