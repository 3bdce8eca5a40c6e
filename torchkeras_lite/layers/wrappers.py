"""Layer wrappers: Bidirectional (a recurrent layer run both ways) and TimeDistributed (a layer
applied to every timestep)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from ..utils.registry import serialize
from .layer import Layer

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _deserialize_layer(config: Any) -> Layer:
    if isinstance(config, Layer):
        return config
    from . import deserialize  # the catalog imports this module: resolve at call time
    return deserialize(config)


def _clone(layer: Layer, **overrides: Any) -> Layer:
    """A fresh layer from ``layer``'s config, with some entries replaced."""
    return type(layer).from_config({**layer.get_config(), **overrides})


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence, and merges
    the two outputs.

    Args:
        layer: a recurrent layer (``SimpleRNN``, ``LSTM``, ``GRU``). As in Keras, it serves as a
            template: the forward layer is a fresh copy named ``forward_<name>`` and, unless
            ``backward_layer`` is given, the backward one a copy with ``go_backwards=True``
            named ``backward_<name>``.
        merge_mode: how to combine the two outputs: ``'concat'`` (default, along the last
            axis), ``'sum'``, ``'mul'``, ``'ave'``, or ``None`` (return both, as a list).
        weights: optional initial weights, forward layer's then backward layer's, set when the
            layer is built.
        backward_layer: optional layer for the backward direction (its ``go_backwards`` must
            differ from ``layer``'s; ``stateful``, ``return_sequences`` and ``return_state``
            must agree).
        **kwargs: Layer arguments (``name``, ``input_shape``, ...).

    Weights are the forward layer's then the backward layer's, as in Keras. With
    ``return_sequences`` the backward outputs are flipped back to the input's time order.
    With a mask, masked timesteps output zeros (Keras sets ``zero_output_for_mask``). With
    ``return_state`` the result is ``[output, *forward_states, *backward_states]`` (two outputs
    first when ``merge_mode=None``). When both directions can use torch's fused kernel (same
    type and size, default activations, no mask, not stateful, no dropout in training), they
    run as one bidirectional kernel call.

    Shape:
        Input ``(batch, timesteps, features)``; output ``(batch, 2*units)`` for ``'concat'``
        (``(batch, timesteps, 2*units)`` with ``return_sequences``), ``units`` wide otherwise.

    Example:
        >>> from torchkeras_lite.layers import LSTM
        >>> Bidirectional(LSTM(4, return_sequences=True))(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        layer: Layer,
        merge_mode: str | None = "concat",
        weights: Sequence[Any] | None = None,
        backward_layer: Layer | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(layer, Layer) or not hasattr(layer, "go_backwards"):
            raise ValueError(
                "Bidirectional needs a recurrent layer instance (SimpleRNN, LSTM, GRU, or a "
                f"layer with go_backwards/return_sequences/return_state), got {layer!r}"
            )
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"backward_layer must be a layer instance, got {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"merge_mode must be one of 'concat', 'sum', 'mul', 'ave' or None, "
                f"got {merge_mode!r}"
            )
        super().__init__(**kwargs)
        self.forward_layer = _clone(layer, name=f"forward_{_strip(layer.name, 'forward_')}")
        if backward_layer is None:
            backward_layer = _clone(layer, go_backwards=True,
                                    name=f"backward_{_strip(layer.name, 'backward_')}")
        self.backward_layer = backward_layer
        self._check_pair()
        for direction in (self.forward_layer, self.backward_layer):
            if hasattr(direction, "zero_output_for_mask"):
                direction.zero_output_for_mask = direction.return_sequences
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._initial_weights = None if weights is None else list(weights)
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def _check_pair(self) -> None:
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "The forward and backward layers of Bidirectional must have different "
                f"go_backwards values; both have go_backwards={forward.go_backwards}."
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            if getattr(forward, attribute) != getattr(backward, attribute):
                raise ValueError(
                    f"The forward and backward layers of Bidirectional must agree on "
                    f"{attribute}: got {getattr(forward, attribute)} for the forward layer and "
                    f"{getattr(backward, attribute)} for the backward layer."
                )

    def build(self, input_shape: tuple) -> None:
        self.forward_layer.maybe_build(input_shape)
        self.backward_layer.maybe_build(input_shape)
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    # ------------------------------------------------------------------- call
    def call(self, sequences: torch.Tensor, initial_state: Any = None,
             mask: torch.Tensor | None = None) -> Any:
        if initial_state is not None:
            initial_state = [initial_state] if isinstance(initial_state, torch.Tensor) \
                else list(initial_state)
            if len(initial_state) % 2:
                raise ValueError(
                    f"Bidirectional layer {self.name!r} takes initial states for both "
                    f"directions (forward's then backward's), received {len(initial_state)} "
                    "tensors, an odd number."
                )
        if mask is None and self._can_fuse():
            output, states = self._call_fused(sequences, initial_state)
        else:
            y, y_rev, states = self._call_each(sequences, initial_state, mask)
            output = self._merge(y, y_rev)
        if not self.return_state and self.merge_mode is not None:
            return output
        outputs = output if self.merge_mode is None else [output]
        if mask is not None and self.return_sequences:
            for tensor in outputs:
                tensor._keras_mask = mask
        return outputs + states

    def _merge(self, y: torch.Tensor, y_rev: torch.Tensor) -> Any:
        if self.merge_mode == "concat":
            return torch.cat([y, y_rev], dim=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        if self.merge_mode == "mul":
            return y * y_rev
        return [y, y_rev]

    def _call_each(self, sequences, initial_state, mask):
        extra = {} if mask is None else {"mask": mask}
        half = None if initial_state is None else len(initial_state) // 2
        if half is not None:
            extra_forward = {**extra, "initial_state": initial_state[:half]}
            extra_backward = {**extra, "initial_state": initial_state[half:]}
        else:
            extra_forward = extra_backward = extra
        y = self.forward_layer(sequences, **extra_forward)
        y_rev = self.backward_layer(sequences, **extra_backward)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)
        return y, y_rev, states

    def _can_fuse(self) -> bool:
        forward, backward = self.forward_layer, self.backward_layer
        if self.stateful or type(forward) is not type(backward):
            return False
        fusable = getattr(forward, "_fusable", None)
        if fusable is None or not (fusable() and backward._fusable()):
            return False
        return (not forward.go_backwards and forward._fused_op is backward._fused_op
                and forward.units == backward.units and forward.use_bias == backward.use_bias
                and not (self.training and (forward.dropout or backward.dropout
                                            or forward.recurrent_dropout
                                            or backward.recurrent_dropout))
                and forward.activity_regularizer is None
                and backward.activity_regularizer is None
                and not (forward._forward_hooks or forward._forward_pre_hooks
                         or backward._forward_hooks or backward._forward_pre_hooks))

    def _call_fused(self, sequences, initial_state):
        """Both directions in one call of torch's bidirectional kernel."""
        forward, backward = self.forward_layer, self.backward_layer
        x = forward._check_sequences(sequences)
        count, units = forward._state_count, forward.units
        if initial_state is None:
            zeros = x.new_zeros(2, x.shape[0], units)
            hx = [zeros] * count
        else:
            forward_states = forward._initial_states(x, initial_state[:len(initial_state) // 2])
            backward_states = backward._initial_states(x, initial_state[len(initial_state) // 2:])
            hx = [torch.stack(pair) for pair in zip(forward_states, backward_states)]
        result = forward._fused_op(
            x, hx if count > 1 else hx[0], forward._fused_params() + backward._fused_params(),
            forward.use_bias, 1, 0.0, torch.is_grad_enabled(), True, True,
        )
        finals = result[1:]
        states = [h[0] for h in finals] + [h[1] for h in finals] if self.return_state else []
        if not self.return_sequences:
            return self._merge(finals[0][0], finals[0][1]), states
        if self.merge_mode == "concat":  # the kernel's output is already [forward, backward]
            return result[0], states
        return self._merge(*result[0].split(units, dim=-1)), states

    # ------------------------------------------------------------------ state
    @property
    def states(self) -> list[torch.Tensor] | None:
        forward, backward = self.forward_layer.states, self.backward_layer.states
        return None if forward is None or backward is None else list(forward) + list(backward)

    def reset_states(self) -> None:
        """Zero the carried states of both directions (stateful layers only)."""
        if not self.stateful:
            raise AttributeError(
                f"Bidirectional layer {self.name!r} is not stateful, it has no states to reset."
            )
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states

    # ------------------------------------------------------------------ shapes
    def compute_output_shape(self, input_shape: tuple) -> Any:
        forward = self.forward_layer.compute_output_shape(input_shape)
        backward = self.backward_layer.compute_output_shape(input_shape)
        forward_states: tuple = ()
        backward_states: tuple = ()
        if self.return_state:
            forward, forward_states = forward[0], tuple(forward[1:])
            backward, backward_states = backward[0], tuple(backward[1:])
        shape = tuple(forward)
        if self.merge_mode == "concat":  # the backward layer may have its own units
            width = None if None in (forward[-1], backward[-1]) else forward[-1] + backward[-1]
            shape = shape[:-1] + (width,)
        states = forward_states + backward_states
        if self.merge_mode is None:
            outputs = (tuple(forward), tuple(backward))
            return outputs + states if self.return_state else outputs
        if self.return_state:
            return (shape,) + states
        return shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        output_mask = mask if self.return_sequences else None
        masks = [output_mask] if self.merge_mode is not None else [output_mask, output_mask]
        if self.return_state:
            return masks + [None] * (2 * self.forward_layer._state_count)
        return masks[0] if self.merge_mode is not None else masks

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": serialize(self.forward_layer),
            "backward_layer": serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict) -> "Bidirectional":
        config = dict(config)
        config["layer"] = _deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialize_layer(config["backward_layer"])
        return cls(**config)


class TimeDistributed(Layer):
    """Applies a layer to every timestep of its input independently: the time axis (axis 1) is
    folded into the batch, the layer runs once, and the result is unfolded.

    Args:
        layer: the layer to apply (e.g. ``Dense``, ``Conv2D``); its weights are shared across
            timesteps and are this wrapper's weights.
        **kwargs: Layer arguments (``name``, ``input_shape``, ...).

    Shape:
        Input ``(batch, timesteps, ...)`` (at least 3D); the inner layer sees
        ``(batch * timesteps, ...)``; output ``(batch, timesteps, ...inner output)``. A mask
        ``(batch, timesteps)`` passes through unchanged (and is handed to the inner layer,
        folded, if it takes one).

    Example:
        >>> from torchkeras_lite.layers import Dense
        >>> TimeDistributed(Dense(8))(torch.zeros(2, 10, 16)).shape
        torch.Size([2, 10, 8])
    """

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs a layer instance, got {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    def _inner_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) < 3:
            raise ValueError(
                "TimeDistributed expects an input of at least 3 dimensions (batch, timesteps, "
                f"...), got shape {tuple(input_shape)}"
            )
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape: tuple) -> None:
        self.layer.maybe_build(self._inner_shape(tuple(input_shape)))

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if inputs.dim() < 3:
            self._inner_shape(tuple(inputs.shape))
        batch, steps = inputs.shape[0], inputs.shape[1]
        folded = inputs.reshape((batch * steps,) + tuple(inputs.shape[2:]))
        if mask is not None and self.layer._call_takes_mask:
            if tuple(mask.shape[:2]) != (batch, steps):
                raise ValueError(
                    f"TimeDistributed layer {self.name!r}: the mask's first two dimensions "
                    f"{tuple(mask.shape[:2])} must match the input's (batch, timesteps) "
                    f"= {(batch, steps)}."
                )
            outputs = self.layer(folded, mask=mask.reshape((batch * steps,)
                                                           + tuple(mask.shape[2:])))
        else:
            outputs = self.layer.fast_call(folded)
        if not isinstance(outputs, torch.Tensor):
            raise ValueError(
                f"TimeDistributed layer {self.name!r}: the wrapped layer {self.layer.name!r} "
                f"must return a single tensor, it returned {type(outputs).__name__}."
            )
        return outputs.reshape((batch, steps) + tuple(outputs.shape[1:]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        inner = tuple(self.layer.compute_output_shape(self._inner_shape(tuple(input_shape))))
        return (inner[0], input_shape[1]) + inner[1:]

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": serialize(self.layer)}

    @classmethod
    def from_config(cls, config: dict) -> "TimeDistributed":
        config = dict(config)
        return cls(_deserialize_layer(config.pop("layer")), **config)
