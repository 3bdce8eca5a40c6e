"""Sequential: a plain stack of layers, each with one input and one output."""
from __future__ import annotations

from typing import Any, Iterable

import torch

from ..layers import deserialize as deserialize_layer
from ..layers.input_layer import InputLayer, KerasTensor
from ..layers.layer import Layer
from ..utils.registry import serialize
from .model import Model


class Sequential(Model):
    """A linear stack of layers.

    The input shape comes from an ``Input(shape=...)`` (or ``InputLayer``) first, from
    ``input_dim``/``input_shape`` on the first layer, or else from the first data seen.
    Layers are registered as submodules by position, as in ``torch.nn.Sequential``, so
    ``state_dict()`` keys read ``0.kernel``, ``1.bias``... and two models of the same
    architecture exchange state dicts whatever their auto names.

    Args:
        layers: optional list of layers (or an ``Input`` first).
        trainable: whether the weights are trained.
        name: model name (default ``sequential``, made unique).

    Example:
        >>> model = Sequential([Dense(12, input_dim=8, activation="relu"), Dense(3)])
        >>> model(torch.zeros(2, 8)).shape
        torch.Size([2, 3])
    """

    def __init__(self, layers: Iterable[Any] | None = None, trainable: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name, trainable=trainable)
        self._stack: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._output_shape: tuple | None = None
        self.eval()
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ layers
    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (the input layer is not listed, as in Keras)."""
        return list(self._stack)

    @property
    def input_shape(self) -> tuple | None:
        return None if self._input_layer is None else self._input_layer.batch_shape

    @property
    def output_shape(self) -> tuple | None:
        return self._output_shape

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append a layer (or set the input with an ``Input``/``InputLayer`` first)."""
        if isinstance(layer, KerasTensor):
            layer = layer._keras_history
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError(
                    "An Input/InputLayer can only be the first entry of a Sequential model; "
                    f"this model already has {len(self._stack)} layer(s)."
                )
            self._input_layer = layer
            self._output_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                "Sequential.add() expects a Layer instance (e.g. Dense(12)), got "
                f"{type(layer).__name__}: {layer!r}"
            )
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(
                f"All layers in a Sequential model need unique names; {layer.name!r} is "
                "already used. Pass name=... to one of them."
            )
        if not self._stack and self._input_layer is None and layer._input_shape_arg is not None:
            self._input_layer = InputLayer(batch_shape=layer._input_shape_arg)
            self._output_shape = self._input_layer.batch_shape
        self.add_module(str(len(self._stack)), layer)
        self._stack.append(layer)
        if self._output_shape is not None:
            self._output_shape = self._build_layer(layer, self._output_shape)
            self.built = True
            if self._device is not None:
                layer.to(self._device)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise IndexError("There are no layers in this Sequential model to pop.")
        layer = self._stack.pop()
        del self._modules[str(len(self._stack))]
        if self._input_layer is not None:
            self._output_shape = self._input_layer.batch_shape
            for remaining in self._stack:
                self._output_shape = remaining.compute_output_shape(self._output_shape)
        return layer

    @staticmethod
    def _build_layer(layer: Layer, input_shape: tuple) -> tuple:
        layer.maybe_build(input_shape)
        return tuple(layer.compute_output_shape(input_shape))

    def build(self, input_shape: Any = None) -> None:
        """Create all weights for inputs of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError(
                    "build() needs input_shape for a Sequential model without an Input; "
                    "e.g. model.build((None, 8))."
                )
            input_shape = self._input_layer.batch_shape
        input_shape = tuple(input_shape)
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=input_shape)
        shape = input_shape
        for layer in self._stack:
            shape = self._build_layer(layer, shape)
        self._output_shape = shape
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        for layer in self._stack:
            x = layer.fast_call(x)
        return x

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = tuple(layer.compute_output_shape(shape))
        return shape

    def _sublayers(self) -> list[Layer]:
        return list(self._stack)

    def check_input(self, x: Any, argument: str) -> None:
        if self._input_layer is None or not isinstance(x, torch.Tensor):
            return
        expected = self._input_layer.batch_shape[1:]
        got = tuple(x.shape[1:])
        if len(expected) != len(got) or any(e is not None and e != g
                                            for e, g in zip(expected, got)):
            hint = ""
            if len(got) > 1 and len(expected) == 1:
                hint = f" Flatten or reshape it, e.g. {argument}.reshape(len({argument}), -1)."
            raise ValueError(
                f"{argument} has per-sample shape {got}, but model {self.name!r} expects "
                f"{tuple(expected)} (input shape {self._input_layer.batch_shape}).{hint}"
            )

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        layers = []
        if self._input_layer is not None:
            layers.append(serialize(self._input_layer))
        layers.extend(serialize(layer) for layer in self._stack)
        config = {"name": self.name, "trainable": self.trainable, "layers": layers}
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Sequential":
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config.get("layers", []):
            model.add(deserialize_layer(layer_config, custom_objects))
        if not model.built and config.get("build_input_shape") is not None:
            model.build(tuple(config["build_input_shape"]))
        return model
