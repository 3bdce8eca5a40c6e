"""Recurrent layers: SimpleRNN, LSTM, GRU, with Keras 3's arguments, weights and masking.

Who owns what:
- ``_RNN`` (the shared base) checks inputs, prepares initial states (zeros, ``initial_state``
  or the carried states of a ``stateful`` layer), draws dropout masks, picks the execution path
  and assembles the outputs (``return_sequences``, ``return_state``, output masks).
- Each layer creates its weights in **Keras layout** (``kernel (in, G*units)``,
  ``recurrent_kernel (units, G*units)``, ``bias``) and provides two things: ``_fused_params``,
  the weight list torch's fused kernels (``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh``)
  expect, built on the fly from the Keras-layout parameters with transposes and index ops so
  gradients reach them; and ``_step``, one timestep of Keras's cell math for the Python loop.
- The fused kernel runs whenever the result is the same as Keras's step-by-step cell: default
  activations, no timestep mask, no recurrent dropout (input dropout is one mask per
  sequence, applied to the inputs first, as Keras does), and for GRU ``reset_after=True``.
  Otherwise a loop over timesteps runs the cell math, with the input projection of all
  timesteps precomputed in one matmul.

Masks follow Keras exactly: at a masked timestep the states are carried over unchanged and the
output repeats the previous output (zeros before the first unmasked step), or is zero with
``zero_output_for_mask=True`` (which ``Bidirectional`` sets when returning sequences).
``go_backwards=True`` processes the sequence from the end and returns the outputs in that
(reversed) order.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import activations as _activations
from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize
from .layer import Layer, _torch_dtype

__all__ = ["GRU", "LSTM", "SimpleRNN"]

_TANH = _activations.get("tanh")
_SIGMOID = _activations.get("sigmoid")
_RELU = _activations.get("relu")


def _check_positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


def _check_rate(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"{argument} must be a float in [0, 1) (the fraction of units to drop), "
            f"got {value!r}"
        )
    return float(value)


class _RNN(Layer):
    """Shared machinery of the recurrent layers (see the module docstring)."""

    _gates = 1  # blocks of `units` columns in the kernels: 1 (SimpleRNN), 3 (GRU), 4 (LSTM)
    _state_count = 1

    def _setup(
        self, units, activation, recurrent_activation, use_bias, kernel_initializer,
        recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
        bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
        recurrent_dropout, seed, return_sequences, return_state, go_backwards, stateful,
        unroll, zero_output_for_mask, use_cudnn,
    ) -> None:
        self.units = units
        self.activation = _activations.get(activation)
        self.recurrent_activation = _activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.recurrent_initializer = _initializers.get(recurrent_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = _regularizers.get(recurrent_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.recurrent_constraint = _constraints.get(recurrent_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.use_cudnn = use_cudnn
        self.states: list[torch.Tensor] | None = None
        self._generator: torch.Generator | None = None
        if self._input_shape_arg is not None:
            self.maybe_build(self._input_shape_arg)

    @staticmethod
    def _check_common(units, dropout, recurrent_dropout, seed, use_cudnn="auto"):
        units = _check_positive_int(units, "units")
        dropout = _check_rate(dropout, "dropout")
        recurrent_dropout = _check_rate(recurrent_dropout, "recurrent_dropout")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"use_cudnn must be 'auto', True or False, got {use_cudnn!r}"
            )
        return units, dropout, recurrent_dropout

    # ------------------------------------------------------------------ build
    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects a 3D input (batch, timesteps, features), "
                f"got shape {input_shape}"
            )
        if input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} needs a known number of features "
                f"(last input axis), got input shape {input_shape}"
            )
        input_dim, gated = int(input_shape[-1]), self.units * self._gates
        self.kernel = self.add_weight(
            (input_dim, gated), self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint, name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            (self.units, gated), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
            name="recurrent_kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                self._bias_shape(), self._bias_initializer(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint, name="bias",
            )
        else:
            self.bias = None
        # Torch's fused kernels want an input and a hidden bias; Keras has one (LSTM,
        # SimpleRNN): the hidden one is this zero buffer (moves with the layer, not a weight).
        self.register_buffer("_zero_bias", torch.zeros(gated, dtype=self.dtype),
                             persistent=False)

    def _bias_shape(self) -> tuple:
        return (self.units * self._gates,)

    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    # ------------------------------------------------------------------- call
    def call(self, sequences: torch.Tensor, initial_state: Any = None,
             mask: torch.Tensor | None = None) -> Any:
        x = self._check_sequences(sequences)
        states = self._initial_states(x, initial_state)
        training = self.training
        dropout = self.dropout if training else 0.0
        recurrent_dropout = self.recurrent_dropout if training else 0.0
        if mask is not None:
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(
                    f"{type(self).__name__} layer {self.name!r}: the mask must have shape "
                    f"(batch, timesteps) = {tuple(x.shape[:2])}, received {tuple(mask.shape)}"
                )
            if mask.dtype != torch.bool:
                mask = mask.bool()
        if mask is None and not recurrent_dropout and self._fusable():
            if dropout:
                x = x * self._dropout_masks(x[:, 0], dropout, 1)[0].unsqueeze(1)
            sequence, states = self._run_fused(x, states)
            last = states[0]
        else:
            if self.use_cudnn is True and (mask is not None or self.recurrent_dropout
                                           or not self._fusable_config()):
                raise ValueError(
                    f"{type(self).__name__} layer {self.name!r}: use_cudnn=True, but this "
                    "configuration needs the step-by-step implementation (timestep mask, "
                    "recurrent_dropout or GRU reset_after=False). Pass use_cudnn='auto'."
                )
            sequence, last, states = self._run_loop(x, states, mask, dropout, recurrent_dropout)
        if self.stateful:
            self.states = [s.detach() for s in states]
        output = sequence if self.return_sequences else last
        if not self.return_state:
            return output
        if mask is not None and self.return_sequences:
            output._keras_mask = mask
        return [output, *states]

    def _check_sequences(self, sequences: torch.Tensor) -> torch.Tensor:
        if sequences.dim() != 3:
            raise ValueError(
                f"{type(self).__name__} expects a 3D input (batch, timesteps, features), "
                f"got shape {tuple(sequences.shape)}"
            )
        if sequences.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} was built for "
                f"{self.kernel.shape[0]} features, received input shape "
                f"{tuple(sequences.shape)}"
            )
        if sequences.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} needs at least one timestep, "
                f"received input shape {tuple(sequences.shape)}"
            )
        dtype = self.kernel.dtype  # follows module.to(dtype), unlike the declared dtype
        return sequences if sequences.dtype == dtype else sequences.to(dtype)

    def _initial_states(self, x: torch.Tensor, initial_state: Any) -> list[torch.Tensor]:
        batch = x.shape[0]
        if initial_state is None:
            if self.stateful and self.states is not None:
                if self.states[0].shape[0] != batch:
                    raise ValueError(
                        f"{type(self).__name__} layer {self.name!r} is stateful with batch "
                        f"size {self.states[0].shape[0]}, received a batch of {batch}. Keep "
                        "the batch size fixed (e.g. drop the last partial batch)."
                    )
                return [s if s.device == x.device else s.to(x.device) for s in self.states]
            zeros = x.new_zeros(batch, self.units)
            return [zeros] * self._state_count
        if isinstance(initial_state, torch.Tensor):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        if len(initial_state) != self._state_count:
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} takes {self._state_count} initial "
                f"state tensor(s), received {len(initial_state)}"
            )
        checked = []
        for state in initial_state:
            state = torch.as_tensor(state, dtype=x.dtype, device=x.device)
            if tuple(state.shape) != (batch, self.units):
                raise ValueError(
                    f"{type(self).__name__} layer {self.name!r}: each initial state must have "
                    f"shape (batch, units) = ({batch}, {self.units}), received "
                    f"{tuple(state.shape)}"
                )
            checked.append(state)
        return checked

    def _dropout_masks(self, like: torch.Tensor, rate: float, count: int) -> list[torch.Tensor]:
        """``count`` inverted-dropout masks shaped like one timestep, fixed over the sequence."""
        generator = None
        if self.seed is not None:
            if self._generator is None or self._generator.device != like.device:
                self._generator = torch.Generator(device=like.device)
                self._generator.manual_seed(int(self.seed))
            generator = self._generator
        keep = torch.rand((count,) + tuple(like.shape), generator=generator,
                          device=like.device, dtype=like.dtype) >= rate
        return list((keep / (1.0 - rate)).unbind(0))

    def _fusable_config(self) -> bool:
        return self.activation is _TANH and self.recurrent_activation is _SIGMOID

    def _fusable(self) -> bool:
        return self.use_cudnn is not False and self._fusable_config()

    def _run_fused(self, x: torch.Tensor, states: list[torch.Tensor]):
        if self.go_backwards:
            x = x.flip(1)
        hx = [s.unsqueeze(0) for s in states]
        result = self._fused_op(
            x, hx if len(hx) > 1 else hx[0], self._fused_params(), self.use_bias, 1, 0.0,
            torch.is_grad_enabled(), False, True,
        )
        return result[0], [h.squeeze(0) for h in result[1:]]

    def _project_inputs(self, x: torch.Tensor, masks: list[torch.Tensor] | None) -> torch.Tensor:
        """Input part of every gate for all timesteps: ``x @ kernel + input bias``."""
        kernel, bias = self.kernel, self._input_bias()
        if masks is None or len(masks) == 1:
            if masks is not None:
                x = x * masks[0].unsqueeze(1)
            projected = torch.matmul(x, kernel)
        else:  # one input mask per gate (Keras's implementation 1, with recurrent dropout)
            projected = torch.cat([torch.matmul(x * m.unsqueeze(1), k) for m, k in
                                   zip(masks, kernel.chunk(self._gates, dim=1))], dim=-1)
        return projected if bias is None else projected + bias

    def _input_bias(self) -> torch.Tensor | None:
        return self.bias

    def _run_loop(self, x, states, mask, dropout, recurrent_dropout):
        # Keras draws one mask per gate when recurrent_dropout is set, else a single one.
        per_gate = self._gates if self.recurrent_dropout else 1
        input_masks = self._dropout_masks(x[:, 0], dropout, per_gate) if dropout else None
        recurrent_masks = (self._dropout_masks(states[0], recurrent_dropout, per_gate)
                           if recurrent_dropout else None)
        projected = self._project_inputs(x, input_masks)
        if self.go_backwards:
            projected = projected.flip(1)
            mask = None if mask is None else mask.flip(1)
        outputs, keep_all = [], self.return_sequences
        if mask is None:
            for step_input in projected.unbind(1):
                output, states = self._step(step_input, states, recurrent_masks)
                if keep_all:
                    outputs.append(output)
            last = output
        else:
            previous = states[0].new_zeros(())
            for step_input, keep in zip(projected.unbind(1), mask.unsqueeze(-1).unbind(1)):
                output, new_states = self._step(step_input, states, recurrent_masks)
                states = [torch.where(keep, new, old) for new, old in zip(new_states, states)]
                output = torch.where(keep, output, previous)
                if not self.zero_output_for_mask:
                    previous = output
                if keep_all:
                    outputs.append(output)
            last = output
        sequence = torch.stack(outputs, dim=1) if keep_all else None
        return sequence, last, states

    # ------------------------------------------------------------------ state
    def reset_states(self) -> None:
        """Zero the carried states of a stateful layer (no-op before its first call)."""
        if self.states is not None:
            self.states = [torch.zeros_like(s) for s in self.states]

    reset_state = reset_states

    # ------------------------------------------------------------------ shapes
    def compute_output_shape(self, input_shape: tuple) -> Any:
        batch, steps = input_shape[0], input_shape[1]
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return (output,) + ((batch, self.units),) * self._state_count
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * self._state_count
        return output_mask

    def _common_config(self) -> dict:
        return {
            "units": self.units,
            "activation": _activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": serialize(self.kernel_initializer),
            "recurrent_initializer": serialize(self.recurrent_initializer),
            "bias_initializer": serialize(self.bias_initializer),
            "kernel_regularizer": serialize(self.kernel_regularizer),
            "recurrent_regularizer": serialize(self.recurrent_regularizer),
            "bias_regularizer": serialize(self.bias_regularizer),
            "kernel_constraint": serialize(self.kernel_constraint),
            "recurrent_constraint": serialize(self.recurrent_constraint),
            "bias_constraint": serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }


def _docstring(summary: str, first_args: str, extra_args: str, rest: str) -> str:
    """Assemble a recurrent layer's docstring from its own parts and the shared arguments."""
    return (summary + "\n\n    Args:\n" + first_args + _SHARED_ARGS + extra_args
            + _KWARGS_AND_CALL + rest)


