"""Data-parallel training over ``torch.distributed`` (one process per device, launched by torchrun).

The same script runs unchanged as ``python train.py`` and as
``torchrun --nproc_per_node=N train.py``: ``fit``, ``evaluate`` and ``predict`` notice a distributed
launch (torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` environment with ``WORLD_SIZE > 1``, or a
process group the script initialised itself), initialise the process group if needed, and run
data-parallel:

* **One global batch.** ``batch_size`` is the global batch: every step, each of the N processes
  (ranks) takes its contiguous slice of the same global batch (rank 0 the first, sizes differing
  by at most one). Gradients are combined so that the step equals the one-process step on the whole
  batch: DDP (``torch.nn.parallel.DistributedDataParallel``) all-reduces each rank's gradient
  weighted by ``local_samples / global_samples``. A 2-process run therefore reproduces a 1-process
  run with the same ``batch_size`` (up to float rounding), including uneven last batches.
* **One permutation.** With ``shuffle=True``, rank 0 draws each epoch's permutation exactly as a
  one-process run draws it (``torch.randperm`` on its global torch generator) and broadcasts it.
  Seed rank 0 (``torchkeras_lite.utils.set_random_seed(s)`` in the script seeds every rank) and a
  one-process run with the same seed shuffles identically, as long as nothing else in the step
  draws random numbers (``Dropout`` does, differently per rank).
* **Global logs.** Epoch logs (``History``, ``val_*``, ``evaluate``'s results) sum the loss
  tracker's and every metric's state over the ranks before computing the result, so they are the
  one-process numbers and identical on every rank (``EarlyStopping`` and friends decide alike).
  Batch-level logs seen by batch callbacks are this rank's running values.
* **Rank 0 writes.** Only rank 0 prints the progress bar and writes files (``model.save``,
  ``save_weights``, ``ModelCheckpoint``, ``CSVLogger``, ``TensorBoard``, ``BackupAndRestore``);
  the other ranks wait at a barrier until the file is complete. Call ``model.save`` on every rank,
  as the script does anyway; a call made on rank 0 only waits forever for the others.
* **predict** returns the full result, in the original order, on every rank.

Explicit use::

    from torchkeras_lite import distribution
    distribution.set_distribution(distribution.DataParallel(sync_batchnorm=True))

Without ``set_distribution``, a distributed launch uses ``DataParallel()`` with its defaults.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import gc
import inspect
import os
from typing import Any, Callable, Iterator

import torch

__all__ = ["DataParallel", "set_distribution", "distribution", "initialize", "is_distributed",
           "is_main_process", "rank", "world_size", "local_rank", "barrier", "local"]

_strategy: "DataParallel | None" = None
_local_depth = 0
# The run of a fit with DataParallel(sync_batchnorm=True); BatchNormalization reads it.
_sync_batchnorm_run: "_Run | None" = None


class DataParallel:
    """Data-parallel training: one process per device, each taking a slice of every global batch.

    Use it under ``torchrun`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR`` and ``MASTER_PORT``, or after ``torch.distributed.init_process_group``). In a
    plain one-process run it does nothing.

    Args:
        backend: the ``torch.distributed`` backend used when the process group is created here:
            None (default) picks ``'cpu:gloo,cuda:nccl'`` when CUDA is available (NCCL for GPU
            tensors, gloo for CPU tensors) and ``'gloo'`` otherwise. A group the script created
            itself is used as it is.
        sync_batchnorm: BatchNormalization layers compute their training statistics over the
            global batch (all ranks) instead of each rank's slice (default False: per-rank
            statistics, as in torch and Keras). Gradients flow through the synchronisation, so a
            model with BatchNormalization then trains as in one process.
        find_unused_parameters: passed to DDP; set it when some trainable weights do not take
            part in the loss (e.g. an output without a loss), default False.
        timeout: seconds (or a ``datetime.timedelta``) after which a collective that waits for a
            missing rank fails, for a group created here (default None: torch's default).

    Example:
        >>> from torchkeras_lite import distribution
        >>> distribution.set_distribution(distribution.DataParallel(sync_batchnorm=True))
    """

    def __init__(self, backend: str | None = None, sync_batchnorm: bool = False,
                 find_unused_parameters: bool = False,
                 timeout: float | datetime.timedelta | None = None) -> None:
        if backend is not None and (not isinstance(backend, str) or not backend):
            raise ValueError(
                f"DataParallel: backend must be None (automatic) or a torch.distributed backend "
                f"name such as 'gloo', 'nccl' or 'cpu:gloo,cuda:nccl', got {backend!r}.")
        for name, value in (("sync_batchnorm", sync_batchnorm),
                            ("find_unused_parameters", find_unused_parameters)):
            if not isinstance(value, bool):
                raise TypeError(f"DataParallel: {name} must be True or False, got {value!r}.")
        if timeout is not None and not isinstance(timeout, datetime.timedelta):
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
                raise ValueError(
                    f"DataParallel: timeout must be None, a positive number of seconds or a "
                    f"datetime.timedelta, got {timeout!r}.")
            timeout = datetime.timedelta(seconds=float(timeout))
        self.backend = backend
        self.sync_batchnorm = sync_batchnorm
        self.find_unused_parameters = find_unused_parameters
        self.timeout = timeout

    def __repr__(self) -> str:
        return (f"DataParallel(backend={self.backend!r}, sync_batchnorm={self.sync_batchnorm}, "
                f"find_unused_parameters={self.find_unused_parameters})")


def set_distribution(value: DataParallel | None) -> None:
    """Use ``value`` for every later ``fit``/``evaluate``/``predict`` of a distributed launch;
    None restores the default (``DataParallel()`` when launched distributed)."""
    global _strategy
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(
            f"set_distribution() takes a torchkeras_lite.distribution.DataParallel or None, got "
            f"{type(value).__name__}: {value!r}.")
    _strategy = value


def distribution() -> DataParallel | None:
    """The strategy given to :func:`set_distribution` (None if none was given)."""
    return _strategy


# ----------------------------------------------------------------------------- process facts
def _dist_ready() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"The environment variable {name} must be an integer, got {value!r}.") \
            from None


def launched() -> bool:
    """Whether this process was started by torchrun (or a launcher like it) with more than one
    process in the job: ``WORLD_SIZE > 1`` and ``RANK`` set."""
    return _env_int("WORLD_SIZE", 1) > 1 and "RANK" in os.environ


def world_size() -> int:
    """Number of processes in the job (1 when not distributed)."""
    if _dist_ready():
        return torch.distributed.get_world_size()
    return _env_int("WORLD_SIZE", 1) if launched() else 1


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    if _dist_ready():
        return torch.distributed.get_rank()
    return _env_int("RANK", 0) if launched() else 0


def local_rank() -> int:
    """This process's rank on its machine: ``LOCAL_RANK`` from torchrun; without it, the global
    rank modulo the number of CUDA devices (0 without CUDA)."""
    if "LOCAL_RANK" in os.environ:
        return _env_int("LOCAL_RANK", 0)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return rank() % count if count else 0


def is_main_process() -> bool:
    """True on rank 0 and in a one-process run: the process that prints and writes files."""
    return rank() == 0


def is_distributed() -> bool:
    """Whether a process group of more than one process is initialised (and not inside
    :func:`local`)."""
    return _local_depth == 0 and _dist_ready() and torch.distributed.get_world_size() > 1


def _auto_backend() -> str:
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def initialize(backend: str | None = None,
               timeout: float | datetime.timedelta | None = None) -> bool:
    """Initialise the default process group from torchrun's environment, once.

    Does nothing in a one-process run or when the group exists already. With CUDA, also makes
    ``cuda:LOCAL_RANK`` this process's current device. ``fit``/``evaluate``/``predict`` call it
    themselves; call it early to have ``compile(device='auto')`` pick the local GPU directly.

    Args:
        backend: as in :class:`DataParallel` (default: the strategy's, else automatic).
        timeout: as in :class:`DataParallel`.

    Returns:
        :func:`is_distributed`.
    """
    if not torch.distributed.is_available():
        if launched():
            raise RuntimeError(
                "This process was launched for distributed training (WORLD_SIZE="
                f"{os.environ.get('WORLD_SIZE')}) but this torch build has no torch.distributed. "
                "Install a torch build with distributed support, or run with plain `python`.")
        return False
    if not _dist_ready() and launched():
        strategy = _strategy or DataParallel()
        backend = backend or strategy.backend or _auto_backend()
        if timeout is None:
            timeout = strategy.timeout
        elif not isinstance(timeout, datetime.timedelta):
            timeout = DataParallel(timeout=timeout).timeout
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise RuntimeError(
                    f"WORLD_SIZE={os.environ['WORLD_SIZE']} asks for distributed training but "
                    f"{name} is not set. Launch with torchrun (it sets MASTER_ADDR, MASTER_PORT, "
                    "RANK, WORLD_SIZE and LOCAL_RANK), or set them yourself.")
        if torch.cuda.is_available() and "nccl" in backend:
            _pin_cuda_device()
        kwargs = {} if timeout is None else {"timeout": timeout}
        torch.distributed.init_process_group(backend=backend, **kwargs)
        atexit.register(_destroy_process_group)
    return is_distributed()


def _destroy_process_group() -> None:
    """At exit, release the group created by :func:`initialize`. Left to the interpreter's
    teardown (or still referenced by a DDP object waiting for the garbage collector), gloo's
    threads can abort the process (SIGABRT) after the script has finished."""
    if _dist_ready():
        gc.collect()
        try:
            torch.distributed.destroy_process_group()
        except Exception:  # pragma: no cover - exiting anyway
            pass


def _pin_cuda_device() -> torch.device:
    index = local_rank()
    count = torch.cuda.device_count()
    if index >= count:
        raise RuntimeError(
            f"LOCAL_RANK={index} but this machine has {count} CUDA device(s): each process of a "
            f"data-parallel run needs its own GPU. Launch at most {count} processes per machine "
            f"(torchrun --nproc_per_node={count}), or train on the CPU (compile(device='cpu')).")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def barrier() -> None:
    """Wait until every rank gets here (nothing in a one-process run)."""
    if is_distributed():
        torch.distributed.barrier()


@contextlib.contextmanager
def local() -> Iterator[None]:
    """Within this block ``fit``/``evaluate``/``predict``/``save`` run on this process alone,
    as in a one-process run (for work that only one rank does, e.g. inside
    ``if is_main_process():``).

    Example:
        >>> from torchkeras_lite import distribution
        >>> if distribution.is_main_process():
        ...     with distribution.local():
        ...         pass  # e.g. model.predict(x_sample) on rank 0 only
    """
    global _local_depth
    _local_depth += 1
    try:
        yield
    finally:
        _local_depth -= 1


def write_on_main(write: Callable[[], Any]) -> None:
    """Run ``write`` on rank 0 only, then wait at a barrier so that every rank sees the file
    complete (``write`` itself in a one-process run)."""
    if _local_depth == 0 and not _dist_ready() and launched():
        initialize()
    if not is_distributed():
        write()
        return
    if torch.distributed.get_rank() == 0:
        write()
    torch.distributed.barrier()


def main_decides(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (``flag`` itself in a one-process run): for decisions
    made from rank-local values that all ranks must follow together."""
    if not is_distributed():
        return flag
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int64)
    if "gloo" not in str(torch.distributed.get_backend()):
        tensor = tensor.to(torch.device("cuda", torch.cuda.current_device()))
    torch.distributed.broadcast(tensor, src=0)
    return bool(tensor.item())


def _begin(model: Any) -> "_Run | None":
    """Called once at the start of fit/evaluate/predict: None in a one-process run, else the
    run's collectives and sharding (the process group is created if needed and the model moved
    to ``cuda:LOCAL_RANK`` when it is on CUDA)."""
    if _local_depth or not (launched() or _dist_ready()):
        return None
    if not initialize():
        return None
    return _Run(_strategy or DataParallel(), model)


# ------------------------------------------------------------------------------- one run
class _StepState:
    """What the current batch is for this rank (set by the batchers, read by the gradient
    reduction, the loops and synchronised BatchNormalization)."""

    __slots__ = ("scale", "padding", "start", "count")

    def __init__(self, world: int) -> None:
        self.scale = 1.0 / world  # local samples / global samples
        self.padding = False      # this rank got no samples: it runs one stand-in sample
        self.start = 0            # global index (in the pass) of this rank's first sample
        self.count = 0            # this rank's real samples in the batch


def _weighted_allreduce_hook(state, bucket):  # no annotations: DDP checks them
    """DDP communication hook: sum over ranks of each rank's gradient times local/global
    samples, i.e. the gradient of the global batch's mean loss."""
    tensor = bucket.buffer()
    tensor.mul_(state.scale)
    future = torch.distributed.all_reduce(tensor, async_op=True).get_future()
    return future.then(lambda fut: fut.value()[0])


def _sync_buffer_kwargs() -> dict:
    from torch.nn.parallel import DistributedDataParallel

    # Buffers are synchronised at construction; not before every forward (the moving statistics
    # of BatchNormalization are weights here and are broadcast from rank 0 after each epoch).
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    if "forward_sync_buffers" in params:
        return {"forward_sync_buffers": False}
    return {"broadcast_buffers": False}


class _Run:
    """One distributed fit/evaluate/predict: rank facts, sharding and the collectives."""

    def __init__(self, strategy: DataParallel, model: Any) -> None:
        dist = torch.distributed
        self.strategy = strategy
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.is_main = self.rank == 0
        self.state = _StepState(self.world)
        backend = str(dist.get_backend())
        self._cpu_collectives = "gloo" in backend or "mpi" in backend or "ucc" in backend
        self.device = self._place(model)

    # ------------------------------------------------------------------------ devices
    def _place(self, model: Any) -> torch.device:
        device = model.device
        if device.type != "cuda":
            return device
        target = _pin_cuda_device()
        if device != target:
            model._device = target
            model.to(target)
        return target

    def _comm(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.device.type == "cpu" and not self._cpu_collectives:
            return tensor.to(torch.device("cuda", torch.cuda.current_device()))
        return tensor

    # ----------------------------------------------------------------------- sharding
    def split(self, lo: int, hi: int) -> tuple[int, int]:
        """This rank's part ``[start, stop)`` of the global batch ``[lo, hi)``; sets the step
        state. A rank left without samples gets the batch's first sample as a stand-in
        (``state.padding``), which counts for nothing."""
        size = hi - lo
        base, extra = divmod(size, self.world)
        count = base + (1 if self.rank < extra else 0)
        start = lo + self.rank * base + min(self.rank, extra)
        state = self.state
        state.count = count
        state.start = start
        if count:
            state.padding = False
            state.scale = count / size
            return start, start + count
        state.padding = True
        state.scale = 0.0
        return lo, lo + 1

    def own(self, count: int) -> None:
        """The batch is this rank's own (a DistributedSampler made it): plain averaging."""
        state = self.state
        state.count = count
        state.start = -1
        state.padding = False
        state.scale = 1.0 / self.world

    def permutation(self, n: int, device: torch.device) -> torch.Tensor:
        """Rank 0's ``torch.randperm(n)`` (drawn as a one-process run draws it), on every rank."""
        if self.is_main:
            perm = torch.randperm(n, device=device)
        else:
            perm = torch.empty(n, dtype=torch.int64, device=device)
        comm = self._comm(perm)
        torch.distributed.broadcast(comm, src=0)
        return comm if comm is perm else comm.to(device)

    def check_same(self, what: str, values: dict[str, float], hint: str) -> None:
        """Raise on every rank if ``values`` differ between ranks (a one-time check)."""
        keys = sorted(values)
        local = self._comm(torch.tensor([float(values[k]) for k in keys], dtype=torch.float64))
        gathered = [torch.empty_like(local) for _ in range(self.world)]
        torch.distributed.all_gather(gathered, local)
        table = torch.stack(gathered).cpu()
        for i, key in enumerate(keys):
            column = table[:, i]
            if key == "fingerprint":
                scale = max(1.0, float(column.abs().max()))
                differs = float(column.max() - column.min()) > 1e-6 * scale
            else:
                differs = bool((column != column[0]).any())
            if differs:
                per_rank = ", ".join(f"rank {r}: {column[r].item():g}" for r in range(self.world))
                raise ValueError(
                    f"In this distributed run {what} differs between ranks ({key}: {per_rank}). "
                    f"{hint}")

    def agree_any(self, flag: bool) -> bool:
        """Whether ``flag`` is True on any rank."""
        tensor = self._comm(torch.tensor([1.0 if flag else 0.0]))
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return bool(tensor.item())

    # ----------------------------------------------------------------------- reductions
    def sum_tensors(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Element-wise sums over the ranks (new tensors; the inputs are left as they are),
        one collective per dtype and device."""
        groups: dict[tuple, list[int]] = {}
        for i, t in enumerate(tensors):
            groups.setdefault((t.dtype, t.device), []).append(i)
        out: list[Any] = [None] * len(tensors)
        for (_, device), indices in sorted(groups.items(), key=_group_order):
            flat = torch.cat([tensors[i].detach().reshape(-1) for i in indices])
            flat = self._comm(flat)
            torch.distributed.all_reduce(flat)
            flat = flat.to(device)
            offset = 0
            for i in indices:
                n = tensors[i].numel()
                out[i] = flat[offset:offset + n].view(tensors[i].shape)
                offset += n
        return out

    def mean_logs(self, logs: dict) -> dict:
        """The mean over ranks of each scalar of a logs dict (custom train/test steps); other
        values stay this rank's."""
        keys = [k for k in sorted(logs) if _is_scalar(logs[k])]
        out = dict(logs)
        if keys:
            values = torch.tensor([float(logs[k]) for k in keys], dtype=torch.float64)
            (total,) = self.sum_tensors([values])
            out.update({k: total[i].cpu() / self.world for i, k in enumerate(keys)})
        return out

    def broadcast_model(self, model: Any, *, non_trainable_only: bool = False) -> None:
        """Copy rank 0's weights (all of them, or the non-trainable ones and buffers) to every
        rank."""
        tensors = [p for p in model.parameters()
                   if not (non_trainable_only and p.requires_grad)]
        tensors += list(model.buffers())
        groups: dict[tuple, list[torch.Tensor]] = {}
        for t in tensors:
            groups.setdefault((t.dtype, t.device), []).append(t)
        for (_, device), members in sorted(groups.items(), key=_group_order):
            flat = self._comm(torch.cat([t.detach().reshape(-1) for t in members]))
            torch.distributed.broadcast(flat, src=0)
            if self.is_main:
                continue
            flat = flat.to(device)
            offset = 0
            with torch.no_grad():
                for t in members:
                    n = t.numel()
                    t.copy_(flat[offset:offset + n].view(t.shape))
                    offset += n

    def gather_rows(self, local: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Every rank's rows of a result, each put at its global position (``positions``: one
        per local row; together the ranks' positions are ``0 .. total - 1``)."""
        dtype = local.dtype
        as_sent = local.to(torch.uint8) if dtype == torch.bool else local
        count = self._comm(torch.tensor([as_sent.shape[0]], dtype=torch.int64))
        counts = [torch.empty_like(count) for _ in range(self.world)]
        torch.distributed.all_gather(counts, count)
        counts = [int(c.item()) for c in counts]
        most, total = max(counts), sum(counts)
        padded = self._comm(torch.zeros((most,) + tuple(as_sent.shape[1:]), dtype=as_sent.dtype,
                                        device=as_sent.device))
        padded[:as_sent.shape[0]] = as_sent
        pos = torch.full((most,), -1, dtype=torch.int64, device=padded.device)
        pos[:positions.shape[0]] = positions.to(padded.device)
        rows = [torch.empty_like(padded) for _ in range(self.world)]
        places = [torch.empty_like(pos) for _ in range(self.world)]
        torch.distributed.all_gather(rows, padded)
        torch.distributed.all_gather(places, pos)
        result = torch.empty((total,) + tuple(as_sent.shape[1:]), dtype=as_sent.dtype,
                             device=padded.device)
        for r in range(self.world):
            result[places[r][:counts[r]]] = rows[r][:counts[r]]
        return result.to(torch.bool) if dtype == torch.bool else result

    # -------------------------------------------------------------------- gradients
    def wrap_for_training(self, model: Any) -> Any:
        """A DDP wrapper of ``model`` whose gradient reduction weights each rank by its share
        of the global batch (None when nothing is trainable)."""
        from torch.nn.parallel import DistributedDataParallel

        if not any(p.requires_grad for p in model.parameters()):
            return None
        device = self.device
        ddp = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=self.strategy.find_unused_parameters,
            **_sync_buffer_kwargs())
        ddp.register_comm_hook(self.state, _weighted_allreduce_hook)
        return ddp

    def gradient_hook(self, params: list[torch.nn.Parameter]) -> Callable:
        """An optimizer step pre-hook that makes the gradients the global batch's (for custom
        ``train_step``s, which run the model without DDP)."""
        state = self.state

        def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
            grads = []
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
            summed = self.sum_tensors([g * state.scale for g in grads])
            for g, s in zip(grads, summed):
                g.copy_(s)

        return hook

    # ---------------------------------------------------------------- batch norm
    def gather_stats(self, stats: torch.Tensor) -> torch.Tensor:
        """``(world, *stats.shape)``: every rank's statistics (a padding rank's are zeros),
        with gradients flowing back to each rank's own (see :class:`_SumOverRanks`)."""
        if self.state.padding:
            stats = stats * 0.0
        slots = torch.zeros((self.world,) + tuple(stats.shape), dtype=stats.dtype,
                            device=stats.device)
        slots = slots.index_copy(0, torch.tensor([self.rank], device=stats.device),
                                 stats.unsqueeze(0))
        return _SumOverRanks.apply(slots, self.state.scale)


def _group_order(item: tuple) -> tuple:
    """The same order of (dtype, device) groups on every rank (devices differ by rank on GPUs)."""
    (dtype, device), _ = item
    return str(dtype), device.type


def _is_scalar(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) with the backward that data-parallel training with uneven slices needs.

    The global loss is ``sum_k s_k * L_k`` (``s_k``: rank k's share of the global batch), and
    rank r's gradients are multiplied by ``s_r`` after its backward (the DDP communication hook).
    So the backward sums ``s_k * dL_k/d(out)`` over the ranks and divides by this rank's ``s_r``
    (nothing flows on a rank without samples: its statistics were multiplied by zero)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, share: float) -> torch.Tensor:
        ctx.share = share
        out = tensor.clone(memory_format=torch.contiguous_format)
        torch.distributed.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        weighted = (grad * ctx.share).contiguous()
        torch.distributed.all_reduce(weighted)
        if ctx.share == 0.0:
            return torch.zeros_like(weighted), None
        return weighted / ctx.share, None


def sync_batchnorm_run() -> "_Run | None":
    """The run whose BatchNormalization statistics are synchronised (None almost always)."""
    return _sync_batchnorm_run


@contextlib.contextmanager
def _syncing_batchnorm(run: "_Run | None") -> Iterator[None]:
    global _sync_batchnorm_run
    previous = _sync_batchnorm_run
    if run is not None and run.strategy.sync_batchnorm:
        _sync_batchnorm_run = run
    try:
        yield
    finally:
        _sync_batchnorm_run = previous

