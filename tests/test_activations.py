import doctest
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from torchkeras_lite import activations as A


def test_docstring_examples_run():
    assert doctest.testmod(A).failed == 0


def test_table_has_every_keras_name_and_aliases():
    expected = {
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
        "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
        "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
        "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh",
        "tanh_shrink", "threshold",
    }
    assert set(A.ACTIVATIONS) == expected
    assert A.ACTIVATIONS["swish"] is A.silu and A.swish is A.silu
    assert A.ACTIVATIONS["hard_swish"] is A.hard_silu and A.hard_swish is A.hard_silu


def test_get_resolves_every_kind_of_identifier():
    assert A.get(None) is A.linear
    assert A.get("relu") is A.relu
    assert A.get("swish") is A.silu
    assert A.get({"class_name": "tanh"}) is A.tanh
    keras_saved = {"module": "builtins", "class_name": "function", "config": "gelu",
                   "registered_name": "function"}
    assert A.get(keras_saved) is A.gelu
    assert A.get(torch.sin) is torch.sin
    module = torch.nn.ReLU()
    assert A.get(module) is module


def test_get_unknown_name_lists_names_and_suggests():
    message = r"Unknown activation 'rleu'\. Did you mean 'relu'\?.*softmax"
    with pytest.raises(ValueError, match=message):
        A.get("rleu")


def test_get_rejects_non_callables():
    with pytest.raises(TypeError, match="activation identifier 3"):
        A.get(3)


def test_serialize_gives_canonical_names():
    assert A.serialize(A.relu) == "relu"
    assert A.serialize(A.swish) == "silu"
    assert A.serialize(A.hard_swish) == "hard_silu"
    for name, fn in A.ACTIVATIONS.items():
        assert A.get(A.serialize(fn)) is fn, name


def test_relu_options_by_hand():
    x = torch.tensor([-3.0, -0.5, 0.0, 0.5, 2.0, 7.0])
    assert torch.equal(A.relu(x), torch.tensor([0.0, 0.0, 0.0, 0.5, 2.0, 7.0]))
    assert torch.equal(A.relu(x, max_value=6), torch.tensor([0.0, 0.0, 0.0, 0.5, 2.0, 6.0]))
    assert torch.equal(A.relu(x, max_value=1.0), torch.tensor([0.0, 0.0, 0.0, 0.5, 1.0, 1.0]))
    assert torch.equal(A.relu(x, threshold=1.0), torch.tensor([0.0, 0.0, 0.0, 0.0, 2.0, 7.0]))
    leaky = torch.tensor([-1.5, -0.25, 0.0, 0.5, 2.0, 7.0])
    assert torch.allclose(A.relu(x, negative_slope=0.5), leaky)
    # Below the threshold the slope applies to (x - threshold): 0.5 * (-3 - 1) = -2.
    assert torch.allclose(
        A.relu(x, negative_slope=0.5, threshold=1.0),
        torch.tensor([-2.0, -0.75, -0.5, -0.25, 2.0, 7.0]),
    )


def test_defaults_that_differ_from_torch_or_keras2():
    x = torch.linspace(-5, 5, 101)
    assert torch.allclose(A.leaky_relu(x), torch.where(x > 0, x, 0.2 * x))
    assert torch.allclose(A.hard_sigmoid(x), torch.clamp(x / 6 + 0.5, 0, 1))
    assert torch.equal(A.gelu(x), F.gelu(x))
    assert not torch.equal(A.gelu(x), A.gelu(x, approximate=True))
    assert torch.allclose(A.mish(x), F.mish(x), atol=1e-6)


def test_softmax_axes():
    x = torch.randn(3, 4, 5)
    assert torch.allclose(A.softmax(x).sum(-1), torch.ones(3, 4))
    assert torch.allclose(A.softmax(x, axis=1).sum(1), torch.ones(3, 5))
    both = A.softmax(x, axis=(1, 2))
    expected = torch.exp(x) / torch.exp(x).sum(dim=(1, 2), keepdim=True)
    assert torch.allclose(both, expected, atol=1e-7)
    assert torch.allclose(A.softmax(x, axis=(-2, -1)), both)
    assert torch.allclose(A.softmax(x, axis=None).sum(), torch.tensor(1.0))
    assert torch.allclose(A.log_softmax(x, axis=(1, 2)), torch.log(both), atol=1e-6)


def test_softmax_over_size_one_axis_warns():
    with pytest.warns(UserWarning, match="has size 1"):
        A.softmax(torch.randn(4, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A.softmax(torch.randn(4, 2))


def test_float16_softmax_on_cpu_keeps_dtype():
    x = torch.randn(4, 6).half()
    out = A.softmax(x)
    assert out.dtype == torch.float16
    assert torch.allclose(out.float(), F.softmax(x.float(), -1), atol=1e-3)


def test_exponential_casts_integers():
    assert torch.allclose(A.exponential(torch.tensor([0, 1])), torch.tensor([1.0, 2.7182817]))


def test_sparse_family():
    x = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    assert torch.equal(A.sparse_sigmoid(x), torch.tensor([0.0, 0.0, 0.5, 0.75, 1.0, 1.0]))
    assert torch.equal(A.sparse_plus(x), torch.tensor([0.0, 0.0, 0.25, 0.5625, 1.0, 3.0]))


def _sparsemax_reference(row):
    """Martins & Astudillo (2016), Algorithm 1, on one 1-D numpy row, in float64."""
    z = np.sort(row)[::-1]
    cumsum = np.cumsum(z)
    k = np.arange(1, len(z) + 1)
    size = k[1 + k * z > cumsum].max()
    tau = (cumsum[size - 1] - 1) / size
    return np.maximum(row - tau, 0)


def test_sparsemax_is_the_simplex_projection():
    x = torch.randn(50, 10) * 2
    x[0] = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.0, -1.0, 0.05, 0.45, 0.25])
    probs = A.sparsemax(x)
    expected = np.stack([_sparsemax_reference(row) for row in x.double().numpy()])
    np.testing.assert_allclose(probs.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert torch.allclose(probs.sum(-1), torch.ones(50))
    assert (probs == 0).any()
    assert torch.allclose(A.sparsemax(x.T, axis=0), probs.T)


def test_glu_and_threshold():
    x = torch.randn(2, 6)
    assert torch.equal(A.glu(x), x[:, :3] * torch.sigmoid(x[:, 3:]))
    assert torch.equal(A.threshold(x, 0.1, -9.0), torch.where(x > 0.1, x, -9.0))


def test_linear_returns_input_itself():
    x = torch.randn(3)
    assert A.linear(x) is x
