"""Activation functions with Keras 3 names, arguments and defaults, on torch tensors.

Each function takes a tensor and returns a tensor of the same shape (``glu`` halves ``axis``).
They give the same numbers as ``keras.activations`` on Keras's torch backend because they call
the same torch kernels in the same order. :data:`ACTIVATIONS` maps every Keras name (aliases
``swish`` and ``hard_swish`` included) to its function; :func:`get` resolves an identifier and
:func:`serialize` turns a function back into its name.

Example::

    >>> import torch
    >>> from torchkeras_lite import activations
    >>> activations.get("relu")(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from torchkeras_lite.utils import registry

Axis = Union[int, Sequence[int], None]


def relu(
    x: torch.Tensor,
    negative_slope: float = 0.0,
    max_value: Optional[float] = None,
    threshold: float = 0.0,
) -> torch.Tensor:
    """Rectified linear unit, optionally leaky, capped and shifted.

    Args:
        x: input tensor.
        negative_slope: slope for values below ``threshold`` (default 0.0).
        max_value: upper bound of the output; ``None`` (default) for no bound.
        threshold: values at or below it are zeroed, or scaled by ``negative_slope``
            (default 0.0).

    Example::

        >>> relu(torch.tensor([-2.0, 1.0, 8.0]), negative_slope=0.5, max_value=6.0)
        tensor([-1.,  1.,  6.])
    """
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return torch.relu(x)
    if negative_slope != 0.0:
        if max_value is None and threshold == 0.0:
            return F.leaky_relu(x, negative_slope)
        below = torch.relu(threshold - x) if threshold != 0.0 else torch.relu(-x)
    clip_max = max_value is not None
    if threshold != 0.0:
        y = torch.where(x > threshold, x, 0.0)
    elif max_value == 6:
        y = F.relu6(x)
        clip_max = False
    else:
        y = torch.relu(x)
    if clip_max:
        y = torch.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * below
    return y


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """Leaky ReLU: ``x`` if ``x > 0`` else ``negative_slope * x`` (default slope 0.2).

    The ``LeakyReLU`` layer defaults to 0.3; this function, like Keras's, to 0.2.
    """
    return F.leaky_relu(x, negative_slope)


def relu6(x: torch.Tensor) -> torch.Tensor:
    """ReLU capped at 6: ``min(max(x, 0), 6)``."""
    return F.relu6(x)


def _over_axes(fn: Callable[..., torch.Tensor], x: torch.Tensor, axis: Axis) -> torch.Tensor:
    """Apply a normalising ``fn(x, dim)`` over one axis, several axes, or all of them (None).

    Several axes are moved to the end and flattened into one, as Keras does; a float16 tensor on
    the CPU is computed in float32 and cast back, also as Keras does.
    """
    half_on_cpu = x.dtype == torch.float16 and x.device.type == "cpu"
    if half_on_cpu:
        x = x.float()
    if axis is None:
        out = fn(x.reshape(-1), -1).reshape(x.shape)
    elif isinstance(axis, int):
        out = fn(x, axis)
    else:
        axes = [a % x.ndim for a in axis]
        keep = [d for d in range(x.ndim) if d not in axes]
        moved = x.permute(*keep, *axes)
        flat = moved.reshape(*[x.shape[d] for d in keep], -1)
        out = fn(flat, -1).reshape(moved.shape)
        order = keep + axes
        out = out.permute(*sorted(range(x.ndim), key=order.__getitem__))
    return out.half() if half_on_cpu else out


def softmax(x: torch.Tensor, axis: Axis = -1) -> torch.Tensor:
    """Softmax over ``axis`` (default -1); a tuple normalises over several axes, None over all.

    Warns, as Keras does, when the axis has size 1 (the output is then all ones).

    Example::

        >>> softmax(torch.tensor([0.0, 0.0]))
        tensor([0.5000, 0.5000])
    """
    if x.dtype in (torch.float16, torch.bfloat16) and torch.is_autocast_enabled(x.device.type):
        x = x.float()  # mixed precision: softmax runs and returns float32
    if isinstance(axis, int) and -x.ndim <= axis < x.ndim and x.shape[axis] == 1:
        warnings.warn(
            f"softmax over axis {axis} of a tensor of shape {tuple(x.shape)}: that axis has "
            "size 1, so every output is 1. Did you mean sigmoid?",
            stacklevel=2,
        )
    return _over_axes(F.softmax, x, axis)


def log_softmax(x: torch.Tensor, axis: Axis = -1) -> torch.Tensor:
    """Logarithm of :func:`softmax` over ``axis`` (default -1), computed stably."""
    return _over_axes(F.log_softmax, x, axis)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return torch.sigmoid(x)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent."""
    return torch.tanh(x)


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: ``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)`` (alpha 1.0)."""
    return F.elu(x, alpha)


def selu(x: torch.Tensor) -> torch.Tensor:
    """Scaled ELU with the fixed constants of Klambauer et al. (2017)."""
    return F.selu(x)


def celu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Continuously differentiable ELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    return F.celu(x, alpha)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))``, linear above 20 as in torch (and therefore in Keras on torch)."""
    return F.softplus(x)


def softsign(x: torch.Tensor) -> torch.Tensor:
    """``x / (1 + |x|)``."""
    return F.softsign(x)


def silu(x: torch.Tensor) -> torch.Tensor:
    """Sigmoid linear unit (swish): ``x * sigmoid(x)``."""
    return F.silu(x)


swish = silu


