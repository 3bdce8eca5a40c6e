"""Mixed precision with Keras's policies: variables in float32, computation in float16/bfloat16.

``set_global_policy('mixed_bfloat16')`` (or ``'mixed_float16'``) makes every layer created
afterwards keep its weights in float32 and compute in the low-precision type; ``'float32'``
(the default) turns it off. A layer can take its own policy: ``Dense(3, dtype='float32')`` keeps
the last layer in float32, as Keras recommends for the outputs.

How it runs on torch: a layer whose policy computes in low precision runs its ``call`` under
``torch.autocast`` (matmuls and convolutions in float16/bfloat16 on float32 weights, which is
Keras's "variables float32, compute low precision"); a float32 layer inside it turns autocast
off and casts its inputs to float32. Softmax runs and returns float32 under autocast, and losses
are always computed in float32. With ``'mixed_float16'``, ``fit`` scales the loss automatically
(dynamic loss scaling as Keras's ``LossScaleOptimizer``: initial scale 2**15, doubled after 2,000
finite steps, halved and the step skipped on inf/NaN gradients). bfloat16 needs no scaling and
works on CPU too.

Example::

    >>> from torchkeras_lite import mixed_precision
    >>> mixed_precision.set_global_policy("mixed_bfloat16")
    >>> Dense(4).dtype_policy.compute_dtype
    'bfloat16'
    >>> mixed_precision.set_global_policy("float32")
"""
from __future__ import annotations

from typing import Any

import torch

from . import config as _config

_POLICIES = {
    "float32": ("float32", "float32"),
    "float64": ("float64", "float64"),
    "float16": ("float16", "float16"),
    "bfloat16": ("bfloat16", "bfloat16"),
    "mixed_float16": ("float16", "float32"),
    "mixed_bfloat16": ("bfloat16", "float32"),
}


class DTypePolicy:
    """A dtype policy: the dtype of a layer's weights and the dtype it computes in.

    Args:
        name: ``'float32'``, ``'float64'``, ``'float16'``, ``'bfloat16'``, ``'mixed_float16'`` or
            ``'mixed_bfloat16'`` (default: ``config.floatx()``).
    """

    def __init__(self, name: str | None = None) -> None:
        name = _config.floatx() if name is None else name
        if not isinstance(name, str) or name not in _POLICIES:
            raise ValueError(
                f"Unknown dtype policy {name!r}; expected one of {sorted(_POLICIES)}.")
        self._name = name
        self._compute_dtype, self._variable_dtype = _POLICIES[name]

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._variable_dtype

    @property
    def is_mixed(self) -> bool:
        """Whether computation runs in a narrower type than the weights."""
        return self._compute_dtype != self._variable_dtype

    @property
    def torch_compute_dtype(self) -> torch.dtype:
        return getattr(torch, self._compute_dtype)

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict) -> "DTypePolicy":
        return cls(config.get("name"))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras 2 spelling

_GLOBAL: DTypePolicy | None = None


def set_global_policy(policy: Any) -> None:
    """Set the policy of layers created from now on: a name or a :class:`DTypePolicy`
    (None resets to ``config.floatx()``)."""
    global _GLOBAL
    _GLOBAL = None if policy is None else get(policy)


def global_policy() -> DTypePolicy:
    """The policy new layers get when they are not given ``dtype=``."""
    return _GLOBAL if _GLOBAL is not None else DTypePolicy(_config.floatx())


set_dtype_policy = set_global_policy  # keras.config spelling
dtype_policy = global_policy


def get(identifier: Any) -> DTypePolicy:
    """A policy from a name, a torch dtype, Keras's config dict or a policy."""
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, torch.dtype):
        identifier = str(identifier).replace("torch.", "")
    if isinstance(identifier, dict):
        identifier = identifier.get("config", identifier).get("name")
    return DTypePolicy(identifier)


def loss_scaler(device: torch.device) -> Any:
    """The dynamic loss scaler ``fit`` uses for float16 computation (Keras's settings)."""
    return torch.amp.GradScaler(device.type, init_scale=2.0 ** 15, growth_factor=2.0,
                                backoff_factor=0.5, growth_interval=2000)


__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "set_dtype_policy",
           "dtype_policy", "get", "loss_scaler"]
