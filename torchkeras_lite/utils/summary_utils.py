"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""
from __future__ import annotations

from typing import Any, Callable

_WIDTHS = (33, 24, 15)
_GRAPH_WIDTHS = (21, 19, 12, 19)


def _size(count: int) -> str:
    nbytes = count * 4
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def _wrap(text: str, width: int) -> list[str]:
    """Words over lines of ``width`` characters; a word too long is cut with '…'."""
    lines: list[str] = []
    for word in str(text).split(" "):
        if len(word) > width:
            word = word[: width - 1] + "…"
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _rows(cells: tuple, widths: tuple, sep: str = "│") -> list[str]:
    wrapped = [_wrap(cell, w - 2) for cell, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    out = []
    for i in range(height):
        parts = []
        for j, (lines, width) in enumerate(zip(wrapped, widths)):
            text = lines[i] if i < len(lines) else ""
            numeric = j == 2
            parts.append(" " + (text.rjust(width - 2) if numeric else text.ljust(width - 2)) + " ")
        out.append(sep + sep.join(parts) + sep)
    return out


def _graph_like(model: Any) -> bool:
    nodes = getattr(model, "_nodes", None)
    if nodes is None:
        return False
    layers = [n.layer for n in nodes]
    return (len(model.outputs) > 1 or len(model.inputs) > 1 or len(set(map(id, layers))) != len(layers)
            or any(len(n.parents) != 1 for n in nodes))


def _connections(model: Any, layer: Any) -> str:
    nodes = [n for n in model._nodes if n.layer is layer]
    if not nodes:
        return "-"
    keys = {}
    for node in model._nodes:
        keys.setdefault(id(node.layer), []).append(node)
    refs = []
    for node in nodes:
        for parent in node.parents:
            owner = parent._keras_history
            source = getattr(parent, "node", None)
            index = keys.get(id(owner), []).index(source) if source in keys.get(id(owner), []) else 0
            refs.append(f"{owner.name}[{index}][{getattr(parent, 'index', 0)}]")
    return ", ".join(refs)


def summary_lines(model: Any, line_length: int | None = None) -> list[str]:
    if not model.built:
        raise ValueError(
            "This model has not yet been built, so it has no weights to summarise. "
            "Build it by calling build(input_shape), by declaring the input "
            "(Input(shape=...) or input_dim=... on the first layer), or by calling fit()."
        )
    graph = _graph_like(model)
    widths = _GRAPH_WIDTHS if graph else _WIDTHS
    if line_length:
        scale = line_length / (sum(widths) + len(widths) + 1)
        widths = tuple(max(8, int(w * scale)) for w in widths)
    header = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if graph else ())
    rule = ["━" * w for w in widths]
    lines = [f'Model: "{model.name}"', "┏" + "┳".join(rule) + "┓"]
    lines += _rows(header, widths, "┃")
    lines.append("┡" + "╇".join(rule) + "┩")
    layers = model.layers
    shape = getattr(model, "input_shape", None)
    for i, layer in enumerate(layers):
        if hasattr(model, "_nodes"):
            node = next((n for n in model._nodes if n.layer is layer), None)
            out = layer.output if node is None else node.outputs
            out_shape = getattr(out, "shape", None) or [t.shape for t in out]
        else:
            shape = tuple(layer.compute_output_shape(shape)) if shape is not None else "?"
            out_shape = shape
        params = layer.count_params() if layer.built else 0
        cells = (f"{layer.name} ({type(layer).__name__})", str(out_shape), f"{params:,}")
        if graph:
            cells += (_connections(model, layer),)
        lines += _rows(cells, widths)
        if i < len(layers) - 1:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    trainable = sum(w.numel() for w in model.trainable_weights)
    frozen = sum(w.numel() for w in model.non_trainable_weights)
    optimizer = optimizer_param_count(getattr(model, "optimizer", None))
    total = trainable + frozen + optimizer
    lines += [f" Total params: {total:,} ({_size(total)})",
              f" Trainable params: {trainable:,} ({_size(trainable)})",
              f" Non-trainable params: {frozen:,} ({_size(frozen)})"]
    if optimizer:
        lines.append(f" Optimizer params: {optimizer:,} ({_size(optimizer)})")
    return lines


def optimizer_param_count(optimizer: Any) -> int:
    """What Keras counts as optimizer variables once training has started: one slot per
    per-weight state tensor, plus ``iterations`` and ``learning_rate``."""
    state = getattr(optimizer, "state", None)
    if not state:
        return 0
    slots = 0
    for param, entries in state.items():
        slots += sum(v.numel() for v in entries.values()
                     if hasattr(v, "shape") and tuple(v.shape) == tuple(param.shape) and v.dim())
    return slots + 2 if slots else 0


def print_summary(model: Any, line_length: int | None = None,
                  print_fn: Callable[..., Any] | None = None, show_trainable: bool = False) -> None:
    text = "\n".join(summary_lines(model, line_length))
    (print_fn or print)(text)  # Keras 3 hands print_fn the whole table at once
