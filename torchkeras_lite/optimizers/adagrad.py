"""Adagrad with Keras 3's rule (epsilon inside the square root)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import LearningRate, Optimizer, check_non_negative


class Adagrad(Optimizer):
    """Adagrad as Keras 3 computes it: ``a += g^2``; ``w -= lr * g / sqrt(a + epsilon)``.

    The accumulator starts at ``initial_accumulator_value``. torch's Adagrad adds epsilon after
    the square root and starts at 0.

    Args:
        learning_rate: float or schedule (default 0.001).
        initial_accumulator_value: starting value of the accumulators, >= 0 (default 0.1).
        epsilon: added under the square root (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> opt = Adagrad(learning_rate=0.1, params=[w])
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w.detach()
        tensor([-0.0953, -0.0953])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        initial_accumulator_value: float = 0.1,
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
        self.initial_accumulator_value = check_non_negative(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.epsilon = check_non_negative("epsilon", epsilon)
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    _state_names = ("accumulator",)

    def _init_state(self, name: str, param: torch.Tensor) -> torch.Tensor:
        if name == "accumulator":
            return torch.full_like(
                param, self.initial_accumulator_value, memory_format=torch.preserve_format
            )
        return super()._init_state(name, param)

    def _update(self, gs, params, grads, states, lr) -> None:
        (accumulators,) = states
        torch._foreach_add_(accumulators, torch._foreach_mul(grads, grads))
        denominators = torch._foreach_add(accumulators, self.epsilon)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(
            params, torch._foreach_div(torch._foreach_mul(grads, lr), denominators), alpha=-1
        )

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update(
            {
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon,
            }
        )
        return config
