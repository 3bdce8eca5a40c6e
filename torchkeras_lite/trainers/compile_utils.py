"""What ``compile()`` turns its arguments into: one loss callable and one metrics container.

- :class:`CompiledLoss` resolves the loss identifier (``'crossentropy'``/``'ce'`` by label
  shape, as Keras does) on the first batch, applies ``loss_weights`` and returns a scalar.
- :class:`CompiledMetrics` resolves metric identifiers on the first batch (``'accuracy'`` by
  shapes), updates unweighted ``metrics`` without and ``weighted_metrics`` with sample
  weights, and returns their results as 0-d tensors (no host sync).
- :class:`MeanTracker` is the batch-size-weighted running mean of the loss.
"""
from __future__ import annotations

from typing import Any

import torch

from .. import losses as _losses
from .. import metrics as _metrics


def _is_binary_or_sparse(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[bool, bool]:
    binary = y_pred.shape[-1] == 1
    sparse = y_true.dim() < y_pred.dim() or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
    return binary, sparse


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class CompiledLoss:
    """The compiled loss of a single-output model.

    Args:
        loss: identifier (name, function, Loss instance or class, config dict).
        loss_weight: scalar multiplier (Keras's ``loss_weights`` for one output).
    """

    def __init__(self, loss: Any, loss_weights: Any = None) -> None:
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='mse'.")
        if isinstance(loss, (list, tuple, dict)):
            if len(loss) != 1:
                raise ValueError(
                    f"This model has one output but compile() received {len(loss)} losses: "
                    f"{loss!r}. Pass one loss."
                )
            loss = next(iter(loss.values())) if isinstance(loss, dict) else loss[0]
        self.identifier = loss
        if isinstance(loss, str) and loss.lower() not in ("crossentropy", "ce"):
            _losses.get(loss)  # unknown names fail at compile time, not at the first batch
        weights = loss_weights
        if isinstance(weights, dict):
            weights = list(weights.values())
        if isinstance(weights, (list, tuple)):
            if len(weights) != 1:
                raise ValueError(f"loss_weights must have one entry per output (1), got {loss_weights!r}")
            weights = weights[0]
        self.weight = 1.0 if weights is None else float(weights)
        self.fn: _losses.Loss | None = None

    def build(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        identifier = self.identifier
        if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
            binary, sparse = _is_binary_or_sparse(y_true, y_pred)
            identifier = ("binary_crossentropy" if binary else
                          "sparse_categorical_crossentropy" if sparse else
                          "categorical_crossentropy")
        resolved = _losses.get(identifier)
        if isinstance(resolved, type):
            resolved = resolved()
        if not isinstance(resolved, _losses.Loss):
            name = self.identifier if isinstance(self.identifier, str) else \
                getattr(resolved, "__name__", "loss")
            resolved = _losses.LossFunctionWrapper(resolved, name=name)
        self.fn = resolved

    def __call__(self, y_true: torch.Tensor, y_pred: torch.Tensor,
                 sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        if self.fn is None:
            self.build(y_true, y_pred)
        value = self.fn(y_true, y_pred, sample_weight)
        return value if self.weight == 1.0 else value * self.weight


class CompiledMetrics:
    """Metrics and weighted metrics of a single-output model, resolved on the first batch."""

    def __init__(self, metrics: Any = None, weighted_metrics: Any = None) -> None:
        if isinstance(metrics, dict) or isinstance(weighted_metrics, dict):
            raise ValueError(
                "metrics given as a dict need named outputs; this model has one output, "
                "so pass a list, e.g. metrics=['accuracy']."
            )
        self._identifiers = _as_list(metrics)
        self._weighted_identifiers = _as_list(weighted_metrics)
        for identifier in self._identifiers + self._weighted_identifiers:
            if isinstance(identifier, str) and identifier not in ("accuracy", "acc",
                                                                  "crossentropy", "ce"):
                _metrics.get(identifier)  # unknown names fail at compile time
        self.metrics: list[_metrics.Metric] = []
        self.weighted: list[_metrics.Metric] = []
        self.built = False
        self._device: torch.device | None = None

    def build(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
        shapes = (tuple(y_true.shape), tuple(y_pred.shape))
        self.metrics = [_metrics.get_for_shapes(m, *shapes) for m in self._identifiers]
        self.weighted = [_metrics.get_for_shapes(m, *shapes) for m in self._weighted_identifiers]
        names = {m.name for m in self.metrics}
        for m in self.weighted:
            if m.name in names:
                m.name = "weighted_" + m.name
        for m in self.metrics + self.weighted:
            m.to(y_pred.device)
        self._device = y_pred.device
        self.built = True

    def update_state(self, y_true: torch.Tensor, y_pred: torch.Tensor,
                     sample_weight: torch.Tensor | None = None) -> None:
        if not self.built:
            self.build(y_true, y_pred)
        for m in self.metrics:
            m.update_state(y_true, y_pred)
        for m in self.weighted:
            m.update_state(y_true, y_pred, sample_weight)

    def reset_state(self) -> None:
        for m in self.metrics + self.weighted:
            m.reset_state()

    def results(self) -> dict[str, torch.Tensor]:
        return {m.name: m.result() for m in self.metrics + self.weighted}

    def to(self, device: torch.device) -> "CompiledMetrics":
        for m in self.metrics + self.weighted:
            m.to(device)
        return self


class MeanTracker:
    """Running mean of per-batch values weighted by batch size, kept on the device."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.count = 0

    def reset(self) -> None:
        self.total = None
        self.count = 0

    def update(self, value: torch.Tensor, weight: int) -> None:
        value = value.detach()
        if self.total is None:
            self.total = value * weight
        else:
            self.total.add_(value, alpha=weight)
        self.count += weight

    def result(self) -> torch.Tensor:
        if self.total is None:
            return torch.tensor(0.0)
        return self.total / self.count
