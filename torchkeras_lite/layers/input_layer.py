"""``Input`` and ``InputLayer``: declaring the shape of a model's inputs.

``Input(shape=...)`` returns a :class:`KerasTensor`, a symbolic placeholder that knows its
shape, dtype and the InputLayer that made it. ``Sequential`` reads it to build itself before it
sees data; the functional API builds graphs on top of it.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .layer import Layer, _torch_dtype, standardize_shape


class KerasTensor:
    """A symbolic tensor: a shape (batch axis first, ``None`` when unknown) and a dtype."""

    def __init__(self, shape: tuple, dtype: torch.dtype, name: str, layer: Layer | None = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._keras_history = layer

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={str(self.dtype).replace('torch.', '')}, name={self.name}>"


class InputLayer(Layer):
    """The layer behind ``Input``: identity at run time, carrying the declared input shape.

    Args:
        shape: shape of one sample, without the batch axis.
        batch_size: optional fixed batch size.
        dtype: input dtype name (default float32).
        batch_shape: shape including the batch axis (instead of shape/batch_size).
        name: layer name (default ``input_layer``, made unique).
    """

    def __init__(
        self,
        shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        sparse: bool | None = None,
        batch_shape: Sequence[int | None] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("input_tensor", None)
        if sparse:
            raise ValueError("sparse inputs are not supported; pass dense tensors.")
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer needs shape= (one sample's shape) or batch_shape=.")
        if shape is not None and batch_shape is not None:
            raise ValueError("Give shape= or batch_shape= to Input, not both.")
        if batch_shape is not None:
            batch_shape = tuple(batch_shape)
            full = (batch_shape[0],) + standardize_shape(batch_shape[1:], "batch_shape")
        else:
            full = (batch_size,) + standardize_shape(shape, "shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape = full
        self.output = KerasTensor(full, _torch_dtype(dtype), self.name, self)
        self.built = True

    def get_config(self) -> dict:
        return {"batch_shape": self.batch_shape,
                "dtype": str(self.dtype).replace("torch.", ""),
                "sparse": False, "name": self.name}


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    sparse: bool | None = None,
    batch_shape: Sequence[int | None] | None = None,
    name: str | None = None,
    tensor: Any = None,
) -> KerasTensor:
    """Declare a model input of one sample's ``shape``; returns a symbolic KerasTensor.

    Example:
        >>> Input(shape=(8,)).shape
        (None, 8)
    """
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported; pass shape= instead.")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name)
    return layer.output
