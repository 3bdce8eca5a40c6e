"""Layer -> ONNX converters: one small function per layer class.

A converter has the layer's call signature with :class:`~..graph.Value` in place of tensors::

    @register_converter(Dense)
    def dense(ctx, layer, x):          # ctx: GraphBuilder, x: Value (Keras layout)
        ...
        return out                      # a Value, or the structure the layer returns

It emits ONNX nodes with ``ctx.node``/``ctx.const`` and returns the output Value(s). Weights
are read from the layer (Keras layout). Inference semantics only: dropout and noise layers
return their input, BatchNormalization uses its moving statistics. ``register_converter`` is
public: a user's custom layer gets a converter the same way.

Activations (Dense's ``activation=``, ``Activation`` layers...) go through
:func:`emit_activation`, which dispatches on the activation's Keras name.
"""
from __future__ import annotations

from typing import Any, Callable

CONVERTERS: dict[type, Callable[..., Any]] = {}
ACTIVATION_EMITTERS: dict[str, Callable[..., Any]] = {}


def register_converter(*layer_classes: type) -> Callable:
    """Decorator: ``fn(ctx, layer, *inputs, **kwargs)`` converts instances of these classes
    (and their subclasses, unless a subclass has its own converter).

    Example:
        >>> @register_converter(MyScale)
        ... def my_scale(ctx, layer, x):
        ...     return ctx.node("Mul", [x, ctx.const(layer.scale)], shape=x.shape)
    """
    def decorate(fn: Callable) -> Callable:
        for cls in layer_classes:
            CONVERTERS[cls] = fn
        return fn
    return decorate


def register_activation(*names: str) -> Callable:
    """Decorator: ``fn(ctx, x) -> Value`` emits the activation with these Keras names."""
    def decorate(fn: Callable) -> Callable:
        for name in names:
            ACTIVATION_EMITTERS[name] = fn
        return fn
    return decorate


def find_converter(layer: Any) -> Callable | None:
    """The converter for ``layer``'s class, or for its nearest registered base class."""
    _load_builtin()
    for cls in type(layer).__mro__:
        if cls in CONVERTERS:
            return CONVERTERS[cls]
        if cls.__module__.startswith("torchkeras_lite.layers.layer"):
            break  # the Layer base itself has no converter
    return None


def emit_activation(ctx: Any, activation: Any, x: Any) -> Any:
    """Emit ``activation`` (a function from :mod:`torchkeras_lite.activations`, or a name)
    on ``x``; raises a clear error for an activation with no ONNX form."""
    from ... import activations as _activations
    _load_builtin()
    name = activation if isinstance(activation, str) else _activations.serialize(activation)
    if name in (None, "linear"):
        return x
    emitter = ACTIVATION_EMITTERS.get(name) if isinstance(name, str) else None
    if emitter is None:
        from ..onnx_export import UnsupportedLayerError
        raise UnsupportedLayerError(
            f"Activation {name!r} of layer {ctx.scope!r} ({ctx.scope_class}) has no ONNX "
            f"converter. Built-in ones: {sorted(ACTIVATION_EMITTERS)}. For a custom activation, "
            "register one with torchkeras_lite.export.register_activation(name)."
        )
    out = emitter(ctx, x)
    out.shape = x.shape
    return out


_LOADED = False


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
