import doctest

import numpy as np
import pytest
import torch

from torchkeras_lite import config
from torchkeras_lite import initializers as I

RANDOM = [
    I.GlorotUniform, I.GlorotNormal, I.HeUniform, I.HeNormal, I.LecunUniform, I.LecunNormal,
    I.RandomNormal, I.RandomUniform, I.TruncatedNormal, I.VarianceScaling, I.Orthogonal,
]
ALL = RANDOM + [I.Zeros, I.Ones, I.Constant, I.Identity]


def test_docstring_examples_run():
    assert doctest.testmod(I).failed == 0


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((3, 5), (3, 5)),
        ((4, 16, 32), (64, 128)),
        ((3, 3, 16, 32), (144, 288)),
        ((2, 3, 3, 4, 5), (72, 90)),
    ],
)
def test_compute_fans(shape, fans):
    assert I.compute_fans(shape) == fans


def test_compute_fans_with_explicit_axes():
    assert I.compute_fans((2, 3, 4, 5), input_axes=(0, 1), output_axes=(2, 3)) == (6, 20)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("glorot_uniform", I.GlorotUniform), ("GlorotUniform", I.GlorotUniform),
        ("glorot_normal", I.GlorotNormal), ("he_uniform", I.HeUniform), ("he_normal", I.HeNormal),
        ("lecun_uniform", I.LecunUniform), ("lecun_normal", I.LecunNormal),
        ("orthogonal", I.Orthogonal), ("OrthogonalInitializer", I.Orthogonal),
        ("identity", I.Identity), ("IdentityInitializer", I.Identity),
        ("zeros", I.Zeros), ("zero", I.Zeros), ("ones", I.Ones), ("one", I.Ones),
        ("constant", I.Constant), ("random_normal", I.RandomNormal), ("normal", I.RandomNormal),
        ("random_uniform", I.RandomUniform), ("uniform", I.RandomUniform),
        ("truncated_normal", I.TruncatedNormal), ("variance_scaling", I.VarianceScaling),
    ],
)
def test_get_by_name(name, cls):
    assert type(I.get(name)) is cls


def test_get_other_identifiers():
    assert I.get(None) is None
    assert type(I.get(I.HeNormal)) is I.HeNormal
    instance = I.RandomNormal(stddev=0.1)
    assert I.get(instance) is instance
    from_dict = I.get({"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 2.0}})
    assert (from_dict.minval, from_dict.maxval) == (0.0, 2.0)
    keras_style = {"module": "keras.initializers", "class_name": "GlorotUniform",
                   "config": {"seed": 3, "input_axes": None, "output_axes": None},
                   "registered_name": None}
    assert I.get(keras_style).seed == 3

    def custom(shape, dtype=None):
        return torch.full(shape, 7.0)

    assert I.get(custom) is custom


def test_get_array_value_checks_the_shape():
    value = np.arange(6, dtype=np.float64).reshape(2, 3)
    init = I.get(value)
    out = init((2, 3))
    assert out.dtype == torch.float32 and torch.equal(out, torch.arange(6.0).reshape(2, 3))
    assert I.get(torch.ones(2))((2,), dtype="float64").dtype == torch.float64
    with pytest.raises(ValueError, match=r"fixed array of shape \(2, 3\).*shape=\(3, 2\)"):
        init((3, 2))


def test_get_unknown_name():
    message = r"Unknown initializer 'glorot_unifrom'\. Did you mean 'glorot_uniform'\?"
    with pytest.raises(ValueError, match=message):
        I.get("glorot_unifrom")


@pytest.mark.parametrize("cls", ALL)
def test_config_round_trip(cls):
    kwargs = {
        I.RandomNormal: {"mean": 1.0, "stddev": 0.2, "seed": 4},
        I.RandomUniform: {"minval": -1.0, "maxval": 3.0, "seed": 4},
        I.TruncatedNormal: {"mean": -1.0, "stddev": 2.0, "seed": 4},
        I.VarianceScaling: {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform", "seed": 4},
        I.Orthogonal: {"gain": 2.0, "seed": 4},
        I.Constant: {"value": 2.5},
        I.Identity: {"gain": 3.0},
    }.get(cls, {"seed": 4} if cls in RANDOM else {})
    original = cls(**kwargs)
    config = original.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    rebuilt = cls.from_config(config)
    assert rebuilt.get_config() == config
    clone = original.clone()
    assert type(clone) is cls and clone.get_config() == config
    assert torch.equal(rebuilt((6, 5)), original((6, 5)))
    assert I.serialize(original) == {"class_name": cls.__name__, "config": config}
    assert I.get(I.serialize(original)).get_config() == config


def test_preset_configs_match_keras_keys():
    expected = {"seed": 1, "input_axes": None, "output_axes": None}
    assert I.GlorotUniform(seed=1).get_config() == expected
    assert I.VarianceScaling().get_config() == {
        "seed": None, "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal",
        "input_axes": None, "output_axes": None,
    }


@pytest.mark.parametrize("cls", RANDOM)
def test_seeded_draws_are_reproducible(cls):
    shape = (5, 7)
    first = cls(seed=11)
    assert torch.equal(first(shape), first(shape)), "same instance, same values (as in Keras)"
    assert torch.equal(first(shape), cls(seed=11)(shape)), "same seed, same values"
    assert not torch.equal(first(shape), cls(seed=12)(shape))


@pytest.mark.parametrize("cls", RANDOM)
def test_unseeded_draws_follow_torch_global_rng(cls):
    init = cls()
    torch.manual_seed(123)
    a = init((5, 7))
    b = init((5, 7))
    torch.manual_seed(123)
    assert torch.equal(init((5, 7)), a)
    assert not torch.equal(a, b)


def test_seeded_draw_leaves_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    I.GlorotUniform(seed=1)((10, 10))
    assert torch.equal(torch.rand(3), expected)


def test_dtype_argument():
    assert I.HeNormal(seed=0)((3, 3)).dtype == torch.float32
    assert I.HeNormal(seed=0)((3, 3), dtype="float64").dtype == torch.float64
    assert I.Zeros()((2,), dtype=torch.float16).dtype == torch.float16
    previous = config.floatx()
    config.set_floatx("float64")
    try:
        assert I.Ones()((2,)).dtype == torch.float64
    finally:
        config.set_floatx(previous)
    with pytest.raises(ValueError, match="dtype must be"):
        I.Zeros()((2,), dtype="floaty")


def test_constant_values():
    assert torch.equal(I.Constant(2.5)((2, 2)), torch.full((2, 2), 2.5))
    assert torch.equal(I.Constant()((3,)), torch.zeros(3))
    row = I.Constant([1.0, 2.0, 3.0])((2, 3))
    assert torch.equal(row, torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]))
    assert I.Constant(np.array([1.0, 2.0])).get_config() == {"value": [1.0, 2.0]}


def test_identity_values():
    assert torch.equal(I.Identity(2.0)((2, 3)), torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))


