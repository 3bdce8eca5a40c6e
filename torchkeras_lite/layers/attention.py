"""Attention layers: MultiHeadAttention, Attention (Luong-style) and AdditiveAttention
(Bahdanau-style), with Keras's weight layouts, masks and numerics.

Which part owns what:
- ``MultiHeadAttention.__call__`` builds the layer from the query/value/key shapes (the base
  ``Layer.__call__`` only sees the first argument), picks up masks carried by the tensors
  (``tensor._keras_mask``), then hands over to the base ``__call__`` (training flag, hooks).
- ``MultiHeadAttention.call`` projects, combines the masks and runs the attention: torch's
  ``scaled_dot_product_attention`` whenever Keras takes its fused path or gives the same numbers,
  an explicit softmax otherwise (attention scores requested, inputs of rank > 3, seeded dropout).
- The query/key/value/output projections are small sublayers holding Keras's EinsumDense
  weights, so ``get_weights`` order and shapes match Keras.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .arguments import is_int as _is_int
from .core import dropout
from .layer import Layer, _is_symbolic

__all__ = ["MultiHeadAttention", "Attention", "AdditiveAttention"]

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _softmax_fill(dtype: torch.dtype) -> float:
    """The score Keras's masked softmax gives masked positions."""
    return -3e4 if dtype == torch.float16 else -1e9


def _sdpa_fill(dtype: torch.dtype) -> float:
    """The additive bias Keras's fused attention gives masked positions."""
    return -0.7 * (65500.0 if dtype == torch.float16 else 3.38953e38)


def _check_rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1) (a dropout rate), got {value!r}")
    return float(value)


def _check_seed(seed: Any) -> int | None:
    if seed is not None and not _is_int(seed):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")
    return None if seed is None else int(seed)


def _as_bool(mask: torch.Tensor | None) -> torch.Tensor | None:
    return mask if mask is None or mask.dtype == torch.bool else mask.bool()


class _SeededDropout:
    """Dropout drawing from a generator seeded once with ``seed`` (torch's global RNG when
    ``seed`` is None): a reproducible mask sequence, as Keras's ``seed`` argument gives."""

    def __init__(self, rate: float, seed: int | None) -> None:
        self.rate, self.seed = rate, seed
        self._generator: torch.Generator | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.seed is not None and (self._generator is None
                                      or self._generator.device != x.device):
            self._generator = torch.Generator(device=x.device)
            self._generator.manual_seed(self.seed)
        return dropout(x, self.rate, None, self._generator)


