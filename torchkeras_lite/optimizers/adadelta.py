"""Adadelta with Keras 3's rule (the learning rate scales the Adadelta step)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import (
    LearningRate,
    Optimizer,
    check_fraction,
    check_non_negative,
)


class Adadelta(Optimizer):
    """Adadelta as Keras 3 computes it.

    ``Eg = rho * Eg + (1 - rho) * g^2``;
    ``d = -sqrt(Ed + epsilon) * g / sqrt(Eg + epsilon)``;
    ``Ed = rho * Ed + (1 - rho) * d^2``; ``w += lr * d``.

    Args:
        learning_rate: float or schedule (default 0.001; torch's default is 1.0).
        rho: decay rate, in [0, 1) (default 0.95).
        epsilon: added under both square roots (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> opt = Adadelta(learning_rate=1.0, params=[w])
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w.detach()
        tensor([-0.0014, -0.0014])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
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
        self.rho = check_fraction("rho", rho)
        self.epsilon = check_non_negative("epsilon", epsilon)
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    _state_names = ("accumulated_grad", "accumulated_delta_var")

    def _update(self, gs, params, grads, states, lr) -> None:
        accumulated_grads, accumulated_deltas = states
        rho = self.rho
        torch._foreach_mul_(accumulated_grads, rho)
        torch._foreach_add_(accumulated_grads, torch._foreach_mul(grads, grads), alpha=1 - rho)
        rms_deltas = torch._foreach_sqrt(torch._foreach_add(accumulated_deltas, self.epsilon))
        rms_grads = torch._foreach_sqrt(torch._foreach_add(accumulated_grads, self.epsilon))
        deltas = torch._foreach_div(torch._foreach_mul(rms_deltas, grads), rms_grads)
        torch._foreach_neg_(deltas)
        torch._foreach_mul_(accumulated_deltas, rho)
        torch._foreach_add_(accumulated_deltas, torch._foreach_mul(deltas, deltas), alpha=1 - rho)
        torch._foreach_add_(params, deltas, alpha=lr)

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
