"""RMSprop with Keras 3's rule: epsilon inside the square root, lr inside the momentum."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import (
    LearningRate,
    Optimizer,
    check_fraction,
    check_non_negative,
)


class RMSprop(Optimizer):
    """RMSprop as Keras 3 computes it.

    ``v = rho * v + (1 - rho) * g^2``; the step is ``lr * g / sqrt(v + epsilon)`` (centered:
    ``sqrt(v - mg^2 + epsilon)`` with ``mg`` the moving mean of ``g``). With momentum the
    buffer is ``m = momentum * m + step`` and ``w -= m``. torch's RMSprop adds epsilon after the
    square root, so wrapping it drifts from Keras.

    Args:
        learning_rate: float or schedule (default 0.001).
        rho: decay of the squared-gradient average, in [0, 1) (default 0.9).
        momentum: in [0, 1) (default 0.0).
        epsilon: added to the average under the square root (default 1e-7).
        centered: normalise by the estimated variance instead of the second moment
            (default False).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> opt = RMSprop(learning_rate=0.01, params=[w])
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w.detach()
        tensor([-0.0316, -0.0316])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
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
        self.momentum = check_fraction("momentum", momentum)
        self.epsilon = check_non_negative("epsilon", epsilon)
        self.centered = bool(centered)
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    def _active_state_names(self) -> "tuple[str, ...]":
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return tuple(names)

    def _update(self, gs, params, grads, states, lr) -> None:
        # Keras's formula; addcmul/addcdiv fuse two or three of its ops each (fewer dispatches,
        # last-bit rounding differences only).
        velocities = states[0]
        rho = self.rho
        torch._foreach_mul_(velocities, rho)
        torch._foreach_addcmul_(velocities, grads, grads, value=1 - rho)
        denominators = torch._foreach_add(velocities, self.epsilon)
        if self.centered:
            averages = states[-1]
            torch._foreach_mul_(averages, rho)
            torch._foreach_add_(averages, grads, alpha=1 - rho)
            torch._foreach_addcmul_(denominators, averages, averages, value=-1)
        torch._foreach_sqrt_(denominators)
        if self.momentum > 0:
            buffers = states[1]
            torch._foreach_mul_(buffers, self.momentum)
            torch._foreach_addcdiv_(buffers, grads, denominators, value=lr)
            torch._foreach_add_(params, buffers, alpha=-1)
        else:
            torch._foreach_addcdiv_(params, grads, denominators, value=-lr)

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config
