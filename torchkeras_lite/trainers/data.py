"""In-memory data for fit/evaluate/predict: conversion, checks, splits and batching.

Who owns what:
- :func:`to_tensors` converts user arrays to tensors **once** (float64 → float32, integer
  labels kept integer), checking they are finite and of one length.
- :func:`split_validation` takes the **last** fraction, before any shuffling (Keras).
- :func:`class_weight_to_sample_weight` turns ``class_weight`` into per-sample weights.
- :class:`ArrayBatcher` places the data on the device once (or pins it and copies each batch
  without blocking when it does not fit) and yields batches: one ``randperm`` per epoch drives
  the order; the last partial batch is kept.

Structures: ``x`` may be a tensor/array or a list/tuple/dict of them (for multi-input models);
``y`` and ``sample_weight`` likewise. Every leaf is sliced along axis 0.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch

# Data up to this size is reordered once per epoch (then batches are free views);
# larger data is gathered batch by batch (no second copy of the data set in memory).
_PERMUTE_WHOLE_BYTES = 64 * 2**20


def tree_map(fn: Callable[[Any], Any], data: Any) -> Any:
    """Apply ``fn`` to every leaf of a nest of lists, tuples and dicts (None stays None)."""
    if data is None:
        return None
    if isinstance(data, torch.Tensor):
        return fn(data)
    if isinstance(data, Mapping):
        return {k: tree_map(fn, v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(tree_map(fn, v) for v in data)
    return fn(data)


def tree_leaves(data: Any) -> list:
    if data is None:
        return []
    if isinstance(data, Mapping):
        return [leaf for v in data.values() for leaf in tree_leaves(v)]
    if isinstance(data, (list, tuple)):
        return [leaf for v in data for leaf in tree_leaves(v)]
    return [data]


def _to_tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value.detach()
    else:
        try:
            array = np.asarray(value)
        except Exception as exc:  # pragma: no cover - numpy's own message is kept
            raise TypeError(f"{name} could not be converted to an array: {exc}") from None
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(
                f"{name} must be numeric (a numpy array or tensor), got dtype {array.dtype}. "
                "Encode strings or ragged lists as numbers first."
            )
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dtype == torch.float64:
        tensor = tensor.float()
    elif tensor.dtype == torch.bool:
        tensor = tensor.float()
    if tensor.dim() == 0:
        raise ValueError(f"{name} must have a batch axis, got a scalar.")
    return tensor


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    if tensor.is_floating_point():
        # One cheap reduction first; the element-wise check only runs when it fails (NaN/inf
        # present, or a sum that overflows).
        if bool(torch.isfinite(tensor.sum())):
            return
        finite = torch.isfinite(tensor)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(
                f"{name} contains {bad} NaN or infinite value(s) (shape {tuple(tensor.shape)}). "
                "Clean or impute them before training; NaN inputs give NaN losses."
            )


def to_tensors(x: Any, y: Any = None, sample_weight: Any = None, *,
               check_finite: bool = True) -> tuple:
    """Convert ``x``, ``y`` and ``sample_weight`` to tensors and check they agree in length."""
    tensors = []
    for name, data in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        converted = tree_map(lambda v, n=name: _to_tensor(v, n), data)
        if check_finite:
            for leaf in tree_leaves(converted):
                _check_finite(leaf, name)
        tensors.append(converted)
    lengths = {name: {int(leaf.shape[0]) for leaf in tree_leaves(t)}
               for name, t in zip(("x", "y", "sample_weight"), tensors)}
    all_lengths = set().union(*lengths.values())
    if len(all_lengths) > 1:
        described = ", ".join(f"{n} has {sorted(v)}" for n, v in lengths.items() if v)
        raise ValueError(
            f"x, y and sample_weight must have the same number of samples (axis 0); {described}. "
            "Make sure every array has one row per sample."
        )
    if sample_weight is not None:
        sw = tensors[2]
        if not isinstance(sw, torch.Tensor):
            raise TypeError("sample_weight must be a single array of per-sample weights.")
        if sw.dim() > 1 and not (sw.dim() == 2 and sw.shape[1] == 1):
            y_leaf = tree_leaves(tensors[1])
            if not y_leaf or tuple(sw.shape) != tuple(y_leaf[0].shape[: sw.dim()]):
                raise ValueError(
                    f"sample_weight must have shape (num_samples,), got {tuple(sw.shape)}."
                )
        tensors[2] = sw.float()
    return tuple(tensors)


def num_samples(data: Any) -> int:
    if isinstance(data, torch.Tensor):
        return int(data.shape[0])
    leaves = tree_leaves(data)
    if not leaves:
        raise ValueError("No data: x is empty or None.")
    return int(leaves[0].shape[0])


def split_validation(arrays: tuple, validation_split: float) -> tuple[tuple, tuple]:
    """Split off the **last** ``validation_split`` fraction (before shuffling), as Keras does."""
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise ValueError(
            f"validation_split must be a float in [0, 1), got {validation_split!r}"
        )
    n = num_samples(arrays[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} with {n} samples leaves "
            f"{split_at} for training and {n - split_at} for validation; both need at least "
            "one sample. Use more data or another validation_split."
        )
    train = tuple(tree_map(lambda t: t[:split_at], a) for a in arrays)
    val = tuple(tree_map(lambda t: t[split_at:], a) for a in arrays)
    return train, val


def class_weight_to_sample_weight(y: torch.Tensor, class_weight: Mapping[int, float]) -> torch.Tensor:
    """Per-sample weights from a ``{class: weight}`` dict (labels or one-hot/probabilities)."""
    if not isinstance(y, torch.Tensor):
        raise ValueError("class_weight needs a single label array y.")
    labels = y
    if labels.dim() > 1:
        labels = labels.argmax(-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    labels = torch.round(labels.double()).long() if labels.is_floating_point() else labels.long()
    if labels.dim() != 1:
        raise ValueError(
            f"class_weight needs labels of shape (n,), (n, 1) or one-hot (n, classes); "
            f"y has shape {tuple(y.shape)}."
        )
    classes = torch.unique(labels).tolist()
    for key in class_weight:
        if not isinstance(key, (int, np.integer)):
            raise ValueError(f"class_weight keys must be integer class indices, got {key!r}")
    lut = torch.ones(max(classes + [int(k) for k in class_weight]) + 1)
    for key, value in class_weight.items():
        if key >= 0:
            lut[int(key)] = float(value)
    return lut[labels.clamp(min=0)]


class ArrayBatcher:
    """Batches over in-memory tensors, on the device.

    Args:
        arrays: ``(x, y, sample_weight)`` structures of tensors (y and sample_weight may be None).
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: reorder samples each epoch (one ``randperm``).
        device: where the batches are needed.
        steps: if given, the number of batches per epoch (at most the available ones).
        carry_over: with ``steps``, continue each epoch where the previous one stopped (Keras's
            ``steps_per_epoch`` with arrays): a new pass over the data (and a new order) starts
            only when the previous pass is used up; a pass that runs out mid-epoch ends that
            epoch early with a warning.
    """

    def __init__(self, arrays: tuple, batch_size: int, *, shuffle: bool = False,
                 device: torch.device | None = None, steps: int | None = None,
                 carry_over: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.n = num_samples(arrays[0])
        self.arrays, self._copy_per_batch = self._place(arrays)
        nbytes = sum(t.numel() * t.element_size() for a in arrays for t in tree_leaves(a))
        self._permute_whole = nbytes <= _PERMUTE_WHOLE_BYTES
        available = math.ceil(self.n / self.batch_size)
        if steps is not None:
            if steps < 1:
                raise ValueError(f"steps must be a positive integer, got {steps!r}")
            if steps > available:
                raise ValueError(
                    f"steps={steps} asks for more batches than the data holds "
                    f"({self.n} samples / batch_size {self.batch_size} = {available} batches). "
                    f"Use steps <= {available}, or a generator that repeats."
                )
        self.steps = available if steps is None else int(steps)
        self._carry_over = carry_over and steps is not None
        self._pass: Iterator[tuple] | None = None

    def _place(self, arrays: tuple) -> tuple[tuple, bool]:
        if self.device.type == "cpu":
            return arrays, False
        leaves = [t for a in arrays for t in tree_leaves(a)]
        nbytes = sum(t.numel() * t.element_size() for t in leaves)
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if nbytes > 0.5 * free:
                pinned = tuple(tree_map(lambda t: t.pin_memory(), a) for a in arrays)
                return pinned, True
        return tuple(tree_map(lambda t: t.to(self.device), a) for a in arrays), False

    def __len__(self) -> int:
        return self.steps

    def _to_device(self, batch: tuple) -> tuple:
        if not self._copy_per_batch:
            return batch
        return tuple(tree_map(lambda t: t.to(self.device, non_blocking=True), b) for b in batch)

    def __iter__(self) -> Iterator[tuple]:
        if not self._carry_over:
            yield from self._one_pass(self.steps)
            return
        for step in range(self.steps):
            batch = next(self._pass, None) if self._pass is not None else None
            if batch is None and step == 0:
                self._pass = self._one_pass(math.ceil(self.n / self.batch_size))
                batch = next(self._pass)
            if batch is None:
                warnings.warn(
                    f"The data ran out after {step} of steps_per_epoch={self.steps} batches in "
                    "this epoch; the epoch ends early and the next one starts a new pass. Make "
                    "steps_per_epoch divide the number of batches to avoid this.",
                    stacklevel=2)
                self._pass = None
                return
            yield batch

    def _one_pass(self, steps: int) -> Iterator[tuple]:
        arrays = self.arrays
        bs = self.batch_size
        if not self.shuffle:
            for i in range(steps):
                yield self._to_device(tuple(tree_map(lambda t: t[i * bs:(i + 1) * bs], a)
                                            for a in arrays))
            return
        index_device = arrays_device(arrays)
        perm = torch.randperm(self.n, device=index_device)
        if self._permute_whole:
            shuffled = tuple(tree_map(lambda t: t.index_select(0, perm), a) for a in arrays)
            for i in range(steps):
                yield self._to_device(tuple(tree_map(lambda t: t[i * bs:(i + 1) * bs], a)
                                            for a in shuffled))
            return
        for i in range(steps):
            idx = perm[i * bs:(i + 1) * bs]
            yield self._to_device(tuple(tree_map(lambda t: t.index_select(0, idx), a)
                                        for a in arrays))


def arrays_device(arrays: tuple) -> torch.device:
    leaves = [t for a in arrays for t in tree_leaves(a)]
    return leaves[0].device if leaves else torch.device("cpu")
