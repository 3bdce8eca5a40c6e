"""Converters for the recurrent layers: SimpleRNN, LSTM, GRU.

Two forms, both exact:
- **Native op** (ONNX ``RNN``/``LSTM``/``GRU``): no timestep mask and activations the ops know
  (tanh, sigmoid, relu). Keras's gate order is reordered to ONNX's (LSTM ``i,f,c,o`` ->
  ``i,o,f,c``; GRU ``z,r,h`` is already ONNX's ``z,r,h``), kernels are transposed, Keras's GRU
  ``reset_after=True`` is ``linear_before_reset=1`` (and ``reset_after=False`` is
  ``linear_before_reset=0`` with a zero recurrent bias).
- **Scan**: a mask, or any other activation. The input projection of all timesteps is one
  ``MatMul`` before the loop; a ``Scan`` body runs our ``_step`` math (with ``emit_activation``)
  and, with a mask, Keras's rule: masked steps keep the previous states, and output the previous
  output (zeros before the first kept step), or zeros with ``zero_output_for_mask``.

``go_backwards`` reverses the input (and mask) first, so outputs come in the processed
(reversed) order, as in Keras. Both forms take a dynamic time axis. ``stateful=True`` has no
ONNX form (the states live between calls) and raises.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ... import activations as _activations
from ...layers.recurrent import GRU, LSTM, SimpleRNN
from ..graph import GraphBuilder, Value, _onnx, onnx_dtype
from . import emit_activation, register_converter

_NATIVE_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
_INT64_MIN = int(np.iinfo(np.int64).min)


def unsupported(ctx: GraphBuilder, layer: Any, message: str) -> Exception:
    """An UnsupportedLayerError naming the layer (to raise)."""
    from ..onnx_export import UnsupportedLayerError
    return UnsupportedLayerError(
        f"{type(layer).__name__} layer {layer.name!r} cannot be exported to ONNX: {message}")


class SubgraphBuilder(GraphBuilder):
    """Builds the body graph of a ``Scan``/``Loop``: tensor names stay unique together with the
    outer graph's, and constants become initializers of the outer graph (the body reads them
    from the outer scope)."""

    def __init__(self, outer: GraphBuilder) -> None:
        super().__init__(outer.opset)
        self.outer = outer
        self._names = outer._names
        self.scope, self.scope_class = outer.scope, outer.scope_class
        self.inputs: list[Value] = []

    def const(self, array: Any, hint: str = "const", dtype: Any = None) -> Value:
        return self.outer.const(array, hint, dtype)

    def input(self, hint: str, shape: Sequence[int | None] | None,
              dtype: str = "float32") -> Value:
        value = Value(self.fresh(hint), shape, dtype)
        self.inputs.append(value)
        return value

    def graph(self, outputs: Sequence[Value], name: str) -> Any:
        """The body ``GraphProto`` with ``self.inputs`` and these outputs."""
        onnx = _onnx()
        produced = {o for n in self.nodes for o in n.output}
        seen: set[str] = set()
        final = []
        for value in outputs:
            if value.name not in produced or value.name in seen:
                value = self.node("Identity", [value], shape=value.shape, dtype=value.dtype,
                                  hint="body_out")
            seen.add(value.name)
            final.append(value)

        def info(v: Value):
            shape = None if v.shape is None else list(v.shape)
            return onnx.helper.make_tensor_value_info(v.name, onnx_dtype(v.dtype), shape)

        return onnx.helper.make_graph(list(self.nodes), self.outer.fresh(name),
                                      [info(v) for v in self.inputs], [info(v) for v in final])


# ---------------------------------------------------------------------------- small helpers
def reverse_time(ctx: GraphBuilder, x: Value, axis: int = 1) -> Value:
    """``x`` with its time axis reversed (any length)."""
    out = ctx.node("Slice", [x, ctx.ints([-1]), ctx.ints([_INT64_MIN]), ctx.ints([axis]),
                             ctx.ints([-1])], shape=x.shape, dtype=x.dtype, hint="reverse")
    return out


def zeros_like_rows(ctx: GraphBuilder, x: Value, width: int, dtype: str = "float32") -> Value:
    """Zeros of shape ``(batch of x, width)``."""
    batch = ctx.node("Slice", [ctx.node("Shape", [x], dtype="int64", hint="shape"),
                               ctx.ints([0]), ctx.ints([1])], dtype="int64", hint="batch")
    shape = ctx.node("Concat", [batch, ctx.ints([width])], axis=0, dtype="int64")
    onnx = _onnx()
    value = onnx.numpy_helper.from_array(np.zeros((1,), dtype=dtype))
    return ctx.node("ConstantOfShape", [shape], value=value, shape=(x.shape[0], width),
                    dtype=dtype, hint="zeros")


def _name(activation: Any) -> Any:
    if activation is None:
        return None
    return activation if isinstance(activation, str) else _activations.serialize(activation)


# ---------------------------------------------------------------------------- the converter
@register_converter(SimpleRNN, LSTM, GRU)
def recurrent(ctx: GraphBuilder, layer: Any, sequences: Value, initial_state: Any = None,
              mask: Value | None = None, **kwargs: Any) -> Any:
    if layer.stateful:
        raise unsupported(ctx, layer, (
            "stateful=True carries states from one batch to the next, which a stateless ONNX "
            "graph cannot do. Rebuild the model with stateful=False (same weights) to export "
            "it; feed the states explicitly through initial_state/return_state if needed."))
    if mask is None:
        mask = sequences.mask
    x = sequences
    dtype = str(layer.kernel.dtype).replace("torch.", "")
    x = ctx.cast(x, dtype)
    states = _initial_states(ctx, layer, x, initial_state, dtype)
    if layer.go_backwards:
        x = reverse_time(ctx, x)
    step_mask = None
    if mask is not None:
        step_mask = mask if mask.dtype == "bool" else ctx.cast(mask, "bool")
        if layer.go_backwards:
            step_mask = reverse_time(ctx, step_mask)
    units = layer.units
    batch, steps = x.shape[0], x.shape[1]
    if step_mask is None and _native_ok(layer):
        sequence, last, finals = _native(ctx, layer, x, states)
    else:
        sequence, last, finals = _scan(ctx, layer, x, step_mask, states)
    output = sequence if layer.return_sequences else last
    output.shape = (batch, steps, units) if layer.return_sequences else (batch, units)
    output.mask = mask if layer.return_sequences else None
    if not layer.return_state:
        return output
    for state in finals:
        state.shape = (batch, units)
        state.mask = None
    return [output, *finals]


def _initial_states(ctx, layer, x, initial_state, dtype) -> list[Value] | None:
    if initial_state is None:
        return None
    states = [initial_state] if isinstance(initial_state, Value) else list(initial_state)
    if len(states) != layer._state_count or not all(isinstance(s, Value) for s in states):
        raise unsupported(ctx, layer, (
            f"initial_state must be {layer._state_count} tensor(s) of the graph, got "
            f"{initial_state!r}."))
    return [ctx.cast(s, dtype) for s in states]


def _native_ok(layer: Any) -> bool:
    names = [_name(layer.activation)]
    if not isinstance(layer, SimpleRNN):
        names.append(_name(layer.recurrent_activation))
    return all(n in _NATIVE_ACTIVATIONS for n in names)


def _blocks(array: np.ndarray, units: int, order: Sequence[int]) -> np.ndarray:
    """Columns of ``array`` (last axis in ``units``-wide gate blocks) in gate ``order``."""
    return np.concatenate([array[..., g * units:(g + 1) * units] for g in order], axis=-1)


def _native(ctx, layer, x, states):
    """The ONNX RNN/LSTM/GRU op on ``x`` (batch-major): (sequence, last, final states)."""
    units = layer.units
    kernel = layer.kernel.detach().cpu().numpy()
    recurrent_kernel = layer.recurrent_kernel.detach().cpu().numpy()
    bias = None if layer.bias is None else layer.bias.detach().cpu().numpy()
    attrs: dict[str, Any] = {"hidden_size": units}
    act = _NATIVE_ACTIVATIONS[_name(layer.activation)]
    if isinstance(layer, LSTM):
        op, order = "LSTM", (0, 3, 1, 2)  # Keras i,f,c,o -> ONNX i,o,f,c
        gate = _NATIVE_ACTIVATIONS[_name(layer.recurrent_activation)]
        attrs["activations"] = [gate, act, act]
    elif isinstance(layer, GRU):
        op, order = "GRU", (0, 1, 2)  # Keras z,r,h == ONNX z,r,h
        gate = _NATIVE_ACTIVATIONS[_name(layer.recurrent_activation)]
        attrs["activations"] = [gate, act]
        attrs["linear_before_reset"] = int(layer.reset_after)
    else:
        op, order = "RNN", (0,)
        attrs["activations"] = [act]
    w = ctx.const(_blocks(kernel, units, order).T[None], "W")
    r = ctx.const(_blocks(recurrent_kernel, units, order).T[None], "R")
    b = None
    if bias is not None:
        if isinstance(layer, GRU) and layer.reset_after:
            input_bias, hidden_bias = bias[0], bias[1]
        else:
            input_bias, hidden_bias = bias, np.zeros_like(bias)
        b = ctx.const(np.concatenate([_blocks(input_bias, units, order),
                                      _blocks(hidden_bias, units, order)])[None], "B")
    time_major = ctx.transpose(x, [1, 0, 2], hint="time_major")
    inputs: list[Any] = [time_major, w, r, b, None]
    if states is not None:
        inputs += [ctx.unsqueeze(s, [0]) for s in states]
    while inputs and inputs[-1] is None:
        inputs.pop()
    count = 3 if op == "LSTM" else 2
    results = ctx.node(op, inputs, outputs=count, hint=op.lower(), **attrs)
    finals = [ctx.squeeze(v, [0], shape=(x.shape[0], units)) for v in results[1:]]
    sequence = None
    if layer.return_sequences:
        y = ctx.squeeze(results[0], [1], shape=(x.shape[1], x.shape[0], units))
        sequence = ctx.transpose(y, [1, 0, 2], hint="batch_major")
    return sequence, finals[0], finals


def _scan(ctx, layer, x, step_mask, states):
    """A ``Scan`` over timesteps running the layer's cell math: (sequence, last, states)."""
    units, gates = layer.units, layer._gates
    kernel = ctx.const(layer.kernel, "kernel")
    projected = ctx.node("MatMul", [x, kernel], shape=x.shape[:2] + (gates * units,),
                         hint="projected")
    input_bias = layer._input_bias()
    if input_bias is not None:
        projected = ctx.node("Add", [projected, ctx.const(input_bias, "input_bias")],
                             shape=projected.shape, hint="projected")
    zeros = zeros_like_rows(ctx, x, units)  # dropped by finish() when unused
    if states is None:
        states = [zeros] * layer._state_count
    body = SubgraphBuilder(ctx)
    prev_states = [body.input(f"state{i}_in", (None, units)) for i in range(len(states))]
    prev_output = body.input("output_in", (None, units)) if step_mask is not None else None
    step_input = body.input("step_input", (None, gates * units))
    keep = body.input("step_mask", (None, 1), "bool") if step_mask is not None else None
    step = _lstm_step if isinstance(layer, LSTM) else _gru_step if isinstance(layer, GRU) \
        else _simple_step
    output, new_states = step(body, layer, step_input, prev_states)
    state_outputs = list(new_states)
    if keep is not None:
        state_outputs = [body.node("Where", [keep, new, old], shape=(None, units), hint="keep")
                         for new, old in zip(new_states, prev_states)]
        previous = body.scalar(0.0) if layer.zero_output_for_mask else prev_output
        output = body.node("Where", [keep, output, previous], shape=(None, units),
                           hint="output")
        state_outputs.append(output)
    scan_outputs = [output] if layer.return_sequences else []
    graph = body.graph(state_outputs + scan_outputs, "step")
    scan_inputs = [projected]
    initial = list(states)
    if step_mask is not None:
        initial.append(zeros)
        scan_inputs.append(ctx.unsqueeze(step_mask, [2], shape=x.shape[:2] + (1,)))
    results = ctx.node(
        "Scan", initial + scan_inputs, outputs=len(initial) + len(scan_outputs), hint="scan",
        body=graph, num_scan_inputs=len(scan_inputs), scan_input_axes=[1] * len(scan_inputs),
        scan_output_axes=[1] * len(scan_outputs) if scan_outputs else None)
    results = results if isinstance(results, list) else [results]
    finals = results[:len(states)]
    last = results[len(states)] if step_mask is not None else finals[0]
    sequence = results[-1] if layer.return_sequences else None
    return sequence, last, finals


