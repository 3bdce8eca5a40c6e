"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""
from __future__ import annotations

from typing import Any, Callable

_WIDTHS = (33, 24, 15)


def _size(count: int) -> str:
    nbytes = count * 4
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def _row(cells: tuple, left: str, sep: str, right: str, widths: tuple) -> str:
    parts = []
    for i, (cell, width) in enumerate(zip(cells, widths)):
        text = str(cell)
        text = text.rjust(width - 2) if i == len(widths) - 1 else text.ljust(width - 2)
        parts.append(f" {text} ")
    return left + sep.join(parts) + right


def summary_lines(model: Any, line_length: int | None = None) -> list[str]:
    if not model.built:
        raise ValueError(
            f"This model has not yet been built, so it has no weights to summarise. "
            "Build it by calling build(input_shape), by declaring the input "
            "(Input(shape=...) or input_dim=... on the first layer), or by calling fit()."
        )
    widths = _WIDTHS
    if line_length:
        scale = line_length / (sum(_WIDTHS) + 4)
        widths = tuple(max(8, int(w * scale)) for w in _WIDTHS)
    rule = ["━" * w for w in widths]
    lines = [f'Model: "{model.name}"',
             "┏" + "┳".join(rule) + "┓",
             _row(("Layer (type)", "Output Shape", "Param #"), "┃", "┃", "┃", widths),
             "┡" + "╇".join(rule) + "┩"]
    shape = model.input_shape
    layers = model.layers
    for i, layer in enumerate(layers):
        shape = tuple(layer.compute_output_shape(shape)) if shape is not None else "?"
        params = layer.count_params() if layer.built else 0
        lines.append(_row((f"{layer.name} ({type(layer).__name__})", shape, f"{params:,}"),
                          "│", "│", "│", widths))
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
