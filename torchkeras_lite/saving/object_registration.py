"""Custom objects: the names under which user classes and functions are saved and found again.

A model file names every object by its class (``"Dense"``) and, for user objects, by a
*registered name* ``"package>Name"``. Loading resolves names against, in order: the
``custom_objects`` argument, the innermost :class:`CustomObjectScope`, and the objects registered
with :func:`register_keras_serializable`. Nothing here imports modules named in a file.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
_SCOPES: list[dict[str, Any]] = []


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """Register a class or function so that saved models find it by name.

    The object is registered as ``"package>name"`` (``name`` defaults to its ``__name__``);
    that string is written to files as its ``registered_name``, as Keras does. Classes must
    define ``get_config()``.

    Args:
        package: the package part of the registered name (default ``'Custom'``).
        name: the name part (default: the object's ``__name__``).

    Example:
        >>> @register_keras_serializable(package="demo")
        ... class Scale(Layer):
        ...     def get_config(self):
        ...         return super().get_config()
        >>> get_registered_name(Scale)
        'demo>Scale'
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"package must be a string without '>', got {package!r}.")

    def decorator(obj: Any) -> Any:
        registered_name = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"Cannot register class {obj.__name__}: it has no get_config() method, so it "
                "could not be saved. Define get_config() returning its constructor arguments."
            )
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered_name
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` is saved under: its registered ``'package>name'``, else its
    ``__name__``."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return obj.__name__


def is_registered(obj: Any) -> bool:
    """Whether ``obj`` was registered with :func:`register_keras_serializable`."""
    try:
        return obj in _GLOBAL_CUSTOM_NAMES
    except TypeError:  # unhashable
        return False


def get_custom_objects() -> dict[str, Any]:
    """The live global dict of registered objects (``'package>name' -> object``)."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_object(name: str, custom_objects: dict | None = None) -> Any:
    """The object saved under ``name``: from ``custom_objects``, the active
    :class:`CustomObjectScope`, then the registered objects; None when unknown."""
    for table in (custom_objects or {}, *reversed(_SCOPES), _GLOBAL_CUSTOM_OBJECTS):
        if name in table:
            return table[name]
    return None


class CustomObjectScope:
    """Make ``custom_objects`` visible to loading inside a ``with`` block.

    Args:
        custom_objects: dict of ``name -> class or function``.

    Example:
        >>> with CustomObjectScope({"Scale": Scale}):
        ...     model = load_model("scaled.keras")
    """

    def __init__(self, custom_objects: dict | None) -> None:
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(
                f"custom_objects must be a dict of name -> object, got {custom_objects!r}."
            )
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self) -> "CustomObjectScope":
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc: Any) -> None:
        for i in range(len(_SCOPES) - 1, -1, -1):
            if _SCOPES[i] is self.custom_objects:
                del _SCOPES[i]
                break


custom_object_scope = CustomObjectScope
