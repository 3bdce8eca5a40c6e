"""The Layer base class: a ``torch.nn.Module`` with Keras's lifecycle.

Who owns what:
- ``Layer.__init__`` takes Keras's common keywords (name, trainable, dtype, input_shape /
  input_dim / batch_input_shape) and checks them.
- ``Layer.__call__`` builds the layer from the first input's shape, then runs ``call`` (through
  ``nn.Module.__call__``, so torch hooks still work).
- Subclasses write ``build(input_shape)`` (creating weights with ``add_weight``), ``call(inputs)``
  and ``compute_output_shape(input_shape)``.
- Weights are stored in **Keras layout** (a Dense kernel is ``(in, out)``), so ``get_weights`` /
  ``set_weights`` need no transposes and checkpoints exchange with Keras directly.

Training mode is torch's ``self.training``. Models start in eval mode (Keras's ``model(x)`` is
inference), ``fit`` switches to train mode for its steps and back.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import re
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .. import config as _config
from .. import constraints as _constraints
from .. import initializers as _initializers
from .. import regularizers as _regularizers
from ..utils.registry import serialize

_NAME_COUNTS: dict[str, int] = {}


def to_snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """Keras's auto names: ``dense``, ``dense_1``, ``dense_2``..."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def reset_names() -> None:
    """Forget the auto-name counters (as ``keras.backend.clear_session`` does)."""
    _NAME_COUNTS.clear()


def _torch_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        dtype = _config.floatx()
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, dict):  # Keras DTypePolicy config
        dtype = dtype.get("config", {}).get("name", _config.floatx())
    result = getattr(torch, str(dtype), None)
    if not isinstance(result, torch.dtype):
        raise ValueError(f"dtype must be a float dtype name like 'float32', got {dtype!r}")
    return result


def standardize_shape(shape: Any, argument: str) -> tuple:
    """A shape tuple whose entries are positive ints or None."""
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{argument} must be a tuple of ints, got {shape!r}") from None
    for dim in shape:
        if dim is not None and (not isinstance(dim, (int, np.integer)) or dim < 1):
            raise ValueError(
                f"{argument} must contain positive integers or None, got {shape!r}"
            )
    return tuple(None if d is None else int(d) for d in shape)


