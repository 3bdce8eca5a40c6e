"""Data for fit/evaluate/predict: conversion, checks, splits and batching.

Who owns what:
- :func:`to_tensors` converts user arrays to tensors **once** (float64 → float32, integer
  labels kept integer), checking they are finite and of one length.
- :func:`split_validation` takes the **last** fraction, before any shuffling (Keras).
- :func:`class_weight_to_sample_weight` turns ``class_weight`` into per-sample weights.
- :class:`ArrayBatcher` places the data on the device once (or pins it and copies each batch
  without blocking when it does not fit) and yields batches: one ``randperm`` per epoch drives
  the order; the last partial batch is kept. This is the fast path for in-memory data.
- Everything else is a *batch source*: :func:`open_source` recognises torch ``DataLoader``s,
  map-style and iterable torch ``Dataset``s, ``PyDataset``s, generators/iterators and other
  iterables and wraps them in a small ``*Source`` object that knows how to start a pass over
  the data. :class:`SourceBatcher` turns passes into epochs (``steps_per_epoch``, data that
  runs out, ``PyDataset`` epoch hooks) and converts each batch once (:class:`BatchConverter`:
  tensors, structure and shape checks, ``class_weight``, the move to the device).
  A ``TensorDataset`` is unwrapped into arrays (:func:`unwrap_tensor_dataset`) and takes the
  fast path.

Structures: ``x`` may be a tensor/array or a list/tuple/dict of them (for multi-input models);
``y`` and ``sample_weight`` likewise. Every leaf is sliced along axis 0. A batch from a source
is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (lists count as tuples; a dict is
``x``), as ``keras.utils.unpack_x_y_sample_weight`` reads it.
"""
from __future__ import annotations

import itertools
import math
import types
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
    split_at = _split_point(num_samples(arrays[0]), validation_split)
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
        shard: in a distributed run, the run (``distribution._Run``): ``batch_size`` is then the
            global batch; this rank yields its slice of each global batch, and the order is
            rank 0's permutation. Every rank must hold the same data (checked once).
    """

    def __init__(self, arrays: tuple, batch_size: int, *, shuffle: bool = False,
                 device: torch.device | None = None, steps: int | None = None,
                 carry_over: bool = False, shard: Any = None) -> None:
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
        self.shard = shard
        if shard is not None:
            x_leaves = tree_leaves(arrays[0])
            shard.check_same(
                "the data", {"samples": self.n, "batch_size": self.batch_size,
                             "steps": self.steps, "shuffle": float(self.shuffle),
                             "fingerprint": sum(float(t.sum(dtype=torch.float64))
                                                for t in x_leaves)},
                "Every rank must pass the same, complete data and the same arguments: each "
                "rank takes its own slice of every global batch (batch_size is the global "
                "batch). Do not split the data per rank yourself.")

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

    def start(self) -> None:
        """Called before a fit or an evaluation runs (nothing to do for arrays)."""

    def ready(self) -> bool:
        """Whether another epoch can be drawn (always, for arrays)."""
        return True

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
        if self.shard is not None:
            yield from self._sharded_pass(steps)
            return
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

    def _sharded_pass(self, steps: int) -> Iterator[tuple]:
        """This rank's slices of the global batches (the shard records each slice)."""
        arrays, bs, n, shard = self.arrays, self.batch_size, self.n, self.shard
        perm = shard.permutation(n, arrays_device(arrays)) if self.shuffle else None
        for i in range(steps):
            start, stop = shard.split(i * bs, min((i + 1) * bs, n))
            if perm is None:
                batch = tuple(tree_map(lambda t: t[start:stop], a) for a in arrays)
            else:
                idx = perm[start:stop]
                batch = tuple(tree_map(lambda t: t.index_select(0, idx), a) for a in arrays)
            yield self._to_device(batch)


def arrays_device(arrays: tuple) -> torch.device:
    leaves = [t for a in arrays for t in tree_leaves(a)]
    return leaves[0].device if leaves else torch.device("cpu")


