"""What ``compile()`` turns its arguments into: one loss callable and one metrics container.

- :class:`CompiledLoss` holds one loss per output. Identifiers are resolved on the first batch
  (``'crossentropy'``/``'ce'`` by label shape, as Keras does); ``loss_weights`` scale each
  output's loss and the total is their sum. With several outputs it also keeps each output's
  last loss for the ``<output>_loss`` logs.
- :class:`CompiledMetrics` holds metrics per output, resolved on the first batch
  (``'accuracy'`` by shapes); unweighted ``metrics`` are updated without and
  ``weighted_metrics`` with sample weights; results are 0-d tensors (no host sync). With several
  outputs, metric names get the output's name as prefix (``cls_accuracy``), as in Keras.
- :class:`MeanTracker` is the batch-size-weighted running mean of a loss.
- :func:`reduced_results` computes the trackers' and metrics' results from their state summed
  over the ranks of a distributed run (the state itself is left as it is).

Outputs are given as a list of names; ``y_true``/``y_pred`` as one tensor (one output), a list
in output order, or a dict keyed by output name.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

from .. import losses as _losses
from .. import metrics as _metrics


def _is_binary_or_sparse(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[bool, bool]:
    binary = y_pred.shape[-1] == 1
    sparse = y_true.dim() < y_pred.dim() or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
    return binary, sparse


def per_output(value: Any, names: Sequence[str], argument: str, *, broadcast: bool) -> list:
    """Spread a compile argument over the outputs: a dict keyed by output name, a list in
    output order, or (when ``broadcast``) one value for every output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(
                f"{argument} has key(s) {unknown} that are not output names; the model's "
                f"outputs are {list(names)}."
            )
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(
                f"{argument} must have one entry per output ({len(names)}: {list(names)}), "
                f"got {len(value)}: {value!r}."
            )
        return list(value)
    if isinstance(value, (list, tuple)) and len(names) == 1:
        if len(value) != 1:
            raise ValueError(
                f"This model has one output but compile() received {len(value)} entries for "
                f"{argument}: {value!r}. Pass one."
            )
        return [value[0]]
    if broadcast or len(names) == 1:
        return [value] * len(names)
    raise ValueError(f"{argument} must be a list or dict with one entry per output {list(names)}.")


def flatten_outputs(y: Any, names: Sequence[str], argument: str) -> list:
    """``y`` (tensor, list or dict) as a list in output order."""
    if isinstance(y, dict):
        missing = sorted(set(names) - set(y))
        if missing:
            raise ValueError(
                f"{argument} is missing output(s) {missing}; expected keys {list(names)}, "
                f"got {sorted(y)}."
            )
        return [y[name] for name in names]
    if isinstance(y, (list, tuple)):
        if len(y) != len(names):
            raise ValueError(
                f"{argument} must have one entry per output ({len(names)}: {list(names)}), "
                f"got {len(y)}."
            )
        return list(y)
    if len(names) != 1:
        raise ValueError(
            f"The model has {len(names)} outputs {list(names)}; pass {argument} as a list or a "
            "dict keyed by output name."
        )
    return [y]


def _resolve_loss(identifier: Any, y_true: torch.Tensor, y_pred: torch.Tensor) -> _losses.Loss:
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        binary, sparse = _is_binary_or_sparse(y_true, y_pred)
        identifier = ("binary_crossentropy" if binary else
                      "sparse_categorical_crossentropy" if sparse else
                      "categorical_crossentropy")
    resolved = _losses.get(identifier)
    if isinstance(resolved, type):
        resolved = resolved()
    if not isinstance(resolved, _losses.Loss):
        name = identifier if isinstance(identifier, str) else \
            getattr(resolved, "__name__", "loss")
        resolved = _losses.LossFunctionWrapper(resolved, name=name)
    return resolved