class Layer(nn.Module):
    """Base class of all layers.

    Args:
        name: layer name; defaults to the snake-case class name made unique (``dense_1``).
        trainable: whether the layer's weights are updated by training.
        dtype: weight dtype name (default ``config.floatx()``).
        input_shape: shape of one sample (no batch axis); builds the layer at construction.
        input_dim: shorthand for ``input_shape=(input_dim,)``.
        batch_input_shape: shape including the batch axis.

    Example:
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        ...     def call(self, x):
        ...         return x * self.w
        >>> Scale()(torch.ones(2, 3)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        input_shape: Sequence[int | None] | None = None,
        input_dim: int | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(kwargs)}."
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._set_dtype_policy(dtype)
        self.built = False
        self._trainable = bool(trainable)
        self._weight_names: list[str] = []
        self._regularized: list[tuple[str, Any]] = []
        self._constrained: list[tuple[str, Any]] = []
        self.activity_regularizer = _regularizers.get(activity_regularizer)
        self._activity_losses: list[torch.Tensor] = []
        self._build_shapes_arg: tuple | None = None
        self._input_shape_arg = self._declared_input_shape(
            input_shape, input_dim, batch_input_shape, batch_size
        )
        self.training = False

    @staticmethod
    def _declared_input_shape(input_shape, input_dim, batch_input_shape, batch_size):
        given = [name for name, value in (("input_shape", input_shape), ("input_dim", input_dim),
                                          ("batch_input_shape", batch_input_shape))
                 if value is not None]
        if len(given) > 1:
            raise ValueError(
                f"Give only one of input_shape, input_dim, batch_input_shape; got {given}."
            )
        if input_dim is not None:
            if not isinstance(input_dim, (int, np.integer)) or input_dim < 1:
                raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}")
            return (batch_size, int(input_dim))
        if input_shape is not None:
            return (batch_size,) + standardize_shape(input_shape, "input_shape")
        if batch_input_shape is not None:
            full = tuple(batch_input_shape)
            return (full[0],) + standardize_shape(full[1:], "batch_input_shape")
        return None

    supports_masking = False
    _call_takes_training = False
    _call_takes_mask = False
    _handles_masks = False
    _plain_call = True
    _creates_masks = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = inspect.signature(cls.call).parameters
        cls._call_takes_training = "training" in params
        cls._call_takes_mask = "mask" in params
        cls._handles_masks = bool(cls.supports_masking or cls._call_takes_mask
                                  or cls.compute_mask is not Layer.compute_mask)
        cls._plain_call = not (cls._call_takes_training or cls._call_takes_mask)
        cls._creates_masks = cls.compute_mask is not Layer.compute_mask
        # As in Keras, calling build() directly marks the layer built, so that the first call
        # does not build (and initialise) it a second time.
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_marks_built", False):
            @functools.wraps(build)
            def build_and_mark(self, *args, **kw):
                result = build(self, *args, **kw)
                self.built = True
                return result
            build_and_mark._marks_built = True
            cls.build = build_and_mark

    def _set_dtype_policy(self, dtype: Any) -> None:
        """Weights dtype and, under a mixed policy, the autocast dtype of ``call``."""
        from .. import mixed_precision
        name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
        policy = None
        if isinstance(name, mixed_precision.DTypePolicy) or (
                isinstance(name, str) and name.startswith("mixed_")):
            policy = mixed_precision.get(name)
        elif name is None and mixed_precision._GLOBAL is not None:
            policy = mixed_precision._GLOBAL
        if policy is not None and policy.is_mixed:
            self._dtype = _torch_dtype(policy.variable_dtype)
            self._amp_dtype: torch.dtype | None = policy.torch_compute_dtype
            self._dtype_policy_name = policy.name
        else:
            self._dtype = _torch_dtype(policy.variable_dtype if policy is not None else dtype)
            self._amp_dtype = None
            self._dtype_policy_name = None
        # A layer told dtype='float32' stays float32 inside a mixed-precision model.
        self._force_float = dtype is not None and policy is None and self._dtype.is_floating_point

    # ----------------------------------------------------------------- properties
    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the layer's weights (its policy's variable dtype)."""
        return self._dtype

    @property
    def dtype_policy(self) -> Any:
        """The layer's :class:`~torchkeras_lite.mixed_precision.DTypePolicy`."""
        from .. import mixed_precision
        return mixed_precision.DTypePolicy(
            self._dtype_policy_name or str(self._dtype).replace("torch.", ""))

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in (float16/bfloat16 under a mixed policy)."""
        dtype = self._amp_dtype or self._dtype
        return str(dtype).replace("torch.", "")

    @property
    def variable_dtype(self) -> str:
        return str(self._dtype).replace("torch.", "")

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._flatten_layers():
            layer._trainable = bool(value)
            for pname in layer._weight_names:
                p = getattr(layer, pname)
                if isinstance(p, nn.Parameter):
                    p.requires_grad_(bool(value) and pname not in layer._frozen_names())

    def _frozen_names(self) -> set:
        return getattr(self, "_non_trainable_names", set())

    def _flatten_layers(self) -> Iterable["Layer"]:
        return (m for m in self.modules() if isinstance(m, Layer))

    # --------------------------------------------------------------------- build
    def build(self, input_shape: tuple) -> None:
        """Create the layer's weights for inputs of ``input_shape`` (batch axis included)."""

    def maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            if not isinstance(input_shape, (list, dict)):
                input_shape = tuple(input_shape)
            self.build(input_shape)
            self._build_shapes_arg = input_shape
            self.built = True

    def add_weight(
        self,
        shape: Sequence[int] = (),
        initializer: Any = "glorot_uniform",
        dtype: Any = None,
        trainable: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        name: str | None = None,
    ) -> nn.Parameter:
        """Create a weight in Keras layout, registered as a parameter named ``name``."""
        name = name or f"weight_{len(self._weight_names)}"
        init = _initializers.get(initializer)
        value = init(tuple(int(s) for s in shape), dtype=_torch_dtype(dtype or self._dtype))
        value = torch.as_tensor(value, dtype=_torch_dtype(dtype or self._dtype))
        param = nn.Parameter(value, requires_grad=bool(trainable) and self._trainable)
        setattr(self, name, param)
        self._weight_names.append(name)
        if not trainable:
            if not hasattr(self, "_non_trainable_names"):
                self._non_trainable_names = set()
            self._non_trainable_names.add(name)
        if regularizer is not None:
            self._regularized.append((name, _regularizers.get(regularizer)))
        if constraint is not None:
            self._constrained.append((name, _constraints.get(constraint)))
        return param

    # ---------------------------------------------------------------------- call
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        inputs = args[0] if args else kwargs.get("inputs")
        if _is_symbolic(inputs):
            from ..models import functional
            return functional.symbolic_call(self, args, kwargs)
        if not self.built:
            self.maybe_build(_shape_of(inputs))
        training = kwargs.pop("training", None)
        mode = self.training if training is None else bool(training)
        if self._call_takes_training:
            kwargs["training"] = mode
        input_mask = _mask_of(inputs)
        if self._call_takes_mask and "mask" not in kwargs and input_mask is not None:
            kwargs["mask"] = input_mask
        amp = self._amp_context(inputs) if (
            self._amp_dtype is not None or self._force_float) else None
        if amp is not None:
            if amp[1]:  # an explicitly typed layer (e.g. float32 in a mixed model) casts inputs
                args = _map_tensors(args, lambda t: t.to(self._dtype))
            with amp[0]:
                out = self._call_in_mode(mode, args, kwargs)
        else:
            out = self._call_in_mode(mode, args, kwargs)
        if self.activity_regularizer is not None:
            # Like Keras: one penalty per output tensor, normalised by its batch size; a layer
            # keeps the penalties of its latest call only.
            penalties = []
            for tensor in (out if isinstance(out, (list, tuple)) else [out]):
                if isinstance(tensor, torch.Tensor):
                    penalty = self.activity_regularizer(tensor)
                    penalties.append(penalty / tensor.shape[0] if tensor.dim() else penalty)
            self._activity_losses = penalties
        if self._handles_masks:
            out_mask = self.compute_mask(inputs, kwargs.get("mask", input_mask))
            if out_mask is not None and isinstance(out, torch.Tensor):
                out._keras_mask = out_mask
        return out

    def _call_in_mode(self, mode: bool, args: tuple, kwargs: dict) -> Any:
        if mode == self.training:
            return super().__call__(*args, **kwargs)
        previous = self.training
        self.train(mode)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.train(previous)

    def _amp_context(self, inputs: Any) -> Any:
        """``(context manager, cast inputs to float32?)`` for this call under mixed precision,
        or None when nothing changes."""
        device = _device_of(inputs)
        if device is None:
            return None
        if self._amp_dtype is not None:
            return torch.autocast(device.type, dtype=self._amp_dtype), False
        if torch.is_autocast_enabled(device.type):  # an explicitly float32 layer
            return torch.autocast(device.type, enabled=False), True
        if _float_mismatch(inputs, self._dtype):  # e.g. bfloat16 from a mixed layer before
            return contextlib.nullcontext(), True
        return None

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of this layer's output (Keras): the input mask when ``supports_masking``,
        else None. Masks travel on tensors as ``tensor._keras_mask`` (as in Keras's torch
        backend); a layer whose ``call`` takes ``mask=`` receives its input's mask."""
        return mask if self.supports_masking else None

    def fast_call(self, inputs: Any) -> Any:
        """``self(inputs)`` without ``nn.Module.__call__``'s machinery when nothing could
        observe the difference (built, no hooks of any kind, no activity regularizer, no masks,
        mode-independent call signature); used by containers on the training hot path, where
        that machinery costs more than small ops."""
        if (self.built and self._plain_call and not self._creates_masks
                and self.activity_regularizer is None and self._amp_dtype is None
                and not (self._force_float
                         and (_any_autocast() or _float_mismatch(inputs, self._dtype)))
                and not (
                self._forward_hooks or self._forward_pre_hooks or self._backward_hooks
                or self._backward_pre_hooks or _global_hooks_set())
                and not _has_mask(inputs)):
            return self.call(inputs)
        return self(inputs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        """The layer's computation; subclasses override it."""
        return inputs

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """Output shape (batch axis included) for an input shape; identity by default."""
        return tuple(input_shape)

    # ------------------------------------------------------------------- weights
    @property
    def weights(self) -> list[nn.Parameter]:
        """All weights in Keras order: this layer's in creation order, then sublayers'."""
        own = [getattr(self, n) for n in self._weight_names]
        for child in self._sublayers():
            own.extend(child.weights)
        return own

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [w for w in self.weights if w.requires_grad]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [w for w in self.weights if not w.requires_grad]

    def _sublayers(self) -> list["Layer"]:
        found = []
        for child in self.children():
            if isinstance(child, Layer):
                found.append(child)
            elif isinstance(child, (nn.ModuleList, nn.ModuleDict)):
                values = child.values() if isinstance(child, nn.ModuleDict) else child
                found.extend(m for m in values if isinstance(m, Layer))
        return found

    def __setattr__(self, name: str, value: Any) -> None:
        # Keras tracks lists of layers assigned to attributes; torch needs a ModuleList.
        if (not name.startswith("_") and isinstance(value, (list, tuple)) and value
                and all(isinstance(v, nn.Module) for v in value)):
            value = nn.ModuleList(value)
        super().__setattr__(name, value)

    def get_weights(self) -> list[np.ndarray]:
        """Weights as numpy arrays in Keras layout and order."""
        return [w.detach().cpu().numpy().copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set weights from arrays in Keras layout and order (as ``get_weights`` returns)."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer {self.name!r} expects {len(own)} weight arrays "
                f"(shapes {[tuple(w.shape) for w in own]}), but set_weights received "
                f"{len(weights)}."
            )
        for i, (param, value) in enumerate(zip(own, weights)):
            value = torch.as_tensor(np.asarray(value))
            if tuple(value.shape) != tuple(param.shape):
                raise ValueError(
                    f"Layer {self.name!r}: weight array {i} must have shape "
                    f"{tuple(param.shape)}, received shape {tuple(value.shape)}."
                )
            with torch.no_grad():
                param.copy_(value.to(dtype=param.dtype))

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet, so it has no weights to count. "
                "Call it on data or call build(input_shape) first."
            )
        return int(sum(w.numel() for w in self.weights))

    # ------------------------------------------------------------------ penalties
    def regularization_losses(self) -> list[torch.Tensor]:
        """Weight-regularizer penalties of this layer and its sublayers, computed now."""
        out = []
        for layer in self._flatten_layers():
            out.extend(reg(getattr(layer, name)) for name, reg in layer._regularized)
        return out

    def clear_activity_losses(self) -> None:
        for layer in self._flatten_layers():
            layer._activity_losses.clear()

    @property
    def losses(self) -> list[torch.Tensor]:
        """Keras's ``layer.losses``: regularization penalties plus activity losses."""
        out = self.regularization_losses()
        for layer in self._flatten_layers():
            out.extend(layer._activity_losses)
        return out

    def apply_constraints(self) -> None:
        """Project constrained weights in place (after an optimizer step)."""
        with torch.no_grad():
            for layer in self._flatten_layers():
                for name, constraint in layer._constrained:
                    param = getattr(layer, name)
                    param.copy_(constraint(param))

    # --------------------------------------------------------------------- config
    def get_config(self) -> dict:
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self._dtype_policy_name or str(self._dtype).replace("torch.", ""),
        }
        if self._input_shape_arg is not None:
            config["batch_input_shape"] = self._input_shape_arg
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _global_hooks_set() -> bool:
    hooks = torch.nn.modules.module
    return bool(hooks._global_forward_hooks or hooks._global_forward_pre_hooks
                or hooks._global_backward_hooks or hooks._global_backward_pre_hooks)


