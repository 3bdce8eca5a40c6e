"""Weight regularizers with Keras 3 names, arguments and defaults.

A regularizer is called on a weight tensor (Keras layout) and returns a scalar tensor, the
penalty that a layer adds to the loss. The formulas are Keras's, term by term, so the values
match ``keras.regularizers`` on its torch backend.

Example::

    >>> import torch
    >>> from torchkeras_lite import regularizers
    >>> regularizers.get("l2")(torch.ones(2, 3))
    tensor(0.0600)
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import torch

from torchkeras_lite import config
from torchkeras_lite.utils import registry


def _factor(value: Any, name: str) -> float:
    """``value`` as a float, or a ValueError naming ``name`` if it is not finite and >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a non-negative finite number, got {name}={value!r}.")
    return float(value)


class Regularizer:
    """Base class: ``__call__(x)`` returns the penalty for weight ``x`` (the base gives 0.0)."""

    def __call__(self, x: torch.Tensor) -> Any:
        return 0.0

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Regularizer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0.0 (None also means 0.0).

    Args:
        l1: L1 factor, >= 0.
        l2: L2 factor, >= 0.
    """

    def __init__(self, l1: Optional[float] = 0.0, l2: Optional[float] = 0.0) -> None:
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        penalty = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1 != 0.0:
            penalty = penalty + self.l1 * torch.sum(torch.abs(x))
        if self.l2 != 0.0:
            penalty = penalty + self.l2 * torch.sum(torch.square(x))
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``, ``l1`` defaulting to 0.01 (None also means 0.01)."""

    def __init__(self, l1: Optional[float] = 0.01) -> None:
        self.l1 = _factor(0.01 if l1 is None else l1, "l1")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l1 * torch.sum(torch.abs(x))

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``, ``l2`` defaulting to 0.01 (None also means 0.01).

    Keras's L2 has no factor 1/2: ``L2(0.01)`` adds ``0.01 * sum(w**2)``, which equals torch
    weight decay of ``0.02`` under plain SGD.
    """

    def __init__(self, l2: Optional[float] = 0.01) -> None:
        self.l2 = _factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2 * torch.sum(torch.square(x))

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalises non-orthogonal rows (or columns) of a 2-D weight.

    The rows (``mode='rows'``, default) or columns are L2-normalised; the penalty is
    ``factor * 0.5 * sum(|off-diagonal dot products|) / n_pairs``.

    Args:
        factor: >= 0 (default 0.01).
        mode: 'rows' or 'columns'.
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(f"mode must be 'rows' or 'columns', got mode={mode!r}.")
        self.mode = mode

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer needs a 2-D weight, got shape={tuple(x.shape)}."
            )
        axis = 1 if self.mode == "rows" else 0
        inv_norm = torch.rsqrt(torch.sum(torch.square(x), dim=axis, keepdim=True))
        unit = x * torch.clamp(inv_norm, max=1.0 / config.epsilon())
        product = unit @ unit.T if self.mode == "rows" else unit.T @ unit
        size = product.shape[0]
        off_diagonal = product * (1.0 - torch.eye(size, dtype=x.dtype, device=x.device))
        pairs = size * (size - 1.0) / 2.0
        factor = torch.tensor(self.factor, dtype=x.dtype, device=x.device)
        return factor * 0.5 * torch.sum(torch.abs(off_diagonal)) / pairs

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

REGULARIZERS: dict[str, type] = {
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
    "OrthogonalRegularizer": OrthogonalRegularizer,
    "l1": L1,
    "l2": L2,
    "l1l2": L1L2,
    "l1_l2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
}


def get(identifier: Any) -> Any:
    """Resolve a regularizer identifier.

    Args:
        identifier: ``None`` (returned as None), a name ('l1', 'l2', 'l1_l2', 'L1L2',
            'orthogonal_regularizer', ...; names give default instances), a config dict, a
            class, an instance or any callable ``weight -> penalty``.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if identifier is None:
        return None
    return registry.lookup(identifier, REGULARIZERS, "regularizer", base=Regularizer)


def serialize(regularizer: Any) -> Any:
    """``{"class_name", "config"}`` for a regularizer instance (None for None)."""
    return registry.serialize(regularizer)