_SHARED_ARGS = """\
        use_bias: whether the layer has biases (default True).
        kernel_initializer: for the input kernel, default ``'glorot_uniform'``.
        recurrent_initializer: for the recurrent kernel, default ``'orthogonal'``.
        bias_initializer: default ``'zeros'``.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer:
            penalties added to the loss (default None).
        kernel_constraint, recurrent_constraint, bias_constraint: projections applied after
            each optimizer step (default None).
        dropout: float in [0, 1), fraction of the inputs dropped in training (one mask per
            sequence, as in Keras). Default 0.
        recurrent_dropout: float in [0, 1), fraction of the recurrent state dropped in
            training (forces the step-by-step loop). Default 0.
        seed: int for reproducible dropout masks.
        return_sequences: return the output of every timestep, ``(batch, timesteps, units)``,
            instead of the last one, ``(batch, units)``. Default False.
        return_state: also return the final state(s): a list ``[output, *states]``.
            Default False.
        go_backwards: process the sequence from the end; with ``return_sequences`` the
            outputs come in that reversed order. Default False.
        stateful: carry the final states of a batch over as initial states of the next one
            (the batch size must stay fixed); ``reset_states()`` zeroes them. Default False.
        unroll: accepted for compatibility; has no effect.
"""

_KWARGS_AND_CALL = """\
        zero_output_for_mask: (keyword) masked timesteps output zeros instead of repeating
            the previous output. Default False.
        **kwargs: Layer arguments (``name``, ``input_shape``, ``trainable``, ``dtype``...).

    Call arguments:
        sequences: ``(batch, timesteps, features)`` tensor.
        initial_state: optional list of ``(batch, units)`` tensors, one per state.
        mask: optional boolean ``(batch, timesteps)``; taken from the input when a layer like
            ``Embedding(mask_zero=True)`` produced it. Masked timesteps are skipped: states
            carry over and the output repeats the previous one (zeros before the first step).
        training: with ``layer(x, training=True)`` (or train mode), dropout is applied.
"""