def gelu(x: torch.Tensor, approximate: bool = False) -> torch.Tensor:
    """Gaussian error linear unit; exact (erf) by default, tanh approximation if ``approximate``."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


def exponential(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)``; integer and bool inputs are first cast to float32, as Keras does."""
    if not (x.is_floating_point() or x.is_complex()):
        x = x.float()
    return torch.exp(x)


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Piecewise linear sigmoid ``clip(x / 6 + 0.5, 0, 1)`` (Keras 3; Keras 2 used ``x / 5``)."""
    return F.hardsigmoid(x)


def hard_silu(x: torch.Tensor) -> torch.Tensor:
    """Hard swish: ``x * hard_sigmoid(x)``."""
    return F.hardswish(x)


hard_swish = hard_silu


def hard_tanh(x: torch.Tensor) -> torch.Tensor:
    """``clip(x, -1, 1)``."""
    return F.hardtanh(x, -1.0, 1.0)


def hard_shrink(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``x`` where ``|x| > threshold`` (default 0.5), else 0."""
    return F.hardshrink(x, threshold)


def soft_shrink(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``x`` moved towards 0 by ``threshold`` (default 0.5); 0 inside ``±threshold``."""
    return F.softshrink(x, threshold)


def tanh_shrink(x: torch.Tensor) -> torch.Tensor:
    """``x - tanh(x)``."""
    return F.tanhshrink(x)


def threshold(x: torch.Tensor, threshold: float, default_value: float) -> torch.Tensor:
    """``x`` where ``x > threshold``, else ``default_value`` (both required, as in Keras)."""
    return F.threshold(x, threshold, default_value)


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``log(sigmoid(x))``, computed stably."""
    return F.logsigmoid(x)


def mish(x: torch.Tensor) -> torch.Tensor:
    """``x * tanh(softplus(x))``, written out as Keras does (torch's fused mish differs by ulps)."""
    return x * torch.tanh(F.softplus(x))


def glu(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Gated linear unit: ``a * sigmoid(b)``, ``a, b`` the halves of ``axis`` (default -1)."""
    return F.glu(x, axis)


def squareplus(x: torch.Tensor, b: float = 4) -> torch.Tensor:
    """``(x + sqrt(x**2 + b)) / 2`` (default ``b`` 4), a smooth ReLU."""
    return (x + torch.sqrt(x**2 + b)) / 2


def sparse_plus(x: torch.Tensor) -> torch.Tensor:
    """0 for ``x <= -1``, ``(x + 1)**2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``."""
    return torch.where(x <= -1, torch.zeros_like(x), torch.where(x < 1, 0.25 * (x + 1) ** 2, x))


def sparse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """0 for ``x <= -1``, ``(x + 1) / 2`` in between, 1 for ``x >= 1``."""
    return torch.where(x <= -1, 0.0, torch.where(x >= 1, 1.0, 0.5 * (x + 1)))


def sparsemax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Euclidean projection of ``x`` onto the probability simplex along ``axis`` (default -1).

    Like softmax, the outputs are non-negative and sum to 1, but many are exactly 0.

    Keras 3.15 sums the *cumulative* sums over the support when it computes the threshold, so
    its outputs do not sum to 1 once two or more entries are non-zero (keras-team/keras#23425,
    fixed upstream by #23469). This is the corrected threshold ``(sum of the support - 1) / k``,
    equal to Keras's output whenever the support has a single entry.
    """
    z, _ = torch.sort(x, dim=axis, descending=True)
    cumsum = torch.cumsum(z, dim=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = torch.arange(1, x.shape[axis] + 1, device=x.device, dtype=x.dtype).view(shape)
    support = z - (cumsum - 1) / k > 0
    size = torch.sum(support, dim=axis, keepdim=True)
    total = torch.sum(torch.where(support, z, 0.0), dim=axis, keepdim=True)
    tau = (total - 1) / size
    return torch.clamp(x - tau, min=0.0)


def linear(x: torch.Tensor) -> torch.Tensor:
    """The identity: returns ``x`` unchanged."""
    return x


ACTIVATIONS: dict[str, Callable[..., torch.Tensor]] = {
    fn.__name__: fn
    for fn in (
        celu, elu, exponential, gelu, glu, hard_shrink, hard_sigmoid, hard_silu, hard_tanh,
        leaky_relu, linear, log_sigmoid, log_softmax, mish, relu, relu6, selu, sigmoid, silu,
        soft_shrink, softmax, softplus, softsign, sparse_plus, sparse_sigmoid, sparsemax,
        squareplus, tanh, tanh_shrink, threshold,
    )
}
ACTIVATIONS["swish"] = silu
ACTIVATIONS["hard_swish"] = hard_silu

_NAME_OF = {id(fn): name for name, fn in ACTIVATIONS.items() if fn.__name__ == name}


def get(identifier: Any) -> Callable[..., Any]:
    """Resolve an activation identifier.

    Args:
        identifier: ``None`` (gives :func:`linear`), a name from :data:`ACTIVATIONS`, a config
            dict (``{"class_name": "relu"}`` or Keras's ``{"class_name": "function",
            "config": "relu"}``), or any callable (returned as is).

    Raises:
        ValueError: for an unknown name, listing the valid ones.

    Example::

        >>> get("swish") is silu
        True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        identifier = identifier.get("config")
    return registry.lookup(identifier, ACTIVATIONS, "activation")


def serialize(activation: Callable[..., Any]) -> Any:
    """The Keras name of a built-in activation (aliases give the canonical name: swish → 'silu').

    Objects with ``get_config`` give a ``{"class_name", "config"}`` dict; other named callables
    their ``__name__``.
    """
    name = _NAME_OF.get(id(activation))
    return name if name is not None else registry.serialize(activation)
