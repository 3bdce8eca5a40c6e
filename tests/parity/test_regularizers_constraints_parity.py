"""Regularizers and constraints against Keras on the same weights.

The formulas are evaluated term by term in Keras's order, so float32 results are identical; the
rtol 1e-6 only leaves room for torch changing a reduction order.
"""
import pytest
import torch

from torchkeras_lite import constraints as C
from torchkeras_lite import regularizers as R


def _weights():
    g = torch.Generator().manual_seed(0)
    return {
        "dense": torch.randn(40, 30, generator=g) * 3,
        "conv": torch.randn(3, 3, 8, 16, generator=g),
        "small": torch.randn(5, 4, generator=g) * 1e-4,  # norms near epsilon
        "bias": torch.randn(30, generator=g),
    }


def _close(ours, theirs):
    torch.testing.assert_close(ours, theirs.detach().cpu(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("weight", ["dense", "conv", "small", "bias"])
@pytest.mark.parametrize(
    "name, kwargs",
    [("L1", {}), ("L1", {"l1": 0.1}), ("L2", {}), ("L2", {"l2": 0.013}), ("L1L2", {}),
     ("L1L2", {"l1": 0.3, "l2": 0.07}), ("L1L2", {"l2": 0.5})],
)
def test_regularizers(K, name, kwargs, weight):
    w = _weights()[weight]
    _close(getattr(R, name)(**kwargs)(w), getattr(K.regularizers, name)(**kwargs)(w))


@pytest.mark.parametrize("weight", ["dense", "small"])
@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("factor", [0.01, 0.2])
def test_orthogonal_regularizer(K, weight, mode, factor):
    w = _weights()[weight]
    ours = R.OrthogonalRegularizer(factor, mode)(w)
    _close(ours, K.regularizers.OrthogonalRegularizer(factor, mode)(w))


@pytest.mark.parametrize("name", ["l1", "l2", "L1L2"])
def test_regularizer_configs_load(K, name):
    config = K.regularizers.serialize(K.regularizers.get(name))
    w = _weights()["dense"]
    _close(R.get(config)(w), K.regularizers.get(name)(w))


CONSTRAINT_CASES = [
    ("MaxNorm", {}, "dense"),
    ("MaxNorm", {"max_value": 1.5, "axis": 1}, "dense"),
    ("MaxNorm", {"max_value": 1.0, "axis": [0, 1, 2]}, "conv"),
    ("MaxNorm", {"axis": None}, "dense"),
    ("MaxNorm", {}, "small"),
    ("NonNeg", {}, "dense"),
    ("NonNeg", {}, "conv"),
    ("UnitNorm", {}, "dense"),
    ("UnitNorm", {"axis": 1}, "dense"),
    ("UnitNorm", {"axis": [0, 1, 2]}, "conv"),
    ("UnitNorm", {}, "small"),
    ("UnitNorm", {"axis": 0}, "bias"),
    ("MinMaxNorm", {}, "dense"),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 3.0, "rate": 0.5, "axis": [0, 1]}, "dense"),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.8, "axis": [0, 1, 2]}, "conv"),
    ("MinMaxNorm", {"min_value": 0.1}, "small"),
]


@pytest.mark.parametrize("name, kwargs, weight", CONSTRAINT_CASES)
def test_constraints(K, name, kwargs, weight):
    w = _weights()[weight]
    _close(getattr(C, name)(**kwargs)(w), getattr(K.constraints, name)(**kwargs)(w))


@pytest.mark.parametrize("name", ["max_norm", "non_neg", "unit_norm", "min_max_norm"])
def test_constraint_configs_load(K, name):
    config = K.constraints.serialize(K.constraints.get(name))
    w = _weights()["conv"]
    _close(C.get(config)(w), K.constraints.get(name)(w))
