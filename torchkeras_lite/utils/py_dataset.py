"""PyDataset (alias Sequence): a dataset of whole batches written in Python, as in Keras 3.

``fit``/``evaluate``/``predict`` read it through :mod:`torchkeras_lite.trainers.data`; this
module only defines the protocol a user subclasses.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterator


class PyDataset:
    """Base class for datasets that return one whole batch per index.

    Subclasses implement ``__len__`` (the number of batches; or the ``num_batches`` property,
    ``None`` meaning infinite) and ``__getitem__(index)``, which returns a batch: ``x``,
    ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (numpy arrays or tensors; ``x`` may be a
    list or dict for multi-input models). ``on_epoch_begin``/``on_epoch_end`` are called around
    every epoch, e.g. to reshuffle. As in Keras 3, fit and evaluate also call ``on_epoch_end``
    once before they start (and before every validation run).

    With ``fit(shuffle=True)`` (the default) the order of the batch indices is shuffled each
    pass (one ``torch.randperm``).

    Args:
        workers: accepted for Keras compatibility (default 1). Batches are loaded in the
            training thread, one at a time; for parallel loading use a
            ``torch.utils.data.DataLoader`` with ``num_workers``.
        use_multiprocessing: accepted for Keras compatibility (default False); see ``workers``.
        max_queue_size: accepted for Keras compatibility (default 10); see ``workers``.

    Example:
        >>> import math, numpy as np
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return math.ceil(len(self.x) / self.batch_size)
        ...     def __getitem__(self, index):
        ...         part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[part], self.y[part]
        >>> data = Batches(np.zeros((10, 3)), np.zeros((10, 1)), batch_size=4)
        >>> len(data), data[2][0].shape
        (3, (2, 3))
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch (``len(self)``), or ``None`` for an infinite dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ (the number of batches) or a "
            "num_batches property (None for an infinite dataset)."
        )

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index``."""
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(index) returning one batch."
        )

    def __iter__(self) -> Iterator[Any]:
        count = self.num_batches
        indices = itertools.count() if count is None else range(count)
        for index in indices:
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""


Sequence = PyDataset
