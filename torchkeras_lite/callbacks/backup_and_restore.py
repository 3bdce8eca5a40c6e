"""BackupAndRestore: resume an interrupted ``fit`` where it stopped.

Layout of ``backup_dir`` (private to this callback):

* ``checkpoint-<n>.weights.h5``: the model's weights and optimizer state, written with
  ``model.save_weights`` (Keras's ``.weights.h5`` format, written atomically);
* ``training_metadata.json``: ``{"epoch", "batch"}`` as in Keras, plus the name of the weights
  file it belongs to and torch's random number generator state.

Each backup writes a new weights file first and then replaces the metadata file atomically,
so the metadata is the commit point: a process killed at any moment leaves a metadata file
that names a complete weights file of the same step. Older weights files are removed after the
commit (the one before is kept with ``double_checkpoint=True``).
"""
from __future__ import annotations

import base64
import json
import os
import re
import warnings
from typing import Any

import torch

from .. import distribution
from .callback import Callback
from .monitor_callback import is_chief

_METADATA = "training_metadata.json"
_WEIGHTS = re.compile(r"^checkpoint-(\d+)\.weights\.h5$")
# Temporary files of saving.atomic_write left by a process killed while writing.
_LEFTOVER = re.compile(r"^\.(checkpoint-\d+\.weights\.h5|training_metadata\.json)\..*\.tmp$")


def _rng_state() -> dict:
    state = {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [base64.b64encode(s.numpy().tobytes()).decode("ascii")
                         for s in torch.cuda.get_rng_state_all()]
    return state


def _as_byte_tensor(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)


def _set_rng_state(state: dict | None) -> None:
    if not state:
        return
    torch.set_rng_state(_as_byte_tensor(state["torch"]))
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([_as_byte_tensor(s) for s in cuda])


class BackupAndRestore(Callback):
    """Back up the training state during ``fit`` and restore it when ``fit`` is run again
    after an interruption.

    At the start of ``fit`` the last backup in ``backup_dir`` (if any) is loaded: weights,
    optimizer state (so Adam's moments and step count continue), torch's random number
    generator state (so shuffling and dropout continue as if uninterrupted), and the epoch to
    start from. Training then runs the remaining epochs. When ``fit`` completes, the backup is
    deleted (``delete_checkpoint=True``); after a crash or a kill it stays for the next run.

    The model, its compile arguments and fit arguments must be the same when resuming.
    In a distributed run rank 0 writes the backup and every rank restores from it, so
    ``backup_dir`` must be on a filesystem all machines share.

    Args:
        backup_dir: folder for the backup, used by this callback only.
        save_freq: ``'epoch'`` (default): back up at the end of every epoch; or an integer N:
            back up every N batches (a resumed run restarts the interrupted epoch from its
            first batch, with the weights of that backup, as Keras does).
        double_checkpoint: keep the previous backup too, and fall back to it when the last one
            cannot be read (default False).
        delete_checkpoint: remove the backup when ``fit`` completes (default True).

    Example:
        >>> backup = BackupAndRestore(backup_dir="/tmp/backup")
        >>> # model.fit(x, y, epochs=10, callbacks=[backup])  # killed at epoch 4 ...
        >>> # model.fit(x, y, epochs=10, callbacks=[backup])  # ... runs epochs 5 to 10
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 double_checkpoint: bool = False, delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir must be a folder path, got "
                             f"{backup_dir!r}.")
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(
                "BackupAndRestore: save_freq must be 'epoch' or a positive integer (a number of "
                f"batches), got save_freq={save_freq!r}."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._metadata_path = os.path.join(self.backup_dir, _METADATA)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._save_count = 0
        self._last_entry: dict | None = None

    # ---------------------------------------------------------------------------- restore
    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._save_count = 0
        self._last_entry = None
        metadata = self._read_metadata()
        if metadata is None:
            return
        entries = [metadata]
        if self.double_checkpoint and metadata.get("previous"):
            entries.append(metadata["previous"])
        for i, entry in enumerate(entries):
            path = os.path.join(self.backup_dir, entry["weights"])
            try:
                self.model.load_weights(path)
            except (OSError, ValueError, KeyError) as e:
                if i + 1 == len(entries):
                    raise ValueError(
                        f"BackupAndRestore: cannot restore the backup {path!r} named by "
                        f"{self._metadata_path!r}: {e}. Delete {self.backup_dir!r} to start "
                        "training from scratch."
                    ) from e
                warnings.warn(f"BackupAndRestore: the last backup {path!r} cannot be read "
                              f"({e}); restoring the previous one.", stacklevel=2)
                continue
            _set_rng_state(entry.get("rng"))
            self._current_epoch = int(entry["epoch"])
            self._last_entry = entry
            self._save_count = int(metadata.get("save_count", 0))
            self.model._initial_epoch = self._current_epoch
            return

    def _read_metadata(self) -> dict | None:
        if not os.path.exists(self._metadata_path):
            return None
        try:
            with open(self._metadata_path, encoding="utf-8") as f:
                metadata = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(
                f"BackupAndRestore: the backup metadata {self._metadata_path!r} cannot be read "
                f"({e}). Delete {self.backup_dir!r} to start training from scratch."
            ) from e
        if not isinstance(metadata, dict) or not {"epoch", "weights"} <= set(metadata):
            raise ValueError(
                f"BackupAndRestore: {self._metadata_path!r} is not a backup written by "
                "torchkeras_lite (it needs 'epoch' and 'weights' entries). Use a folder of its "
                "own for backup_dir."
            )
        return metadata

    # ------------------------------------------------------------------------------- save
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def needs_batch_logs(self, batch):
        return False

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save()

    def _should_save_on_batch(self, batch: int) -> bool:
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch started
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save(self) -> None:
        from ..saving import atomic_write

        # Distributed: every rank runs this (and save_weights' barrier); rank 0 writes.
        main = is_chief()
        if main:
            os.makedirs(self.backup_dir, exist_ok=True)
        self._save_count += 1
        name = f"checkpoint-{self._save_count}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, name), overwrite=True)
        entry = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                 "weights": name, "rng": _rng_state()}
        metadata: dict[str, Any] = dict(entry, save_count=self._save_count)
        if self.double_checkpoint and self._last_entry is not None:
            metadata["previous"] = self._last_entry
        self._last_entry = entry
        if main:
            with atomic_write(self._metadata_path) as tmp:
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(metadata, f)
            keep = {name, metadata["previous"]["weights"] if "previous" in metadata else name}
            self._remove_weights(keep)
        distribution.barrier()

    def _remove_weights(self, keep: set) -> None:
        for file in os.listdir(self.backup_dir):
            if (_WEIGHTS.match(file) or _LEFTOVER.match(file)) and file not in keep:
                os.remove(os.path.join(self.backup_dir, file))

    # ----------------------------------------------------------------------------- finish
    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        if is_chief() and os.path.isdir(self.backup_dir):
            if os.path.exists(self._metadata_path):
                os.remove(self._metadata_path)  # first: metadata must never name a missing file
            self._remove_weights(set())
            try:
                os.rmdir(self.backup_dir)
            except OSError:
                pass  # the folder holds files that are not ours: leave them
        distribution.barrier()  # distributed: no rank sees a half-deleted backup
