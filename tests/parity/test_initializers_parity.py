"""Initializers against keras.initializers.

Two kinds of checks:

* Integer seeds: Keras's torch backend seeds a fresh ``torch.Generator`` with the seed and samples
  with the same torch calls we make, so on the CPU the tensors are *identical* to Keras's.
* Distributions: unseeded draws (ours from torch's global RNG, Keras's from its own seed) are
  independent samples, compared through their moments with the tolerances derived below.
"""
import math

import pytest
import torch

from torchkeras_lite import initializers as I

SHAPES = [(300, 400), (3, 3, 64, 128), (400,)]

RANDOM_CASES = [
    ("GlorotUniform", {}),
    ("GlorotNormal", {}),
    ("HeUniform", {}),
    ("HeNormal", {}),
    ("LecunUniform", {}),
    ("LecunNormal", {}),
    ("RandomNormal", {}),
    ("RandomNormal", {"mean": 1.0, "stddev": 0.3}),
    ("RandomUniform", {}),
    ("RandomUniform", {"minval": -2.0, "maxval": 3.0}),
    ("TruncatedNormal", {}),
    ("TruncatedNormal", {"mean": 0.5, "stddev": 2.0}),
    ("VarianceScaling", {}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"}),
]
UNIFORM = {"GlorotUniform", "HeUniform", "LecunUniform", "RandomUniform"}


def _is_uniform(name, kwargs):
    return name in UNIFORM or kwargs.get("distribution") == "uniform"


def _keras(K, name, kwargs, shape):
    return getattr(K.initializers, name)(**kwargs)(shape).detach().cpu()


cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason="with CUDA present Keras draws from a CUDA generator"
)


SEED_SHAPES = [(30, 40), (3, 3, 4, 5), (7,), (5, 12)]
SEED_CASES = [(name, kwargs, shape) for name, kwargs in RANDOM_CASES for shape in SEED_SHAPES]
SEED_CASES += [("Orthogonal", {"gain": 1.5}, shape) for shape in SEED_SHAPES if len(shape) >= 2]


@cpu_only
@pytest.mark.parametrize("name, kwargs, shape", SEED_CASES)
def test_integer_seed_gives_keras_values(K, name, kwargs, shape):
    ours = getattr(I, name)(seed=42, **kwargs)(shape)
    theirs = _keras(K, name, {"seed": 42, **kwargs}, shape)
    assert ours.shape == theirs.shape == shape
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name, kwargs", RANDOM_CASES)
def test_distribution_moments_match_keras(K, name, kwargs, shape):
    """Moments of an unseeded draw of ours against an unseeded draw of Keras's.

    With N samples of standard deviation s, two independent sample means differ with standard
    deviation s*sqrt(2/N), and two sample standard deviations with about s*sqrt((k-1)/(2N)),
    k the kurtosis (3 for a normal, 1.8 uniform, below 3 truncated); using k=3 for all, both are
    at most s*sqrt(2/N). We allow 6 of those: a false failure has probability ~2e-9, while a
    wrong fan (factor 2 in variance, i.e. 41% in std) or a missing truncation correction (14%)
    exceeds it by far (the 2-D and 4-D shapes, N >= 120,000, give a tolerance of 2.5% of s; the
    1-D shape mainly checks its fans, fan_in = fan_out = 400).
    """
    torch.manual_seed(0)
    ours = getattr(I, name)(**kwargs)(shape).double()
    theirs = _keras(K, name, kwargs, shape).double()
    assert ours.shape == theirs.shape == shape
    n = ours.numel()
    s = theirs.std().item()
    tol = 6 * s * math.sqrt(2 / n)
    assert abs(ours.mean().item() - theirs.mean().item()) < tol
    assert abs(ours.std().item() - s) < tol
    if _is_uniform(name, kwargs):
        # The gap between a uniform sample's max and the bound is ~Exponential with mean
        # width/N; 30 of those has probability e^-30 of a false failure.
        width = theirs.max().item() - theirs.min().item()
        gap = 30 * width / n
        assert abs(ours.max().item() - theirs.max().item()) < gap
        assert abs(ours.min().item() - theirs.min().item()) < gap
    bound = _truncation_bound(name, kwargs, shape)
    if bound is not None:
        # Keras's sampler keeps an out-of-range value when all 4 candidates of an element fall
        # outside 2 stddev (p ~ 4e-6 each): a handful at most in these sample sizes.
        centre, half_width = bound
        for sample in (ours, theirs):
            assert ((sample - centre).abs() > half_width).sum() <= 5


def _truncation_bound(name, kwargs, shape):
    """(mean, 2 * stddev of the underlying normal) for truncated initializers, else None."""
    if name == "TruncatedNormal":
        return kwargs.get("mean", 0.0), 2 * kwargs.get("stddev", 0.05)
    presets = {
        "GlorotNormal": (1.0, "fan_avg"),
        "HeNormal": (2.0, "fan_in"),
        "LecunNormal": (1.0, "fan_in"),
    }
    distribution = kwargs.get("distribution", "truncated_normal")
    if name in presets:
        scale, mode = presets[name]
    elif name == "VarianceScaling" and distribution == "truncated_normal":
        scale, mode = kwargs.get("scale", 1.0), kwargs.get("mode", "fan_in")
    else:
        return None
    fan_in, fan_out = I.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return 0.0, 2 * math.sqrt(scale / n) / 0.87962566103423978


@pytest.mark.parametrize("shape", [(300, 400), (400, 300), (3, 3, 64, 128)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(K, shape, gain):
    # Float32 QR: each entry of the Gram matrix carries ~1e-6 relative error; 1e-4 * gain^2 is
    # loose enough for 400-long dot products and far below the O(1) error of a non-orthogonal W.
    for w in (I.Orthogonal(gain=gain)(shape), _keras(K, "Orthogonal", {"gain": gain}, shape)):
        flat = w.reshape(-1, shape[-1]).double()
        gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0], dtype=torch.float64),
                                   rtol=0, atol=1e-4 * gain**2)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (6, 2)])
def test_identity_exact(K, shape):
    theirs = _keras(K, "Identity", {"gain": 2.5}, shape)
    torch.testing.assert_close(I.Identity(gain=2.5)(shape), theirs, rtol=0, atol=0)


@pytest.mark.parametrize(
    "name, kwargs", [("Zeros", {}), ("Ones", {}), ("Constant", {"value": 0.7}), ("Constant", {})]
)
@pytest.mark.parametrize("shape", [(3, 4), (2, 2, 3, 4), (5,)])
def test_constants_exact(K, name, kwargs, shape):
    torch.testing.assert_close(getattr(I, name)(**kwargs)(shape), _keras(K, name, kwargs, shape),
                               rtol=0, atol=0)


@pytest.mark.parametrize("name", ["GlorotUniform", "HeNormal", "VarianceScaling", "Orthogonal",
                                  "RandomUniform", "Constant", "Identity"])
def test_keras_configs_load(K, name):
    theirs = getattr(K.initializers, name)()
    config = K.initializers.serialize(theirs)
    ours = I.get(config)
    assert type(ours).__name__ == name
    # Keras 3.15's Identity.get_config() is {} (its gain is lost); ours also records the gain.
    assert {key: ours.get_config()[key] for key in config["config"]} == config["config"]
