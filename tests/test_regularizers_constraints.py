import doctest
import math

import numpy as np
import pytest
import torch

from torchkeras_lite import constraints as C
from torchkeras_lite import regularizers as R


def test_docstring_examples_run():
    assert doctest.testmod(R).failed == 0
    assert doctest.testmod(C).failed == 0


# ---------------------------------------------------------------- regularizers

def test_regularizer_formulas_by_hand():
    w = torch.tensor([[1.0, -2.0], [3.0, -4.0]])
    assert torch.isclose(R.L1(0.1)(w), torch.tensor(1.0))
    assert torch.isclose(R.L2(0.1)(w), torch.tensor(3.0))
    assert torch.isclose(R.L1L2(0.1, 0.1)(w), torch.tensor(4.0))
    assert torch.equal(R.L1L2()(w), torch.tensor(0.0))
    assert R.Regularizer()(w) == 0.0


def test_regularizer_output_dtype_and_gradient():
    w = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    penalty = R.L2(0.5)(w)
    assert penalty.dtype == torch.float64 and penalty.shape == ()
    penalty.backward()
    assert torch.allclose(w.grad, w.detach())


def test_defaults_and_none():
    assert R.L1().l1 == 0.01 and R.L1(None).l1 == 0.01
    assert R.L2().l2 == 0.01 and R.L2(None).l2 == 0.01
    assert (R.L1L2().l1, R.L1L2().l2) == (0.0, 0.0)
    assert (R.L1L2(None, None).l1, R.L1L2(l2=0.2).l1) == (0.0, 0.0)


def test_orthogonal_regularizer():
    assert torch.allclose(R.OrthogonalRegularizer(1.0)(torch.eye(3)), torch.tensor(0.0))
    # Two identical rows of two: normalised dot product 1, one pair -> 1.0 * 0.5 * 2 / 1.
    rows = torch.tensor([[1.0, 1.0], [2.0, 2.0]])
    assert torch.isclose(R.OrthogonalRegularizer(1.0)(rows), torch.tensor(1.0))
    assert torch.isclose(R.OrthogonalRegularizer(1.0, mode="columns")(rows.T), torch.tensor(1.0))


@pytest.mark.parametrize(
    "name, cls",
    [("l1", R.L1), ("L1", R.L1), ("l2", R.L2), ("L2", R.L2), ("l1_l2", R.L1L2), ("l1l2", R.L1L2),
     ("L1L2", R.L1L2), ("orthogonal_regularizer", R.OrthogonalRegularizer),
     ("OrthogonalRegularizer", R.OrthogonalRegularizer)],
)
def test_regularizer_get_by_name_gives_default_instance(name, cls):
    got = R.get(name)
    assert type(got) is cls and got.get_config() == cls().get_config()


def test_regularizer_get_other_identifiers():
    assert R.get(None) is None
    assert type(R.get(R.L2)) is R.L2
    instance = R.L1(0.3)
    assert R.get(instance) is instance
    config = {"l1": 0.1, "l2": 0.2}
    assert R.get({"class_name": "L1L2", "config": config}).get_config() == config

    def custom(w):
        return w.sum()

    assert R.get(custom) is custom
    assert R.l1 is R.L1 and R.l2 is R.L2 and R.l1_l2 is R.L1L2
    with pytest.raises(ValueError, match=r"Unknown regularizer 'l3'\..*Valid regularizer names"):
        R.get("l3")


@pytest.mark.parametrize(
    "instance",
    [R.L1(0.2), R.L2(0.3), R.L1L2(0.1, 0.4), R.OrthogonalRegularizer(0.5, "columns")],
    ids=lambda r: type(r).__name__,
)
def test_regularizer_config_round_trip(instance):
    config = instance.get_config()
    rebuilt = type(instance).from_config(config)
    assert rebuilt.get_config() == config
    assert R.get(R.serialize(instance)).get_config() == config
    w = torch.randn(4, 5)
    assert torch.equal(rebuilt(w), instance(w))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: R.L1(-0.1), r"l1 must be a non-negative finite number, got l1=-0\.1"),
        (lambda: R.L2(-1), r"l2 must be a non-negative finite number, got l2=-1"),
        (lambda: R.L1L2(l1=-1.0), r"l1=-1\.0"),
        (lambda: R.L1L2(l2=float("nan")), r"l2=nan"),
        (lambda: R.L2(math.inf), r"l2=inf"),
        (lambda: R.L1("0.1"), r"l1='0\.1'"),
        (
            lambda: R.OrthogonalRegularizer(-0.5),
            r"factor must be a non-negative finite number, got factor=-0\.5",
        ),
        (
            lambda: R.OrthogonalRegularizer(mode="diag"),
            r"mode must be 'rows' or 'columns', got mode='diag'",
        ),
        (
            lambda: R.OrthogonalRegularizer()(torch.ones(2, 2, 2)),
            r"needs a 2-D weight, got shape=\(2, 2, 2\)",
        ),
    ],
)
def test_regularizer_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- constraints

