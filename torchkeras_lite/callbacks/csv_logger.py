"""CSVLogger: stream every epoch's logs to a CSV file."""
from __future__ import annotations

import collections.abc
import csv
import os
from typing import Any

import numpy as np

from .. import distribution
from .callback import Callback
from .monitor_callback import is_chief


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (
            isinstance(value, np.ndarray) and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (from 0), then the log keys in sorted order.

    The columns are fixed by the first epoch's keys. When that epoch has no ``val_`` keys,
    ``val_<key>`` columns are added anyway (filled with ``NA`` when validation did not run),
    as Keras does. Rows are flushed as they are written, so a killed run keeps its rows.
    In a distributed run rank 0 writes the file (the logs are the same on every rank).

    Args:
        filename: path of the CSV file.
        separator: field separator (default ``','``).
        append: add to an existing file (no second header) instead of overwriting it
            (default False).

    Example:
        >>> logger = CSVLogger("training.log")
        >>> # model.fit(x, y, epochs=5, callbacks=[logger])
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",",
                 append: bool = False) -> None:
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be a single character, got "
                             f"{separator!r}")
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: csv.DictWriter | None = None
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        self._close()
        self.writer = None
        self.keys = None
        if not is_chief():
            return
        mode = "w"
        self.append_header = True
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self.append_header = not f.readline()
            mode = "a"
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            dialect = type("_Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None
        distribution.barrier()  # distributed: the file is complete for every rank

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = None
