"""Nadam with Keras 3's rule (momentum schedule ``u_t = beta_1 * (1 - 0.5 * 0.96^t)``)."""
from __future__ import annotations

from typing import Any, Iterable, Optional

import torch

from torchkeras_lite.optimizers.optimizer import (
    LearningRate,
    Optimizer,
    check_fraction,
    check_non_negative,
)


class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum) as Keras 3 computes it.

    With ``u_t = beta_1 * (1 - 0.5 * 0.96^t)`` and ``P_t = u_1 * ... * u_t``:
    ``m_hat = u_{t+1} * m / (1 - P_t * u_{t+1}) + (1 - u_t) * g / (1 - P_t)``,
    ``v_hat = v / (1 - beta_2^t)``, ``w -= lr * m_hat / (sqrt(v_hat) + epsilon)``.
    torch's NAdam uses a different momentum decay constant and epsilon placement.

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1: decay of the first moment, in [0, 1) (default 0.9).
        beta_2: decay of the second moment, in [0, 1) (default 0.999).
        epsilon: added to ``sqrt(v_hat)`` (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
        ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name, params:
            see :class:`~torchkeras_lite.optimizers.Optimizer`.

    Example:
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(2))
        >>> opt = Nadam(learning_rate=0.1, params=[w])
        >>> w.grad = torch.ones(2)
        >>> opt.step()
        >>> w.detach()
        tensor([-0.1063, -0.1063])
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
        self._u_product = 1.0
        self._u_product_step = 0
        super().__init__(
            learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
            ema_momentum, ema_overwrite_frequency, loss_scale_factor,
            gradient_accumulation_steps, name, params=params,
        )

    _state_names = ("momentum", "velocity")

    def _update(self, gs, params, grads, states, lr) -> None:
        m, v = states
        beta_1, beta_2 = self.beta_1, self.beta_2
        t = self.iterations + 1
        u_t = beta_1 * (1.0 - 0.5 * 0.96**t)
        u_next = beta_1 * (1.0 - 0.5 * 0.96 ** (t + 1))
        if self._u_product_step != t:  # P_t is one product per update, shared by all groups
            self._u_product *= u_t
            self._u_product_step = t
        u_product = self._u_product
        torch._foreach_mul_(m, beta_1)
        torch._foreach_add_(m, grads, alpha=1 - beta_1)
        torch._foreach_mul_(v, beta_2)
        torch._foreach_add_(v, torch._foreach_mul(grads, grads), alpha=1 - beta_2)
        m_hat = torch._foreach_mul(m, u_next)
        torch._foreach_div_(m_hat, 1 - u_product * u_next)
        grad_part = torch._foreach_mul(grads, 1 - u_t)
        torch._foreach_div_(grad_part, 1 - u_product)
        torch._foreach_add_(m_hat, grad_part)
        denominators = torch._foreach_div(v, 1 - beta_2**t)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, self.epsilon)
        torch._foreach_mul_(m_hat, lr)
        torch._foreach_add_(params, torch._foreach_div(m_hat, denominators), alpha=-1)

    def _extra_state(self) -> "dict[str, Any]":
        state = super()._extra_state()
        state["u_product"] = self._u_product
        state["u_product_step"] = self._u_product_step
        return state

    def _load_extra_state(self, state_dict: "dict[str, Any]") -> None:
        super()._load_extra_state(state_dict)
        self._u_product = float(state_dict.get("u_product", self._u_product))
        self._u_product_step = int(state_dict.get("u_product_step", self._u_product_step))

    def get_config(self) -> "dict[str, Any]":
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
