"""Adam and AdamW with Keras 3's update rule, on torch's fused Adam kernel when it can run.

Keras uses "epsilon hat": ``alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`` and
``w -= alpha * m / (sqrt(v) + epsilon)``. torch's Adam divides ``sqrt(v)`` by
``sqrt(1 - beta_2^t)`` *before* adding its epsilon, which is the same update exactly when torch's
epsilon is ``epsilon / sqrt(1 - beta_2^t)``. So each step passes that per-step epsilon to
``torch._fused_adam_``. AMSGrad keeps the same structure in both (the running maximum of ``v``
replaces ``v``), so the trick holds there too.

One more per-step correction goes into the learning rate passed to the kernel: Keras computes
``alpha`` in float32, from the float32-rounded betas, while torch's kernel uses float64. For
``beta_2 = 0.999`` the rounded beta alone moves ``sqrt(1 - beta_2^t)`` by ~6e-6 relative, always
in the same direction, which adds up to ~1e-6 over 40 steps at lr 0.01; the float32 rounding of
``beta_2^t`` adds up to ~1e-5 more at small ``t``. So ``alpha`` is computed here op by op in
float32 as Keras does, and the kernel's learning rate is chosen to reproduce it. The kernel's
moment updates already use float32 betas as Keras does. Weight decay (``w *= 1 - wd * lr``,
Keras's decoupled form, which is also what ``torch.optim.AdamW`` does before its update) is
applied by the base class before the kernel runs, in Keras's float32 arithmetic.

Where the fused kernel cannot run (mixed devices or dtypes, unsupported device, ``fused=False``)
the rule is written with ``torch._foreach_*`` ops in Keras's own order (bit-identical to Keras).
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import (
    LearningRate,
    Optimizer,
    check_fraction,
    check_non_negative,
    to_float32,
)

try:
    from torch.optim.optimizer import _get_fused_kernels_supported_devices
except ImportError:  # pragma: no cover - depends on the torch version
    def _get_fused_kernels_supported_devices() -> "list[str]":
        return []


def _can_fuse(params: "list[torch.Tensor]") -> bool:
    if not params:
        return False
    first = params[0]
    return (
        hasattr(torch, "_fused_adam_")
        and first.device.type in _get_fused_kernels_supported_devices()
        and first.is_floating_point()
        and all(p.device == first.device and p.dtype == first.dtype for p in params)
    )


class Adam(Optimizer):
    """Adam, as Keras 3 computes it (epsilon added after the bias-corrected step size).

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1: decay of the first moment, in [0, 1) (default 0.9).
        beta_2: decay of the second moment, in [0, 1) (default 0.999).
        epsilon: Keras's "epsilon hat" (default 1e-7).
        amsgrad: use the running maximum of the second moment (default False).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.
        fused: keyword-only. None (default) uses torch's fused kernel when all parameters share
            one device and dtype that it supports; False always uses the foreach rule; True
            requires the fused kernel.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> opt = Adam(learning_rate=0.1, params=[w])
        >>> w.grad = torch.ones(3)
        >>> opt.step()
        >>> w.detach()
        tensor([-0.1000, -0.1000, -0.1000])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        fused: Optional[bool] = None,
        params: Optional[Iterable[Any]] = None,
    ) -> None:
        self.beta_1 = check_fraction("beta_1", beta_1)
        self.beta_2 = check_fraction("beta_2", beta_2)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        if fused not in (None, True, False):
            raise ValueError(f"fused must be None, True or False, got {fused!r}.")
        self.fused = fused
        self._use_fused = False
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    def _active_state_names(self) -> "tuple[str, ...]":
        if self.amsgrad:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _refresh(self) -> None:
        params = [p for group in self.param_groups for p in group["params"]]
        can_fuse = _can_fuse(params)
        if self.fused and not can_fuse:
            raise RuntimeError(
                "Adam(fused=True) needs all parameters floating point, on one device and of one "
                "dtype supported by torch's fused Adam kernel "
                f"({_get_fused_kernels_supported_devices()}); use fused=None to fall back."
            )
        self._use_fused = can_fuse and self.fused is not False
        super()._refresh()

    def _group_extra(self, params: "list[torch.Tensor]") -> Any:
        # torch keeps a 'step' tensor per parameter; here all of a group's entries are one shared
        # tensor, set to Keras's global step before each update (parameters that skipped a step
        # still use the global count, as in Keras).
        if not params:
            return None
        step = torch.full((), float(self.iterations), dtype=torch.float32, device=params[0].device)
        for p in params:
            self.state[p]["step"] = step
        return step, [step] * len(params)

    def _update(self, gs, params, grads, states, lr) -> None:
        step_tensor, steps = gs.extra
        t = self.iterations + 1
        step_tensor.fill_(t)
        if self._use_fused:
            self._fused_update(params, grads, states, steps[: len(params)], lr, t)
        else:
            self._foreach_update(params, grads, states, lr, t)

    def _fused_update(self, params, grads, states, steps, lr, t) -> None:
        # Keras's step size, op by op in float32 as Keras computes it (torch's float32 sqrt can
        # differ from a correctly rounded one by an ulp: harmless here, the kernel's own
        # rounding differs from Keras's anyway).
        f32 = to_float32
        beta_1_power = f32(f32(self.beta_1) ** t)
        beta_2_power = f32(f32(self.beta_2) ** t)
        alpha = f32(f32(f32(lr) * f32(math.sqrt(f32(1 - beta_2_power)))) / f32(1 - beta_1_power))
        # The kernel steps by lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), bc = 1 - beta^t in
        # float64; these lr and eps turn that into Keras's alpha * m / (sqrt(v) + epsilon).
        bc1 = 1 - self.beta_1**t
        bc2_sqrt = math.sqrt(1 - self.beta_2**t)
        torch._fused_adam_(
            params,
            grads,
            states[0],
            states[1],
            states[2] if self.amsgrad else [],
            steps,
            amsgrad=self.amsgrad,
            lr=alpha * bc1 / bc2_sqrt,
            beta1=self.beta_1,
            beta2=self.beta_2,
            weight_decay=0.0,
            eps=self.epsilon / bc2_sqrt,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )

    def _foreach_update(self, params, grads, states, lr, t) -> None:
        # Keras's ops in Keras's order; alpha from 0-d CPU tensors of the weights' dtype as
        # Keras computes it, so that this path is bit-identical to Keras.
        dtype = params[0].dtype
        step = torch.tensor(t, dtype=dtype)
        beta_1_power = torch.tensor(self.beta_1, dtype=dtype) ** step
        beta_2_power = torch.tensor(self.beta_2, dtype=dtype) ** step
        alpha = torch.tensor(lr, dtype=dtype) * torch.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        alpha = alpha.item()  # a CPU tensor: no device synchronisation
        exp_avgs, exp_avg_sqs = states[0], states[1]
        torch._foreach_mul_(exp_avgs, self.beta_1)
        torch._foreach_add_(exp_avgs, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(exp_avg_sqs, self.beta_2)
        torch._foreach_add_(exp_avg_sqs, torch._foreach_mul(grads, grads), alpha=1 - self.beta_2)
        if self.amsgrad:
            torch._foreach_maximum_(states[2], exp_avg_sqs)
            exp_avg_sqs = states[2]
        denominators = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_add_(denominators, self.epsilon)
        torch._foreach_add_(
            params, torch._foreach_div(torch._foreach_mul(exp_avgs, alpha), denominators), alpha=-1
        )

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        if self.fused is not None:
            config["fused"] = self.fused
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay, Keras 3's ``AdamW`` (weight_decay default 0.004).

    Each update first multiplies the weights by ``1 - weight_decay * lr``, then applies Adam.

    Args:
        learning_rate: float or schedule (default 0.001).
        weight_decay: non-negative float (default 0.004); None is an error, as in Keras.
        beta_1, beta_2, epsilon, amsgrad, fused: as :class:`Adam`.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency,
        loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        fused: Optional[bool] = None,
        params: Optional[Iterable[Any]] = None,
    ) -> None:
        if weight_decay is None:
            raise ValueError("weight_decay must be a non-negative float for AdamW, got None.")
        super().__init__(
            learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
            global_clipnorm, use_ema, ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, fused=fused, params=params,
        )