def test_constraint_formulas_by_hand():
    w = torch.tensor([[3.0, 0.1], [4.0, 0.0]])  # column norms 5 and 0.1
    eps = 1e-7
    assert torch.allclose(C.MaxNorm(2.0)(w), w * torch.tensor([2 / (5 + eps), 0.1 / (0.1 + eps)]))
    assert torch.allclose(C.UnitNorm()(w), w / torch.tensor([5 + eps, 0.1 + eps]))
    assert torch.equal(C.NonNeg()(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([0.0, 0.0, 2.0]))
    half = C.MinMaxNorm(1.0, 2.0, rate=0.5)(w)
    assert torch.allclose(half.norm(dim=0), torch.tensor([3.5, 0.55]), atol=1e-5)
    assert torch.equal(C.Constraint()(w), w)


def test_constraint_axes():
    w = torch.randn(3, 3, 4, 5) * 4
    per_filter = C.UnitNorm(axis=[0, 1, 2])(w)
    assert torch.allclose(per_filter.reshape(-1, 5).norm(dim=0), torch.ones(5), atol=1e-5)
    assert torch.allclose(C.UnitNorm(axis=None)(w).norm(), torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(C.MaxNorm(1.0, axis=1)(w[0, 0]).norm(dim=1), torch.ones(4), atol=1e-5)


def test_constraints_accept_numpy():
    out = C.NonNeg()(np.array([-1.0, 2.0]))
    assert isinstance(out, torch.Tensor) and out.tolist() == [0.0, 2.0]


@pytest.mark.parametrize(
    "name, cls",
    [("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("non_neg", C.NonNeg), ("NonNeg", C.NonNeg),
     ("unit_norm", C.UnitNorm), ("UnitNorm", C.UnitNorm), ("min_max_norm", C.MinMaxNorm),
     ("MinMaxNorm", C.MinMaxNorm)],
)
def test_constraint_get_by_name(name, cls):
    assert type(C.get(name)) is cls


def test_constraint_get_other_identifiers():
    assert C.get(None) is None
    assert type(C.get(C.NonNeg)) is C.NonNeg
    instance = C.MaxNorm(3)
    assert C.get(instance) is instance
    got = C.get({"class_name": "MaxNorm", "config": {"max_value": 3, "axis": [0, 1, 2]}})
    assert got.get_config() == {"max_value": 3, "axis": [0, 1, 2]}
    clamp = torch.nn.Hardtanh()
    assert C.get(clamp) is clamp
    assert C.max_norm is C.MaxNorm and C.non_neg is C.NonNeg
    assert C.unit_norm is C.UnitNorm and C.min_max_norm is C.MinMaxNorm
    message = r"Unknown constraint 'max_nrom'\. Did you mean 'max_norm'\?"
    with pytest.raises(ValueError, match=message):
        C.get("max_nrom")


@pytest.mark.parametrize(
    "instance",
    [
        C.MaxNorm(3.0, axis=1),
        C.NonNeg(),
        C.UnitNorm(axis=[0, 1]),
        C.MinMaxNorm(0.5, 2.0, 0.3, axis=None),
    ],
    ids=lambda c: type(c).__name__,
)
def test_constraint_config_round_trip(instance):
    config = instance.get_config()
    rebuilt = type(instance).from_config(config)
    assert rebuilt.get_config() == config
    assert C.get(C.serialize(instance)).get_config() == config
    w = torch.randn(4, 5)
    assert torch.equal(rebuilt(w), instance(w))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: C.MaxNorm(-1), r"max_value must be a non-negative number, got max_value=-1"),
        (
            lambda: C.MinMaxNorm(2.0, 1.0),
            r"0 <= min_value <= max_value, got min_value=2\.0, max_value=1\.0",
        ),
        (lambda: C.MinMaxNorm(-1.0), r"got min_value=-1\.0"),
    ],
)
def test_constraint_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