# ---------------------------------------------------------------------------- cell math
def _split(body, z, units, count):
    return body.node("Split", [z, body.ints([units] * count, "split")], axis=1, outputs=count,
                     shape=(None, units), hint="gates")


def _simple_step(body, layer, projected, states):
    rk = body.const(layer.recurrent_kernel, "recurrent_kernel")
    z = body.node("Add", [projected, body.node("MatMul", [states[0], rk])])
    h = emit_activation(body, layer.activation, z)
    return h, [h]


def _lstm_step(body, layer, projected, states):
    h, c = states
    units = layer.units
    rk = body.const(layer.recurrent_kernel, "recurrent_kernel")
    z = body.node("Add", [projected, body.node("MatMul", [h, rk])], shape=(None, 4 * units))
    z_i, z_f, z_c, z_o = _split(body, z, units, 4)
    gate = lambda v: emit_activation(body, layer.recurrent_activation, v)  # noqa: E731
    act = lambda v: emit_activation(body, layer.activation, v)  # noqa: E731
    c = body.node("Add", [body.node("Mul", [gate(z_f), c]),
                          body.node("Mul", [gate(z_i), act(z_c)])], shape=(None, units), hint="c")
    h = body.node("Mul", [gate(z_o), act(c)], shape=(None, units), hint="h")
    return h, [h, c]


