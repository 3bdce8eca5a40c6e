"""Adamax with Keras 3's rule."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import (
    LearningRate,
    Optimizer,
    check_fraction,
    check_non_negative,
    to_float32,
)


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm) as Keras 3 computes it.

    ``m = beta_1 * m + (1 - beta_1) * g``; ``u = max(beta_2 * u, |g|)``;
    ``w -= lr * m / ((1 - beta_1^t) * (u + epsilon))``.

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1: decay of the first moment, in [0, 1) (default 0.9).
        beta_2: decay of the infinity norm, in [0, 1) (default 0.999).
        epsilon: added to the norm (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> opt = Adamax(learning_rate=0.1, params=[w])
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w.detach()
        tensor([-0.1000, -0.1000])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
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
        self.beta_1 = check_fraction("beta_1", beta_1)
        self.beta_2 = check_fraction("beta_2", beta_2)
        self.epsilon = check_non_negative("epsilon", epsilon)
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    _state_names = ("m", "u")

    def _update(self, gs, params, grads, states, lr) -> None:
        m, u = states
        t = self.iterations + 1
        torch._foreach_mul_(m, self.beta_1)
        torch._foreach_add_(m, grads, alpha=1 - self.beta_1)
        torch._foreach_mul_(u, self.beta_2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        correction = to_float32(1 - to_float32(to_float32(self.beta_1) ** t))
        denominators = torch._foreach_add(u, self.epsilon)
        torch._foreach_mul_(denominators, correction)
        torch._foreach_add_(
            params, torch._foreach_div(torch._foreach_mul(m, lr), denominators), alpha=-1
        )

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