def test_uniform_handles_scalar_shapes():
    value = I.RandomUniform(seed=0)(())
    assert value.shape == () and -0.05 <= value.item() < 0.05


def test_truncated_normal_stays_within_two_stddev():
    w = I.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)((200, 50))
    # Keras's sampler keeps an out-of-range first candidate when all 4 are out (p ~ 4e-6).
    assert ((w - 1.0).abs() > 1.0).float().mean() < 1e-3


def test_variance_scaling_normal_means_truncated_normal():
    assert I.VarianceScaling(distribution="Normal").distribution == "truncated_normal"


def test_orthogonal_conv_shape():
    w = I.Orthogonal(seed=0)((3, 3, 4, 8))
    flat = w.reshape(-1, 8)
    assert torch.allclose(flat.T @ flat, torch.eye(8), atol=1e-5)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: I.RandomNormal(stddev=-1.0),
            r"stddev must be a non-negative number, got stddev=-1\.0",
        ),
        (
            lambda: I.TruncatedNormal(stddev=-0.1),
            r"stddev must be a non-negative number, got stddev=-0\.1",
        ),
        (
            lambda: I.RandomUniform(minval=1.0, maxval=1.0),
            r"minval must be smaller than maxval, got minval=1\.0, maxval=1\.0",
        ),
        (lambda: I.RandomUniform(minval=2.0, maxval=1.0), r"minval=2\.0, maxval=1\.0"),
        (lambda: I.VarianceScaling(scale=0.0), r"scale must be a positive number, got scale=0\.0"),
        (lambda: I.VarianceScaling(scale=-2.0), r"scale=-2\.0"),
        (
            lambda: I.VarianceScaling(mode="fan_max"),
            r"mode must be one of .*'fan_avg'.*got mode='fan_max'",
        ),
        (
            lambda: I.VarianceScaling(distribution="cauchy"),
            r"distribution must be one of .*got distribution='cauchy'",
        ),
        (lambda: I.GlorotUniform(seed=1.5), r"seed must be an integer or None, got 1\.5"),
        (
            lambda: I.Identity()((3, 3, 3)),
            r"Identity needs a 2-D shape .*shape=\(3, 3, 3\) of rank 3",
        ),
        (lambda: I.Identity()((4,)), r"shape=\(4,\) of rank 1"),
        (
            lambda: I.Orthogonal()((4,)),
            r"Orthogonal needs a shape of at least 2 dimensions, got shape=\(4,\)",
        ),
    ],
)
def test_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
