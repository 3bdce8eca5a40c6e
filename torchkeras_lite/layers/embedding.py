"""Embedding: integer indices to dense vectors (Keras's ``keras.layers.Embedding``)."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .layer import Layer

__all__ = ["Embedding"]

_INDEX_DTYPES = (torch.int64, torch.int32)


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


class Embedding(Layer):
    """Turns integer indices into dense vectors: row ``i`` of the ``embeddings`` matrix for
    index ``i``.

    Args:
        input_dim: positive int, size of the vocabulary (largest index + 1).
        output_dim: positive int, size of each embedding vector.
        embeddings_initializer: default ``'uniform'`` (uniform in [-0.05, 0.05]).
        embeddings_regularizer: penalty on the embeddings matrix (default None).
        embeddings_constraint: projection applied after each optimizer step (default None).
        mask_zero: if True, index 0 is padding: the output carries the mask ``inputs != 0``,
            which masking-aware layers downstream (LSTM, GRU, ...) honour. Index 0 still has
            an embedding row, so ``input_dim`` should be vocabulary size + 1. Default False.
        weights: optional initial value of the embeddings matrix, ``(input_dim, output_dim)``
            (or a list holding it); builds the layer at construction.
        lora_rank, lora_alpha: LoRA is not supported; must be None.
        **kwargs: Layer arguments (``name``, ``trainable``, ``dtype``, ...). Keras 2's
            ``input_length`` is accepted and ignored, with a warning, as Keras 3 does.

    Shape:
        Input: integer tensor of any shape ``(batch, ...)``; floats are truncated to ints as
        in Keras. Output: ``(batch, ..., output_dim)``. Negative indices count from the end
        (``-1`` is the last row), as in Keras's torch backend.

    Example:
        >>> layer = Embedding(10, 4, mask_zero=True)
        >>> out = layer(torch.tensor([[1, 2, 0]]))
        >>> tuple(out.shape), out._keras_mask.tolist()
        ((1, 3, 4), [[True, True, False]])
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        weights: Any = None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        **kwargs: Any,
    ) -> None:
        input_dim = _positive_int(input_dim, "input_dim")
        output_dim = _positive_int(output_dim, "output_dim")
        if lora_rank is not None or lora_alpha is not None:
            raise ValueError(
                "lora_rank and lora_alpha are not supported by torchkeras_lite's Embedding; "
                f"got lora_rank={lora_rank!r}, lora_alpha={lora_alpha!r}. Leave them as None."
            )
        kwargs.pop("quantization_config", None)
        if kwargs.pop("input_length", None) is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = _initializers.get(embeddings_initializer)
        self.embeddings_regularizer = _regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = _constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        if weights is not None:
            if not (isinstance(weights, (list, tuple)) and len(weights) == 1):
                weights = [weights]
            self.maybe_build((None,))
            self.set_weights(weights)
        elif self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def build(self, input_shape: tuple | None = None) -> None:
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim), self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint,
            name="embeddings",
        )

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        indices = inputs if inputs.dtype in _INDEX_DTYPES else inputs.long()
        if indices.device.type != "cpu":
            # Off the CPU, torch cannot report a bad index as an exception (it is a device-side
            # assert), so negative indices are wrapped up front, as Keras's torch backend does.
            indices = torch.where(indices < 0, indices + self.input_dim, indices)
            return F.embedding(indices, self.embeddings)
        try:
            return F.embedding(indices, self.embeddings)
        except (IndexError, RuntimeError):
            return self._lookup_after_failure(indices)

    def _lookup_after_failure(self, indices: torch.Tensor) -> torch.Tensor:
        """Diagnose a failed lookup (off the hot path): wrap negative indices as Keras does,
        or report the out-of-range index."""
        low, high = int(indices.min()), int(indices.max())
        if low >= -self.input_dim and high < self.input_dim:
            return F.embedding(torch.where(indices < 0, indices + self.input_dim, indices),
                               self.embeddings)
        bad = high if high >= self.input_dim else low
        raise IndexError(
            f"Embedding layer {self.name!r} received index {bad} (inputs range from {low} to "
            f"{high}), but input_dim={self.input_dim} allows indices 0 to "
            f"{self.input_dim - 1}. Increase input_dim to at least {high + 1} "
            "(vocabulary size + 1 with mask_zero=True) or fix the inputs."
        ) from None

    def compute_mask(self, inputs: torch.Tensor, mask: Any = None) -> torch.Tensor | None:
        if not self.mask_zero:
            return None
        return inputs != 0

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": serialize(self.embeddings_initializer),
            "embeddings_regularizer": serialize(self.embeddings_regularizer),
            "embeddings_constraint": serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }
