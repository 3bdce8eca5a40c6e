"""Keras 3's config format: objects to and from JSON-ready dicts.

Keras 3 writes every object as ``{"module", "class_name", "config", "registered_name"}``
(layers also carry ``build_config``; models ``compile_config``). Our ``get_config()`` methods
already mirror Keras's constructor arguments, so this module only translates the wrappers.

Who owns what:
- :func:`serialize_keras_object` turns our objects (layers, models, optimizers, schedules,
  losses, metrics, initializers, regularizers, constraints, functions) into Keras's format:
  built-in classes get Keras's module (``keras.layers``...), user classes their registered
  name, layer dtypes become ``DTypePolicy`` dicts.
- :func:`deserialize_keras_object` reads that format back (ours or real Keras's): class names
  are resolved against ``custom_objects``, registered objects and our catalogs only. It never
  imports a module named in the config and never runs code from it: Lambda layers and
  bytecode-serialized lambdas are refused.
- :func:`model_compile_config` / :func:`compile_arguments` translate ``compile()`` arguments.
"""
from __future__ import annotations

import difflib
import functools
import inspect
import warnings
from typing import Any

import numpy as np
import torch

from . import object_registration

# Keras configs carry these keys, which our layers do not take; loading drops them when they
# hold the value that means "feature not used" and refuses the file otherwise.
_KERAS_ONLY_KEYS = {
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "ragged": False,
    "optional": False,
    "autocast": True,
}
# Our configs carry these keys, which Keras's constructors reject: they are left out of files
# when they hold their default value.
_OURS_ONLY_KEYS = {
    "SpatialDropout1D": {"trainable": True},
    "SpatialDropout2D": {"trainable": True},
    "SpatialDropout3D": {"trainable": True},
}
_OPTIMIZER_OURS_ONLY = ("fused",)
_COMPILE_NO_OPS = {"run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}
_FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16")

# Keras module of each kind of object, and the kinds named by config keys.
_MODULES = {
    "layer": "keras.layers",
    "initializer": "keras.initializers",
    "regularizer": "keras.regularizers",
    "constraint": "keras.constraints",
    "loss": "keras.losses",
    "metric": "keras.metrics",
    "optimizer": "keras.optimizers",
    "schedule": "keras.optimizers.schedules",
    "activation": "keras.activations",
}
_KEY_SUFFIX_KINDS = (("_initializer", "initializer"), ("_regularizer", "regularizer"),
                     ("_constraint", "constraint"), ("activation", "activation"))
_LAYER_KEYS = ("layer", "backward_layer", "layers")


# ------------------------------------------------------------------------------ catalogs
@functools.lru_cache(maxsize=None)
def _catalogs() -> dict[str, dict[str, Any]]:
    """``kind -> {class or function name -> object}`` for our built-in objects."""
    from .. import (activations, constraints, initializers, layers, losses, metrics,
                    optimizers, regularizers)
    from ..optimizers import schedules

    return {
        "layer": layers.ALL_LAYERS,
        "initializer": initializers.INITIALIZERS,
        "regularizer": regularizers.REGULARIZERS,
        "constraint": constraints.CONSTRAINTS,
        "loss": losses.LOSSES,
        "metric": metrics.METRICS,
        "optimizer": {cls.__name__: cls for cls in optimizers._OPTIMIZERS.values()},
        "schedule": schedules._SCHEDULES,
        "activation": activations.ACTIVATIONS,
    }


def _base_classes() -> list[tuple[str, type]]:
    from .. import constraints, initializers, losses, metrics, optimizers, regularizers
    from ..layers.layer import Layer
    from ..optimizers.schedules import LearningRateSchedule

    return [("layer", Layer), ("initializer", initializers.Initializer),
            ("regularizer", regularizers.Regularizer), ("constraint", constraints.Constraint),
            ("loss", losses.Loss), ("metric", metrics.Metric),
            ("optimizer", optimizers.Optimizer), ("schedule", LearningRateSchedule)]


def _kind_of_object(obj: Any) -> str | None:
    for kind, base in _base_classes():
        if isinstance(obj, base):
            return kind
    return None


_MODULE_PARTS = {"layers": "layer", "initializers": "initializer",
                 "regularizers": "regularizer", "constraints": "constraint", "losses": "loss",
                 "metrics": "metric", "optimizers": "optimizer", "activations": "activation",
                 "models": "model"}


def _kind_of_module(module: Any) -> str | None:
    """The kind of object a Keras module path holds (``keras.src.layers.core.dense`` holds a
    layer); None for other modules (user code)."""
    if not isinstance(module, str) or not (module == "keras" or module.startswith("keras.")):
        return None
    parts = module.split(".")
    if "schedules" in parts:
        return "schedule"
    for part in parts[1:]:
        if part in _MODULE_PARTS:
            return _MODULE_PARTS[part]
    return "model" if module == "keras" else None


def _kind_of_key(key: str | None) -> str | None:
    if key is None:
        return None
    if key in _LAYER_KEYS:
        return "layer"
    if key == "learning_rate":
        return "schedule"
    for suffix, kind in _KEY_SUFFIX_KINDS:
        if key.endswith(suffix):
            return kind
    return None


def _is_builtin(cls: Any, kind: str | None) -> bool:
    if kind is None:
        return False
    table = _catalogs().get(kind, {})
    return table.get(getattr(cls, "__name__", None)) is cls


# ---------------------------------------------------------------------------- serialize
def _dtype_policy(name: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
            "registered_name": None}


def _wrap(cls: type, kind: str | None, config: Any) -> dict:
    if _is_builtin(cls, kind):
        return {"module": _MODULES[kind], "class_name": cls.__name__, "config": config,
                "registered_name": None}
    registered = object_registration.is_registered(cls)
    return {"module": None if registered else cls.__module__, "class_name": cls.__name__,
            "config": config, "registered_name": object_registration.get_registered_name(cls)}


def _serialize_function(fn: Any) -> Any:
    name = getattr(fn, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(
            f"Cannot save {fn!r}: lambdas and unnamed callables cannot be stored without "
            "storing code. Define a named function and register it with "
            "@register_keras_serializable()."
        )
    registered = object_registration.is_registered(fn)
    return {"module": None if registered else "builtins", "class_name": "function",
            "config": name,
            "registered_name": object_registration.get_registered_name(fn) if registered
            else "function"}


def serialize_keras_object(obj: Any) -> Any:
    """``obj`` in Keras 3's JSON-ready format.

    Args:
        obj: a layer, model, optimizer, schedule, loss, metric, initializer, regularizer,
            constraint, function, or plain data (numbers, strings, lists, dicts, arrays).

    Example:
        >>> entry = serialize_keras_object(initializers.Zeros())
        >>> entry["module"], entry["class_name"]
        ('keras.initializers', 'Zeros')
    """
    from ..layers.layer import Layer
    from ..models.model import Model

    if isinstance(obj, Model):
        return serialize_model(obj, include_compile=False)
    if isinstance(obj, Layer):
        return serialize_layer(obj)
    return _to_keras(obj, None)


def _to_keras(value: Any, key: str | None) -> Any:
    """Our config values (or objects) in Keras's format; ``key`` is the config key holding
    ``value``, which says what kind of object a ``{"class_name", "config"}`` dict describes."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor)
                          else value).tolist()
    if isinstance(value, torch.dtype):
        return str(value).replace("torch.", "")
    if isinstance(value, (list, tuple)):
        return [_to_keras(v, key) for v in value]
    if isinstance(value, dict):
        if "class_name" in value and "config" in value and "module" not in value:
            return _wrap_config_dict(value, key)
        return {k: _to_keras(v, k) for k, v in value.items()}
    if isinstance(value, type):
        raise TypeError(f"Cannot save the class {value.__name__} as a config value; "
                        "pass an instance.")
    kind = _kind_of_object(value)
    if kind == "layer":
        return serialize_keras_object(value)
    if kind is not None:
        if kind == "optimizer":
            config = {k: v for k, v in value.get_config().items()
                      if k not in _OPTIMIZER_OURS_ONLY}
        else:
            config = value.get_config()
        return _wrap(type(value), kind, _to_keras(config, None))
    if hasattr(value, "get_config"):
        return _wrap(type(value), None, _to_keras(value.get_config(), None))
    if callable(value):
        return _serialize_function(value)
    raise TypeError(
        f"Cannot save config value {value!r} (type {type(value).__name__}) under key {key!r}: "
        "configs hold numbers, strings, lists, dicts and objects with get_config()."
    )


def _wrap_config_dict(entry: dict, key: str | None) -> dict:
    """A ``{"class_name", "config"}`` dict from one of our ``get_config()`` results, wrapped
    as Keras writes it (module and registered name)."""
    class_name, config = entry["class_name"], entry["config"]
    kind = _kind_of_key(key)
    catalogs = _catalogs()
    if kind is None or class_name not in catalogs.get(kind, {}):
        kind = next((k for k, table in catalogs.items() if class_name in table), kind)
    cls = catalogs.get(kind, {}).get(class_name) if kind else None
    if cls is None:
        cls = _registered_class_named(class_name)
    if kind == "layer" and isinstance(config, dict):
        config = _keras_layer_config(class_name, config)
    else:
        config = _to_keras(config, None)
    if cls is not None and isinstance(cls, type):
        return _wrap(cls, kind, config)
    return {"module": None, "class_name": class_name, "config": config,
            "registered_name": class_name}


def _registered_class_named(class_name: str) -> Any:
    for obj in object_registration.get_custom_objects().values():
        if getattr(obj, "__name__", None) == class_name:
            return obj
    return None


def _keras_layer_config(class_name: str, config: dict) -> dict:
    """One of our layer configs with Keras's dtype policy and object wrappers."""
    out = {}
    drop = _OURS_ONLY_KEYS.get(class_name, {})
    for key, value in config.items():
        if key in drop and value == drop[key]:
            continue
        if key == "dtype" and isinstance(value, str) and class_name != "InputLayer":
            out[key] = _dtype_policy(value)
        else:
            out[key] = _to_keras(value, key)
    return out


def _build_config(layer: Any) -> dict | None:
    shapes = getattr(layer, "_build_shapes_arg", None)
    if not getattr(layer, "built", False) or shapes is None:
        return None
    if type(layer).__name__ == "MultiHeadAttention":
        return None  # Keras builds it from a dict of shapes; the graph rebuild builds it anyway
    return {"input_shape": _to_keras(shapes, None)}


def serialize_layer(layer: Any, *, drop_input_shape: bool = False) -> dict:
    """A layer's Keras entry: module, class name, config, registered name, build config.

    Args:
        layer: the layer (a model is serialized with :func:`serialize_model`).
        drop_input_shape: leave out ``batch_input_shape`` (when an ``InputLayer`` before the
            layer already declares it, as in a Sequential model).
    """
    from ..models.model import Model

    if isinstance(layer, Model):
        return serialize_model(layer, include_compile=False)
    config = dict(layer.get_config())
    if drop_input_shape:
        config.pop("batch_input_shape", None)
    entry = _wrap(type(layer), "layer", _keras_layer_config(type(layer).__name__, config))
    build_config = _build_config(layer)
    if build_config is not None and type(layer).__name__ != "InputLayer":
        entry["build_config"] = build_config
    return entry


def serialize_model(model: Any, *, include_compile: bool = True) -> dict:
    """A model's Keras entry (Sequential, Functional or a subclassed model), with its
    ``compile_config`` when ``include_compile`` and the model is compiled."""
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    cls = type(model)
    if isinstance(model, Sequential):
        entries = []
        if model._input_layer is not None:
            entries.append(serialize_layer(model._input_layer))
        entries.extend(serialize_layer(layer, drop_input_shape=model._input_layer is not None)
                       for layer in model.layers)
        config = {"name": model.name, "trainable": model.trainable,
                  "dtype": _dtype_policy(str(model.dtype).replace("torch.", "")),
                  "layers": entries}
        if model._input_layer is not None:
            config["build_input_shape"] = list(model._input_layer.batch_shape)
        build_config = ({"input_shape": list(model._input_layer.batch_shape)}
                        if model._input_layer is not None else None)
        if cls is Sequential:
            entry = {"module": "keras", "class_name": "Sequential", "config": config,
                     "registered_name": None}
        else:
            entry = _wrap(cls, None, config)
    elif isinstance(model, Functional):
        config = model.get_config()
        layer_entries = []
        for layer, ours in zip(model.layers, config["layers"]):
            entry = serialize_layer(layer)
            entry["name"] = ours["name"]
            entry["inbound_nodes"] = _to_keras(ours["inbound_nodes"], None)
            layer_entries.append(entry)
        config = {**_to_keras({k: v for k, v in config.items() if k != "layers"}, None),
                  "layers": layer_entries}
        build_config = {"input_shape": None}
        if cls is Functional:
            entry = {"module": "keras.src.models.functional", "class_name": "Functional",
                     "config": config, "registered_name": "Functional"}
        else:
            entry = _wrap(cls, None, config)
    else:
        entry = _wrap(cls, None, _to_keras(model.get_config(), None))
        shape = getattr(model, "_saved_input_shape", None)
        build_config = {"input_shape": list(shape)} if shape is not None else None
    if build_config is not None:
        entry["build_config"] = build_config
    if include_compile:
        try:
            compile_config = model_compile_config(model)
        except (TypeError, ValueError) as e:
            warnings.warn(
                f"Model {model.name!r} is saved without its compile settings: {e} After "
                "loading it, call compile() again.", stacklevel=4)
            compile_config = None
        if compile_config is not None:
            entry["compile_config"] = compile_config
    return entry


def model_compile_config(model: Any) -> dict | None:
    """Keras's ``compile_config`` for a compiled model (None when it is not compiled)."""
    from ..optimizers import Optimizer

    trainer = getattr(model, "_trainer", None)
    if trainer is None:
        return None
    if not isinstance(trainer.optimizer, Optimizer):
        raise TypeError(
            f"its optimizer {type(trainer.optimizer).__name__} is not a torchkeras_lite "
            "optimizer, so Keras's format cannot describe it."
        )
    names = trainer.loss.output_names
    weights = trainer.loss.weights
    if all(w == 1.0 for w in weights):
        loss_weights = None
    elif len(names) == 1:
        loss_weights = weights[0]
    else:
        loss_weights = dict(zip(names, weights))
    return {
        "optimizer": _to_keras(trainer.optimizer, "optimizer"),
        "loss": _to_keras(trainer.loss.identifier, "loss"),
        "loss_weights": loss_weights,
        "metrics": _metrics_spec(trainer.metrics._identifiers, names),
        "weighted_metrics": _metrics_spec(trainer.metrics._weighted_identifiers, names),
        **_COMPILE_NO_OPS,
    }


def _metrics_spec(per_output: list, names: list) -> Any:
    if not any(per_output):
        return None
    if len(names) == 1:
        return _to_keras(per_output[0], "metric")
    return {name: _to_keras(group, "metric") for name, group in zip(names, per_output) if group}


# -------------------------------------------------------------------------- deserialize
class _Context:
    """What every step of one deserialization needs: the custom objects, safe mode, and the
    file name for messages."""

    def __init__(self, custom_objects: dict | None, safe_mode: bool, source: str | None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(
                f"custom_objects must be a dict of name -> class or function, got "
                f"{type(custom_objects).__name__}."
            )
        self.custom_objects = dict(custom_objects or {})
        self.safe_mode = bool(safe_mode)
        self.where = f" in {source}" if source else ""


def deserialize_keras_object(config: Any, custom_objects: dict | None = None,
                             safe_mode: bool = True, *, kind: str | None = None,
                             source: str | None = None) -> Any:
    """Rebuild an object from Keras 3's format (as written by us or by real Keras).

    Args:
        config: a Keras-format dict (or a list/dict of them, or plain data).
        custom_objects: ``name -> class or function`` for user objects, by class name or
            registered name (default None).
        safe_mode: refuse lambdas stored as bytecode (default True). Loading never runs
            stored code: with False they are refused too, with a message saying so.
        kind: what to expect when the config does not say ('layer', 'loss', 'metric', ...).
        source: file name used in error messages.

    Example:
        >>> layer = deserialize_keras_object(serialize_keras_object(Dense(3)))
    """
    return _deserialize(config, _Context(custom_objects, safe_mode, source), kind)


def _is_object_entry(value: Any) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def _deserialize(config: Any, ctx: _Context, kind: str | None) -> Any:
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = object_registration.get_registered_object(config, ctx.custom_objects)
        return found if found is not None else config
    if isinstance(config, (list, tuple)):
        return [_deserialize(v, ctx, kind) for v in config]
    if not isinstance(config, dict):
        raise TypeError(f"Could not read config value {config!r}{ctx.where}.")
    if not _is_object_entry(config):
        return {k: _deserialize(v, ctx, kind) for k, v in config.items()}
    class_name = config["class_name"]
    inner = config["config"] if config["config"] is not None else {}
    special = _special_value(class_name, inner, ctx)
    if special is not _NOT_SPECIAL:
        return special
    if class_name == "function":
        return _resolve_function(inner, config.get("registered_name"), kind, ctx)
    kind = _kind_of_module(config.get("module")) or kind
    cls = _resolve_class(config, kind, ctx)
    from ..layers.layer import Layer
    from ..models.model import Model

    if isinstance(cls, type) and issubclass(cls, Model):
        return _model_from_config(cls, config, ctx)
    if isinstance(cls, type) and issubclass(cls, Layer):
        return _layer_from_config(cls, config, ctx)
    if not isinstance(cls, type):
        return cls
    return _instantiate(cls, _nested(inner, ctx), config, ctx)


_NOT_SPECIAL = object()
_NO_MODULE = object()


def _special_value(class_name: str, inner: Any, ctx: _Context) -> Any:
    if class_name == "__lambda__":
        raise ValueError(
            f"The config{ctx.where} stores a Python lambda as bytecode. Loading it would run "
            "code from the file, which torchkeras_lite never does (safe_mode="
            f"{ctx.safe_mode} makes no difference). Replace the lambda by a named function "
            "registered with @register_keras_serializable() and save the model again."
        )
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        return torch.as_tensor(np.array(inner["value"], dtype=inner["dtype"]))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__keras_tensor__":
        return {"class_name": class_name, "config": inner}
    if class_name in ("__slice__", "__typespec__"):
        raise ValueError(f"Config entries of type {class_name!r}{ctx.where} are not supported.")
    return _NOT_SPECIAL


def _nested(config: Any, ctx: _Context) -> Any:
    """Inner config values with every Keras-format object entry rebuilt."""
    if isinstance(config, dict):
        if _is_object_entry(config) and "module" in config:
            return _deserialize(config, ctx, None)
        return {k: _nested_value(k, v, ctx) for k, v in config.items()}
    if isinstance(config, list):
        return [_nested(v, ctx) for v in config]
    return config


def _nested_value(key: str, value: Any, ctx: _Context) -> Any:
    if _is_object_entry(value) and "module" in value:
        return _deserialize(value, ctx, _kind_of_key(key))
    if isinstance(value, (dict, list)):
        return _nested(value, ctx)
    if isinstance(value, str) and _kind_of_key(key) is not None:
        found = object_registration.get_registered_object(value, ctx.custom_objects)
        if found is not None:
            return found
    return value


def _unknown(what: str, name: str, registered: Any, kind: str | None, ctx: _Context,
             module: Any = None) -> ValueError:
    catalogs = _catalogs()
    close = difflib.get_close_matches(name, list(catalogs.get(kind, {})), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = f"{name!r}" + (f" (registered as {registered!r})" if registered
                           and registered not in (name, "function") else "")
    if _kind_of_module(module) is not None:
        origin = (f" It is a Keras {kind or 'object'} that torchkeras_lite does not implement"
                  " (see docs/saving.md); a custom class of that name can stand in for it.")
    else:
        origin = ""
    return ValueError(
        f"Unknown {what} {shown}{ctx.where}.{origin}{hint} If it is a custom {what}, pass "
        f"it to load_model(..., custom_objects={{{name!r}: {name}}}) or decorate it with "
        "@torchkeras_lite.saving.register_keras_serializable()."
    )


def _resolve_class(config: dict, kind: str | None, ctx: _Context) -> Any:
    class_name = config["class_name"]
    registered = config.get("registered_name")
    for name in (registered, class_name):
        if name:
            found = object_registration.get_registered_object(name, ctx.custom_objects)
            if found is not None:
                return found
    if class_name == "Lambda":
        raise ValueError(
            f"The model{ctx.where} has a Lambda layer ({config['config'].get('name')!r}). "
            "Its function is stored as Python bytecode, and loading it would run code from "
            "the file; torchkeras_lite never does that and has no Lambda layer "
            f"(safe_mode={ctx.safe_mode} makes no difference). Rewrite the lambda as a custom "
            "Layer subclass with get_config(), register it with "
            "@register_keras_serializable(), and save the model again."
        )
    if class_name == "DTypePolicy" or class_name == "FloatDTypePolicy":
        return _dtype_from_policy({"class_name": class_name, **config}, ctx)
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    module = config.get("module", _NO_MODULE)
    module_kind = _kind_of_module(module) if module is not _NO_MODULE else None
    if module is _NO_MODULE:
        kinds = [kind] if kind else list(_catalogs())  # our own older-style {class_name, config}
    elif module_kind is not None:
        if class_name in ("Sequential", "Functional", "Model") and module_kind == "model":
            return Functional if class_name != "Sequential" else Sequential
        kinds = [module_kind] if module_kind != "model" else []
    else:
        kinds = []  # a user class that is neither in custom_objects nor registered
    catalogs = _catalogs()
    for k in kinds:
        table = catalogs.get(k, {})
        found = table.get(class_name)
        if found is None and k == "optimizer":
            found = {n.lower(): c for n, c in table.items()}.get(class_name.lower())
        if isinstance(found, type):
            return found
    raise _unknown(kind or "object", class_name, registered, kind, ctx, module)


def _resolve_function(name: Any, registered: Any, kind: str | None, ctx: _Context) -> Any:
    if not isinstance(name, str):
        raise ValueError(f"A function entry{ctx.where} must name the function, got {name!r}.")
    for key in (registered, name):
        if key and key != "function":
            found = object_registration.get_registered_object(key, ctx.custom_objects)
            if found is not None:
                return found
    catalogs = _catalogs()
    for k in ([kind] if kind in catalogs else []) + ["loss", "metric", "activation"]:
        if name in catalogs[k]:
            return catalogs[k][name]
    raise _unknown("function", name, registered, kind, ctx)


def _dtype_from_policy(policy: Any, ctx: _Context) -> str:
    name = policy.get("config", {}).get("name") if isinstance(policy, dict) else policy
    if name not in _FLOAT_DTYPES:
        raise ValueError(
            f"dtype policy {name!r}{ctx.where} is not supported: torchkeras_lite layers take "
            f"one of {list(_FLOAT_DTYPES)}."
        )
    return name


def _instantiate(cls: type, inner: Any, config: dict, ctx: _Context) -> Any:
    try:
        if hasattr(cls, "from_config"):
            return cls.from_config(inner)
        return cls(**inner)
    except TypeError as e:
        raise TypeError(
            f"Could not rebuild {config['class_name']!r}{ctx.where} from its config "
            f"{inner!r}: {e}. A custom class needs a get_config() that returns every "
            "constructor argument (and a from_config() if its constructor differs)."
        ) from e


def _layer_config_from_keras(class_name: str, inner: dict, ctx: _Context) -> dict:
    """A Keras layer config as our constructors take it: dtype policies become names, Keras
    options we do not have are dropped when unused (refused when used), nested objects are
    rebuilt."""
    out = {}
    name = inner.get("name")
    for key, value in inner.items():
        if key in _KERAS_ONLY_KEYS:
            if value != _KERAS_ONLY_KEYS[key]:
                raise ValueError(
                    f"Layer {name!r} ({class_name}){ctx.where} uses the Keras option "
                    f"{key}={value!r}, which torchkeras_lite does not support."
                )
            continue
        if key == "dtype" and isinstance(value, dict):
            out[key] = _dtype_from_policy(value, ctx)
        else:
            out[key] = _nested_value(key, value, ctx)
    return out


def _layer_from_config(cls: type, config: dict, ctx: _Context) -> Any:
    inner = config["config"] if config["config"] is not None else {}
    converted = _layer_config_from_keras(config["class_name"], inner, ctx)
    return _instantiate(cls, converted, config, ctx)


def _model_from_config(cls: type, config: dict, ctx: _Context) -> Any:
    """Sequential and Functional models: their layers are rebuilt here (custom objects
    included), then handed to the model's own ``from_config``, which looks each entry's
    ``class_name`` up in the table it is given and uses a table entry that is not a class as
    the layer itself."""
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    inner = config["config"] if config["config"] is not None else {}
    if issubclass(cls, (Sequential, Functional)):
        table, entries = {}, []
        for i, entry in enumerate(inner.get("layers", [])):
            key = f"__loaded_layer_{i}"
            layer = table[key] = _deserialize(entry, ctx, "layer")
            entry = {**entry, "class_name": key, "config": {}}
            if "inbound_nodes" in entry:
                entry["inbound_nodes"] = [_call_arguments(layer, node)
                                          for node in entry["inbound_nodes"]]
            entries.append(entry)
        our_config = {k: v for k, v in inner.items() if k not in ("layers", "dtype")}
        our_config["layers"] = entries
        if issubclass(cls, Sequential) and "build_input_shape" not in our_config:
            shape = (config.get("build_config") or {}).get("input_shape")
            if shape is not None:
                our_config["build_input_shape"] = shape
        try:
            model = cls.from_config(our_config, custom_objects=table)
        except KeyError as e:
            raise ValueError(
                f"The model config{ctx.where} is inconsistent: it refers to {e}, which none "
                "of its layers produces."
            ) from None
        return model
    model = _instantiate(cls, _nested(inner, ctx), config, ctx)
    shape = (config.get("build_config") or {}).get("input_shape")
    if shape is not None and not model.built:
        _build_subclassed(model, shape)
    return model


def _call_arguments(layer: Any, node: Any) -> Any:
    """A node's call arguments without the keywords Keras records as None (``mask=None``)
    that this layer's ``call`` does not take: None is their default in Keras."""
    if not isinstance(node, dict) or not isinstance(node.get("kwargs"), dict):
        return node
    params = inspect.signature(layer.call).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return node
    kwargs = {k: v for k, v in node["kwargs"].items() if v is not None or k in params}
    return {**node, "kwargs": kwargs}


def _build_subclassed(model: Any, shape: list) -> None:
    """Build a subclassed model from its saved input shape (with its ``build`` when it has
    one, else by running it on zeros), and remember the shape for the next save."""
    from ..layers.layer import Layer

    if type(model).build is not Layer.build:
        model.build(tuple(shape))
        model.built = True
    else:
        model.build_from_data(torch.zeros(tuple(2 if d is None else d for d in shape)))
    model._saved_input_shape = tuple(shape)


def compile_arguments(compile_config: dict, custom_objects: dict | None = None,
                      source: str | None = None) -> dict:
    """``compile()`` keyword arguments from Keras's ``compile_config``."""
    ctx = _Context(custom_objects, True, source)
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict):
        optimizer = _deserialize(optimizer, ctx, "optimizer")
    return {
        "optimizer": optimizer if optimizer is not None else "rmsprop",
        "loss": _deserialize(compile_config.get("loss"), ctx, "loss"),
        "loss_weights": compile_config.get("loss_weights"),
        "metrics": _deserialize(compile_config.get("metrics"), ctx, "metric"),
        "weighted_metrics": _deserialize(compile_config.get("weighted_metrics"), ctx, "metric"),
    }


__all__ = ["serialize_keras_object", "deserialize_keras_object", "serialize_layer",
           "serialize_model", "model_compile_config", "compile_arguments"]
