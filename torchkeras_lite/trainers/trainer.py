"""The training engine behind ``Model.fit/evaluate/predict``.

Who owns what:
- ``Trainer`` is created by ``compile()``: it holds the optimizer, the compiled loss and
  metrics, and the loss tracker.
- ``train_step``/``test_step``/``predict_step`` are the per-batch work. They stay on the device:
  no ``.item()``/``float()``; results are 0-d tensors.
- ``fit``/``evaluate``/``predict`` are the loops: data from :mod:`.data` (arrays through
  ``ArrayBatcher``; DataLoaders, Datasets, generators and PyDatasets through
  ``SourceBatcher``: both yield ``(x, y, sample_weight)`` on the device), callbacks through
  :class:`~torchkeras_lite.callbacks.CallbackList` (which alone turns tensors into floats).
- Distributed runs (torchrun): each loop asks :mod:`torchkeras_lite.distribution` once, at its
  start, whether it runs data-parallel (``run``, else None). With a run, the batchers yield this
  rank's slice of every global batch, the compiled train step runs the model through DDP
  (``self._forward``), epoch logs are computed from state summed over the ranks, and ``predict``
  gathers every rank's rows. Without one, nothing of this is on the path.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from .. import distribution as _distribution
from .. import mixed_precision as _mixed_precision
from .. import optimizers as _optimizers
from ..callbacks import Callback, CallbackList
from ..callbacks.callback_list import _overrides as _overrides_hook
from . import data as data_lib
from .compile_utils import CompiledLoss, CompiledMetrics, MeanTracker, reduced_results


def _check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _check_jit_compile(value: Any) -> Any:
    """``'auto'`` resolves to eager everywhere: on CPU the benchmark measures torch.compile
    slower for small models (and it costs seconds to compile); on CUDA it has not been
    measured yet (docs/performance.md). True compiles the forward pass and loss."""
    if value == "auto" or value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"jit_compile must be 'auto', True or False, got {value!r}.")
    return value


def _check_batch_size(batch_size: Any, default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


class Trainer:
    """Optimizer, loss and metrics of a compiled model, and the loops that use them."""

    def __init__(self, model: Any, optimizer: Any, loss: Any, metrics: Any,
                 loss_weights: Any, weighted_metrics: Any, jit_compile: Any = "auto") -> None:
        self.model = model
        self.jit_compile = _check_jit_compile(jit_compile)
        self._compiled_step = None  # torch.compile'd forward + loss (jit_compile=True)
        self.optimizer = _optimizers.get(optimizer)
        names = list(getattr(model, "output_names", None) or ["output"])
        self.loss = CompiledLoss(loss, loss_weights, names)
        self.metrics = CompiledMetrics(metrics, weighted_metrics, names)
        self.loss_tracker = MeanTracker()
        self._scaler = None  # a GradScaler under mixed_float16
        self.output_loss_trackers = {} if len(names) == 1 else {
            f"{name}_loss": MeanTracker() for name, ident in zip(names, self.loss.identifiers)
            if ident is not None}
        # The training forward: the model itself, or its DDP wrapper during a distributed fit.
        self._forward = model.fast_call

    # ------------------------------------------------------------------ setup
    def prepare(self, x_sample: Any) -> torch.device:
        """Build the model from data if needed, then the optimizer; returns the device."""
        model = self.model
        if not model.built:
            model.build_from_data(x_sample)
        device = model.device
        if not getattr(self.optimizer, "built", True):  # a plain torch.optim one is built
            self.optimizer.build([p for p in model.parameters() if p.requires_grad])
        self._penalties = any(layer._regularized or layer.activity_regularizer is not None
                              for layer in model._flatten_layers())
        self._constraints = any(layer._constrained for layer in model._flatten_layers())
        self._loss_scale = getattr(self.optimizer, "loss_scale_factor", None)
        if self._scaler is None and any(getattr(m, "_amp_dtype", None) == torch.float16
                                        for m in model.modules()):
            # mixed_float16: dynamic loss scaling, as Keras's LossScaleOptimizer
            self._scaler = _mixed_precision.loss_scaler(device)
        self._compile_step(device)
        return device

    def reset_metrics(self) -> None:
        self.loss_tracker.reset()
        for tracker in self.output_loss_trackers.values():
            tracker.reset()
        self.metrics.reset_state()

    def logs(self, reduce: Any = None) -> dict[str, torch.Tensor]:
        """The loss and metric results so far. ``reduce`` (distributed runs) sums state tensors
        over the ranks: the results are then the global ones, the same on every rank."""
        if reduce is not None:
            trackers = {"loss": self.loss_tracker, **self.output_loss_trackers}
            out, results = reduced_results(trackers, self.metrics.metrics + self.metrics.weighted,
                                           reduce)
        else:
            out = {"loss": self.loss_tracker.result()}
            for name, tracker in self.output_loss_trackers.items():
                out[name] = tracker.result()
            results = self.metrics.results()
        out.update(results if not self.output_loss_trackers else dict(sorted(results.items())))
        return out

    def _track_loss(self, loss: torch.Tensor, batch_size: int) -> None:
        self.loss_tracker.update(loss, batch_size)
        if self.output_loss_trackers:
            values = [v for v in self.loss.last_values if v is not None]
            for tracker, value in zip(self.output_loss_trackers.values(), values):
                tracker.update(value, batch_size)

    # ------------------------------------------------------------------ steps
    def _loss(self, x: Any, y: Any, sample_weight: Any, y_pred: torch.Tensor) -> torch.Tensor:
        value = self.loss(y, y_pred, sample_weight)
        if self._penalties:
            extra = self.model.losses
            self.model.clear_activity_losses()
            if extra:
                value = value + torch.stack([e.reshape(()) for e in extra]).sum()
        return value

    def train_step(self, x: Any, y: Any, sample_weight: Any) -> None:
        model = self.model
        if self._compiled_step is not None:
            y_pred, loss = self._compiled_step(x, y, sample_weight)
        else:
            y_pred = self._forward(x)
            loss = self._loss(x, y, sample_weight, y_pred)
        self._track_loss(loss, data_lib.num_samples(x))
        if self._loss_scale is not None:
            loss = loss * self._loss_scale
        self.optimizer.zero_grad(set_to_none=True)
        if self._scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self._scaler.scale(loss).backward()
            self._scaler.step(self.optimizer)
            self._scaler.update()
        if self._constraints:
            model.apply_constraints()
        self.metrics.update_state(y, _detach(y_pred), sample_weight)

    def _forward_and_loss(self, x: Any, y: Any, sample_weight: Any) -> tuple:
        """The part of a train step that ``jit_compile=True`` hands to ``torch.compile``."""
        y_pred = self._forward(x)
        return y_pred, self._loss(x, y, sample_weight, y_pred)

    def _compile_step(self, device: torch.device) -> None:
        if self.jit_compile is not True or self._compiled_step is not None:
            return
        from .. import config as _config
        # CUDA: 'reduce-overhead' captures the step in CUDA graphs (static shapes).
        mode = "reduce-overhead" if device.type == "cuda" else None
        self._compiled_step = torch.compile(self._forward_and_loss, backend=_config.jit_backend(),
                                            mode=mode if _config.jit_backend() == "inductor"
                                            else None, dynamic=False)

    @torch.no_grad()
    def test_step(self, x: Any, y: Any, sample_weight: Any) -> None:
        y_pred = self.model.fast_call(x)
        loss = self._loss(x, y, sample_weight, y_pred)
        self._track_loss(loss, data_lib.num_samples(x))
        self.metrics.update_state(y, y_pred, sample_weight)

    # ------------------------------------------------------------------ loops
    def fit(self, x, y, *, batch_size, epochs, verbose, callbacks, validation_split,
            validation_data, shuffle, class_weight, sample_weight, initial_epoch,
            steps_per_epoch, validation_steps, validation_batch_size, validation_freq):
        model = self.model
        run = _distribution._begin(model)  # None unless data-parallel; decided once, here
        verbose = _check_verbose(verbose)
        if run is not None and not run.is_main:
            verbose = 0  # rank 0 alone shows progress
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if not isinstance(validation_freq, (int, np.integer)) or validation_freq < 1:
            raise ValueError(f"validation_freq must be a positive integer, got {validation_freq!r}")
        if data_lib.is_one_shot(validation_data) and validation_steps is None \
                and sum((e + 1) % validation_freq == 0 for e in range(initial_epoch, epochs)) > 1:
            raise ValueError(
                f"validation_data is {data_lib.describe_source(validation_data)}, which can be "
                "read only once, but this fit validates more than once. Pass validation_steps "
                "(each validation then takes that many batches from it), or a source that can "
                "be iterated again (arrays, a torch DataLoader or a PyDataset)."
            )
        batches, val_batches = self._fit_data(
            x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
            class_weight=class_weight, validation_split=validation_split,
            validation_data=validation_data, validation_batch_size=validation_batch_size,
            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps, run=run)
        if run is not None:
            callbacks = list(callbacks or []) + [_agree_on_stop(callbacks, run)]
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                           verbose=verbose, epochs=epochs, steps=batches.steps)
        cbs.history.params = cbs.params
        model.stop_training = False
        custom_step = model._overrides("train_step")
        was_training = model.training
        model.train()
        last_logs = None
        batches.start()
        model._initial_epoch = None
        cbs.on_train_begin()
        if model._initial_epoch is not None:  # set by BackupAndRestore when it restored
            initial_epoch, model._initial_epoch = model._initial_epoch, None
        stop_data_parallel = None if run is None else self._start_data_parallel(run, custom_step)
        threads = _one_thread_for_small_steps(model, batches)
        try:
            if run is not None:
                run.check_same("the first epoch", {"initial_epoch": initial_epoch},
                               "BackupAndRestore must find the same backup on every rank: put "
                               "backup_dir on a filesystem that all machines share.")
            for epoch in range(initial_epoch, epochs):
                if not batches.ready():
                    break
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                step_logs = None
                epoch_batches = batches if run is None else self._sharded(batches, run)
                for step, (xb, yb, swb) in enumerate(epoch_batches):
                    cbs.on_train_batch_begin(step)
                    if custom_step:
                        step_logs = model.train_step((xb, yb, swb))
                        cbs.on_train_batch_end(step, step_logs)
                    else:
                        self.train_step(xb, yb, swb)
                        cbs.on_train_batch_end(step, self.logs)
                    if model.stop_training:
                        break
                if run is None:
                    epoch_logs = dict(step_logs or {}) if custom_step else self.logs()
                else:
                    epoch_logs = self._end_sharded_epoch(run, epoch_batches, custom_step,
                                                         step_logs)
                if val_batches is not None and (epoch + 1) % validation_freq == 0 \
                        and val_batches.ready():
                    val_batches.start()
                    cbs.on_test_begin()
                    val_logs = self._run_test(val_batches, cbs, run)
                    cbs.on_test_end(val_logs)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                    model.train()
                cbs.on_epoch_end(epoch, epoch_logs)
                last_logs = epoch_logs
                if model.stop_training:
                    break
        finally:
            if stop_data_parallel is not None:
                stop_data_parallel()
            if threads:
                torch.set_num_threads(threads)
            model.train(was_training)
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None and epochs > 0:
            finalize()  # use_ema: the moving averages become the weights, as in Keras
        cbs.on_train_end(last_logs)
        return cbs.history

    # ------------------------------------------------------------------- data
    def _fit_data(self, x, y, sample_weight, *, batch_size, shuffle, class_weight,
                  validation_split, validation_data, validation_batch_size, steps_per_epoch,
                  validation_steps, run=None) -> tuple:
        """The training batches and the validation batches (or None), on the device."""
        model = self.model
        _require_x(x, "fit")
        x, y, sample_weight = data_lib.unwrap_tensor_dataset(x, y, sample_weight, "fit")
        require_y = not model._overrides("train_step")
        source = val_source = val_arrays = None
        if data_lib.is_batch_source(x):
            source = data_lib.open_source(x, y, sample_weight, method="fit",
                                          batch_size=batch_size, shuffle=shuffle)
            if validation_split and validation_data is None:
                source, val_source = data_lib.split_source(
                    source, validation_split, val_batch_size=validation_batch_size)
        else:
            batch_size = _check_batch_size(batch_size)
            if y is None and require_y:
                raise ValueError("fit() needs targets y for a compiled loss; got y=None.")
            arrays = data_lib.to_tensors(x, y, sample_weight)
            model.check_input(arrays[0], "x")
            if class_weight is not None:
                if sample_weight is not None:
                    raise ValueError(
                        "You cannot pass class_weight and sample_weight at the same time.")
                arrays = (arrays[0], arrays[1],
                          data_lib.class_weight_to_sample_weight(arrays[1], class_weight))
            if validation_split and validation_data is None:
                arrays, val_arrays = data_lib.split_validation(arrays, validation_split)
        if validation_data is not None:
            val_source, val_arrays = self._validation_data(
                validation_data, validation_batch_size, _check_batch_size(batch_size))
        if source is not None:
            batches = data_lib.SourceBatcher(
                source, self._converter(require_y, class_weight), steps=steps_per_epoch,
                steps_argument="steps_per_epoch", role="fit", carry_over=True, shard=run)
            device = self.prepare(None if model.built else batches.sample_x())
            batches.device = device
        else:
            device = self.prepare(arrays[0])
            batches = data_lib.ArrayBatcher(arrays, batch_size, shuffle=shuffle, device=device,
                                            steps=steps_per_epoch, carry_over=True, shard=run)
        val_batches = None
        if val_source is not None:
            val_batches = data_lib.SourceBatcher(
                val_source, self._converter(not model._overrides("test_step")),
                steps=validation_steps, steps_argument="validation_steps",
                argument="validation_data", role="validation", shard=run)
            val_batches.device = device
        elif val_arrays is not None:
            val_batches = data_lib.ArrayBatcher(
                val_arrays, _check_batch_size(validation_batch_size, _check_batch_size(batch_size)),
                device=device, steps=validation_steps, shard=run)
        return batches, val_batches

    def _converter(self, require_y: bool, class_weight: Any = None) -> data_lib.BatchConverter:
        return data_lib.BatchConverter(class_weight=class_weight, require_y=require_y,
                                       check_x=self.model.check_input)

    def _validation_data(self, validation_data: Any, validation_batch_size: Any,
                         batch_size: int) -> tuple:
        """``(source, None)`` for a batch source, else ``(None, arrays)``."""
        vx, vy, vsw = (validation_data, None, None)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3) \
                and data_lib.is_batch_source(validation_data[0]):
            vx, vy, vsw = tuple(validation_data) + (None,) * (3 - len(validation_data))
        elif not data_lib.is_batch_source(validation_data):
            return None, self._validation_arrays(validation_data)
        vx, vy, vsw = data_lib.unwrap_tensor_dataset(vx, vy, vsw, "fit")
        if not data_lib.is_batch_source(vx):
            if vy is None:
                raise ValueError(
                    "validation_data is a TensorDataset without targets; it must hold "
                    "(x, y) or (x, y, sample_weight).")
            return None, self._validation_arrays((vx, vy, vsw))
        source = data_lib.open_source(
            vx, vy, vsw, method="fit", argument="validation_data",
            batch_size=validation_batch_size, batch_size_argument="validation_batch_size",
            default_batch_size=batch_size)
        return source, None

    def _validation_arrays(self, validation_data: Any) -> tuple:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                "val_sample_weight), or a source of batches (a torch Dataset or DataLoader, "
                f"a generator, a PyDataset); got {type(validation_data).__name__} of length "
                f"{len(validation_data) if hasattr(validation_data, '__len__') else '?'}."
            )
        arrays = data_lib.to_tensors(*validation_data)
        self.model.check_input(arrays[0], "validation_data x")
        return arrays

    def _run_test(self, batches: Any, cbs: CallbackList | None, run: Any = None) -> dict:
        model = self.model
        model.eval()
        self.reset_metrics()
        custom_step = model._overrides("test_step")
        step_logs = None
        epoch_batches = batches if run is None else self._sharded(batches, run)
        for step, (xb, yb, swb) in enumerate(epoch_batches):
            if cbs is not None:
                cbs.on_test_batch_begin(step)
            if custom_step:
                with torch.no_grad():
                    step_logs = model.test_step((xb, yb, swb))
            else:
                self.test_step(xb, yb, swb)
            if cbs is not None:
                cbs.on_test_batch_end(step, step_logs if custom_step else self.logs)
        if run is not None:
            epoch_batches.close()
            return run.mean_logs(dict(step_logs or {})) if custom_step \
                else self.logs(run.sum_tensors)
        return dict(step_logs or {}) if custom_step else self.logs()

    # ------------------------------------------------------------ data parallel
    def _start_data_parallel(self, run: Any, custom_step: bool) -> Any:
        """Make the train step data-parallel; returns the function that undoes it.

        The compiled step runs the model through DDP (its gradient reduction weighted by each
        rank's share of the global batch). A custom ``train_step`` calls the model itself, so
        its gradients are combined the same way just before each optimizer step."""
        model = self.model
        hook = None
        compiled, self._compiled_step = self._compiled_step, None
        if compiled is not None:
            warnings.warn(
                "jit_compile=True is not applied in a data-parallel fit: the train step runs "
                "eagerly through DistributedDataParallel (compile(jit_compile=False) silences "
                "this).", stacklevel=4)
        if custom_step:
            run.broadcast_model(model)
            params = [p for p in model.parameters() if p.requires_grad]
            if params:
                hook = self.optimizer.register_step_pre_hook(run.gradient_hook(params))
        else:
            ddp = run.wrap_for_training(model)
            if ddp is not None:
                self._forward = ddp
        sync_bn = _distribution._syncing_batchnorm(run)
        sync_bn.__enter__()

        def stop() -> None:
            sync_bn.__exit__(None, None, None)
            self._forward = model.fast_call
            self._compiled_step = compiled
            if hook is not None:
                hook.remove()

        return stop

    def _sharded(self, batches: Any, run: Any) -> Any:
        """The batches of one epoch; a step in which this rank has no samples (it runs one
        stand-in sample so that every rank takes part in every collective) leaves the loss
        tracker and the metrics as they were."""
        state = run.state
        for batch in batches:
            if not state.padding:
                yield batch
                continue
            saved = self._save_tracking()
            try:
                yield batch
            finally:
                self._restore_tracking(saved)

    def _save_tracking(self) -> tuple:
        trackers = [self.loss_tracker, *self.output_loss_trackers.values()]
        metrics = self.metrics.metrics + self.metrics.weighted
        return (self.metrics.built,
                [(None if t.total is None else t.total.clone(), t.count) for t in trackers],
                [[v.clone() for v in m.variables] for m in metrics])

    def _restore_tracking(self, saved: tuple) -> None:
        built, tracker_state, metric_state = saved
        trackers = [self.loss_tracker, *self.output_loss_trackers.values()]
        for tracker, (total, count) in zip(trackers, tracker_state):
            tracker.total, tracker.count = total, count
        if not built:
            self.metrics.reset_state()
            return
        for metric, values in zip(self.metrics.metrics + self.metrics.weighted, metric_state):
            current = metric.variables
            if len(current) != len(values):
                metric.reset_state()
                continue
            for variable, value in zip(current, values):
                variable.copy_(value)

    def _end_sharded_epoch(self, run: Any, epoch_batches: Any, custom_step: bool,
                           step_logs: Any) -> dict:
        """Global logs of a distributed training epoch; rank 0's non-trainable state (e.g.
        BatchNormalization's moving statistics, computed per rank) becomes every rank's."""
        epoch_batches.close()
        run.broadcast_model(self.model, non_trainable_only=True)
        if custom_step:
            return run.mean_logs(dict(step_logs or {}))
        return self.logs(run.sum_tensors)

    def evaluate(self, x, y, *, batch_size, verbose, sample_weight, steps, callbacks,
                 return_dict):
        verbose = _check_verbose(verbose)
        model = self.model
        run = _distribution._begin(model)  # None unless data-parallel
        if run is not None and not run.is_main:
            verbose = 0
        _require_x(x, "evaluate")
        x, y, sample_weight = data_lib.unwrap_tensor_dataset(x, y, sample_weight, "evaluate")
        if data_lib.is_batch_source(x):
            source = data_lib.open_source(x, y, sample_weight, method="evaluate",
                                          batch_size=batch_size)
            batches = data_lib.SourceBatcher(
                source, self._converter(not model._overrides("test_step")), steps=steps,
                steps_argument="steps", role="evaluate", shard=run)
            batches.device = self.prepare(None if model.built else batches.sample_x())
        else:
            arrays = data_lib.to_tensors(x, y, sample_weight)
            if y is None:
                raise ValueError("evaluate() needs targets y for the compiled loss; got y=None.")
            model.check_input(arrays[0], "x")
            device = self.prepare(arrays[0])
            batches = data_lib.ArrayBatcher(arrays, _check_batch_size(batch_size), device=device,
                                            steps=steps, shard=run)
        if run is not None:
            run.broadcast_model(model)  # every rank evaluates rank 0's model
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=model,
                           verbose=verbose, epochs=1, steps=batches.steps)
        was_training = model.training
        batches.start()
        cbs.on_test_begin()
        threads = _one_thread_for_small_steps(model, batches)
        try:
            logs = self._run_test(batches, cbs, run)
        finally:
            if threads:
                torch.set_num_threads(threads)
            model.train(was_training)
        cbs.on_test_end(logs)
        return self._format_evaluate(logs, return_dict)

    def _format_evaluate(self, logs: dict, return_dict: bool) -> Any:
        floats = {k: float(v) for k, v in logs.items()}
        if return_dict:
            return dict(sorted(floats.items()))
        if len(floats) == 1:
            return floats["loss"]
        return list(floats.values())


# Steps of at most this many (batch size x parameters) run faster on one CPU thread: thread
# hand-offs cost more than the ops they split (docs/performance.md: up to 1.4x faster below it on
# the 2-core benchmark machine, slower above ~1e7).
SMALL_STEP_WORK = 4_000_000


def _one_thread_for_small_steps(model: Any, batches: Any) -> int | None:
    """Switch torch to one intra-op thread for a CPU loop over small steps; returns the thread
    count to restore afterwards, or None when nothing changed."""
    batch_size = getattr(batches, "batch_size", None)
    threads = torch.get_num_threads()
    if batch_size is None or threads == 1 or model.device.type != "cpu":
        return None
    size = sum(p.numel() for p in model.parameters())
    if batch_size * size > SMALL_STEP_WORK:
        return None
    torch.set_num_threads(1)
    return threads


def _detach(y: Any) -> Any:
    if isinstance(y, torch.Tensor):
        return y.detach()
    return data_lib.tree_map(lambda t: t.detach(), y)


def predict(model: Any, x: Any, *, batch_size=None, verbose="auto", steps=None,
            callbacks=None) -> Any:
    """Run ``model`` over ``x`` in batches (eval mode, no grad); returns numpy arrays.

    ``x`` is arrays/tensors or a batch source (see ``Model.fit``); targets in the batches are
    ignored."""
    verbose = _check_verbose(verbose)
    run = _distribution._begin(model)  # None unless data-parallel
    if run is not None and not run.is_main:
        verbose = 0
    _require_x(x, "predict")
    x = data_lib.unwrap_tensor_dataset(x, None, None, "predict")[0]
    if data_lib.is_batch_source(x):
        source = data_lib.open_source(x, method="predict", batch_size=batch_size)
        batches = data_lib.SourceBatcher(
            source, data_lib.BatchConverter(x_only=True, check_x=model.check_input),
            steps=steps, steps_argument="steps", role="predict", shard=run)
        if not model.built:
            model.build_from_data(batches.sample_x())
        batches.device = model.device
    else:
        (x_t, _, _) = data_lib.to_tensors(x)
        model.check_input(x_t, "x")
        if not model.built:
            model.build_from_data(x_t)
        batches = data_lib.ArrayBatcher((x_t, None, None), _check_batch_size(batch_size),
                                        device=model.device, steps=steps, shard=run)
    if run is not None:
        run.broadcast_model(model)  # every rank predicts with rank 0's model
        return _predict_sharded(model, batches, run, callbacks, verbose)
    cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose,
                       epochs=1, steps=batches.steps)
    outputs = []
    was_training = model.training
    model.eval()
    cbs.on_predict_begin()
    threads = _one_thread_for_small_steps(model, batches)
    try:
        with torch.inference_mode():
            for step, (xb, _, _) in enumerate(batches):
                cbs.on_predict_batch_begin(step)
                out = model.fast_call(xb)
                outputs.append(out)
                cbs.on_predict_batch_end(step, {"outputs": out})
    finally:
        if threads:
            torch.set_num_threads(threads)
        model.train(was_training)
    cbs.on_predict_end()
    return _concat_to_numpy(outputs)


def _predict_sharded(model: Any, batches: Any, run: Any, callbacks: Any, verbose: int) -> Any:
    """``predict`` in a distributed run: each rank predicts its slice of every batch, then
    every rank receives all rows in their original order."""
    sampler = data_lib._distributed_sampler(getattr(getattr(batches, "source", None),
                                                    "iterable", None))
    if sampler is not None and getattr(sampler, "shuffle", False):
        raise ValueError(
            "predict() got a DataLoader whose DistributedSampler shuffles (shuffle=True), so the "
            "original order of the rows cannot be restored. Create the sampler with "
            "shuffle=False for predict, or pass the data itself (arrays or the Dataset): "
            "predict then splits every batch over the ranks by itself.")
    cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=model, verbose=verbose,
                       epochs=1, steps=batches.steps)
    state = run.state
    outputs, positions = [], []
    local_rows = 0
    was_training = model.training
    model.eval()
    cbs.on_predict_begin()
    try:
        with torch.inference_mode():
            for step, (xb, _, _) in enumerate(batches):
                cbs.on_predict_batch_begin(step)
                out = model(xb)
                count = state.count
                if sampler is not None:  # rank r's k-th sample is the sampler's k * world + r
                    where = (torch.arange(count) + local_rows) * run.world + run.rank
                else:
                    where = torch.arange(state.start, state.start + count)
                local_rows += count
                outputs.append(data_lib.tree_map(lambda t: t[:count], out))
                positions.append(where)
                cbs.on_predict_batch_end(step, {"outputs": out})
    finally:
        model.train(was_training)
    cbs.on_predict_end()
    where = torch.cat(positions)
    keep = len(sampler.dataset) if sampler is not None else None

    def gather(parts: list) -> Any:
        first = parts[0]
        if isinstance(first, torch.Tensor):
            rows = run.gather_rows(torch.cat(parts), where)
            return (rows if keep is None else rows[:keep]).cpu().numpy()
        if isinstance(first, dict):
            return {k: gather([p[k] for p in parts]) for k in first}
        return [gather([p[i] for p in parts]) for i in range(len(first))]

    return gather(outputs)


class _AgreeOnStop(Callback):
    """Last callback of a distributed fit: training stops on every rank when any rank's
    callbacks asked for it (at the end of each epoch)."""

    def __init__(self, run: Any) -> None:
        super().__init__()
        self.run = run

    def needs_batch_logs(self, batch: int) -> bool:
        return False

    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = self.run.agree_any(bool(self.model.stop_training))


class _AgreeOnStopEveryBatch(_AgreeOnStop):
    """As :class:`_AgreeOnStop`, and after every training batch too: used when a batch callback
    (e.g. TerminateOnNaN, on this rank's batch logs) may stop training mid-epoch."""

    def on_train_batch_end(self, batch, logs=None):
        self.model.stop_training = self.run.agree_any(bool(self.model.stop_training))


def _agree_on_stop(callbacks: Any, run: Any) -> Callback:
    """The stop-agreement callback a distributed fit appends to the user's callbacks."""
    from ..callbacks import (BackupAndRestore, CSVLogger, History, ModelCheckpoint,
                             ProgbarLogger, TensorBoard)

    quiet = (BackupAndRestore, CSVLogger, History, ModelCheckpoint, ProgbarLogger, TensorBoard)
    per_batch = any(not isinstance(cb, quiet) and (_overrides_hook(cb, "on_train_batch_end")
                                                   or _overrides_hook(cb, "on_batch_end"))
                    for cb in callbacks or [])
    return _AgreeOnStopEveryBatch(run) if per_batch else _AgreeOnStop(run)


def _require_x(x: Any, method: str) -> None:
    if x is None:
        raise ValueError(
            f"{method}() needs data, got x=None. Pass arrays or tensors (with y), a torch "
            "Dataset or DataLoader, a generator yielding batches, or a PyDataset."
        )
    if callable(x) and not data_lib.is_batch_source(x) and not hasattr(x, "__array__"):
        raise TypeError(
            f"{method}() got x={getattr(x, '__name__', type(x).__name__)!r}, a function. "
            "Pass what it returns instead: for a generator function, x=gen(), not x=gen."
        )


def _concat_to_numpy(outputs: list) -> Any:
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        out = torch.cat(outputs).cpu()
        if out.dtype == torch.bfloat16:  # numpy has no bfloat16 (Keras converts the same way)
            out = out.float()
        return out.numpy()
    if isinstance(first, dict):
        return {k: _concat_to_numpy([o[k] for o in outputs]) for k in first}
    return [_concat_to_numpy([o[i] for o in outputs]) for i in range(len(first))]