def _is_symbolic(x: Any) -> bool:
    from .input_layer import KerasTensor
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(isinstance(v, KerasTensor) for v in x)
    if isinstance(x, dict):
        return any(isinstance(v, KerasTensor) for v in x.values())
    return False


def _mask_of(x: Any) -> Any:
    return getattr(x, "_keras_mask", None) if isinstance(x, torch.Tensor) else None


def _has_mask(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return getattr(x, "_keras_mask", None) is not None
    if isinstance(x, (list, tuple)):
        return any(_has_mask(v) for v in x)
    return False


def _shape_of(x: Any) -> Any:
    """Shape of a tensor, or a list/dict of shapes for structured inputs (merge layers)."""
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(
            f"A layer's input must be a tensor or array with a shape, got {type(x).__name__}."
        )
    return tuple(shape)


def _float_mismatch(inputs: Any, dtype: torch.dtype) -> bool:
    return isinstance(inputs, torch.Tensor) and inputs.is_floating_point() \
        and inputs.dtype != dtype


def _any_autocast() -> bool:
    return torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")


def _device_of(data: Any) -> torch.device | None:
    if isinstance(data, torch.Tensor):
        return data.device
    if isinstance(data, (list, tuple)):
        for item in data:
            device = _device_of(item)
            if device is not None:
                return device
    if isinstance(data, dict):
        return _device_of(list(data.values()))
    return None


def _map_tensors(data: Any, fn) -> Any:
    if isinstance(data, torch.Tensor):
        return fn(data) if data.is_floating_point() else data
    if isinstance(data, list):
        return [_map_tensors(v, fn) for v in data]
    if isinstance(data, tuple):
        return tuple(_map_tensors(v, fn) for v in data)
    if isinstance(data, dict):
        return {k: _map_tensors(v, fn) for k, v in data.items()}
    return data
