"""Keras 3 optimizers (names, arguments, defaults and update rules) as ``torch.optim`` optimizers.

Keras users construct them without parameters and let the model bind them::

    opt = Adam(learning_rate=1e-3)      # or get("adam")
    opt.build(model.parameters())       # the model does this once it is on its device
    opt.zero_grad(); loss.backward(); opt.step()

torch users may bind at once: ``Adam(1e-3, params=model.parameters())``.

The catalog: :func:`get` resolves a name (any case: ``"adam"``, ``"Adam"``, ``"RMSprop"``), a
config dict, a class or an instance; :func:`serialize` / :func:`deserialize` convert to and from
Keras's config format. ``schedules`` holds the learning-rate schedules.
"""
from __future__ import annotations

from typing import Any

import torch

from torchkeras_lite.optimizers import schedules
from torchkeras_lite.optimizers.adadelta import Adadelta
from torchkeras_lite.optimizers.adagrad import Adagrad
from torchkeras_lite.optimizers.adam import Adam, AdamW
from torchkeras_lite.optimizers.adamax import Adamax
from torchkeras_lite.optimizers.nadam import Nadam
from torchkeras_lite.optimizers.optimizer import Optimizer
from torchkeras_lite.optimizers.rmsprop import RMSprop
from torchkeras_lite.optimizers.schedules import LearningRateSchedule
from torchkeras_lite.optimizers.sgd import SGD
from torchkeras_lite.utils.registry import lookup, serialize as _serialize

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "Nadam",
    "LearningRateSchedule",
    "schedules",
    "get",
    "serialize",
    "deserialize",
]

_OPTIMIZERS = {
    cls.__name__.lower(): cls
    for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam)
}


def _lower_name(identifier: Any, table: "dict[str, Any]") -> Any:
    # Keras matches built-in optimizer names case-insensitively ("Adam", "adam", "RMSProp").
    if isinstance(identifier, str) and identifier.lower() in table:
        return identifier.lower()
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        name = identifier["class_name"]
        if name not in table and name.lower() in table:
            return dict(identifier, class_name=name.lower())
    return identifier


def get(identifier: Any) -> "torch.optim.Optimizer | None":
    """An optimizer from a name, a config dict, a class or an instance.

    Names and dicts give a new, unbuilt optimizer; a class is instantiated with its defaults;
    an optimizer instance (ours or any ``torch.optim.Optimizer``) is returned as is; None gives
    None. Unknown names raise a ValueError listing the valid ones.

    Example:
        >>> get("adam").learning_rate
        0.001
        >>> type(get({"class_name": "SGD", "config": {"momentum": 0.9}})).__name__
        'SGD'
    """
    if identifier is None:
        return None
    if isinstance(identifier, torch.optim.Optimizer):
        return identifier
    if isinstance(identifier, type) and not issubclass(identifier, Optimizer):
        raise TypeError(
            f"Could not interpret optimizer class {identifier.__name__}: expected a subclass of "
            "torchkeras_lite.optimizers.Optimizer (instantiate torch optimizers with their "
            "parameters and pass the instance)."
        )
    if not isinstance(identifier, (str, dict, type)):
        raise TypeError(
            f"Could not interpret optimizer identifier {identifier!r} (type "
            f"{type(identifier).__name__}): expected a name, a config dict, an optimizer class "
            "or an instance."
        )
    return lookup(_lower_name(identifier, _OPTIMIZERS), _OPTIMIZERS, "optimizer")


def serialize(optimizer: Optimizer) -> "dict[str, Any]":
    """Keras's serialized form ``{"module", "class_name", "config", "registered_name"}``."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"serialize expects a torchkeras_lite optimizer, got {type(optimizer).__name__}."
        )
    entry = _serialize(optimizer)
    builtin = _OPTIMIZERS.get(entry["class_name"].lower()) is type(optimizer)
    return {
        "module": "keras.optimizers" if builtin else type(optimizer).__module__,
        "class_name": entry["class_name"],
        "config": entry["config"],
        "registered_name": None if builtin else entry["class_name"],
    }


def deserialize(config: "dict[str, Any]", custom_objects: "dict | None" = None) -> Optimizer:
    """A new, unbuilt optimizer from :func:`serialize`'s output (or a Keras-saved config)."""
    if not isinstance(config, dict):
        raise TypeError(f"deserialize expects a config dict, got {type(config).__name__}.")
    table = dict(_OPTIMIZERS, **(custom_objects or {}))
    return lookup(_lower_name(config, _OPTIMIZERS), table, "optimizer")
