"""Merge layers: combine a list of tensors into one (Add, Subtract, Multiply, Average,
Maximum, Minimum, Concatenate, Dot), and their functional forms (``add([a, b])``...).

Each layer is called on a list, ``Add()([a, b])``; ``build`` and ``compute_output_shape`` take
a list of shapes. Keras's rules, which these layers copy:

- **Broadcasting** (the element-wise layers): batch sizes must be equal; the other axes
  broadcast as in numpy (aligned on the right, a size 1 stretches), and an input of lower rank
  gets size-1 axes inserted right after its batch axis, so ``(B, 4)`` merges with ``(B, 3, 4)``.
- **Masks** (``tensor._keras_mask``, shape ``(batch, time)``): the output mask is the OR of the
  input masks when every input has one, else None. Add, Subtract and Average ignore masks in the
  values; Multiply treats masked entries as 1 (and zeroes entries masked in every input);
  Maximum and Minimum skip masked entries. Concatenate ORs the masks after concatenating them
  (an unmasked input counts as all-True); Dot drops masks.

``FUNCTIONS`` names the functional helpers; ``__all__`` lists only the layer classes (the layer
catalog reads it).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .. import config as _config
from .layer import Layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"]
FUNCTIONS = ("add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot")


def _is_shape_list(shapes: Any) -> bool:
    return isinstance(shapes, (list, tuple)) and len(shapes) > 0 and all(
        isinstance(s, (list, tuple)) for s in shapes)


def _masks_of(inputs: Sequence[Any]) -> list:
    return [getattr(x, "_keras_mask", None) for x in inputs]


class _Merge(Layer):
    """Shared plumbing of the merge layers: input-list checks, batch and broadcast checks."""

    supports_masking = True
    _min_inputs = 2
    _max_inputs: int | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._reshape_required = False

    def _count_phrase(self) -> str:
        if self._max_inputs == self._min_inputs:
            return f"exactly {self._min_inputs} inputs"
        return f"a list of at least {self._min_inputs} inputs"

    def _check_shape_list(self, shapes: Any, check_batch: bool = True) -> list:
        """The input shapes as a list of tuples, after checking the list and its length."""
        kind = type(self).__name__
        if not _is_shape_list(shapes):
            raise ValueError(
                f"{kind} layer {self.name!r} must be called on a list of tensors, e.g. "
                f"{kind}()([x1, x2]); got a single input of shape {shapes}."
            )
        shapes = [tuple(s) for s in shapes]
        n = len(shapes)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            raise ValueError(
                f"{kind} layer {self.name!r} needs {self._count_phrase()}, got {n} "
                f"(shapes {shapes})."
            )
        for s in shapes:
            if len(s) == 0:
                raise ValueError(
                    f"{kind} layer {self.name!r} needs inputs with a batch axis, got a scalar "
                    f"among the input shapes {shapes}."
                )
        batch_sizes = {s[0] for s in shapes} - {None}
        if check_batch and len(batch_sizes) > 1:
            raise ValueError(
                f"{kind} layer {self.name!r} cannot merge tensors with different batch sizes; "
                f"got shapes {shapes}."
            )
        return shapes

    def _broadcast(self, shape1: tuple, shape2: tuple) -> tuple:
        """Broadcast two per-sample shapes (batch axis excluded), numpy style."""
        if len(shape1) < len(shape2):
            shape1, shape2 = shape2, shape1
        offset = len(shape1) - len(shape2)
        out = list(shape1[:offset])
        for axis, (i, j) in enumerate(zip(shape1[offset:], shape2)):
            if i is None or j is None:
                out.append(None)
            elif i == 1 or j == 1 or i == j:
                out.append(j if i == 1 else i)
            else:
                raise ValueError(
                    f"{type(self).__name__} layer {self.name!r} got inputs with incompatible "
                    f"shapes: per-sample shapes {shape1} and {shape2} do not broadcast (sizes "
                    f"{i} and {j} at axis {axis + offset + 1}). Give the inputs equal shapes, "
                    "or size 1 on the axes that should be repeated."
                )
        return tuple(out)

    def build(self, input_shape: list) -> None:
        shapes = self._check_shape_list(input_shape)
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = self._broadcast(out, shape[1:])
        self._reshape_required = len({len(s) for s in shapes}) > 1

    def compute_output_shape(self, input_shape: list) -> tuple:
        shapes = self._check_shape_list(input_shape)
        out = shapes[0][1:]
        for shape in shapes[1:]:
            out = self._broadcast(out, shape[1:])
        batch_sizes = {s[0] for s in shapes} - {None}
        return (batch_sizes.pop() if batch_sizes else None,) + out

    def _check_call_inputs(self, inputs: Any, check_batch: bool = True) -> None:
        """Cheap per-call checks: a list of the right length with equal batch sizes."""
        if not isinstance(inputs, (list, tuple)):
            shape = tuple(getattr(inputs, "shape", ()))
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} must be called on a list of "
                f"tensors, got a single input of shape {shape}."
            )
        n = len(inputs)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r} needs {self._count_phrase()}, "
                f"got {n}."
            )
        if not check_batch:
            return
        batch = inputs[0].shape[0]
        for x in inputs[1:]:
            if x.shape[0] != batch:
                raise ValueError(
                    f"{type(self).__name__} layer {self.name!r} cannot merge tensors with "
                    f"different batch sizes; got shapes {[tuple(t.shape) for t in inputs]}."
                )

    _uses_masks = False  # whether masks change the merged values (Multiply, Maximum, Minimum)

    def call(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        self._check_call_inputs(inputs)
        rank = inputs[0].dim()
        if self._reshape_required or any(x.dim() != rank for x in inputs):
            # Lower-rank inputs get size-1 axes after the batch axis. As in Keras, these
            # reshaped copies carry no masks, so masks then do not affect the values.
            rank = max(x.dim() for x in inputs)
            aligned = [x.reshape(x.shape[:1] + (1,) * (rank - x.dim()) + x.shape[1:])
                       for x in inputs]
            masks = None
        else:
            aligned = inputs
            masks = _masks_of(inputs) if self._uses_masks else None
        try:
            return self._merge(aligned, masks)
        except RuntimeError:
            shapes = [tuple(x.shape) for x in inputs]
            for shape in shapes[1:]:  # raises the clear error when shapes don't broadcast
                self._broadcast(shapes[0][1:], shape[1:])
            raise

    def _merge(self, inputs: Sequence[torch.Tensor], masks: list | None) -> torch.Tensor:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:  # the masks the inputs carry (the common, unmasked case exits early)
            if not isinstance(inputs, (list, tuple)):
                return None
            out = None
            for x in inputs:
                m = getattr(x, "_keras_mask", None)
                if m is None:
                    return None
                out = m if out is None else torch.logical_or(out, m)
            return out
        if not isinstance(mask, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r}: mask must be a list with one "
                f"entry (a mask or None) per input, got {type(mask).__name__}."
            )
        if isinstance(inputs, (list, tuple)) and len(mask) != len(inputs):
            raise ValueError(
                f"{type(self).__name__} layer {self.name!r}: got {len(mask)} masks for "
                f"{len(inputs)} inputs; give one mask (or None) per input."
            )
        if any(m is None for m in mask):
            return None
        out = mask[0]
        for m in mask[1:]:
            out = torch.logical_or(out, m)
        return out


class Add(_Merge):
    """Adds a list of tensors element-wise.

    Args:
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of at least 2 tensors of broadcast-compatible shapes with equal batch
        sizes; output: their broadcast shape.

    Example:
        >>> Add()([torch.ones(2, 3), torch.full((2, 3), 2.0)])
        tensor([[3., 3., 3.],
                [3., 3., 3.]])
    """

    def _merge(self, inputs: Sequence[torch.Tensor], masks: list | None) -> torch.Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """Subtracts two tensors element-wise: ``inputs[0] - inputs[1]``.

    Args:
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of exactly 2 broadcast-compatible tensors; output: their broadcast shape.

    Example:
        >>> Subtract()([torch.ones(2, 3), torch.ones(2, 3)]).shape
        torch.Size([2, 3])
    """

    _max_inputs = 2

    def _merge(self, inputs: Sequence[torch.Tensor], masks: list | None) -> torch.Tensor:
        return inputs[0] - inputs[1]


class Average(_Merge):
    """Averages a list of tensors element-wise.

    Args:
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of at least 2 broadcast-compatible tensors; output: their broadcast shape.

    Example:
        >>> Average()([torch.zeros(1, 2), torch.full((1, 2), 4.0)])
        tensor([[2., 2.]])
    """

    def _merge(self, inputs: Sequence[torch.Tensor], masks: list | None) -> torch.Tensor:
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Multiply(_Merge):
    """Multiplies a list of tensors element-wise.

    With masks on the inputs (``(batch, time)``), masked entries count as 1; when every input
    is masked, entries masked in all of them are 0 (as in Keras).

    Args:
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of at least 2 broadcast-compatible tensors; output: their broadcast shape.

    Example:
        >>> Multiply()([torch.full((1, 2), 3.0), torch.full((1, 2), 2.0)])
        tensor([[6., 6.]])
    """

    _uses_masks = True

    def _merge(self, inputs: Sequence[torch.Tensor], masks: list | None) -> torch.Tensor:
        if masks is None or all(m is None for m in masks):
            out = inputs[0]
            for x in inputs[1:]:
                out = out * x
            return out
        every_masked = all(m is not None for m in masks)
        out, out_mask = None, None
        for x, mask in zip(inputs, masks):
            if mask is not None:
                mask = mask.unsqueeze(-1)
                x = x.masked_fill(~mask, 1.0)
                if every_masked:
                    out_mask = mask if out_mask is None else out_mask | mask
            out = x if out is None else out * x
        return out.masked_fill(~out_mask, 0.0) if every_masked else out


class _MaskedExtremum(_Merge):
    """Maximum/Minimum: masked entries do not take part (Keras's or-mask merge)."""

    _uses_masks = True
    _op = staticmethod(torch.maximum)

    def _merge(self, inputs: Sequence[torch.Tensor], masks: list | None) -> torch.Tensor:
        op = self._op
        out = inputs[0]
        if masks is None or all(m is None for m in masks):
            for x in inputs[1:]:
                out = op(out, x)
            return out
        out_mask = None if masks[0] is None else masks[0].unsqueeze(-1)
        for x, mask in zip(inputs[1:], masks[1:]):
            if mask is not None:
                mask = mask.unsqueeze(-1)
                x = torch.where(mask, x, out)
            if out_mask is not None:
                out = torch.where(out_mask, out, x)
            out_mask = out_mask | mask if mask is not None and out_mask is not None else None
            out = op(out, x)
        return out


class Maximum(_MaskedExtremum):
    """Element-wise maximum of a list of tensors (masked entries are skipped).

    Args:
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of at least 2 broadcast-compatible tensors; output: their broadcast shape.

    Example:
        >>> Maximum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])])
        tensor([[3., 5.]])
    """

    _op = staticmethod(torch.maximum)


class Minimum(_MaskedExtremum):
    """Element-wise minimum of a list of tensors (masked entries are skipped).

    Args:
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of at least 2 broadcast-compatible tensors; output: their broadcast shape.

    Example:
        >>> Minimum()([torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]])])
        tensor([[1., 2.]])
    """

    _op = staticmethod(torch.minimum)


def _check_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class Concatenate(_Merge):
    """Concatenates a list of tensors along ``axis``.

    Args:
        axis: int, the axis to concatenate on (default -1); negative values count from the end.
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Shape:
        Input: a list of at least 2 tensors of the same rank whose shapes agree except on
        ``axis``; output: that shape with the ``axis`` sizes summed.

    Example:
        >>> Concatenate(axis=1)([torch.zeros(2, 3, 4), torch.zeros(2, 5, 4)]).shape
        torch.Size([2, 8, 4])
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        if not _check_int(axis):
            raise ValueError(f"axis must be an integer, got {axis!r}")
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _checked_shapes(self, input_shape: Any) -> tuple[list, int]:
        shapes = self._check_shape_list(input_shape, check_batch=False)
        ranks = {len(s) for s in shapes}
        if len(ranks) > 1:
            raise ValueError(
                f"Concatenate layer {self.name!r} needs inputs of the same rank, got shapes "
                f"{shapes}."
            )
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(
                f"Concatenate layer {self.name!r}: axis={self.axis} is out of range for "
                f"inputs of rank {rank} (valid: {-rank} to {rank - 1}); got shapes {shapes}."
            )
        axis = self.axis % rank
        for shape in shapes[1:]:
            for i, (a, b) in enumerate(zip(shapes[0], shape)):
                if i != axis and a is not None and b is not None and a != b:
                    raise ValueError(
                        f"Concatenate layer {self.name!r} needs inputs whose shapes match "
                        f"except on the concatenation axis (axis={self.axis}); got shapes "
                        f"{shapes[0]} and {shape}, which differ on axis {i} ({a} vs {b})."
                    )
        return shapes, axis

    def build(self, input_shape: list) -> None:
        self._checked_shapes(input_shape)

    def call(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        self._check_call_inputs(inputs, check_batch=False)
        try:
            return torch.cat(list(inputs), dim=self.axis)
        except (RuntimeError, IndexError):
            self._checked_shapes([tuple(x.shape) for x in inputs])
            raise

    def compute_output_shape(self, input_shape: list) -> tuple:
        shapes, axis = self._checked_shapes(input_shape)
        out = list(shapes[0])
        sizes = [s[axis] for s in shapes]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            if not isinstance(inputs, (list, tuple)):
                return None
            mask = _masks_of(inputs)
        if not isinstance(mask, (list, tuple)) or (
                isinstance(inputs, (list, tuple)) and len(mask) != len(inputs)):
            raise ValueError(
                f"Concatenate layer {self.name!r}: mask must be a list with one entry (a mask "
                f"or None) per input, got {mask!r}."
            )
        if all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                full.append(torch.ones(x.shape, dtype=torch.bool, device=x.device))
            elif m.dim() < x.dim():
                full.append(m.unsqueeze(-1).expand(x.shape))
            else:
                full.append(m)
        return torch.cat(full, dim=self.axis).any(dim=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Batch-wise dot product of two tensors along the given axes.

    For inputs ``x`` of shape ``(B, ..., n, ...)`` and ``y`` of shape ``(B, ..., n, ...)``, the
    axes ``axes[0]`` of ``x`` and ``axes[1]`` of ``y`` (both of size ``n``) are summed over;
    the output has ``x``'s remaining axes followed by ``y``'s remaining non-batch axes, and
    shape ``(B, 1)`` when nothing remains.

    Args:
        axes: int (the same axis in both inputs) or a pair of ints; never the batch axis 0.
            Negative values count from the end of each input.
        normalize: L2-normalise both inputs along the dot axes first, so that the output is
            the cosine similarity (default False).
        **kwargs: Layer arguments (``name``, ``dtype``, ...).

    Example:
        >>> Dot(axes=1)([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[3.],
                [3.]])
    """

    _max_inputs = 2

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs: Any) -> None:
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(_check_int(a) for a in axes):
                raise ValueError(
                    f"axes must be an integer or a pair of integers (one axis per input), "
                    f"got {axes!r}"
                )
            axes = tuple(int(a) for a in axes)
        elif _check_int(axes):
            axes = int(axes)
        else:
            raise TypeError(
                f"axes must be an integer or a pair of integers (one axis per input), got "
                f"{axes!r} (type {type(axes).__name__})"
            )
        super().__init__(**kwargs)
        self.axes = axes
        self.normalize = bool(normalize)

    def _axes_for(self, shape1: tuple, shape2: tuple) -> tuple[int, int]:
        """Non-negative dot axes for inputs of these shapes, with clear errors."""
        shape1, shape2 = tuple(shape1), tuple(shape2)
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        shapes = (shape1, shape2)
        out = []
        for which, (axis, shape) in enumerate(zip(pair, shapes)):
            rank = len(shape)
            if rank < 2:
                raise ValueError(
                    f"Dot layer {self.name!r} needs inputs of rank >= 2 (batch, ...), got "
                    f"shapes {shape1} and {shape2}."
                )
            if not -rank <= axis < rank:
                raise ValueError(
                    f"Dot layer {self.name!r}: axes={self.axes!r} is out of range for input "
                    f"{which} of shape {shape} (valid: 1 to {rank - 1}, or {-rank + 1} to -1)."
                )
            axis %= rank
            if axis == 0:
                raise ValueError(
                    f"Dot layer {self.name!r}: axes={self.axes!r} includes the batch axis 0 of "
                    f"input {which}; the dot product is taken per sample, over axes >= 1."
                )
            out.append(axis)
        a, b = shape1[out[0]], shape2[out[1]]
        if a is not None and b is not None and a != b:
            raise ValueError(
                f"Dot layer {self.name!r} got incompatible shapes {shape1} and {shape2}: axis "
                f"{out[0]} of the first has size {a} but axis {out[1]} of the second has size "
                f"{b}; the dot axes must have equal sizes."
            )
        return out[0], out[1]

    def build(self, input_shape: list) -> None:
        shapes = self._check_shape_list(input_shape)
        self._axes_for(*shapes)

    def call(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        self._check_call_inputs(inputs)
        x, y = inputs
        ax, ay = self._axes_for(x.shape, y.shape)
        if self.normalize:
            x = _l2_normalize(x, ax)
            y = _l2_normalize(y, ay)
        x = x.movedim(ax, -1)
        y = y.movedim(ay, 1)
        kept_x, kept_y = x.shape[1:-1], y.shape[2:]
        out = torch.bmm(x.reshape(x.shape[0], -1, x.shape[-1]),
                        y.reshape(y.shape[0], y.shape[1], -1))
        if not kept_x and not kept_y:
            return out.reshape(out.shape[0], 1)
        return out.reshape(x.shape[:1] + kept_x + kept_y)

    def compute_output_shape(self, input_shape: list) -> tuple:
        shape1, shape2 = self._check_shape_list(input_shape)
        ax, ay = self._axes_for(shape1, shape2)
        out = [d for i, d in enumerate(shape1) if i != ax]
        out += [d for i, d in enumerate(shape2) if i not in (0, ay)]
        if len(out) == 1:
            out.append(1)
        return tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x: torch.Tensor, axis: int) -> torch.Tensor:
    """``x / max(||x||, epsilon)`` along ``axis``, written as Keras does (x * rsqrt)."""
    inv_norm = torch.rsqrt(x.square().sum(dim=axis, keepdim=True))
    return x * inv_norm.clamp(max=1.0 / _config.epsilon())