# ===================================================================== batch sources
_END = object()  # "no batch": a pass ran out, or nothing is buffered


def _is_py_dataset(data: Any) -> bool:
    from ..utils.py_dataset import PyDataset

    if isinstance(data, PyDataset):
        return True
    # keras.utils.PyDataset / Sequence subclasses are read the same way.
    return any(c.__name__ in ("PyDataset", "Sequence") and "keras" in c.__module__
               for c in type(data).__mro__)


def is_batch_source(data: Any) -> bool:
    """Whether ``data`` yields batches itself (DataLoader, Dataset, PyDataset, generator,
    iterator or other iterable) rather than being arrays or a nest of arrays."""
    if data is None or isinstance(data, (torch.Tensor, np.ndarray, list, tuple, Mapping,
                                         str, bytes, range, set, frozenset)):
        return False
    if hasattr(data, "__array__") or hasattr(data, "__array_interface__"):
        return False  # pandas objects and other array-likes
    return (_is_py_dataset(data) or isinstance(data, torch.utils.data.Dataset)
            or hasattr(data, "__iter__") or hasattr(data, "__next__"))


def is_one_shot(data: Any) -> bool:
    """Whether ``data`` is a generator/iterator: a source that can be read only once."""
    return is_batch_source(data) and hasattr(data, "__next__") and not _is_py_dataset(data) \
        and not isinstance(data, (torch.utils.data.Dataset, torch.utils.data.DataLoader))


def describe_source(data: Any) -> str:
    """``'a generator'``, ``'a torch DataLoader'``, ... for messages."""
    if isinstance(data, types.GeneratorType):
        return "a generator"
    if isinstance(data, torch.utils.data.DataLoader):
        return "a torch DataLoader"
    if _is_py_dataset(data):
        return "a PyDataset"
    if isinstance(data, torch.utils.data.IterableDataset):
        return "a torch IterableDataset"
    if isinstance(data, torch.utils.data.Dataset):
        return "a torch Dataset"
    if hasattr(data, "__next__"):
        return "an iterator"
    return f"an iterable ({type(data).__name__})"


def unwrap_tensor_dataset(x: Any, y: Any, sample_weight: Any, method: str) -> tuple:
    """A plain ``TensorDataset`` holds arrays: return them as ``(x, y, sample_weight)`` so that
    it takes the array fast path (same batches, same shuffling as the arrays would get)."""
    if type(x) is not torch.utils.data.TensorDataset:
        return x, y, sample_weight
    _refuse_targets(describe_source(x), y, sample_weight, method)
    tensors = tuple(x.tensors)
    if not 1 <= len(tensors) <= 3:
        raise ValueError(
            f"The TensorDataset given to {method}() holds {len(tensors)} tensors; it must hold "
            "x, (x, y) or (x, y, sample_weight). Group several inputs in a dict or list "
            "of arrays instead."
        )
    return tensors + (None,) * (3 - len(tensors))


def _refuse_targets(kind: str, y: Any, sample_weight: Any, method: str,
                    argument: str = "x") -> None:
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(
                f"{method}() got {argument} as {kind} and {name}; {kind} must provide the "
                f"{'targets' if name == 'y' else 'sample weights'} itself, as batches "
                f"(x, y) or (x, y, sample_weight). Remove the {name} argument."
            )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def unpack_batch(batch: Any, where: str) -> tuple:
    """``(x, y, sample_weight)`` from a batch ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (a list counts as a tuple, a dict is ``x``)."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if 1 <= len(batch) <= 3:
        return tuple(batch) + (None,) * (3 - len(batch))
    raise ValueError(
        f"{_cap(where)} is a tuple of {len(batch)} elements; a batch must be x, (x,), (x, y) or "
        "(x, y, sample_weight). For several inputs group them: ((x1, x2), y) or "
        "({'input_a': x1, 'input_b': x2}, y)."
    )


# ------------------------------------------------------------------------ the sources
class _Source:
    """What :class:`SourceBatcher` needs from a source: ``new_pass()`` (an iterator of raw
    batches), ``num_batches`` (None if unknown), ``one_shot``, ``kind`` (for messages),
    ``index`` (position of the last batch, for messages) and the epoch hooks."""

    one_shot = False
    num_batches: int | None = None
    shard: Any = None          # distributed run: orders are drawn by rank 0 (see permutation)
    pre_sharded = False        # a DataLoader whose sampler gives each rank its own samples

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.index: int | None = None

    def new_pass(self) -> Iterator:
        raise NotImplementedError

    def permutation(self, n: int) -> torch.Tensor:
        """One ``randperm(n)``; in a distributed run rank 0's, on every rank."""
        if self.shard is not None:
            return self.shard.permutation(n, torch.device("cpu"))
        return torch.randperm(n)

    def start(self) -> None:
        """A fit or an evaluation begins."""

    def epoch_begin(self) -> None:
        """An epoch (or an evaluation run) begins."""

    def epoch_end(self) -> None:
        """An epoch (or an evaluation run) ends."""


