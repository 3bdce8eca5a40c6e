"""Every activation against keras.activations on the same inputs.

The functions call the same torch kernels in the same order as Keras's torch backend, so the
values are in fact bit-identical; the 1e-6 tolerances only leave room for a future torch kernel
that reorders a reduction.
"""
import warnings

import pytest
import torch

from torchkeras_lite import activations as A


def _inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 34, generator=g)
    x[16:32] *= 30.0  # large magnitudes: softplus's linear branch, saturated sigmoid/tanh
    x[32:48] *= 1e3  # overflow territory for naive exp-based formulas
    special = torch.tensor(
        [0.0, -0.0, 1.0, -1.0, 0.3, -0.3, 0.5, -0.5, 6.0, 20.0, -20.0, 2.0, -2.0]
    )
    x[0, : special.numel()] = special
    return x


def _keras(K, name, x, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(K.activations, name)(x, **kwargs)
    return out.detach().cpu()  # Keras's torch backend returns torch tensors


def _check(K, name, **kwargs):
    x = _inputs()
    ours = A.get(name)(x, **kwargs)
    torch.testing.assert_close(ours, _keras(K, name, x, **kwargs), rtol=1e-6, atol=1e-6)


# threshold has no defaults; sparsemax is tested below.
@pytest.mark.parametrize("name", sorted(set(A.ACTIVATIONS) - {"threshold", "sparsemax"}))
def test_default_arguments(K, name):
    _check(K, name)


@pytest.mark.parametrize("negative_slope", [0.0, 0.1])
@pytest.mark.parametrize("max_value", [None, 6, 6.0, 2.5])
@pytest.mark.parametrize("threshold", [0.0, 0.3, -1.0])
def test_relu_options(K, negative_slope, max_value, threshold):
    _check(K, "relu", negative_slope=negative_slope, max_value=max_value, threshold=threshold)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("softmax", {"axis": 0}),
        ("softmax", {"axis": (0, 1)}),
        ("softmax", {"axis": None}),
        ("log_softmax", {"axis": 0}),
        ("log_softmax", {"axis": (0, 1)}),
        ("log_softmax", {"axis": None}),
        ("gelu", {"approximate": True}),
        ("gelu", {"approximate": False}),
        ("elu", {"alpha": 0.5}),
        ("celu", {"alpha": 2.0}),
        ("leaky_relu", {"negative_slope": 0.01}),
        ("squareplus", {"b": 1}),
        ("soft_shrink", {"threshold": 1.0}),
        ("hard_shrink", {"threshold": 1.0}),
        ("threshold", {"threshold": 0.5, "default_value": -2.0}),
        ("glu", {"axis": 0}),
    ],
)
def test_options(K, name, kwargs):
    _check(K, name, **kwargs)


def test_softmax_of_4d_tensor_over_middle_axes(K):
    x = torch.randn(2, 3, 4, 5) * 10
    torch.testing.assert_close(
        A.softmax(x, axis=(1, 2)), _keras(K, "softmax", x, axis=(1, 2)), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("axis", [-1, 0])
def test_sparsemax_where_keras_is_right(K, axis):
    """Keras 3.15's sparsemax threshold is wrong once two or more entries are non-zero
    (keras-team/keras#23425, fixed by #23469); with logits far apart the support has one entry,
    where its formula and the correct one agree."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, 12, generator=g) * 1e3
    torch.testing.assert_close(
        A.sparsemax(x, axis=axis), _keras(K, "sparsemax", x, axis=axis), rtol=1e-6, atol=1e-6
    )


def test_sparsemax_differs_from_keras_3_15_only_by_its_bug(K):
    x = torch.tensor([[0.0, 0.5, 1.0]])
    torch.testing.assert_close(A.sparsemax(x), torch.tensor([[0.0, 0.25, 0.75]]))
    keras_out = _keras(K, "sparsemax", x)
    if torch.allclose(keras_out, A.sparsemax(x)):
        pytest.skip("this Keras has the sparsemax fix; the parity test above now covers it fully")
    torch.testing.assert_close(keras_out, torch.tensor([[0.0, 0.0, 0.25]]))