class _Projection(Layer):
    """Keras's EinsumDense as attention layers use it: contracts the input's last
    ``len(in_dims)`` axes with the kernel ``(*in_dims, *out_dims)``, then adds the bias
    ``out_dims``. Private: a sublayer of MultiHeadAttention, named as Keras names it."""

    def __init__(self, in_dims: Sequence[int], out_dims: Sequence[int], use_bias: bool,
                 kernel_initializer: Any, bias_initializer: Any, kernel_regularizer: Any,
                 bias_regularizer: Any, activity_regularizer: Any, kernel_constraint: Any,
                 bias_constraint: Any, sigmoid: bool = False, **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._bound = len(in_dims)
        self._fan_in = math.prod(in_dims)
        self._out_dims = tuple(out_dims)
        self._sigmoid = sigmoid
        kernel_shape = tuple(in_dims) + self._out_dims
        init = _initializers.get(kernel_initializer)
        if isinstance(init, _initializers.VarianceScaling) and (
                init.input_axes is None or init.output_axes is None):
            # Keras computes the fans of an einsum kernel from its input and output axes.
            config = init.get_config()
            config["input_axes"] = list(range(self._bound))
            config["output_axes"] = list(range(self._bound, len(kernel_shape)))
            init = type(init).from_config(config)
        self.kernel = self.add_weight(kernel_shape, init, regularizer=kernel_regularizer,
                                      constraint=kernel_constraint, name="kernel")
        self.bias = None
        if use_bias:
            self.bias = self.add_weight(self._out_dims, bias_initializer,
                                        regularizer=bias_regularizer,
                                        constraint=bias_constraint, name="bias")
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        lead = inputs.shape[:inputs.dim() - self._bound]
        flat = inputs.reshape(lead + (self._fan_in,))
        out = torch.matmul(flat, self.kernel.reshape(self._fan_in, -1))
        if self.bias is not None:
            out = out + self.bias.reshape(-1)
        out = out.reshape(lead + self._out_dims)
        return torch.sigmoid(out) if self._sigmoid else out


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.), Keras's layout and semantics.

    ``query`` attends to ``key`` (default: ``value``); each of ``num_heads`` heads projects
    them to ``key_dim`` features (values to ``value_dim``), scores ``q·k / sqrt(key_dim)``,
    softmaxes over the attention axes and averages the projected values; an output projection
    maps the heads back to the query's feature size (or ``output_shape``).

    Args:
        num_heads: positive int, number of heads.
        key_dim: positive int, size of each head for query and key.
        value_dim: size of each head for value (default ``key_dim``).
        dropout: dropout rate on the attention probabilities during training (default 0.0).
        use_bias: whether the projections have biases (default True).
        output_shape: int or tuple, the output's trailing shape (default: the query's feature
            size).
        attention_axes: int or tuple, the axes attention runs over (default: all axes between
            the batch and feature axes); counted on the input, negatives from its end.
        sliding_window: optional positive int; each query position attends only to key
            positions closer than this (``|i - j| < sliding_window``).
        flash_attention: True forces torch's flash-attention kernel (an error where it cannot
            run, and no attention scores nor dropout with it); None/False let torch choose.
        kernel_initializer: default ``'glorot_uniform'`` (fans from the einsum axes, as Keras).
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint: applied to every projection, as in Keras.
        use_gate: multiply the attention output by a sigmoid gate projected from the query
            (default False).
        seed: int for a reproducible dropout sequence.
        **kwargs: Layer arguments (``name``, ``dtype``, ``trainable``).

    Call arguments:
        query ``(B, T, dim)``, value ``(B, S, dim_v)``, key ``(B, S, dim_k)`` (default value);
        query_mask ``(B, T)``, value_mask ``(B, S)``, key_mask ``(B, S)`` (default: the masks
        the tensors carry); attention_mask ``(B, T, S)``, True where attention is allowed;
        return_attention_scores; training; use_causal_mask (a query position attends to key
        positions up to its own index).

    Shape:
        Output ``(B, T, dim)`` (the query's shape, or ``(B, T, *output_shape)``); scores
        ``(B, num_heads, T, S)``. Weights, in ``get_weights`` order: query kernel
        ``(dim, num_heads, key_dim)`` and bias ``(num_heads, key_dim)``, key, [gate], value
        (``value_dim``), output kernel ``(num_heads, value_dim, dim)`` and bias ``(dim,)``.

    Example:
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> out, scores = mha(torch.randn(3, 5, 8), torch.randn(3, 7, 8),
        ...                   return_attention_scores=True)
        >>> tuple(out.shape), tuple(scores.shape)
        ((3, 5, 8), (3, 2, 5, 7))
    """

    supports_masking = True

    def __init__(
        self,
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape: int | Sequence[int] | None = None,
        attention_axes: int | Sequence[int] | None = None,
        sliding_window: int | None = None,
        flash_attention: bool | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        use_gate: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if not _is_int(value) or value < 1:
                raise ValueError(f"{arg} must be a positive integer, got {value!r}")
        if value_dim is not None and (not _is_int(value_dim) or value_dim < 1):
            raise ValueError(f"value_dim must be a positive integer or None, got {value_dim!r}")
        dropout = _check_rate("dropout", dropout)
        if output_shape is not None:
            dims = (output_shape,) if _is_int(output_shape) else output_shape
            try:
                dims = tuple(dims)
            except TypeError:
                dims = None
            if not dims or not all(_is_int(d) and d > 0 for d in dims):
                raise ValueError(
                    "output_shape must be a positive integer or a tuple of positive integers "
                    f"(the output's trailing shape), got {output_shape!r}"
                )
            output_shape = tuple(int(d) for d in dims)
        if attention_axes is not None:
            axes = (attention_axes,) if _is_int(attention_axes) else attention_axes
            if not isinstance(axes, (list, tuple)) or not axes or not all(
                    _is_int(a) for a in axes):
                raise ValueError(
                    "attention_axes must be None, an integer or a tuple of integers, got "
                    f"{attention_axes!r}"
                )
            attention_axes = tuple(int(a) for a in axes)
        if sliding_window is not None and (not _is_int(sliding_window) or sliding_window < 1):
            raise ValueError(
                f"sliding_window must be None or a positive integer, got {sliding_window!r}"
            )
        if flash_attention not in (None, True, False):
            raise ValueError(
                f"flash_attention must be None, True or False, got {flash_attention!r}"
            )
        if flash_attention and dropout > 0:
            raise ValueError(
                f"flash_attention=True does not support dropout, got dropout={dropout}; set "
                "dropout=0.0 or flash_attention=None."
            )
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = dropout
        self.use_bias = bool(use_bias)
        self._output_shape = output_shape
        self.attention_axes = attention_axes
        self.sliding_window = None if sliding_window is None else int(sliding_window)
        self.flash_attention = flash_attention
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        # As in Keras, the activity regularizer applies to each projection's output.
        self._activity_regularizer = _regularizers.get(activity_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        self.use_gate = bool(use_gate)
        self.seed = _check_seed(seed)
        self._scale = 1.0 / math.sqrt(float(self.key_dim))
        self._dropout = _SeededDropout(self.dropout, self.seed)

    # --------------------------------------------------------------------- build
    def _projection(self, name: str, in_dims: Sequence[int], out_dims: Sequence[int],
                    sigmoid: bool = False) -> _Projection:
        return _Projection(
            in_dims, out_dims, self.use_bias, self.kernel_initializer, self.bias_initializer,
            self.kernel_regularizer, self.bias_regularizer, self._activity_regularizer,
            self.kernel_constraint, self.bias_constraint, sigmoid=sigmoid, name=name,
            dtype=self.dtype, trainable=self.trainable,
        )

    def _check_shapes(self, query_shape: tuple, value_shape: tuple,
                      key_shape: tuple | None) -> tuple:
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        where = f"MultiHeadAttention layer {self.name!r}"
        if len(query_shape) < 3:
            raise ValueError(
                f"{where} expects a query of rank >= 3 (batch, ..., sequence, features), got "
                f"shape {query_shape}."
            )
        if len(value_shape) != len(query_shape) or len(key_shape) != len(query_shape):
            raise ValueError(
                f"{where} expects query, value and key of the same rank, got shapes "
                f"query={query_shape}, value={value_shape}, key={key_shape}."
            )
        for a, b in zip(value_shape[1:-1], key_shape[1:-1]):
            if a is not None and b is not None and a != b:
                raise ValueError(
                    f"{where}: value and key must have equal shapes except for the last axis, "
                    f"got value shape {value_shape} and key shape {key_shape}."
                )
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if shape[-1] is None:
                raise ValueError(
                    f"{where} needs a known last (feature) axis for {arg}, got shape {shape}."
                )
        return query_shape, value_shape, key_shape

    def _resolve_attention_axes(self, rank: int) -> tuple:
        if self.attention_axes is None:
            return tuple(range(1, rank - 1))
        axes = tuple(a if a >= 0 else rank + a for a in self.attention_axes)
        if any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(
                f"MultiHeadAttention layer {self.name!r}: attention_axes="
                f"{self.attention_axes} must name distinct axes between the batch and the "
                f"feature axis of the rank-{rank} inputs (1 to {rank - 2}, or {-rank + 1} to "
                "-2)."
            )
        return axes

    def build(self, query_shape: tuple, value_shape: tuple,
              key_shape: tuple | None = None) -> None:
        """Create the projections for inputs of these shapes (batch axis included)."""
        query_shape, value_shape, key_shape = self._check_shapes(
            query_shape, value_shape, key_shape)
        rank = len(query_shape)
        self._axes = self._resolve_attention_axes(rank)
        heads = self.num_heads
        self.query_dense = self._projection("query", (query_shape[-1],), (heads, self.key_dim))
        self.key_dense = self._projection("key", (key_shape[-1],), (heads, self.key_dim))
        if self.use_gate:
            self.gate_dense = self._projection(
                "gate", (query_shape[-1],), (heads, self.value_dim), sigmoid=True)
        self.value_dense = self._projection("value", (value_shape[-1],),
                                             (heads, self.value_dim))
        self.output_dense = self._projection(
            "attention_output", (heads, self.value_dim),
            self._output_shape or (query_shape[-1],))
        self._fused = rank == 3  # Keras's fused kernel takes (batch, seq, heads, dim) only
        self._build_equations(rank + 1)

    def _build_equations(self, rank: int) -> None:
        """Einsum equations of the explicit path over projected tensors of rank ``rank``
        (batch, ..., heads, channels): scores keep the non-attention axes (heads included),
        then the query's attention axes, then the key's."""
        attn = self._axes
        target = _LETTERS[:rank]
        source = list(target)
        extra = iter(_LETTERS[rank:])
        for a in attn:
            source[a] = next(extra)
        source = "".join(source)
        batch = [i for i in range(rank - 1) if i not in attn]
        scores = ("".join(target[i] for i in batch) + "".join(target[a] for a in attn)
                  + "".join(source[a] for a in attn))
        self._dot_equation = f"{source},{target}->{scores}"
        self._combine_equation = f"{scores},{source}->{target}"
        self._softmax_axes = tuple(range(len(scores) - len(attn), len(scores)))
        self._scores_rank = len(scores)

    # ---------------------------------------------------------------------- call
    def __call__(self, query: Any, value: Any, key: Any = None, query_mask: Any = None,
                 value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
                 return_attention_scores: bool = False, training: bool | None = None,
                 use_causal_mask: bool = False) -> Any:
        options = dict(query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
                       attention_mask=attention_mask,
                       return_attention_scores=return_attention_scores, training=training,
                       use_causal_mask=use_causal_mask)
        if _is_symbolic([query, value, key]):
            args = (query, value) if key is None else (query, value, key)
            return super().__call__(*args, **options)
        if not self.built:
            self.build(tuple(query.shape), tuple(value.shape),
                       None if key is None else tuple(key.shape))
        # As Keras does, masks carried by the tensors fill in the mask arguments.
        if query_mask is None:
            options["query_mask"] = query_mask = getattr(query, "_keras_mask", None)
        if value_mask is None:
            options["value_mask"] = getattr(value, "_keras_mask", None)
        if key_mask is None and key is not None:
            options["key_mask"] = getattr(key, "_keras_mask", None)
        out = super().__call__(query, value, key, **options)
        if query_mask is not None:  # the output keeps the query's mask
            (out[0] if return_attention_scores else out)._keras_mask = query_mask
        return out

    def call(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
             query_mask: torch.Tensor | None = None, value_mask: torch.Tensor | None = None,
             key_mask: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
             return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        if key is None:
            key = value
        if self.flash_attention and return_attention_scores:
            raise ValueError(
                f"MultiHeadAttention layer {self.name!r}: return_attention_scores=True is not "
                "available with flash_attention=True (the fused kernel never forms the scores)."
            )
        causal_only = (use_causal_mask and query_mask is None and value_mask is None
                       and key_mask is None and attention_mask is None
                       and self.sliding_window is None)
        masks = dict(query_mask=query_mask, value_mask=value_mask, key_mask=key_mask,
                     attention_mask=attention_mask)
        try:
            mask = None if causal_only else self._attention_mask(query, value, use_causal_mask,
                                                                 **masks)
        except RuntimeError:
            raise self._mask_error(query, value, masks) from None
        gate = self.gate_dense.fast_call(query) if self.use_gate else None
        q = self._project(self.query_dense, query, "query")
        k = self._project(self.key_dense, key, "key")
        v = self._project(self.value_dense, value, "value")
        if k.shape[1:-2] != v.shape[1:-2]:
            raise ValueError(
                f"MultiHeadAttention layer {self.name!r}: value and key must have equal shapes "
                f"except for the last axis, got value shape {tuple(value.shape)} and key shape "
                f"{tuple(key.shape)}."
            )
        drop = training and self.dropout > 0
        try:
            if self._fused and not return_attention_scores and not (
                    drop and self.seed is not None):
                out, scores = self._fused_attention(q, k, v, mask, causal_only, drop), None
            else:
                if causal_only:
                    mask = self._causal_mask(query, value)
                out, scores = self._explicit_attention(q, k, v, mask, drop)
        except RuntimeError:
            if mask is None:
                raise
            raise self._mask_error(query, value, masks) from None
        if gate is not None:
            out = out * gate
        out = self.output_dense.fast_call(out)
        return (out, scores) if return_attention_scores else out

    def _project(self, dense: _Projection, x: torch.Tensor, what: str) -> torch.Tensor:
        try:
            return dense.fast_call(x)
        except RuntimeError:
            if x.shape[-1] != dense.kernel.shape[0]:
                raise ValueError(
                    f"MultiHeadAttention layer {self.name!r} was built for a {what} of "
                    f"{dense.kernel.shape[0]} features, got {what} of shape {tuple(x.shape)}."
                ) from None
            raise

    def _causal_mask(self, query: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        ones = torch.ones(query.shape[1], value.shape[1], dtype=torch.bool, device=query.device)
        return ones.tril().unsqueeze(0)  # (1, T, S): position i sees positions <= i

    def _mask_error(self, query: torch.Tensor, value: torch.Tensor, masks: dict) -> ValueError:
        given = ", ".join(f"{name}={tuple(m.shape)}" for name, m in masks.items()
                          if m is not None)
        batch, t, s = query.shape[0], query.shape[1], value.shape[1]
        return ValueError(
            f"MultiHeadAttention layer {self.name!r} got masks whose shapes do not fit query "
            f"{tuple(query.shape)} and value {tuple(value.shape)}: {given}. Expected "
            f"query_mask ({batch}, {t}), value_mask and key_mask ({batch}, {s}), "
            f"attention_mask ({batch}, {t}, {s})."
        )

    def _attention_mask(self, query, value, use_causal_mask, query_mask, value_mask, key_mask,
                        attention_mask) -> torch.Tensor | None:
        """AND of every mask given, as ``(B or 1, T, S)`` booleans (None when there is none)."""
        parts = []
        if query_mask is not None:
            parts.append(_as_bool(query_mask).unsqueeze(-1))
        if value_mask is not None:
            parts.append(_as_bool(value_mask).unsqueeze(-2))
        if key_mask is not None:
            parts.append(_as_bool(key_mask).unsqueeze(-2))
        if use_causal_mask:
            parts.append(self._causal_mask(query, value))
        if self.sliding_window is not None:
            rows = torch.arange(query.shape[1], device=query.device).unsqueeze(-1)
            cols = torch.arange(value.shape[1], device=query.device)
            parts.append(((rows - cols).abs() < self.sliding_window).unsqueeze(0))
        mask = None if attention_mask is None else _as_bool(attention_mask)
        for part in parts:
            mask = part if mask is None else mask & part
        return mask

    def _expand_mask(self, mask: torch.Tensor, rank: int) -> torch.Tensor:
        """Insert the heads (and other batch-like) axes Keras inserts before the query axes."""
        position = mask.dim() - 2 * len(self._axes)
        if position < 0:
            raise ValueError(
                f"MultiHeadAttention layer {self.name!r}: the attention mask of shape "
                f"{tuple(mask.shape)} has fewer axes than the query and key attention axes."
            )
        return mask.reshape(mask.shape[:position] + (1,) * (rank - mask.dim())
                            + mask.shape[position:])

    def _fused_attention(self, q, k, v, mask, causal, drop) -> torch.Tensor:
        """torch's scaled_dot_product_attention on (B, T, N, H) projections, as Keras's fused
        path: masked positions get a large negative bias (fully masked rows average all
        values); with dropout, those rows are zeroed as Keras's explicit path zeroes them."""
        bias = None
        if mask is not None:
            mask = self._expand_mask(mask, 4)
            bias = torch.where(mask, 0.0, _sdpa_fill(q.dtype))
            if bias.dtype != q.dtype:
                bias = bias.to(q.dtype)
        args = (q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        p = self.dropout if drop else 0.0
        if self.flash_attention:
            from torch.nn.attention import SDPBackend, sdpa_kernel
            try:
                with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
                    out = F.scaled_dot_product_attention(
                        *args, attn_mask=bias, dropout_p=p, is_causal=causal, scale=self._scale)
            except RuntimeError as error:
                raise ValueError(
                    f"MultiHeadAttention layer {self.name!r}: flash_attention=True, but torch's "
                    f"flash kernel cannot run these inputs ({error}). Use flash_attention=None."
                ) from None
        else:
            out = F.scaled_dot_product_attention(
                *args, attn_mask=bias, dropout_p=p, is_causal=causal, scale=self._scale)
        out = out.transpose(1, 2)
        if mask is not None and self.dropout > 0:
            # Keras takes its explicit path whenever dropout > 0: rows with no visible key
            # come out as zeros there, not as the fused kernel's average.
            visible = mask.any(dim=-1, keepdim=True).transpose(1, 2)
            out = out.masked_fill(~visible, 0.0)
        return out

    def _explicit_attention(self, q, k, v, mask, drop) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores, masked softmax, dropout and value average, as Keras's explicit path."""
        q = q * self._scale
        scores = torch.einsum(self._dot_equation, k, q)
        if mask is not None:
            mask = self._expand_mask(mask, self._scores_rank)
            scores = scores.masked_fill(~mask, _softmax_fill(scores.dtype))
        if len(self._softmax_axes) == 1:
            probs = torch.softmax(scores, dim=-1)
        else:
            probs = torch.exp(scores - torch.logsumexp(scores, dim=self._softmax_axes,
                                                        keepdim=True))
        if mask is not None:
            probs = probs.masked_fill(~mask, 0.0)
        weights = self._dropout(probs) if drop else probs
        return torch.einsum(self._combine_equation, weights, v), probs

    def compute_output_shape(self, query_shape: tuple, value_shape: tuple,
                             key_shape: tuple | None = None,
                             return_attention_scores: bool = False) -> Any:
        query_shape, value_shape, key_shape = self._check_shapes(
            query_shape, value_shape, key_shape)
        out = query_shape[:-1] + self._output_shape if self._output_shape else query_shape
        if not return_attention_scores:
            return out
        # scores: (batch, other axes..., heads, query attention axes..., key attention axes...)
        axes = self._resolve_attention_axes(len(query_shape))
        other = [query_shape[i] for i in range(1, len(query_shape) - 1) if i not in axes]
        scores = (query_shape[0], *other, self.num_heads, *[query_shape[i] for i in axes],
                  *[value_shape[i] for i in axes])
        return [out, scores]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self._output_shape,
            "attention_axes": self.attention_axes,
            "sliding_window": self.sliding_window,
            "flash_attention": self.flash_attention,
            "kernel_initializer": serialize(self.kernel_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "activity_regularizer": serialize(self._activity_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "bias_constraint": serialize(self.bias_constraint),
            "use_gate": self.use_gate,
            "seed": self.seed,
        }


class Attention(Layer):
    """Dot-product (Luong-style) attention over ``[query, value]`` or ``[query, value, key]``.

    Scores are ``query @ key^T`` (times a learned scalar ``scale`` when ``use_scale``) for
    ``score_mode='dot'``, or ``concat_score_weight * sum(tanh(scale * (q + k)))`` for
    ``'concat'``; a softmax over the key axis weights the values.

    Args:
        use_scale: learn a scalar ``scale`` multiplying the scores (default False).
        score_mode: ``'dot'`` (default) or ``'concat'``.
        dropout: dropout rate on the attention weights during training (default 0.0).
        seed: int for a reproducible dropout sequence.
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``[query (B, Tq, dim), value (B, Tv, dim_v)]``, optionally with ``key
        (B, Tv, dim)`` third (default value). mask: ``[query_mask (B, Tq), value_mask
        (B, Tv)]`` (default: the masks the tensors carry); masked value positions get no
        weight, masked query positions output zeros. return_attention_scores: also return the
        ``(B, Tq, Tv)`` weights. use_causal_mask: query position i sees key positions <= i.

    Shape:
        Output ``(B, Tq, dim_v)``.

    Example:
        >>> Attention()([torch.randn(2, 3, 4), torch.randn(2, 5, 4)]).shape
        torch.Size([2, 3, 4])
    """

    supports_masking = True
    _score_modes = ("dot", "concat")

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        if score_mode not in self._score_modes:
            raise ValueError(
                f"score_mode must be one of {self._score_modes}, got {score_mode!r}"
            )
        dropout = _check_rate("dropout", dropout)
        seed = _check_seed(seed)
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = dropout
        self.seed = seed
        self._dropout = _SeededDropout(self.dropout, self.seed)

    def _check_inputs(self, shapes: Any, mask: Any = None) -> list:
        kind = type(self).__name__
        if not isinstance(shapes, (list, tuple)) or not all(
                isinstance(s, (list, tuple)) for s in shapes):
            raise ValueError(
                f"{kind} layer {self.name!r} must be called on a list [query, value] or "
                f"[query, value, key], got a single input of shape {shapes}."
            )
        if not 2 <= len(shapes) <= 3:
            raise ValueError(
                f"{kind} layer {self.name!r} takes a list of 2 or 3 inputs ([query, value] or "
                f"[query, value, key]), got {len(shapes)}."
            )
        shapes = [tuple(s) for s in shapes]
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) > 2 else value
        if any(len(s) < 2 for s in (query, value, key)):
            raise ValueError(
                f"{kind} layer {self.name!r} expects inputs of shape (batch, ..., steps, "
                f"features), got shapes {shapes}."
            )
        if query[-1] is not None and key[-1] is not None and query[-1] != key[-1]:
            raise ValueError(
                f"{kind} layer {self.name!r} needs query and key with the same feature size, "
                f"got query shape {query} and key shape {key}."
            )
        if value[-2] is not None and key[-2] is not None and value[-2] != key[-2]:
            raise ValueError(
                f"{kind} layer {self.name!r} needs value and key with the same number of "
                f"steps, got value shape {value} and key shape {key}."
            )
        if mask is not None and (not isinstance(mask, (list, tuple))
                                 or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{kind} layer {self.name!r}: mask must be a list [query_mask, value_mask] "
                f"(entries may be None), got {mask!r}."
            )
        return shapes

    def build(self, input_shape: list) -> None:
        self._check_inputs(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight((), "ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight((), "ones", name="concat_score_weight")

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-2, -1))
            return scores if self.scale is None else scores * self.scale
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * torch.tanh(pairs).sum(dim=-1)

    def call(self, inputs: Sequence[torch.Tensor], mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            self._check_inputs([tuple(x.shape) for x in inputs]
                               if isinstance(inputs, (list, tuple)) else tuple(inputs.shape))
        if mask is None:
            mask = [getattr(x, "_keras_mask", None) for x in inputs]
        elif not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            self._check_inputs([tuple(x.shape) for x in inputs], mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        try:
            out, weights = self._attend(query, value, key, _as_bool(mask[0]),
                                        _as_bool(mask[1]), training, use_causal_mask)
        except RuntimeError:
            self._explain(inputs, mask)
            raise
        if mask[0] is not None:
            out._keras_mask = mask[0]
        return (out, weights) if return_attention_scores else out

    def _attend(self, query, value, key, query_mask, value_mask, training, use_causal_mask):
        scores = self._scores(query, key)
        keep = None if value_mask is None else value_mask.unsqueeze(-2)
        if use_causal_mask:
            causal = torch.ones(scores.shape[-2:], dtype=torch.bool,
                                device=scores.device).tril().unsqueeze(0)
            keep = causal if keep is None else keep & causal
        if keep is not None:
            # Keras subtracts a large constant from masked scores (it does not replace them).
            big = 65504.0 if scores.dtype == torch.float16 else 1.0e9
            scores = torch.where(keep, scores, scores - big)
        weights = torch.softmax(scores, dim=-1)
        attended = self._dropout(weights) if training and self.dropout > 0 else weights
        out = torch.matmul(attended, value)
        if query_mask is not None:
            out = out.masked_fill(~query_mask.unsqueeze(-1), 0.0)
        return out, weights

    def _explain(self, inputs: Sequence[torch.Tensor], mask: Sequence[Any]) -> None:
        """Raise the clear error for a failed call: bad input shapes, else bad mask shapes."""
        shapes = self._check_inputs([tuple(x.shape) for x in inputs], mask)
        for name, m, shape in (("query_mask", mask[0], shapes[0]),
                               ("value_mask", mask[1], shapes[1])):
            if m is not None and tuple(m.shape) != shape[:-1]:
                raise ValueError(
                    f"{type(self).__name__} layer {self.name!r}: {name} must have shape "
                    f"{shape[:-1]} for inputs of shapes {shapes}, got {tuple(m.shape)}."
                )

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            if not isinstance(inputs, (list, tuple)):
                return None
            mask = [getattr(x, "_keras_mask", None) for x in inputs]
        return mask[0] if mask else None

    def compute_output_shape(self, input_shape: list,
                             return_attention_scores: bool = False) -> Any:
        shapes = self._check_inputs(input_shape)
        out = shapes[0][:-1] + (shapes[1][-1],)
        if not return_attention_scores:
            return out
        return [out, shapes[0][:-1] + (shapes[1][-2],)]  # scores: (batch, Tq, Tv)

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention over ``[query, value]`` or ``[query, value, key]``.

    Scores are ``sum(scale * tanh(query_i + key_j))`` over the features, with a learned
    per-feature ``scale`` (shape ``(dim,)``, glorot-uniform) when ``use_scale``; the rest is as
    in :class:`Attention` (masks, causal mask, dropout, returned scores).

    Args:
        use_scale: learn the per-feature ``scale`` (default True).
        dropout: dropout rate on the attention weights during training (default 0.0).
        **kwargs: ``seed`` and the Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input ``[query (B, Tq, dim), value (B, Tv, dim_v)]``; output ``(B, Tq, dim_v)``.

    Example:
        >>> AdditiveAttention()([torch.randn(2, 3, 4), torch.randn(2, 5, 4)]).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: list) -> None:
        shapes = self._check_inputs(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            if shapes[0][-1] is None:
                raise ValueError(
                    f"AdditiveAttention layer {self.name!r} needs a known query feature size "
                    f"to create its scale, got query shape {shapes[0]}."
                )
            self.scale = self.add_weight((shapes[0][-1],), "glorot_uniform", name="scale")

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        pairs = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))
        if self.scale is not None:
            pairs = self.scale * pairs
        return pairs.sum(dim=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["score_mode"]
        return config