class _IteratorSource(_Source):
    """A generator or iterator: one pass only, consumed across epochs."""

    one_shot = True

    def __init__(self, iterator: Iterator, kind: str) -> None:
        super().__init__(kind)
        self.iterator = iterator

    def new_pass(self) -> Iterator:
        return self.iterator


class _IterableSource(_Source):
    """A DataLoader (or any re-iterable): each pass is ``iter(data)``, its batches as given."""

    def __init__(self, iterable: Any, kind: str) -> None:
        super().__init__(kind)
        self.iterable = iterable
        try:
            self.num_batches = len(iterable)
        except TypeError:  # an IterableDataset without __len__
            self.num_batches = None
        self._passes = 0

    def new_pass(self) -> Iterator:
        if self.pre_sharded and self.shard is not None:
            # DistributedSampler: a new order per pass, as torch's recipe does by hand.
            set_epoch = getattr(_distributed_sampler(self.iterable), "set_epoch", None)
            if set_epoch is not None:
                set_epoch(self._passes)
        self._passes += 1
        return iter(self.iterable)


def _distributed_sampler(loader: Any) -> Any:
    """The DistributedSampler behind a DataLoader, or None."""
    if not isinstance(loader, torch.utils.data.DataLoader):
        return None
    from torch.utils.data.distributed import DistributedSampler

    for sampler in (getattr(loader, "sampler", None),
                    getattr(getattr(loader, "batch_sampler", None), "sampler", None)):
        if isinstance(sampler, DistributedSampler):
            return sampler
    return None


class _PyDatasetSource(_Source):
    """A PyDataset: batch indices in order (or shuffled per pass), Keras's epoch hooks."""

    def __init__(self, dataset: Any, shuffle: bool) -> None:
        super().__init__("a PyDataset")
        self.dataset = dataset
        self.num_batches = dataset.num_batches
        if self.num_batches is not None and self.num_batches < 1:
            raise ValueError(
                f"The PyDataset {type(dataset).__name__} has no batches (len {self.num_batches})."
            )
        self.shuffle = bool(shuffle) and self.num_batches is not None

    def new_pass(self) -> Iterator:
        if self.num_batches is None:
            indices: Any = itertools.count()
        elif self.shuffle:
            indices = self.permutation(self.num_batches).tolist()
        else:
            indices = range(self.num_batches)
        for index in indices:
            self.index = index
            yield self.dataset[index]

    def first(self) -> Any:
        self.index = 0
        return self.dataset[0]

    # Keras 3 calls on_epoch_end once more whenever fit/evaluate (or a validation) starts.
    def start(self) -> None:
        self.dataset.on_epoch_end()

    def epoch_begin(self) -> None:
        self.dataset.on_epoch_begin()

    def epoch_end(self) -> None:
        self.dataset.on_epoch_end()