def _gru_step(body, layer, projected, states):
    h = states[0]
    u = layer.units
    rk = layer.recurrent_kernel.detach().cpu().numpy()
    x_z, x_r, x_h = _split(body, projected, u, 3)
    gate = lambda v: emit_activation(body, layer.recurrent_activation, v)  # noqa: E731
    if layer.reset_after:
        inner = body.node("MatMul", [h, body.const(rk, "recurrent_kernel")], shape=(None, 3 * u))
        if layer.bias is not None:
            inner = body.node("Add", [body.const(layer.bias[1], "recurrent_bias"), inner],
                              shape=(None, 3 * u))
        r_z, r_r, r_h = _split(body, inner, u, 3)
        z = gate(body.node("Add", [x_z, r_z]))
        r = gate(body.node("Add", [x_r, r_r]))
        candidate = body.node("Add", [x_h, body.node("Mul", [r, r_h])])
    else:
        inner = body.node("MatMul", [h, body.const(rk[:, :2 * u], "recurrent_kernel_zr")],
                          shape=(None, 2 * u))
        r_z, r_r = _split(body, inner, u, 2)
        z = gate(body.node("Add", [x_z, r_z]))
        r = gate(body.node("Add", [x_r, r_r]))
        candidate = body.node("Add", [x_h, body.node(
            "MatMul", [body.node("Mul", [r, h]), body.const(rk[:, 2 * u:], "recurrent_kernel_h")])])
    candidate = emit_activation(body, layer.activation, candidate)
    one_minus_z = body.node("Sub", [body.scalar(1.0), z])
    h = body.node("Add", [body.node("Mul", [z, h]), body.node("Mul", [one_minus_z, candidate])],
                  shape=(None, u), hint="h")
    return h, [h]

