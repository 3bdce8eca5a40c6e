"""The optimizer base class: Keras 3's optimizer contract on top of ``torch.optim.Optimizer``.

Who owns what:

* ``__init__`` checks and stores the hyper-parameters, with Keras's signature and defaults. It
  does not need parameters: the model binds them later with ``build(params)``, once it sits on
  its device. A torch user may pass ``params=`` (keyword-only) to build at once.
* ``build(params)`` is the only place that runs ``torch.optim.Optimizer.__init__``; it creates
  every per-parameter state tensor eagerly (as Keras's ``build`` does), in ``self.state[p]``, so
  torch's ``state_dict()`` / ``load_state_dict()`` work unchanged.
* ``step()`` is the template method and follows the order of Keras's ``apply``: evaluate the
  learning rate (a schedule is called with the Python ``iterations`` counter, on the host),
  gather gradients (parameters without one are skipped), unscale by ``loss_scale_factor``,
  accumulate (``gradient_accumulation_steps``), clip, apply weight decay
  (``w *= 1 - weight_decay * lr``), run the subclass's ``_update`` rule, update the EMA, count.
* Subclasses declare their per-parameter state (``_state_names``, ``_init_state``) and write the
  update rule ``_update`` with ``torch._foreach_*`` ops over all parameters of a group.

Nothing in ``step()`` reads a device value back to the host: every scalar (learning rate, bias
corrections) is computed in Python from the ``iterations`` counter.

Deliberate differences from Keras: ``learning_rate`` and ``iterations`` are Python numbers, not
variables; integer learning rates are accepted; ``clipnorm``/``clipvalue``/``global_clipnorm``
of 0 and momentum/rho/betas of 1 are errors (Keras silently disables clipping, or accepts them);
default names carry no ``_1``, ``_2`` counter. Not provided: ``exclude_from_weight_decay`` and
Keras's optimizer-variable API (``variables``, ``set_weights``, ``stateless_apply``); optimizer
state is saved with torch's ``state_dict()``.
"""
from __future__ import annotations

import numbers
import re
import struct
from typing import Any, Callable, Iterable, Optional, Union

import torch

from torchkeras_lite.optimizers import schedules
from torchkeras_lite.optimizers.schedules import LearningRateSchedule

try:
    from torch.optim.optimizer import (
        _global_optimizer_post_hooks as _GLOBAL_STEP_POST_HOOKS,
        _global_optimizer_pre_hooks as _GLOBAL_STEP_PRE_HOOKS,
    )
except ImportError:  # pragma: no cover - depends on the torch version; always run the hooks
    _GLOBAL_STEP_PRE_HOOKS = _GLOBAL_STEP_POST_HOOKS = {None: None}

LearningRate = Union[float, LearningRateSchedule, Callable[[], float]]

_GROUP_KEYS = frozenset({"params", "param_names", "lr"})


def to_float32(x: float) -> float:
    """``x`` rounded to float32, for scalars that Keras computes in float32 arithmetic."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_fraction(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1), else a ValueError naming ``name``."""
    if not _is_number(value) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}.")
    return float(value)


def check_non_negative(name: str, value: Any) -> float:
    """``value`` as a float >= 0, else a ValueError naming ``name``."""
    if not _is_number(value) or not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be a non-negative float, got {value!r}.")
    return float(value)


def _check_optional_positive(name: str, value: Any) -> "float | None":
    if value is None:
        return None
    if not _is_number(value) or not value > 0:
        raise ValueError(f"{name} must be a positive float or None, got {value!r}.")
    return float(value)


def _check_learning_rate(value: Any) -> LearningRate:
    if isinstance(value, LearningRateSchedule) or (callable(value) and not _is_number(value)):
        return value
    if not _is_number(value):
        hint = ""
        scalar = isinstance(value, (str, bytes)) or getattr(value, "ndim", None) == 0
        if not scalar and hasattr(value, "__iter__"):
            hint = (
                " To bind parameters at construction, pass them by keyword: "
                "Adam(1e-3, params=model.parameters())."
            )
        raise TypeError(
            "learning_rate must be a float, a LearningRateSchedule or a callable returning the "
            f"rate, got {value!r} of type {type(value).__name__}.{hint}"
        )
    if not value >= 0:
        raise ValueError(f"learning_rate must be a non-negative float, got {value!r}.")
    return float(value)