_USE_CUDNN = """\
        use_cudnn: (Keras's name) ``'auto'`` runs torch's fused kernel when the configuration
            allows; ``False`` always loops over timesteps in Python; ``True`` raises when the
            fused kernel cannot be used.
"""


class SimpleRNN(_RNN):
    __doc__ = _docstring(
        """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel
    + bias)``; the output is ``h_t``.""",
        """\
        units: positive int, size of the output and state.
        activation: default ``'tanh'`` (``'tanh'`` and ``'relu'`` run torch's fused kernel).
""", "", """
    Weights (Keras layout): ``kernel (features, units)``, ``recurrent_kernel (units, units)``,
    ``bias (units,)``.

    Example:
        >>> SimpleRNN(4)(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 4])
    """)

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        *,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        units, dropout, recurrent_dropout = self._check_common(
            units, dropout, recurrent_dropout, seed)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._setup(units, activation, None, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer, kernel_constraint,
                    recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                    return_sequences, return_state, go_backwards, stateful, unroll,
                    zero_output_for_mask, "auto")

    def _fusable_config(self) -> bool:
        return self.activation is _TANH or self.activation is _RELU

    @property
    def _fused_op(self):
        return torch.rnn_tanh if self.activation is _TANH else torch.rnn_relu

    def _fused_params(self) -> list[torch.Tensor]:
        if self.bias is None:
            return [self.kernel.T, self.recurrent_kernel.T]
        return [self.kernel.T, self.recurrent_kernel.T, self.bias, self._zero_bias]

    def _step(self, projected, states, recurrent_masks):
        h = states[0] if recurrent_masks is None else states[0] * recurrent_masks[0]
        output = self.activation(torch.addmm(projected, h, self.recurrent_kernel))
        return output, [output]

    def get_config(self) -> dict:
        return {**super().get_config(), **self._common_config()}


