"""Model: a Layer that can be compiled, trained, evaluated and used to predict.

Who owns what: ``Model`` is the public surface (Keras's signatures and defaults) and device
bookkeeping; the work is done by :class:`~torchkeras_lite.trainers.trainer.Trainer`, created
by ``compile()``. Subclasses (``Sequential``) define the graph: ``build``, ``call``,
``compute_output_shape`` and ``build_from_data``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from ..device import resolve_device
from ..layers.layer import Layer
from ..trainers import data as data_lib
from ..trainers.trainer import Trainer, predict as _predict
from ..utils import summary_utils


class Model(Layer):
    """Base class of models: ``compile``, ``fit``, ``evaluate``, ``predict`` and friends.

    ``Model(inputs, outputs)`` builds a functional model (see
    :class:`~torchkeras_lite.models.functional.Functional`). Subclassing works as in Keras:
    create layers in ``__init__`` and write ``call(inputs, training=None)``; the weights are
    created by running the model on the first batch. ``train_step``/``test_step`` may be
    overridden; they receive ``(x, y, sample_weight)`` and return a logs dict.

    Example:
        >>> class TwoLayer(Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = Dense(8, activation="relu")
        ...         self.out = Dense(1)
        ...     def call(self, inputs, training=None):
        ...         return self.out(self.hidden(inputs))
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from .functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *, name: str | None = None, trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._trainer: Trainer | None = None
        self._device: torch.device | None = None
        self.stop_training = False
        self.history = None

    # ------------------------------------------------------------------ device
    @property
    def device(self) -> torch.device:
        """Where the model's weights are (after ``compile``/``.to``), else the compile device."""
        for p in self.parameters():
            return p.device
        if self._device is None:
            self._device = resolve_device("auto")
        return self._device

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        trainer = getattr(self, "_trainer", None)
        if trainer is not None and getattr(trainer.optimizer, "built", False):
            # Optimizer state follows the weights (load_state_dict casts to the param's device).
            trainer.optimizer.load_state_dict(trainer.optimizer.state_dict())
        for p in self.parameters():
            self._device = p.device
            break
        if trainer is not None and trainer.metrics.built:
            trainer.metrics.to(self.device)
        return result

    # ----------------------------------------------------------------- compile
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, weighted_metrics: Any = None, *,
                device: Any = "auto", jit_compile: Any = "auto", **kwargs: Any) -> None:
        """Configure the model for training.

        Args:
            optimizer: name, class, config dict or instance (default ``'rmsprop'``).
            loss: name, function, Loss instance/class (``'crossentropy'`` picks binary/sparse/
                categorical from the label shapes).
            metrics: list of metric names/functions/instances (``'accuracy'`` resolved by shapes).
            loss_weights: scalar weight of the loss.
            weighted_metrics: metrics that receive ``sample_weight``/``class_weight``.
            device: 'auto' (env ``TORCHKERAS_LITE_DEVICE``, then cuda → mps → cpu), 'cpu',
                'cuda', 'cuda:N', 'mps' or a torch.device. The model moves there now.
            jit_compile: 'auto' (default: eager, the fastest measured on CPU), True
                (``torch.compile`` of the training forward pass and loss; on CUDA with CUDA-graph
                capture, ``mode='reduce-overhead'``) or False.
        """
        ignored = set(kwargs) - {"run_eagerly", "steps_per_execution", "auto_scale_loss"}
        if ignored:
            raise TypeError(f"compile() got unexpected keyword argument(s) {sorted(ignored)}")
        self._device = resolve_device(device)
        self.to(self._device)
        self._trainer = Trainer(self, optimizer, loss, metrics, loss_weights, weighted_metrics,
                                jit_compile=jit_compile)
        self.compiled = True

    @property
    def optimizer(self) -> Any:
        return None if self._trainer is None else self._trainer.optimizer

    @property
    def loss(self) -> Any:
        return None if self._trainer is None else self._trainer.loss.identifier

    @property
    def metrics_names(self) -> list[str]:
        if self._trainer is None:
            return []
        return list(self._trainer.logs())

    def _require_trainer(self, method: str) -> Trainer:
        if self._trainer is None:
            raise RuntimeError(
                f"You must call compile() before {method}(), e.g. "
                "model.compile(optimizer='adam', loss='mse')."
            )
        return self._trainer

    # ------------------------------------------------------------- training API
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int = 1):
        """Train for ``epochs`` epochs; returns a ``History``. Arguments as in Keras 3."""
        trainer = self._require_trainer("fit")
        return trainer.fit(
            x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
            validation_split=validation_split, validation_data=validation_data,
            shuffle=shuffle, class_weight=class_weight, sample_weight=sample_weight,
            initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
            validation_steps=validation_steps, validation_batch_size=validation_batch_size,
            validation_freq=validation_freq)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: int | None = None,
                 callbacks: list | None = None, return_dict: bool = False) -> Any:
        """Loss (a float) or ``[loss, *metrics]``, or a dict with ``return_dict=True``."""
        trainer = self._require_trainer("evaluate")
        return trainer.evaluate(x, y, batch_size=batch_size, verbose=verbose,
                                sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                                return_dict=return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: int | None = None, callbacks: list | None = None) -> np.ndarray:
        """Outputs for ``x`` as numpy (on the CPU), computed in batches in inference mode."""
        return _predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                        callbacks=callbacks)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                       class_weight: dict | None = None, return_dict: bool = False) -> Any:
        """One optimizer step on one batch; returns the loss (and metrics) of that batch."""
        trainer = self._require_trainer("train_on_batch")
        x_t, y_t, sw = data_lib.to_tensors(x, y, sample_weight)
        self.check_input(x_t, "x")
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot pass class_weight and sample_weight at the same time.")
            sw = data_lib.class_weight_to_sample_weight(y_t, class_weight)
        device = trainer.prepare(x_t)
        x_t, y_t, sw = data_lib.tree_map(lambda t: t.to(device), (x_t, y_t, sw))
        trainer.reset_metrics()
        was_training = self.training
        self.train()
        try:
            trainer.train_step(x_t, y_t, sw)
        finally:
            self.train(was_training)
        return trainer._format_evaluate(trainer.logs(), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> Any:
        """Loss (and metrics) of the model on one batch, in inference mode."""
        trainer = self._require_trainer("test_on_batch")
        x_t, y_t, sw = data_lib.to_tensors(x, y, sample_weight)
        self.check_input(x_t, "x")
        device = trainer.prepare(x_t)
        x_t, y_t, sw = data_lib.tree_map(lambda t: t.to(device), (x_t, y_t, sw))
        trainer.reset_metrics()
        was_training = self.training
        self.eval()
        try:
            trainer.test_step(x_t, y_t, sw)
        finally:
            self.train(was_training)
        return trainer._format_evaluate(trainer.logs(), return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for one batch as numpy."""
        return self.predict(x, batch_size=max(1, data_lib.num_samples(x)), verbose=0)

    # ------------------------------------------------------------------- graph
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], np.ndarray):
            x = torch.as_tensor(args[0])
            if x.dtype == torch.float64:
                x = x.float()
            args = (x.to(self.device),) + args[1:]
        out = super().__call__(*args, **kwargs)
        if not self.built and type(self).build is Layer.build and args:
            # A subclassed model is built by its first call, as in Keras; a single-tensor
            # input's shape is kept so that model.save() can rebuild it.
            self.built = True
            if isinstance(args[0], torch.Tensor):
                self._saved_input_shape = (None,) + tuple(args[0].shape[1:])
        return out

    def maybe_build(self, input_shape: Any) -> None:
        if not self.built and type(self).build is not Layer.build:
            self.build((None,) + tuple(input_shape)[1:])
            self.built = True
            self.to(self.device)

    # ------------------------------------------------------------------ saving
    def save(self, filepath: Any, overwrite: bool = True) -> None:
        """Save the model as a Keras 3 ``.keras`` file: config, weights and optimizer state.

        Real Keras 3 opens the file (``keras.saving.load_model``) for every layer both have;
        ``torchkeras_lite.models.load_model`` reads it back and training resumes where it
        stopped. The write is atomic: a crash leaves a previous file intact.

        In a distributed run (torchrun) rank 0 writes the file and every rank waits until it is
        complete; call it on every rank (a call on rank 0 alone would wait for the others).

        Args:
            filepath: path ending in ``.keras``.
            overwrite: replace an existing file (default True); False raises
                FileExistsError if it exists.

        Example:
            >>> model.save("tutorial.keras")
            >>> restored = torchkeras_lite.models.load_model("tutorial.keras")
        """
        from .. import distribution
        from ..saving import saving_lib
        distribution.write_on_main(
            lambda: saving_lib.save_model(self, filepath, overwrite=overwrite))

    def export(self, filepath: Any, format: str = "onnx", verbose: Any = None,
               input_signature: Any = None, **kwargs: Any) -> Any:
        """Export the model for serving; ``format='onnx'`` is the format we write.

        Keras 3's signature; the ONNX graph has the model's input/output names, a dynamic
        batch axis and inference semantics (see :func:`torchkeras_lite.export.export_onnx`).

        Args:
            filepath: the ``.onnx`` file to write (atomically).
            format: ``'onnx'`` (Keras's other formats, ``'tf_saved_model'``/``'openvino'``/
                ``'litert'``, need TensorFlow or OpenVINO and are not available here).
            verbose: print what was written (default True, as Keras).
            input_signature: input shape(s) for a model that is not built yet.
            **kwargs: ``opset=``, ``verify=``, ``atol=`` for ``export_onnx``.

        Example:
            >>> model.export("tutorial.onnx", format="onnx", verify=True)
        """
        if format != "onnx":
            raise ValueError(
                f"format must be 'onnx', got {format!r}. torchkeras_lite exports ONNX only "
                "(Keras's 'tf_saved_model', 'openvino' and 'litert' need TensorFlow/OpenVINO); "
                "onnxruntime, TensorRT and OpenVINO all read the ONNX file.")
        from ..export import export_onnx
        return export_onnx(self, filepath, input_signature=input_signature,
                           verbose=True if verbose is None else bool(verbose), **kwargs)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save the weights (and the optimizer state, as Keras does) to a ``.weights.h5``
        file in Keras 3's layout; atomic.

        In a distributed run rank 0 writes and every rank waits until the file is complete;
        call it on every rank, as :meth:`save`.

        Args:
            filepath: path ending in ``.weights.h5`` (required, as in Keras).
            overwrite: replace an existing file (default True); False raises
                FileExistsError if it exists.

        Example:
            >>> model.save_weights("tutorial.weights.h5")
        """
        from .. import distribution
        from ..saving import saving_lib
        distribution.write_on_main(
            lambda: saving_lib.save_weights(self, filepath, overwrite=overwrite))

    def load_weights(self, filepath: Any, skip_mismatch: bool = False) -> None:
        """Load weights from a ``.weights.h5`` file or a ``.keras`` archive (written by us or
        by real Keras 3) into this built model of the same architecture.

        The optimizer state in the file is restored too when this model's optimizer is built
        (as in Keras). Shapes and counts are checked for every layer before anything is
        copied.

        Args:
            filepath: path ending in ``.weights.h5`` or ``.keras``.
            skip_mismatch: warn about (instead of raising for) layers whose weights do not fit,
                and load the others (default False).

        Example:
            >>> model.load_weights("tutorial.weights.h5")
        """
        from ..saving import saving_lib
        saving_lib.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    # ------------------------------------------------------ custom training steps
    def train_step(self, data: tuple) -> dict:
        """One optimizer step on ``data = (x, y, sample_weight)``; returns the logs (tensors).
        Override it in a subclass as in Keras; the default is the compiled step."""
        trainer = self._require_trainer("train_step")
        trainer.train_step(*data)
        return trainer.logs()

    def test_step(self, data: tuple) -> dict:
        """Loss and metrics of one batch ``(x, y, sample_weight)`` in inference mode."""
        trainer = self._require_trainer("test_step")
        trainer.test_step(*data)
        return trainer.logs()

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None,
                     sample_weight: Any = None, training: bool = True) -> torch.Tensor:
        """The compiled loss plus regularization penalties (for custom train steps)."""
        return self._require_trainer("compute_loss")._loss(x, y, sample_weight, y_pred)

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict:
        """Update the compiled metrics and return all current results (for custom steps)."""
        trainer = self._require_trainer("compute_metrics")
        trainer.metrics.update_state(y, y_pred, sample_weight)
        return trainer.logs()

    def _overrides(self, method: str) -> bool:
        return getattr(type(self), method) is not getattr(Model, method)

    @property
    def metrics(self) -> list:
        """The compiled metric objects (after the first batch)."""
        if self._trainer is None:
            return []
        return self._trainer.metrics.metrics + self._trainer.metrics.weighted

    def build_from_data(self, x: Any) -> None:
        """Build from a batch of data, as Keras does on the first fit/predict: from its shape
        for models that know how, else (subclassed models) by running it on two samples."""
        if self.built:
            return
        if type(self).build is not Layer.build:
            self.maybe_build(tuple(data_lib.tree_leaves(x)[0].shape))
            return
        device = self.device
        sample = data_lib.tree_map(lambda t: t[:2].to(device), x)
        previous = self.training
        self.eval()
        try:
            with torch.no_grad():
                self(sample)
        finally:
            self.train(previous)
        self.clear_activity_losses()
        self.built = True
        self.to(device)

    def check_input(self, x: Any, argument: str) -> None:
        """Raise if ``x``'s per-sample shape differs from the declared input shape."""

    def summary(self, line_length: int | None = None, positions: Any = None,
                print_fn: Callable[..., Any] | None = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print Keras 3's summary table: layers, output shapes and parameter counts."""
        summary_utils.print_summary(self, line_length=line_length, print_fn=print_fn,
                                    show_trainable=show_trainable)
