"""SGD with Keras 3's momentum form (the learning rate is folded into the momentum buffer)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import LearningRate, Optimizer, check_fraction


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as Keras 3 computes it.

    Without momentum: ``w -= lr * g``. With momentum (buffer ``m``, zeros at first):
    ``m = momentum * m - lr * g``, then ``w += m``, or with Nesterov
    ``w += momentum * m - lr * g``. torch's SGD keeps ``lr`` outside the buffer, which differs
    as soon as the learning rate changes during training.

    Args:
        learning_rate: float or schedule (default 0.01).
        momentum: float in [0, 1) (default 0.0).
        nesterov: use Nesterov momentum (default False).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = SGD(0.1, momentum=0.9, params=[w])
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w.detach()
        tensor([0.9000, 0.9000])
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
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
        self.momentum = check_fraction("momentum", momentum)
        self.nesterov = bool(nesterov)
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    def _active_state_names(self) -> "tuple[str, ...]":
        return ("momentum",) if self.momentum != 0 else ()

    def _update(self, gs, params, grads, states, lr) -> None:
        if self.momentum == 0:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        (buffers,) = states
        torch._foreach_mul_(buffers, self.momentum)
        torch._foreach_add_(buffers, grads, alpha=-lr)
        if self.nesterov:
            torch._foreach_add_(params, grads, alpha=-lr)
            torch._foreach_add_(params, buffers, alpha=self.momentum)
        else:
            torch._foreach_add_(params, buffers)

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