class LSTM(_RNN):
    __doc__ = _docstring(
        """Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997), Keras's formulation:
    gates ``i, f, c, o`` in that order along the kernels' columns,
    ``c_t = f * c_{t-1} + i * activation(z_c)``, ``h_t = o * activation(c_t)``.""",
        """\
        units: positive int, size of the output and of the two states ``h`` and ``c``.
        activation: default ``'tanh'``.
        recurrent_activation: for the gates, default ``'sigmoid'``.
        unit_forget_bias: start the forget-gate bias at 1 (default True).
""", _USE_CUDNN, """
    Weights (Keras layout): ``kernel (features, 4*units)``,
    ``recurrent_kernel (units, 4*units)``, ``bias (4*units,)``; ``return_state`` gives
    ``[output, h, c]``.

    Example:
        >>> out, h, c = LSTM(8, return_sequences=True, return_state=True)(torch.zeros(2, 5, 3))
        >>> tuple(out.shape), tuple(h.shape), tuple(c.shape)
        ((2, 5, 8), (2, 8), (2, 8))
    """)

    _gates = 4
    _state_count = 2
    _fused_op = staticmethod(torch.lstm)

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn: Any = "auto",
        *,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        units, dropout, recurrent_dropout = self._check_common(
            units, dropout, recurrent_dropout, seed, use_cudnn)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer, kernel_constraint,
                    recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                    return_sequences, return_state, go_backwards, stateful, unroll,
                    zero_output_for_mask, use_cudnn)

    def _bias_initializer(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, init = self.units, self.bias_initializer

        def forget_bias_one(shape, dtype=None):
            return torch.cat([
                torch.as_tensor(init((units,), dtype=dtype)),
                torch.ones(units, dtype=_torch_dtype(dtype)),
                torch.as_tensor(init((2 * units,), dtype=dtype)),
            ])

        return forget_bias_one

    def _fused_params(self) -> list[torch.Tensor]:
        # Keras's gate order i, f, c, o is torch's i, f, g, o: transposes suffice.
        if self.bias is None:
            return [self.kernel.T, self.recurrent_kernel.T]
        return [self.kernel.T, self.recurrent_kernel.T, self.bias, self._zero_bias]

    def _step(self, projected, states, recurrent_masks):
        h, c = states
        if recurrent_masks is None:
            z = torch.addmm(projected, h, self.recurrent_kernel)
        else:
            z = projected + torch.cat([
                (h * m) @ k for m, k in zip(recurrent_masks, self.recurrent_kernel.chunk(4, 1))
            ], dim=1)
        z_i, z_f, z_c, z_o = z.chunk(4, dim=1)
        gate = self.recurrent_activation
        c = gate(z_f) * c + gate(z_i) * self.activation(z_c)
        h = gate(z_o) * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        return {
            **super().get_config(), **self._common_config(),
            "recurrent_activation": _activations.serialize(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
            "use_cudnn": self.use_cudnn,
        }


class GRU(_RNN):
    __doc__ = _docstring(
        """Gated Recurrent Unit (Cho et al., 2014), Keras's formulation: gates ``z, r, h`` in
    that order along the kernels' columns, ``h_t = z * h_{t-1} + (1 - z) * hh``.""",
        """\
        units: positive int, size of the output and state.
        activation: default ``'tanh'``.
        recurrent_activation: for the gates, default ``'sigmoid'``.
""", """\
        reset_after: apply the reset gate after the recurrent matmul (default True, the
            cuDNN-compatible variant with separate input and recurrent biases); False is the
            original formulation (step-by-step loop).
""" + _USE_CUDNN, """
    Weights (Keras layout): ``kernel (features, 3*units)``,
    ``recurrent_kernel (units, 3*units)``, ``bias (2, 3*units)`` (input and recurrent rows)
    with ``reset_after=True``, ``bias (3*units,)`` otherwise. Torch orders the gates
    ``r, z, n``; the fused path reorders columns on the fly.

    Example:
        >>> GRU(4, return_sequences=True)(torch.zeros(2, 5, 3)).shape
        torch.Size([2, 5, 4])
    """)

    _gates = 3
    _fused_op = staticmethod(torch.gru)

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        use_cudnn: Any = "auto",
        *,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        units, dropout, recurrent_dropout = self._check_common(
            units, dropout, recurrent_dropout, seed, use_cudnn)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.reset_after = bool(reset_after)
        self._setup(units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer,
                    recurrent_regularizer, bias_regularizer, kernel_constraint,
                    recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                    return_sequences, return_state, go_backwards, stateful, unroll,
                    zero_output_for_mask, use_cudnn)

    def build(self, input_shape: tuple) -> None:
        super().build(input_shape)
        u = self.units
        # Column order that turns Keras's gates (z, r, h) into torch's (r, z, n).
        self.register_buffer("_torch_gate_order", torch.cat([
            torch.arange(u, 2 * u), torch.arange(0, u), torch.arange(2 * u, 3 * u)]),
            persistent=False)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _fusable_config(self) -> bool:
        return self.reset_after and super()._fusable_config()

    def _input_bias(self) -> torch.Tensor | None:
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def _fused_params(self) -> list[torch.Tensor]:
        order = self._torch_gate_order
        params = [self.kernel.index_select(1, order).T,
                  self.recurrent_kernel.index_select(1, order).T]
        if self.bias is not None:
            params.extend(self.bias.index_select(1, order).unbind(0))
        return params

    def _step(self, projected, states, recurrent_masks):
        h = states[0]
        u = self.units
        x_z, x_r, x_h = projected.chunk(3, dim=1)
        kernel = self.recurrent_kernel
        gate = self.recurrent_activation
        if recurrent_masks is None:
            h_z = h_r = h_h = h
        else:
            h_z, h_r, h_h = (h * m for m in recurrent_masks)
        if self.reset_after:
            recurrent_bias = None if self.bias is None else self.bias[1]
            if recurrent_masks is None:
                inner = h @ kernel if recurrent_bias is None else torch.addmm(
                    recurrent_bias, h, kernel)
                r_z, r_r, r_h = inner.chunk(3, dim=1)
            else:
                r_z, r_r, r_h = (v @ k for v, k in zip((h_z, h_r, h_h), kernel.chunk(3, 1)))
                if recurrent_bias is not None:
                    b_z, b_r, b_h = recurrent_bias.chunk(3)
                    r_z, r_r, r_h = r_z + b_z, r_r + b_r, r_h + b_h
            z = gate(x_z + r_z)
            r = gate(x_r + r_r)
            candidate = self.activation(x_h + r * r_h)
        else:
            if recurrent_masks is None:
                r_z, r_r = (h @ kernel[:, :2 * u]).chunk(2, dim=1)
            else:
                r_z, r_r = h_z @ kernel[:, :u], h_r @ kernel[:, u:2 * u]
            z = gate(x_z + r_z)
            r = gate(x_r + r_r)
            candidate = self.activation(x_h + (r * h_h) @ kernel[:, 2 * u:])
        h = z * h + (1 - z) * candidate
        return h, [h]

    def get_config(self) -> dict:
        return {
            **super().get_config(), **self._common_config(),
            "recurrent_activation": _activations.serialize(self.recurrent_activation),
            "reset_after": self.reset_after,
            "use_cudnn": self.use_cudnn,
        }
