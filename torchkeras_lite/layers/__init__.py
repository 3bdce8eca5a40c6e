"""The layer catalog: every layer class by its Keras name, and ``get``/``serialize``/``deserialize``."""
from __future__ import annotations

from typing import Any

from ..utils.registry import lookup, serialize
from . import (activation_layers, attention, convolutional, core, embedding, merging,
               normalization, pooling, preprocessing, recurrent, regularization, reshaping,
               wrappers)
from .core import Activation, Dense, Dropout, Flatten, Reshape
from .input_layer import Input, InputLayer, KerasTensor
from .layer import Layer
from .merging import add, average, concatenate, dot, maximum, minimum, multiply, subtract

_FAMILIES = (core, activation_layers, attention, convolutional, embedding, merging,
             normalization, pooling, preprocessing, recurrent, regularization, reshaping,
             wrappers)

ALL_LAYERS = {"InputLayer": InputLayer}
for _family in _FAMILIES:
    for _name in getattr(_family, "__all__", ()):
        ALL_LAYERS[_name] = getattr(_family, _name)
globals().update(ALL_LAYERS)


def get(identifier: Any) -> Any:
    """A layer from a config dict, a class (instantiated only if it takes no arguments)
    or an instance."""
    return lookup(identifier, ALL_LAYERS, "layer", instantiate=False, base=Layer)


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}``."""
    table = {**ALL_LAYERS, **(custom_objects or {})}
    return lookup(config, table, "layer", base=Layer)


__all__ = ["Layer", "Input", "InputLayer", "KerasTensor", "get", "serialize", "deserialize",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
           *ALL_LAYERS]