# ------------------------------------------------------------------ functional forms
def add(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Add(**kwargs)(inputs)``: element-wise sum of a list of tensors.

    Example:
        >>> add([torch.ones(1, 2), torch.ones(1, 2)])
        tensor([[2., 2.]])
    """
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Subtract(**kwargs)(inputs)``: ``inputs[0] - inputs[1]``.

    Example:
        >>> subtract([torch.ones(1, 2), torch.ones(1, 2)])
        tensor([[0., 0.]])
    """
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Multiply(**kwargs)(inputs)``: element-wise product of a list of tensors.

    Example:
        >>> multiply([torch.full((1, 2), 2.0), torch.full((1, 2), 3.0)])
        tensor([[6., 6.]])
    """
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Average(**kwargs)(inputs)``: element-wise mean of a list of tensors.

    Example:
        >>> average([torch.zeros(1, 2), torch.full((1, 2), 2.0)])
        tensor([[1., 1.]])
    """
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Maximum(**kwargs)(inputs)``: element-wise maximum of a list of tensors.

    Example:
        >>> maximum([torch.tensor([[1.0, 4.0]]), torch.tensor([[2.0, 3.0]])])
        tensor([[2., 4.]])
    """
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``Minimum(**kwargs)(inputs)``: element-wise minimum of a list of tensors.

    Example:
        >>> minimum([torch.tensor([[1.0, 4.0]]), torch.tensor([[2.0, 3.0]])])
        tensor([[1., 3.]])
    """
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: Sequence[Any], axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis, **kwargs)(inputs)``.

    Example:
        >>> concatenate([torch.zeros(2, 3), torch.zeros(2, 1)]).shape
        torch.Size([2, 4])
    """
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: Sequence[Any], axes: int | Sequence[int] = -1, **kwargs: Any) -> Any:
    """``Dot(axes, **kwargs)(inputs)`` (pass ``normalize=True`` for cosine similarity).

    Example:
        >>> dot([torch.ones(2, 3), torch.ones(2, 3)])
        tensor([[3.],
                [3.]])
    """
    return Dot(axes=axes, **kwargs)(inputs)