class _GroupState:
    """Per param-group lists aligned with ``params``, rebuilt whenever the state is replaced."""

    __slots__ = ("group", "params", "states", "accumulators", "averages", "extra", "flip",
                 "kernel_lists")

    def __init__(self, group, params, states, accumulators, averages, extra):
        self.group = group
        self.params = params
        self.states = states
        self.accumulators = accumulators
        self.averages = averages
        self.extra = extra
        # Column-major 2-D weights (Dense kernels: torch's nn.Linear layout) are handed to the
        # update kernels as their contiguous transposes: elementwise rules do not care, and
        # torch's fused/foreach kernels are 3x slower on non-contiguous tensors.
        flip = [p.dim() == 2 and not p.is_contiguous() and p.t().is_contiguous()
                for p in params]
        self.flip = flip if any(flip) else None
        if self.flip is None:
            self.kernel_lists = None
        else:
            def view(tensors):
                return None if tensors is None else [
                    t.t() if f else t for t, f in zip(tensors, flip)]
            self.kernel_lists = (view(params), tuple(view(s) for s in states),
                                 view(accumulators))


class Optimizer(torch.optim.Optimizer):
    """Base class of the Keras-named optimizers; a ``torch.optim.Optimizer`` once built.

    Args:
        learning_rate: a float, a
            :class:`~torchkeras_lite.optimizers.schedules.LearningRateSchedule` (called with
            ``iterations`` each step) or a callable without arguments.
        weight_decay: if set, every updated weight is multiplied by ``1 - weight_decay * lr``
            before the update (Keras's decoupled decay). Default None.
        clipnorm: clip each gradient to this L2 norm. Default None.
        clipvalue: clip each gradient element to ``[-clipvalue, clipvalue]``. Default None.
        global_clipnorm: clip all gradients together to this global L2 norm. Default None.
            At most one of the three clipping arguments may be set.
        use_ema: keep an exponential moving average of the weights. Default False.
        ema_momentum: EMA momentum (default 0.99).
        ema_overwrite_frequency: every this many steps, overwrite the weights with their
            average; None (default) leaves it to :meth:`finalize_variable_values`.
        loss_scale_factor: gradients are divided by it before use; :meth:`scale_loss`
            multiplies the loss by it. Default None.
        gradient_accumulation_steps: update every this many steps (>= 2) with the mean of the
            accumulated gradients. Default None.
        name: default: the class name in snake case (``"adam"``, ``"rm_sprop"``), as Keras.
        params: keyword-only, for torch users: parameters (or param groups) to build on now.
    """

    _state_names: "tuple[str, ...]" = ()

    def __init__(
        self,
        learning_rate: LearningRate,
        weight_decay: Optional[float] = None,
        clipnorm: Optional[float] = None,
        clipvalue: Optional[float] = None,
        global_clipnorm: Optional[float] = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: Optional[int] = None,
        loss_scale_factor: Optional[float] = None,
        gradient_accumulation_steps: Optional[int] = None,
        name: Optional[str] = None,
        *,
        params: Optional[Iterable[Any]] = None,
    ) -> None:
        self._learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = (
            None if weight_decay is None else check_non_negative("weight_decay", weight_decay)
        )
        self.clipnorm = _check_optional_positive("clipnorm", clipnorm)
        self.clipvalue = _check_optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = _check_optional_positive("global_clipnorm", global_clipnorm)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                f"clipnorm={clipnorm!r}, clipvalue={clipvalue!r}, "
                f"global_clipnorm={global_clipnorm!r}."
            )
        self.use_ema = bool(use_ema)
        if not _is_number(ema_momentum) or not 0 <= ema_momentum <= 1:
            raise ValueError(f"ema_momentum must be a float in [0, 1], got {ema_momentum!r}.")
        self.ema_momentum = float(ema_momentum)
        if ema_overwrite_frequency is not None and (
            not isinstance(ema_overwrite_frequency, int)
            or isinstance(ema_overwrite_frequency, bool)
            or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                "ema_overwrite_frequency must be an integer >= 1 or None, got "
                f"{ema_overwrite_frequency!r}."
            )
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = _check_optional_positive("loss_scale_factor", loss_scale_factor)
        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, int)
            or isinstance(gradient_accumulation_steps, bool)
            or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                "gradient_accumulation_steps must be an integer >= 2 or None, got "
                f"{gradient_accumulation_steps!r}."
            )
        self.gradient_accumulation_steps = gradient_accumulation_steps
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string or None, got {name!r}.")
        self.name = name if name is not None else _snake_case(type(self).__name__)
        self._iterations = 0
        self._groups: "list[_GroupState]" = []
        self.built = False
        if params is not None:
            self.build(params)

    # ----------------------------------------------------------------------------- building

    def build(self, params: Iterable[Any]) -> None:
        """Bind parameters (tensors or torch param-group dicts) and create the state.

        Call it after the model has been moved to its device. Calling it again with the same
        parameters does nothing; other parameters raise a ValueError (make a new optimizer).
        """
        params = list(params)
        if self.built:
            if [id(p) for p in _flatten_params(params)] != [id(p) for p in self._all_params()]:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r} is already built on other parameters; "
                    "create a new optimizer for a new set of parameters."
                )
            return
        torch.optim.Optimizer.__init__(self, params, {"lr": self._current_lr()})
        self.built = True

    def add_param_group(self, param_group: "dict[str, Any]") -> None:
        """torch's ``add_param_group``; a group may set its own ``lr``, nothing else.

        Other hyper-parameters are optimizer-wide, as in Keras.
        """
        unsupported = sorted(set(param_group) - _GROUP_KEYS)
        if unsupported:
            raise ValueError(
                f"{type(self).__name__} param groups may only set 'params' and 'lr', got "
                f"{unsupported}; other hyper-parameters are optimizer-wide (Keras semantics): "
                "use one optimizer per setting."
            )
        super().add_param_group(param_group)
        self._refresh()

    def _all_params(self) -> "list[torch.Tensor]":
        return [p for gs in self._groups for p in gs.params]

    def _init_state(self, name: str, param: torch.Tensor) -> torch.Tensor:
        """A new state tensor ``name`` for ``param`` (zeros unless a subclass says otherwise)."""
        return torch.zeros_like(param, memory_format=torch.preserve_format)

    def _active_state_names(self) -> "tuple[str, ...]":
        return self._state_names

    def _group_extra(self, params: "list[torch.Tensor]") -> Any:
        """Subclass hook: per-group data besides the per-parameter state lists."""
        return None

    def _refresh(self) -> None:
        """Create missing state and rebuild the per-group lists used by ``step``."""
        names = self._active_state_names()
        base_names = []
        if self.gradient_accumulation_steps:
            base_names.append("gradient_accumulator")
        if self.use_ema:
            base_names.append("average")
        groups = []
        for group in self.param_groups:
            params = list(group["params"])
            for p in params:
                state = self.state[p]
                for name in (*names, *base_names):
                    value = state.get(name)
                    if not isinstance(value, torch.Tensor) or value.shape != p.shape:
                        state[name] = self._init_state(name, p)
                    elif value.stride() != p.stride() and value.dim() > 1:
                        # same memory layout as the weight (e.g. state loaded from a file)
                        state[name] = torch.empty_like(p).copy_(value)
            states = tuple([self.state[p][n] for p in params] for n in names)
            accumulators = (
                [self.state[p]["gradient_accumulator"] for p in params]
                if self.gradient_accumulation_steps
                else None
            )
            averages = [self.state[p]["average"] for p in params] if self.use_ema else None
            extra = self._group_extra(params)
            groups.append(_GroupState(group, params, states, accumulators, averages, extra))
        self._groups = groups

    # ------------------------------------------------------------------------------- stepping

    @property
    def iterations(self) -> int:
        """Number of updates so far (Keras's ``optimizer.iterations``), a Python int.

        With ``gradient_accumulation_steps`` it counts real updates, not ``step()`` calls.
        """
        n = self.gradient_accumulation_steps
        return self._iterations // n if n else self._iterations

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Apply one update from the parameters' ``.grad``; returns ``closure()`` if given."""
        if not self.built:
            raise RuntimeError(
                f"{type(self).__name__}.step() was called before the optimizer was built: "
                "call build(model.parameters()) first (compile/fit do it), or pass params= "
                "when constructing it."
            )
        # torch wraps step() to run step hooks inside a profiler range; that costs ~5 us per
        # step, so it is taken only when a hook is registered or a profiler is running.
        if (
            self._optimizer_step_pre_hooks
            or self._optimizer_step_post_hooks
            or _GLOBAL_STEP_PRE_HOOKS
            or _GLOBAL_STEP_POST_HOOKS
            or torch._C._autograd._profiler_enabled()
        ):
            return self._hooked_step(closure)
        return self._step(closure)

    step.hooked = True  # tells torch.optim.Optimizer not to wrap it

    def _step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            self._apply_gradients()
        return loss

    _hooked_step = torch.optim.Optimizer.profile_hook_step(_step)

    def _apply_gradients(self) -> None:
        if not isinstance(self._learning_rate, float):
            lr = self._current_lr()
            for gs in self._groups:
                gs.group["lr"] = lr
        work = self._collect_gradients()
        all_grads = work[0][2] if len(work) == 1 else [g for w in work for g in w[2]]
        if self.loss_scale_factor is not None:
            torch._foreach_div_(all_grads, self.loss_scale_factor)
        if self.gradient_accumulation_steps:
            if not self._accumulate(work):
                self._finish_step()
                return
            all_grads = [g for w in work for g in w[2]]
        self._clip_gradients(all_grads)
        for gs, params, grads, states, _ in work:
            lr = gs.group["lr"]
            if self.weight_decay is not None:
                # Keras: w *= 1 - weight_decay * lr, evaluated in float32.
                decay = to_float32(to_float32(self.weight_decay) * to_float32(lr))
                torch._foreach_mul_(params, to_float32(1 - decay))
            self._update(gs, params, grads, states, lr)
        self._finish_step()

    def _collect_gradients(self) -> list:
        """Per group: (group state, params, grads, states, accumulators) of params with a grad."""
        work = []
        for gs in self._groups:
            params, states, accumulators = gs.params, gs.states, gs.accumulators
            grads = [p.grad for p in params]
            if gs.flip is not None:
                params, states, accumulators = gs.kernel_lists
                grads = [g.t() if f and g is not None else g for g, f in zip(grads, gs.flip)]
            if any(g is None for g in grads):
                keep = [i for i, g in enumerate(grads) if g is not None]
                if not keep:
                    continue
                params = [params[i] for i in keep]
                grads = [grads[i] for i in keep]
                states = tuple([s[i] for i in keep] for s in states)
                if accumulators is not None:
                    accumulators = [accumulators[i] for i in keep]
            work.append((gs, params, grads, states, accumulators))
        if not work:
            raise ValueError(
                "No gradients provided for any parameter: every .grad is None. Call "
                "loss.backward() before step()."
            )
        return work

    def _accumulate(self, work: list) -> bool:
        """Gradient accumulation; True on an update step, where ``work`` gets the mean grads."""
        n = self.gradient_accumulation_steps
        if (self._iterations + 1) % n:
            for _, _, grads, _, accumulators in work:
                torch._foreach_add_(accumulators, grads)
            return False
        for i, (gs, params, grads, states, accumulators) in enumerate(work):
            mean = torch._foreach_add(grads, accumulators)
            torch._foreach_div_(mean, n)
            work[i] = (gs, params, mean, states, accumulators)
        for gs in self._groups:
            torch._foreach_zero_(gs.accumulators)
        return True

    def _clip_gradients(self, grads: "list[torch.Tensor]") -> None:
        if self.clipnorm is not None:
            # Keras: g * clipnorm / max(||g||, clipnorm), per gradient.
            norms = torch._foreach_norm(grads)
            torch._foreach_maximum_(norms, self.clipnorm)
            torch._foreach_mul_(grads, self.clipnorm)
            torch._foreach_div_(grads, norms)
        elif self.global_clipnorm is not None:
            # Keras: g * clip * min(1 / global_norm, 1 / clip), NaN if the norm is not finite.
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            scale = torch.reciprocal(norm).clamp_(max=1.0 / self.global_clipnorm)
            scale.mul_(self.global_clipnorm).add_(norm - norm)
            torch._foreach_mul_(grads, scale)
        elif self.clipvalue is not None:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)

    def _finish_step(self) -> None:
        if self.use_ema:
            self._update_ema()
        self._iterations += 1

    def _update(
        self,
        gs: _GroupState,
        params: "list[torch.Tensor]",
        grads: "list[torch.Tensor]",
        states: "tuple[list[torch.Tensor], ...]",
        lr: float,
    ) -> None:
        """The update rule, in place on ``params`` and ``states`` (lists aligned with params)."""
        raise NotImplementedError

    def _update_ema(self) -> None:
        # Keras: average = m * average + (1 - m) * w, with m = 0 on the first update.
        momentum = to_float32(self.ema_momentum) if self.iterations else 0.0
        overwrite = (
            self.ema_overwrite_frequency is not None
            and (self.iterations + 1) % self.ema_overwrite_frequency == 0
        )
        for gs in self._groups:
            weighted = torch._foreach_mul(gs.params, 1 - momentum)
            torch._foreach_mul_(gs.averages, momentum)
            torch._foreach_add_(gs.averages, weighted)
            if overwrite:
                torch._foreach_copy_(gs.params, gs.averages)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of the bound parameters (a no-op before ``build``)."""
        if not self.built:
            return
        if set_to_none:
            for gs in self._groups:
                for p in gs.params:
                    p.grad = None
        else:
            super().zero_grad(set_to_none=False)

    # ----------------------------------------------------------------------- Keras-style API

    def apply_gradients(self, grads_and_vars: Iterable[Any]) -> int:
        """Keras's ``apply_gradients(zip(grads, params))``: set ``.grad`` and ``step()``."""
        grads, params = zip(*grads_and_vars)
        self.apply(list(grads), list(params))
        return self.iterations

    def apply(self, grads: "list[Any]", trainable_variables: "list[Any] | None" = None) -> None:
        """Keras's ``apply(grads, variables)``; builds on ``variables`` on the first call."""
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "apply(grads) without variables needs a built optimizer: call "
                    "build(params) first or pass the variables."
                )
            trainable_variables = self._all_params()
        elif not self.built:
            self.build(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"apply got {len(grads)} gradients for {len(trainable_variables)} variables."
            )
        known = {id(p) for p in self._all_params()}
        for g, p in zip(grads, trainable_variables):
            if id(p) not in known:
                raise ValueError(
                    f"Unknown variable of shape {tuple(p.shape)}: this optimizer was built on "
                    "other parameters; create a new optimizer for new parameters."
                )
            p.grad = g
        self.step()

    def scale_loss(self, loss: Any) -> Any:
        """``loss * loss_scale_factor`` when it is set, else ``loss``."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def finalize_variable_values(self, var_list: "Iterable[torch.Tensor] | None" = None) -> None:
        """With ``use_ema``, copy the moving averages into the weights (Keras does it at the end
        of ``fit``). ``var_list`` defaults to all bound parameters."""
        if not (self.use_ema and self.built):
            return
        params = self._all_params() if var_list is None else list(var_list)
        with torch.no_grad():
            for p in params:
                p.copy_(self.state[p]["average"])

    @property
    def learning_rate(self) -> float:
        """The current learning rate as a Python float (a schedule is evaluated at
        ``iterations``). Settable with a float or a schedule; a float updates all param groups."""
        if isinstance(self._learning_rate, float) and self.built:
            return self.param_groups[0]["lr"]
        return self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        value = _check_learning_rate(value)
        if isinstance(self._learning_rate, LearningRateSchedule) and isinstance(value, float):
            raise TypeError(
                "This optimizer was created with a LearningRateSchedule, so its learning rate "
                "cannot be set to a float; build it with a float learning_rate to make it "
                "settable, or assign another schedule."
            )
        self._learning_rate = value
        if self.built:
            lr = self._current_lr()
            for group in self.param_groups:
                group["lr"] = lr

    def _current_lr(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, float):
            return lr
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        return float(lr())

    # --------------------------------------------------------------------------- serialization

    def get_config(self) -> "dict[str, Any]":
        """Keras's optimizer config; a schedule is serialized as Keras does."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr_config: Any = schedules.serialize(lr)
        elif isinstance(lr, float):
            lr_config = self.learning_rate
        else:
            lr_config = lr
        return {
            "name": self.name,
            "learning_rate": lr_config,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: "dict[str, Any]", custom_objects: "dict | None" = None):
        """A new, unbuilt optimizer from :meth:`get_config`'s output (or a Keras config)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def _extra_state(self) -> "dict[str, Any]":
        return {"iterations": self._iterations}

    def _load_extra_state(self, state_dict: "dict[str, Any]") -> None:
        self._iterations = int(state_dict.get("iterations", self._iterations))

    def state_dict(self) -> "dict[str, Any]":
        """torch's state dict plus ``iterations`` (and any scalar state of the subclass)."""
        self._require_built("state_dict")
        state = super().state_dict()
        state.update(self._extra_state())
        return state

    def load_state_dict(self, state_dict: "dict[str, Any]") -> None:
        """Restore what :meth:`state_dict` saved; the optimizer must be built on the same
        parameter layout."""
        self._require_built("load_state_dict")
        super().load_state_dict(state_dict)
        self._load_extra_state(state_dict)
        if isinstance(self._learning_rate, float):
            self._learning_rate = float(self.param_groups[0]["lr"])
        self._refresh()

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise RuntimeError(
                f"{type(self).__name__}.{what}() needs a built optimizer: call "
                "build(model.parameters()) first."
            )

    def __getstate__(self) -> "dict[str, Any]":
        return self.__dict__.copy()

    def __setstate__(self, state: "dict[str, Any]") -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        lr = self.learning_rate if isinstance(self._learning_rate, float) else self._learning_rate
        name = type(self).__name__
        return f"{name}(name={self.name!r}, learning_rate={lr!r}, built={self.built})"


def _flatten_params(params: "list[Any]") -> "list[torch.Tensor]":
    out = []
    for item in params:
        if isinstance(item, dict):
            out.extend(p[1] if isinstance(p, tuple) else p for p in item["params"])
        else:
            out.append(item[1] if isinstance(item, tuple) else item)
    return out