class CompiledLoss:
    """The compiled loss: one identifier and weight per output.

    Args:
        loss: identifier, or a list/dict of them (one per output; None = no loss there).
        loss_weights: scalar, list or dict of per-output multipliers.
        output_names: names of the model's outputs (one name for a single output).
    """

    def __init__(self, loss: Any, loss_weights: Any = None,
                 output_names: Sequence[str] = ("output",)) -> None:
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='mse'.")
        self.output_names = list(output_names)
        self.identifier = loss
        self.identifiers = per_output(loss, self.output_names, "loss", broadcast=True)
        if all(i is None for i in self.identifiers):
            raise ValueError("compile() needs a loss for at least one output.")
        for identifier in self.identifiers:
            if isinstance(identifier, str) and identifier.lower() not in ("crossentropy", "ce"):
                _losses.get(identifier)  # unknown names fail at compile time
        weights = per_output(loss_weights, self.output_names, "loss_weights", broadcast=True)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.fns: list[_losses.Loss | None] | None = None
        self.single = len(self.output_names) == 1
        self.last_values: list[torch.Tensor | None] = []

    @property
    def weight(self) -> float:
        return self.weights[0]

    def build(self, y_true: list, y_pred: list) -> None:
        self.fns = [None if ident is None else _resolve_loss(ident, t, p)
                    for ident, t, p in zip(self.identifiers, y_true, y_pred)]

    def __call__(self, y_true: Any, y_pred: Any,
                 sample_weight: torch.Tensor | None = None) -> torch.Tensor:
        if self.single and self.fns is not None:  # the hot path of one-output models
            value = self.fns[0](y_true, y_pred, sample_weight)
            return value if self.weights[0] == 1.0 else value * self.weights[0]
        y_true = flatten_outputs(y_true, self.output_names, "y")
        y_pred = flatten_outputs(y_pred, self.output_names, "the model's outputs")
        if self.fns is None:
            self.build(y_true, y_pred)
        if self.single:
            return self(y_true[0], y_pred[0], sample_weight)
        total = None
        self.last_values = []
        for fn, weight, t, p in zip(self.fns, self.weights, y_true, y_pred):
            if fn is None:
                self.last_values.append(None)
                continue
            value = fn(t, p, sample_weight)
            self.last_values.append(value)
            value = value if weight == 1.0 else value * weight
            total = value if total is None else total + value
        return total


