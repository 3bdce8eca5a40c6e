"""Weight constraints with Keras 3 names, arguments and defaults.

A constraint maps a weight tensor to its projected value; the training loop applies it after
each optimizer step. ``axis`` refers to the **Keras layout** of the weight: for a Dense kernel
``(in, out)`` the default ``axis=0`` constrains each output unit's incoming weight vector, for a
Conv2D kernel ``(kh, kw, in, out)`` use ``axis=[0, 1, 2]``. Norms are divided with Keras's
epsilon added to the norm (``w * desired / (epsilon + norm)``), so the results match
``keras.constraints``.

Example::

    >>> import torch
    >>> from torchkeras_lite import constraints
    >>> constraints.get("non_neg")(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import torch

from torchkeras_lite import config
from torchkeras_lite.utils import registry

Axis = Union[int, Sequence[int], None]


def _axis(axis: Axis) -> Union[int, tuple[int, ...], None]:
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w: torch.Tensor, axis: Axis) -> torch.Tensor:
    return torch.sqrt(torch.sum(torch.square(w), dim=axis, keepdim=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the constrained weight (the base returns ``w``)."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Constraint":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales weight vectors whose L2 norm along ``axis`` exceeds ``max_value``.

    Args:
        max_value: the largest allowed norm, >= 0 (default 2).
        axis: axis or axes of the norm (default 0).

    Example::

        >>> MaxNorm(1.0)(torch.tensor([[3.0], [4.0]])).flatten()
        tensor([0.6000, 0.8000])
    """

    def __init__(self, max_value: float = 2, axis: Axis = 0) -> None:
        if not max_value >= 0:
            raise ValueError(
                f"max_value must be a non-negative number, got max_value={max_value!r}."
            )
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        w = torch.as_tensor(w)
        norms = _norms(w, _axis(self.axis))
        desired = torch.clip(norms, 0, self.max_value)
        return w * (desired / (config.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to 0."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.as_tensor(w), min=0)


class UnitNorm(Constraint):
    """Scales weight vectors to unit L2 norm along ``axis`` (default 0)."""

    def __init__(self, axis: Axis = 0) -> None:
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        w = torch.as_tensor(w)
        return w / (config.epsilon() + _norms(w, _axis(self.axis)))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norm along ``axis`` into ``[min_value, max_value]``.

    The new norm is ``rate * clip(norm, min_value, max_value) + (1 - rate) * norm``:
    ``rate=1.0`` (default) enforces the bounds strictly, smaller rates step towards them.

    Args:
        min_value: lower bound of the norm, >= 0 (default 0.0).
        max_value: upper bound, >= min_value (default 1.0).
        rate: how far to move towards the bounds per call (default 1.0).
        axis: axis or axes of the norm (default 0).
    """

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0
    ) -> None:
        if not 0 <= min_value <= max_value:
            raise ValueError(
                "min_value and max_value must satisfy 0 <= min_value <= max_value, "
                f"got min_value={min_value!r}, max_value={max_value!r}."
            )
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        w = torch.as_tensor(w)
        norms = _norms(w, _axis(self.axis))
        clipped = torch.clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (config.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

CONSTRAINTS: dict[str, type] = {
    "MaxNorm": MaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "MinMaxNorm": MinMaxNorm,
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}


def get(identifier: Any) -> Any:
    """Resolve a constraint identifier.

    Args:
        identifier: ``None`` (returned as None), a name ('max_norm', 'non_neg', 'unit_norm',
            'min_max_norm' or the class names; names give default instances), a config dict,
            a class, an instance or any callable ``w -> w'``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if identifier is None:
        return None
    return registry.lookup(identifier, CONSTRAINTS, "constraint", base=Constraint)


def serialize(constraint: Any) -> Any:
    """``{"class_name", "config"}`` for a constraint instance (None for None)."""
    return registry.serialize(constraint)
