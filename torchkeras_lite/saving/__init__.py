"""Saving and loading models in Keras 3's file formats.

``save_model``/``Model.save`` write a ``.keras`` archive and ``load_model`` reads one (ours or
real Keras 3's); ``save_weights``/``load_weights`` handle ``.weights.h5`` files. Custom objects
are found through ``custom_objects=`` or :func:`register_keras_serializable`. Every write goes
through :func:`atomic_write`.
"""
from .atomic import atomic_write
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                  get_registered_name, get_registered_object,
                                  register_keras_serializable)
from .saving_lib import load_model, load_weights, save_model, save_weights
from .serialization_lib import deserialize_keras_object, serialize_keras_object

__all__ = ["atomic_write", "save_model", "load_model", "save_weights", "load_weights",
           "register_keras_serializable", "get_registered_name", "get_registered_object",
           "get_custom_objects", "CustomObjectScope", "custom_object_scope",
           "serialize_keras_object", "deserialize_keras_object"]