class CompiledMetrics:
    """Metrics and weighted metrics per output, resolved on the first batch."""

    def __init__(self, metrics: Any = None, weighted_metrics: Any = None,
                 output_names: Sequence[str] = ("output",)) -> None:
        self.output_names = list(output_names)
        self._identifiers = [_as_list(m) for m in self._spread(metrics, "metrics")]
        self._weighted_identifiers = [_as_list(m) for m in
                                      self._spread(weighted_metrics, "weighted_metrics")]
        for group in self._identifiers + self._weighted_identifiers:
            for identifier in group:
                if isinstance(identifier, str) and identifier.lower() not in (
                        "accuracy", "acc", "crossentropy", "ce"):
                    _metrics.get(identifier)  # unknown names fail at compile time
        self.metrics: list[_metrics.Metric] = []
        self.weighted: list[_metrics.Metric] = []
        self._unweighted_by_output: list[list[_metrics.Metric]] = []
        self._weighted_by_output: list[list[_metrics.Metric]] = []
        self.built = False
        self.single = len(self.output_names) == 1

    def _spread(self, value: Any, argument: str) -> list:
        names = self.output_names
        if value is None:
            return [None] * len(names)
        if len(names) == 1:
            if isinstance(value, dict):
                return per_output(value, names, argument, broadcast=True)
            return [value]
        if isinstance(value, dict):
            return per_output(value, names, argument, broadcast=True)
        if isinstance(value, (list, tuple)) and value and all(
                isinstance(v, (list, tuple)) or v is None for v in value):
            return per_output(list(value), names, argument, broadcast=False)
        return [value] * len(names)  # a flat list applies to every output

    def build(self, y_true: list, y_pred: list) -> None:
        prefix = (lambda i: "") if self.single else (lambda i: self.output_names[i] + "_")
        self._unweighted_by_output, self._weighted_by_output = [], []
        for i, (t, p) in enumerate(zip(y_true, y_pred)):
            shapes = (tuple(t.shape), tuple(p.shape))
            plain = [_metrics.get_for_shapes(m, *shapes) for m in self._identifiers[i]]
            weighted = [_metrics.get_for_shapes(m, *shapes)
                        for m in self._weighted_identifiers[i]]
            names = {m.name for m in plain}
            for m in weighted:
                if m.name in names:
                    m.name = "weighted_" + m.name
            for m in plain + weighted:
                m.name = prefix(i) + m.name
                m.to(p.device)
            self._unweighted_by_output.append(plain)
            self._weighted_by_output.append(weighted)
        self.metrics = [m for group in self._unweighted_by_output for m in group]
        self.weighted = [m for group in self._weighted_by_output for m in group]
        self.built = True

    def update_state(self, y_true: Any, y_pred: Any,
                     sample_weight: torch.Tensor | None = None) -> None:
        if self.single and self.built:  # the hot path of one-output models
            for m in self.metrics:
                m.update_state(y_true, y_pred)
            for m in self.weighted:
                m.update_state(y_true, y_pred, sample_weight)
            return
        y_true = flatten_outputs(y_true, self.output_names, "y")
        y_pred = flatten_outputs(y_pred, self.output_names, "the model's outputs")
        if not self.built:
            self.build(y_true, y_pred)
        for plain, weighted, t, p in zip(self._unweighted_by_output, self._weighted_by_output,
                                         y_true, y_pred):
            for m in plain:
                m.update_state(t, p)
            for m in weighted:
                m.update_state(t, p, sample_weight)

    def reset_state(self) -> None:
        for m in self.metrics + self.weighted:
            m.reset_state()

    def results(self) -> dict[str, torch.Tensor]:
        return {m.name: m.result() for m in self.metrics + self.weighted}

    def to(self, device: torch.device) -> "CompiledMetrics":
        for m in self.metrics + self.weighted:
            m.to(device)
        return self


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


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


def reduced_results(trackers: dict[str, MeanTracker], metrics: Sequence[_metrics.Metric],
                    reduce: Any) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``({tracker name: result}, {metric name: result})`` computed from the state summed over
    the ranks of a distributed run.

    ``reduce`` takes a list of tensors and returns their element-wise sums over the ranks (one
    collective for all of them). Each tracker contributes its total and its sample count (so the
    mean is weighted by samples), each metric its state tensors (``Metric.variables``); the
    metric's ``result()`` then runs on the summed state, which is swapped in and out again.
    """
    device = next((t.total.device for t in trackers.values() if t.total is not None), None)
    if device is None:
        device = next((v.device for m in metrics for v in m.variables), torch.device("cpu"))
    state: list[torch.Tensor] = []
    for tracker in trackers.values():
        total = tracker.total if tracker.total is not None else torch.zeros((), device=device)
        state += [total, torch.tensor(float(tracker.count), dtype=torch.float64,
                                      device=total.device)]
    for metric in metrics:
        state += metric.variables
    summed = reduce(state)
    tracked = {}
    for i, name in enumerate(trackers):
        total, count = summed[2 * i], summed[2 * i + 1]
        tracked[name] = total / count.to(total.dtype) if float(count) else \
            torch.zeros((), dtype=total.dtype, device=total.device)
    results = {}
    offset = 2 * len(trackers)
    for metric in metrics:
        names = list(metric._initial_values)
        own = [getattr(metric, n) for n in names]
        for n, value in zip(names, summed[offset:offset + len(names)]):
            setattr(metric, n, value)
        try:
            results[metric.name] = metric.result()
        finally:
            for n, value in zip(names, own):
                setattr(metric, n, value)
        offset += len(names)
    return tracked, results