class _MapDatasetSource(_Source):
    """A map-style torch Dataset of samples: batched here (``batch_size``), the sample order
    drawn with one ``randperm`` per pass when shuffling (as for arrays)."""

    def __init__(self, dataset: Any, batch_size: int, shuffle: bool,
                 indices: Any = None) -> None:
        super().__init__("a torch Dataset")
        self.dataset = dataset
        if indices is None:
            try:
                indices = range(len(dataset))
            except TypeError:
                raise TypeError(
                    f"The torch Dataset {type(dataset).__name__} has no __len__, so it cannot "
                    "be batched by index. Define __len__, or make it an IterableDataset, or "
                    "wrap it in a DataLoader."
                ) from None
        if len(indices) == 0:
            raise ValueError(f"The torch Dataset {type(dataset).__name__} is empty.")
        self.indices = indices
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.num_batches = math.ceil(len(indices) / batch_size)

    def new_pass(self) -> Iterator:
        n, bs = len(self.indices), self.batch_size
        order: Any = self.permutation(n).tolist() if self.shuffle else range(n)
        for start in range(0, n, bs):
            yield self._collate([self.indices[i] for i in order[start:start + bs]])

    def first(self) -> Any:
        self.index = 0
        return self._collate(list(self.indices[:self.batch_size]))

    def split(self, validation_split: float,
              val_batch_size: int) -> tuple["_MapDatasetSource", "_MapDatasetSource"]:
        split_at = _split_point(len(self.indices), validation_split)
        return (_MapDatasetSource(self.dataset, self.batch_size, self.shuffle,
                                  self.indices[:split_at]),
                _MapDatasetSource(self.dataset, val_batch_size, False, self.indices[split_at:]))

    def _collate(self, indices: list) -> Any:
        get_many = getattr(self.dataset, "__getitems__", None)
        items = get_many(indices) if get_many is not None else [self.dataset[i] for i in indices]
        try:
            return torch.utils.data.default_collate(items)
        except (RuntimeError, TypeError) as exc:
            shown = indices[:5] + (["..."] if len(indices) > 5 else [])
            raise ValueError(
                f"The samples {shown} of the torch Dataset {type(self.dataset).__name__} could "
                f"not be stacked into a batch: {exc}. Every sample must have the same "
                "structure and shapes; for other layouts pass a DataLoader with a collate_fn."
            ) from None


def _split_point(n: int, validation_split: float) -> int:
    if not isinstance(validation_split, (int, float)) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}")
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"validation_split={validation_split} with {n} samples leaves {split_at} for "
            f"training and {n - split_at} for validation; both need at least one sample. "
            "Use more data or another validation_split."
        )
    return split_at


def open_source(data: Any, y: Any = None, sample_weight: Any = None, *, method: str,
                argument: str = "x", batch_size: Any = None, shuffle: bool = False,
                batch_size_argument: str = "batch_size",
                default_batch_size: int = 32) -> _Source:
    """Wrap a batch source (see :func:`is_batch_source`) for :class:`SourceBatcher`.

    ``batch_size`` is used by torch Datasets (default ``default_batch_size``) and refused for
    sources that make their own batches (DataLoader, PyDataset, generators), as are ``y`` and
    ``sample_weight``. ``shuffle`` reorders the samples of a map-style Dataset and the batches
    of a PyDataset each pass; other sources keep their own order.
    """
    kind = describe_source(data)
    _refuse_targets(kind, y, sample_weight, method, argument)
    batches_itself = not isinstance(data, torch.utils.data.Dataset) or _is_py_dataset(data)
    if batches_itself and batch_size is not None:
        raise ValueError(
            f"{method}() got {batch_size_argument}={batch_size!r} with {argument} as {kind}, "
            f"which makes its own batches, so {batch_size_argument} would have no effect. "
            f"Remove {batch_size_argument} (set the batch size where the batches are made)."
        )
    if _is_py_dataset(data):
        return _PyDatasetSource(data, shuffle)
    if isinstance(data, torch.utils.data.DataLoader):
        return _IterableSource(data, kind)
    if isinstance(data, torch.utils.data.Dataset):
        size = _positive_batch_size(batch_size, batch_size_argument, default_batch_size)
        if isinstance(data, torch.utils.data.IterableDataset):
            return _IterableSource(torch.utils.data.DataLoader(data, batch_size=size), kind)
        return _MapDatasetSource(data, size, shuffle)
    if is_one_shot(data):
        return _IteratorSource(data, kind)
    return _IterableSource(data, kind)


