"""Nadam with Keras 3's rule (momentum schedule ``u_t = beta_1 * (1 - 0.5 * 0.96^t)``)."""
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
        # Keras computes these scalars in float32 from float32 constants; the rounding of the
        # constants is systematic (e.g. 1 - beta_2^t moves by ~1e-5 relative), so mirror it.
        beta_1_32, decay_32 = to_float32(beta_1), to_float32(0.96)
        u_t = beta_1_32 * (1.0 - 0.5 * decay_32**t)
        u_next = beta_1_32 * (1.0 - 0.5 * decay_32 ** (t + 1))
        if self._u_product_step != t:  # P_t is one product per update, shared by all groups
            self._u_product *= u_t
            self._u_product_step = t
        u_product = self._u_product
        torch._foreach_mul_(m, beta_1)
        torch._foreach_add_(m, grads, alpha=1 - beta_1)
        torch._foreach_mul_(v, beta_2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta_2)
        # w -= lr * m_hat / (sqrt(v / c) + epsilon) with c = 1 - beta_2^t and
        # m_hat = u_next / (1 - P_t * u_next) * m + (1 - u_t) / (1 - P_t) * g, rewritten with
        # s = sqrt(c) as (lr * s) * m_hat / (sqrt(v) + epsilon * s): 9 foreach ops instead of 15.
        s = math.sqrt(1 - to_float32(beta_2) ** t)
        steps = torch._foreach_mul(m, lr * s * u_next / (1 - u_product * u_next))
        torch._foreach_add_(steps, grads, alpha=lr * s * (1 - u_t) / (1 - u_product))
        denominators = torch._foreach_sqrt(v)
        torch._foreach_add_(denominators, self.epsilon * s)
        torch._foreach_addcdiv_(params, steps, denominators, value=-1)

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
