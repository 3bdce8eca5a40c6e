"""The one lookup every catalog's ``get(identifier)`` goes through.

Each catalog (activations, initializers, losses, metrics, optimizers, layers, callbacks,
regularizers, constraints) keeps a dict ``name -> object`` and calls :func:`lookup`. It accepts
a name, a Keras config dict (``{"class_name": ..., "config": {...}}``), a class (instantiated
with no arguments when ``instantiate=True``), an instance or any callable (returned as is).
Unknown names raise a ValueError listing the valid names and the closest match.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Mapping


def unknown_name_error(kind: str, name: str, valid: "list[str] | Mapping[str, Any]") -> ValueError:
    """A ValueError for an unknown ``kind`` name, suggesting the closest valid one."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"Unknown {kind} {name!r}.{hint} Valid {kind} names are: {', '.join(names)}."
    )


def serialize(obj: Any) -> Any:
    """Keras-style config of an object: ``{"class_name", "config"}`` or its name for functions."""
    if obj is None:
        return None
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    name = getattr(obj, "__name__", None)
    if name is None:
        raise TypeError(f"Cannot serialize {obj!r}: it has no get_config() and no __name__.")
    return name


def lookup(
    identifier: Any,
    table: Mapping[str, Any],
    kind: str,
    *,
    instantiate: bool = True,
    base: "type | None" = None,
) -> Any:
    """Resolve ``identifier`` against ``table``.

    Args:
        identifier: a name, a config dict, a class, an instance or a callable.
        table: valid names mapped to functions or classes.
        kind: what is being looked up, for messages ('loss', 'activation', ...).
        instantiate: call classes (from names, dicts or passed directly) to get an instance.
        base: when given, instances of this type are returned unchanged.
    """
    if isinstance(identifier, str):
        if identifier not in table:
            raise unknown_name_error(kind, identifier, table)
        obj = table[identifier]
        return obj() if instantiate and isinstance(obj, type) else obj
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(
                f"A {kind} config dict needs a 'class_name' key (and optionally 'config'), "
                f"got keys {sorted(identifier)}."
            )
        name = identifier["class_name"]
        config = identifier.get("config") or {}
        if name not in table:
            raise unknown_name_error(kind, name, table)
        obj = table[name]
        if not isinstance(obj, type):
            return obj
        from_config: Callable[..., Any] = getattr(obj, "from_config", None) or obj
        return from_config(config) if from_config is not obj else obj(**config)
    if isinstance(identifier, type):
        return identifier() if instantiate else identifier
    if base is not None and isinstance(identifier, base):
        return identifier
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret {kind} identifier {identifier!r} (type {type(identifier).__name__}): "
        f"expected a name, a config dict, a class or a callable."
    )