def _positive_batch_size(batch_size: Any, argument: str, default: int) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"{argument} must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def split_source(source: _Source, validation_split: float, *,
                 val_batch_size: Any = None, argument: str = "x"
                 ) -> tuple[_Source, _Source]:
    """Split off the last ``validation_split`` of a map-style Dataset (before shuffling, as
    for arrays); other sources refuse."""
    if not isinstance(source, _MapDatasetSource):
        raise ValueError(
            f"validation_split is only supported for arrays, tensors and map-style torch "
            f"Datasets; {argument} is {source.kind}, which cannot be split. Pass "
            "validation_data=... with separate validation batches instead."
        )
    size = _positive_batch_size(val_batch_size, "validation_batch_size", source.batch_size)
    return source.split(validation_split, size)


# ------------------------------------------------------------------- batch conversion
def _signature(data: Any) -> Any:
    """Cheap comparable summary: nesting, per-sample shapes and dtypes."""
    if isinstance(data, torch.Tensor):
        return data.shape[1:], data.dtype
    if isinstance(data, Mapping):
        return tuple((k, _signature(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return ("seq",) + tuple(_signature(v) for v in data)
    return data


def _leaves_with_paths(data: Any, path: str) -> list[tuple[str, torch.Tensor]]:
    if isinstance(data, Mapping):
        return [leaf for k, v in data.items() for leaf in _leaves_with_paths(v, f"{path}[{k!r}]")]
    if isinstance(data, (list, tuple)):
        return [leaf for i, v in enumerate(data) for leaf in _leaves_with_paths(v, f"{path}[{i}]")]
    return [] if data is None else [(path, data)]


def _describe_structure(data: Any) -> str:
    if data is None:
        return "absent"
    if isinstance(data, Mapping):
        return "a dict with keys " + repr(sorted(map(str, data)))
    if isinstance(data, (list, tuple)):
        return f"a {type(data).__name__} of {len(data)} (" + ", ".join(
            _describe_structure(v) for v in data) + ")"
    return "an array"


def _leaf_change(path: str, t: torch.Tensor, t0: torch.Tensor, x_changed: bool) -> str:
    """What changed in one element since the first batch ('' if nothing that matters).
    Per-sample sizes of x are the model's business; y/sample_weight may follow x's."""
    if t.dim() != t0.dim() or t.is_floating_point() != t0.is_floating_point():
        return f"shape {tuple(t.shape)} and dtype {t.dtype}"
    if path[0] != "x" and not x_changed and t.shape[1:] != t0.shape[1:]:
        return f"per-sample shape {tuple(t.shape[1:])} while x kept its shape"
    return ""


class BatchConverter:
    """Turns one raw batch into ``(x, y, sample_weight)`` tensors on the device, once.

    Checks every batch against the first one: the same structure, ranks and kinds of dtype
    (float/integer); per-sample shapes of ``y``/``sample_weight`` may only change together
    with those of ``x`` (variable-length sequences); ``x`` is checked by the model
    (``check_x``), whose declared ``None`` axes may vary. The detailed checks run only when a
    batch's shapes differ from the previous batch's.

    Args:
        class_weight: ``{class: weight}`` applied per batch (batches must then have no weights).
        require_y: batches must have targets (the compiled loss needs them).
        x_only: keep only ``x`` (predict).
        check_x: ``check_x(x, argument)`` raises when ``x`` does not fit the model.
    """

    def __init__(self, *, class_weight: Mapping | None = None, require_y: bool = False,
                 x_only: bool = False, check_x: Callable[[Any, str], None] | None = None) -> None:
        self.class_weight = class_weight
        self.require_y = require_y
        self.x_only = x_only
        self.check_x = check_x
        self.device: torch.device | None = None
        self._first: tuple | None = None
        self._previous: Any = None

    def __call__(self, raw: Any, where: str,
                 select: Callable[[tuple], tuple] | None = None) -> tuple:
        """The converted batch; ``select`` (distributed runs) picks this rank's part of it,
        after the checks and before the move to the device."""
        x, y, sw = unpack_batch(raw, where)
        if x is None:
            raise ValueError(f"{_cap(where)} has no inputs (x is None).")
        if self.x_only:
            y = sw = None
        elif y is None and self.require_y:
            raise ValueError(
                f"{_cap(where)} has no targets: it gave only x, but the compiled loss needs "
                "batches (x, y) or (x, y, sample_weight)."
            )
        try:
            x, y, sw = to_tensors(x, y, sw, check_finite=False)
            for name, part in (("x", x), ("y", y), ("sample_weight", sw)):
                for leaf in tree_leaves(part):
                    # On the host only (no device sync); one sum per leaf, the element-wise
                    # check runs only when it is not finite.
                    if leaf.device.type == "cpu" and leaf.is_floating_point() \
                            and not math.isfinite(float(leaf.sum())):
                        _check_finite(leaf, name)
            if self.class_weight is not None:
                if sw is not None:
                    raise ValueError(
                        "it has sample weights and class_weight was given; use one of them."
                    )
                sw = class_weight_to_sample_weight(y, self.class_weight)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{_cap(where)}: {exc}") from None
        batch = (x, y, sw)
        signature = _signature(batch)
        if signature != self._previous:
            self._check(batch, where)
            self._previous = signature
        if select is not None:
            batch = select(batch)
        device = self.device
        if device is not None:
            batch = tuple(tree_map(lambda t: t if t.device == device else
                                   t.to(device, non_blocking=t.is_pinned()), part)
                          for part in batch)
        return batch

    def _check(self, batch: tuple, where: str) -> None:
        names = ("x", "y", "sample_weight")
        if self._first is None:
            self._first = (where, tuple(_describe_structure(p) for p in batch),
                           [_leaves_with_paths(p, n) for p, n in zip(batch, names)])
        first_where, structures, first_leaves = self._first
        for name, part, structure in zip(names, batch, structures):
            now = _describe_structure(part)
            if now != structure:
                raise ValueError(
                    f"{_cap(where)} has a different structure than {first_where}: {name} was "
                    f"{structure}, now {now}. Every batch must be laid out the same way."
                )
        leaves = [_leaves_with_paths(p, n) for p, n in zip(batch, names)]
        x_changed = any(t.shape[1:] != t0.shape[1:]
                        for (_, t), (_, t0) in zip(leaves[0], first_leaves[0]))
        for part_leaves, part_first in zip(leaves, first_leaves):
            for (path, t), (_, t0) in zip(part_leaves, part_first):
                problem = _leaf_change(path, t, t0, x_changed)
                if problem:
                    raise ValueError(
                        f"{_cap(where)} changed {path}: {problem}, but {first_where} had "
                        f"shape {tuple(t0.shape)} and dtype {t0.dtype}. Every batch must have "
                        "the same rank and kind of dtype (float or integer) per element, and "
                        "only the batch axis (and axes of x the model leaves open) may vary."
                    )
        if self.check_x is not None:
            self.check_x(batch[0], f"x in {where}")


# ---------------------------------------------------------------------------- epochs
class SourceBatcher:
    """Epochs of converted batches from a source (the counterpart of :class:`ArrayBatcher`).

    Without ``steps`` an epoch is one pass over the source. With ``steps`` an epoch takes that
    many batches; with ``carry_over`` (training) the next epoch continues the same pass, and a
    new pass starts only when one is used up. A pass that ends mid-epoch ends that epoch early
    with a warning (Keras). A generator or iterator has only one pass: when it runs out,
    :meth:`ready` returns False (with a warning) and fit stops after the epoch in which it did.

    Args:
        source: from :func:`open_source`.
        convert: a :class:`BatchConverter`.
        steps: batches per epoch (``steps_per_epoch``/``validation_steps``/``steps``) or None.
        steps_argument: that argument's name, for messages.
        argument: what the user passed (``'x'``, ``'validation_data'``), for messages.
        role: ``'fit'``, ``'validation'``, ``'evaluate'`` or ``'predict'``.
        carry_over: continue a pass across epochs (training with ``steps``).
        shard: in a distributed run, the run (``distribution._Run``). Every rank reads the same
            batches (a source must give the same batches on every rank: Datasets and PyDatasets
            are shuffled by rank 0's order; seed a shuffling DataLoader identically on every
            rank) and keeps its slice of each. A DataLoader with a ``DistributedSampler`` gives
            each rank its own batches already: they are used as they come.
    """

    def __init__(self, source: _Source, convert: BatchConverter, *,
                 steps: int | None = None, steps_argument: str = "steps",
                 argument: str = "x", role: str = "fit", carry_over: bool = False,
                 shard: Any = None) -> None:
        self.source = source
        self.convert = convert
        self.one_shot = source.one_shot
        self.argument = argument
        self.role = role
        self.steps_argument = steps_argument
        num = source.num_batches
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
                raise ValueError(f"{steps_argument} must be a positive integer, got {steps!r}")
            if num is not None and steps > num:
                raise ValueError(
                    f"{steps_argument}={steps} asks for more batches than {argument} "
                    f"({source.kind}) holds ({num} batches). Use {steps_argument} <= {num}."
                )
        elif isinstance(source, _PyDatasetSource) and num is None:
            raise ValueError(
                f"{argument} is an infinite PyDataset (num_batches is None); pass "
                f"{steps_argument}=... to say how many batches make an epoch."
            )
        self._limit = None if steps is None else int(steps)
        self.steps = self._limit if steps is not None else num
        self._carry = carry_over or self.one_shot
        self._pass: Iterator | None = None
        self._pending: Any = _END
        self._drawn = 0
        self._epochs = 0
        self.exhausted = False
        self._warned = False
        self.shard = shard
        self._select = None
        self._agree = False
        if shard is not None:
            self._shard_setup(shard)

    # ------------------------------------------------------------------ distributed
    def _shard_setup(self, shard: Any) -> None:
        source = self.source
        source.shard = shard
        source.pre_sharded = _distributed_sampler(getattr(source, "iterable", None)) is not None
        self._select = self._own if source.pre_sharded else self._take
        # Sources of unknown length: all ranks agree each step that a batch came (no rank may
        # run a step that the others do not).
        self._agree = self.one_shot or source.num_batches is None
        self._seen = 0
        shard.check_same(
            f"{self.argument} ({source.kind})",
            {"batches": -1 if source.num_batches is None else source.num_batches,
             "steps": -1 if self._limit is None else self._limit},
            "Every rank must pass the same data source and the same arguments.")

    def _take(self, batch: tuple) -> tuple:
        """This rank's slice of a global batch."""
        size, lo = num_samples(batch[0]), self._seen
        start, stop = self.shard.split(lo, lo + size)
        self._seen += size
        return tuple(tree_map(lambda t: t[start - lo:stop - lo], part) for part in batch)

    def _own(self, batch: tuple) -> tuple:
        """A batch that is this rank's already (DistributedSampler)."""
        self.shard.own(num_samples(batch[0]))
        return batch

    def _agreed(self, raw: Any) -> Any:
        if not self._agree:
            return raw
        have = raw is not _END
        if self.shard.agree_any(not have) and have:
            raise RuntimeError(
                f"{_cap(self.argument)} ({self.source.kind}) ran out of batches on some ranks "
                "but not on this one. In a distributed run every rank must read the same "
                "batches (each keeps its slice of every batch).")
        return raw

    @property
    def device(self) -> torch.device | None:
        return self.convert.device

    @device.setter
    def device(self, device: torch.device) -> None:
        self.convert.device = torch.device(device)

    def sample_x(self) -> Any:
        """``x`` of the first batch (to build the model), without losing that batch."""
        first = getattr(self.source, "first", None)
        if first is not None:
            raw = first()
        else:
            raw = self._next_raw()
            if raw is _END:
                raise ValueError(f"{self.argument} ({self.source.kind}) yielded no batches.")
            self._pending = raw
        return self.convert(raw, self._where(0))[0]

    def start(self) -> None:
        """A fit or an evaluation begins (PyDataset: Keras's extra ``on_epoch_end``)."""
        self.source.start()

    def ready(self) -> bool:
        """Whether another epoch can start; False once a generator/iterator is used up."""
        if not self.one_shot:
            return True
        if self._pending is _END and not self.exhausted:
            self._pending = self._agreed(self._next_raw())
        if self._pending is not _END:
            return True
        if self._drawn == 0:
            raise ValueError(f"{self.argument} ({self.source.kind}) yielded no batches.")
        if not self._warned:
            self._warned = True
            warnings.warn(self._used_up_message(), stacklevel=3)
        return False

    def __iter__(self) -> Iterator[tuple]:
        if not self._carry and self._pending is _END:
            self._pass = None  # evaluation runs start a fresh pass
        self.source.epoch_begin()
        step = 0
        try:
            while self._limit is None or step < self._limit:
                pending = self._pending is not _END
                raw = self._next_raw()
                if raw is _END and self._limit is not None and step == 0 and not self.one_shot:
                    raw = self._next_raw()  # the previous pass ended with the last epoch
                if self._agree and not pending:  # a batch peeked by ready() was agreed there
                    raw = self._agreed(raw)
                if raw is _END:
                    if self._limit is not None:
                        self._ran_out(step)
                    break
                yield self.convert(raw, self._where(self._drawn - 1), self._select)
                step += 1
            if step == 0:
                raise ValueError(f"{self.argument} ({self.source.kind}) yielded no batches.")
        finally:
            self._epochs += 1
            self.source.epoch_end()

    def _next_raw(self) -> Any:
        if self._pending is not _END:
            raw, self._pending = self._pending, _END
            return raw
        if self.exhausted:
            return _END
        if self._pass is None:
            self._pass = self.source.new_pass()
            self._seen = 0
        raw = next(self._pass, _END)
        if raw is _END:
            self._pass = None
            self.exhausted = self.one_shot
        else:
            self._drawn += 1
        return raw

    def _where(self, count: int) -> str:
        index = self.source.index
        extra = f" (PyDataset index {index})" if isinstance(self.source, _PyDatasetSource) \
            else ""
        return f"batch {count}{extra} of {self.argument} ({self.source.kind})"

    def _ran_out(self, step: int) -> None:
        what = f"{self.argument} ({self.source.kind}) ran out of data after {step} of " \
               f"{self.steps_argument}={self._limit} batches"
        if not self.one_shot:
            tail = ("this epoch ends early and the next one starts a new pass. Make "
                    f"{self.steps_argument} divide the number of batches to avoid this."
                    if self._carry else "the results cover those batches.")
            warnings.warn(f"{what}; {tail}", stacklevel=3)
            return
        self._warned = True
        tail = {
            "fit": "training stops after this epoch. A generator used with steps_per_epoch "
                   "must yield at least steps_per_epoch * epochs batches (loop forever, e.g. "
                   "`while True:`).",
            "validation": "this validation uses those batches and later ones are skipped. "
                          "The generator must yield validation_steps batches per validation.",
        }.get(self.role, "the results cover those batches.")
        warnings.warn(f"{what}; {tail}", stacklevel=3)

    def _used_up_message(self) -> str:
        what = f"{self.argument} ({self.source.kind}) is used up after {self._drawn} batches"
        if self.role == "validation":
            return f"{what}; the remaining validations are skipped."
        return (f"{what} ({self._epochs} epoch(s)); training stops here. To train for more "
                "epochs pass steps_per_epoch with a generator that loops forever, or a source "
                "that can be iterated again (a torch DataLoader or a PyDataset).")
