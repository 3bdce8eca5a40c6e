"""The functional API: layers called on symbolic inputs build a graph; ``Model(inputs, outputs)``
runs it.

Who owns what:
- :func:`symbolic_call` is what ``Layer.__call__`` does when its inputs are KerasTensors: build
  the layer from the symbolic shapes, infer the output shapes, record a :class:`Node`
  (layer + call arguments) and return new KerasTensors that point back at it.
- :class:`Functional` finds the nodes between the given inputs and outputs (in topological
  order), registers their layers as submodules, and replays the nodes on real tensors in
  ``call``. Masks travel on the real tensors (``_keras_mask``), as in every other container.
- ``get_config``/``from_config`` use Keras 3's format (``inbound_nodes`` with
  ``__keras_tensor__`` references), so configs read like Keras's.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch

from ..layers.input_layer import InputLayer, KerasTensor
from ..layers.layer import Layer
from ..utils.registry import serialize
from .model import Model


class Node:
    """One call of a layer on symbolic tensors."""

    def __init__(self, layer: Layer, args: tuple, kwargs: dict, outputs: Any) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.parents = [t for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)]
        self.flat_outputs = [t for t in _flatten(outputs) if isinstance(t, KerasTensor)]
        if not hasattr(layer, "_inbound_nodes"):
            layer._inbound_nodes = []
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, tensor in enumerate(self.flat_outputs):
            tensor.node, tensor.index = self, i
            tensor._keras_history = layer


def _flatten(data: Any) -> list:
    if isinstance(data, (list, tuple)):
        return [leaf for item in data for leaf in _flatten(item)]
    if isinstance(data, dict):
        return [leaf for item in data.values() for leaf in _flatten(item)]
    return [data]


def _map(fn, data: Any) -> Any:
    if isinstance(data, list):
        return [_map(fn, v) for v in data]
    if isinstance(data, tuple):
        return tuple(_map(fn, v) for v in data)
    if isinstance(data, dict):
        return {k: _map(fn, v) for k, v in data.items()}
    return fn(data)


def _shape(data: Any) -> Any:
    return _map(lambda t: tuple(t.shape) if isinstance(t, KerasTensor) else t, data)


# ------------------------------------------------------------------ symbolic calls
_PROBE_BATCH = 2


def _dummy(t: KerasTensor, device: torch.device) -> torch.Tensor:
    shape = tuple(_PROBE_BATCH if d is None else d for d in t.shape)
    return torch.zeros(shape, dtype=t.dtype, device=device)


def _layer_device(layer: Layer) -> torch.device:
    for p in layer.parameters():
        return p.device
    for b in layer.buffers():
        return b.device
    return torch.device("cpu")


# Call options that never change output shapes.
_SHAPE_NEUTRAL = frozenset({"training", "use_causal_mask", "mask"})


def _infer_outputs(layer: Layer, args: tuple, kwargs: dict) -> Any:
    """Output shapes/dtypes of ``layer`` on symbolic arguments: ``compute_output_shape`` when the
    layer defines it and takes one input, else a probe run on zeros (batch 2, eval mode)."""
    symbolic = [t for t in _flatten((args, kwargs)) if isinstance(t, KerasTensor)]
    single_input = len(args) == 1 and not any(isinstance(v, KerasTensor)
                                              for v in _flatten(kwargs))
    has_shape_rule = type(layer).compute_output_shape is not Layer.compute_output_shape
    unknown_dims = any(d is None for t in symbolic for d in t.shape[1:])
    # Call options that change the outputs (return_attention_scores=True) go to
    # compute_output_shape when it takes them; options it does not know make the shape rule
    # unusable (the probe run below handles them).
    accepted = inspect.signature(layer.compute_output_shape).parameters
    options = {k: v for k, v in kwargs.items() if not isinstance(v, KerasTensor)
               and v is not None and v is not False and k not in _SHAPE_NEUTRAL}
    shape_options = {k: v for k, v in options.items() if k in accepted}
    rule_applies = has_shape_rule and len(shape_options) == len(options)
    if single_input and (rule_applies or (unknown_dims and not options)) \
            and not isinstance(layer, Functional):
        shapes = layer.compute_output_shape(_shape(args[0]), **shape_options)
        return _shapes_to_tensors(shapes, layer)
    if isinstance(layer, Functional) and single_input:
        return _map(lambda t: KerasTensor(t.shape, t.dtype, layer.name), layer._output_struct)
    if unknown_dims and rule_applies:
        # Several positional inputs (e.g. attention's query, value): Keras's signature
        # compute_output_shape(query_shape, value_shape, ...).
        return _shapes_to_tensors(
            layer.compute_output_shape(*[_shape(a) for a in args], **shape_options), layer)
    if unknown_dims:
        raise ValueError(
            f"Cannot infer the output shape of layer {layer.name!r} ({type(layer).__name__}) "
            "on inputs with unknown non-batch dimensions "
            f"{[t.shape for t in symbolic]}: implement compute_output_shape() for it."
        )
    device = _layer_device(layer)
    real_args = _map(lambda v: _dummy(v, device) if isinstance(v, KerasTensor) else v, args)
    real_kwargs = _map(lambda v: _dummy(v, device) if isinstance(v, KerasTensor) else v, kwargs)
    previous = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            out = layer(*real_args, **real_kwargs)
    finally:
        layer.train(previous)
    if hasattr(layer, "_activity_losses"):
        layer._activity_losses = []
    return _map(lambda t: KerasTensor((None,) + tuple(t.shape[1:]), t.dtype, layer.name)
                if isinstance(t, torch.Tensor) else t, out)


def _shapes_to_tensors(shapes: Any, layer: Layer) -> Any:
    def is_shape(s):
        return isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s)

    def convert(s):
        if is_shape(s):
            return KerasTensor(s, torch.float32, layer.name)
        if isinstance(s, (list, tuple)):
            return [convert(v) for v in s]
        if isinstance(s, dict):
            return {k: convert(v) for k, v in s.items()}
        raise TypeError(f"compute_output_shape of {layer.name!r} returned {s!r}")

    return convert(tuple(shapes) if isinstance(shapes, list) and is_shape(tuple(shapes))
                   else shapes)


def symbolic_call(layer: Layer, args: tuple, kwargs: dict) -> Any:
    """``layer(*args, **kwargs)`` on KerasTensors: build, infer outputs, record the node."""
    kwargs = dict(kwargs)
    kwargs.pop("training", None)
    inputs = args[0] if args else kwargs.pop("inputs")
    args = (inputs,) + tuple(args[1:])
    if not layer.built:
        if len(args) > 1 and len(inspect.signature(layer.build).parameters) > 1:
            layer.build(*[_shape(a) for a in args])  # build(query_shape, value_shape, ...)
        else:
            layer.maybe_build(_shape(inputs))
    outputs = _infer_outputs(layer, args, kwargs)
    Node(layer, args, kwargs, outputs)
    return outputs


# ---------------------------------------------------------------------- the model
class Functional(Model):
    """A model defined by a graph of layers from ``inputs`` to ``outputs``.

    Args:
        inputs: a KerasTensor from ``Input``, or a list/dict of them.
        outputs: KerasTensor(s) computed from the inputs, as a tensor, list or dict.
        name: model name.

    Example:
        >>> from torchkeras_lite.layers import Dense, Input
        >>> x = Input(shape=(4,))
        >>> model = Model(x, Dense(2)(x))
        >>> model(torch.zeros(3, 4)).shape
        torch.Size([3, 2])
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None,
                 trainable: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name or _default_name(), trainable=trainable, **kwargs)
        for t in _flatten(inputs):
            if not isinstance(t, KerasTensor) or not isinstance(t._keras_history, InputLayer):
                raise ValueError(
                    "Model inputs must be tensors returned by Input(...); got "
                    f"{t!r}. Create them with torchkeras_lite.layers.Input(shape=...)."
                )
        for t in _flatten(outputs):
            if not isinstance(t, KerasTensor):
                raise ValueError(
                    f"Model outputs must be symbolic tensors computed from the inputs, got {t!r}."
                )
        self._input_struct = inputs
        self._output_struct = outputs
        self._nodes = self._collect_nodes()
        self._graph_layers: list[Layer] = [t._keras_history for t in _flatten(inputs)]
        for node in self._nodes:
            if node.layer not in self._graph_layers:
                self._graph_layers.append(node.layer)
        names = [layer.name for layer in self._graph_layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"All layers of a model need unique names; {duplicates} appear more than once. "
                "Pass name=... to the layers."
            )
        for i, layer in enumerate(self._graph_layers):
            self.add_module(str(i), layer)
        self._output_names = self._name_outputs()
        self.built = True
        self.eval()

    def _collect_nodes(self) -> list[Node]:
        inputs = {id(t) for t in _flatten(self._input_struct)}
        order: list[Node] = []
        seen: set[int] = set()

        def visit(tensor: KerasTensor, path: tuple) -> None:
            if id(tensor) in inputs:
                return
            node = getattr(tensor, "node", None)
            if node is None:
                raise ValueError(
                    f"Output {self._describe_outputs()} is not reachable from the model's "
                    f"inputs: it depends on input {tensor.name!r}, which is not among "
                    f"Model(inputs=...). Add it to the inputs."
                )
            if id(node) in seen:
                return
            if id(node) in path:
                raise ValueError("The layer graph has a cycle.")
            for parent in node.parents:
                visit(parent, path + (id(node),))
            seen.add(id(node))
            order.append(node)

        for out in _flatten(self._output_struct):
            visit(out, ())
        return order

    def _describe_outputs(self) -> str:
        return str([t.name for t in _flatten(self._output_struct)])

    def _name_outputs(self) -> list[str]:
        if isinstance(self._output_struct, dict):
            return list(self._output_struct)
        return [t._keras_history.name for t in _flatten(self._output_struct)]

    # ------------------------------------------------------------ structure
    @property
    def layers(self) -> list[Layer]:
        """Every layer of the graph, input layers first (as Keras lists them)."""
        return list(self._graph_layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return _flatten(self._input_struct)

    @property
    def outputs(self) -> list[KerasTensor]:
        return _flatten(self._output_struct)

    @property
    def input_shape(self) -> Any:
        return _shape(self._input_struct)

    @property
    def output_shape(self) -> Any:
        return _shape(self._output_struct)

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._input_struct, dict):
            return list(self._input_struct)
        return [t._keras_history.name for t in _flatten(self._input_struct)]

    def _sublayers(self) -> list[Layer]:
        return [layer for layer in self._graph_layers if not isinstance(layer, InputLayer)]

    def compute_output_shape(self, input_shape: Any) -> Any:
        return self.output_shape

    def build(self, input_shape: Any = None) -> None:
        self.built = True

    # ---------------------------------------------------------------- running
    def _bind_inputs(self, inputs: Any) -> dict[int, Any]:
        struct = self._input_struct
        if isinstance(struct, dict):
            if not isinstance(inputs, dict):
                if len(struct) == 1 and isinstance(inputs, torch.Tensor):
                    inputs = {next(iter(struct)): inputs}
                else:
                    raise ValueError(
                        f"Model {self.name!r} takes a dict of inputs with keys "
                        f"{sorted(struct)}, got {type(inputs).__name__}."
                    )
            missing = sorted(set(struct) - set(inputs))
            if missing:
                raise ValueError(
                    f"Model {self.name!r} is missing input(s) {missing}; it expects the keys "
                    f"{sorted(struct)} and received {sorted(inputs)}."
                )
            return {id(t): inputs[k] for k, t in struct.items()}
        flat_struct = _flatten(struct)
        if isinstance(inputs, dict):
            names = self.input_names
            missing = sorted(set(names) - set(inputs))
            if missing:
                raise ValueError(
                    f"Model {self.name!r} is missing input(s) {missing} in the dict it received "
                    f"(keys {sorted(inputs)}); its inputs are named {names}."
                )
            return {id(t): inputs[n] for t, n in zip(flat_struct, names)}
        flat = _flatten(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(flat_struct):
            raise ValueError(
                f"Model {self.name!r} expects {len(flat_struct)} input(s) "
                f"({self.input_names}), got {len(flat)}."
            )
        return {id(t): v for t, v in zip(flat_struct, flat)}

    def call(self, inputs: Any) -> Any:
        values = self._bind_inputs(inputs)

        def resolve(v):
            return values[id(v)] if isinstance(v, KerasTensor) else v

        for node in self._nodes:
            layer = node.layer
            if not node.kwargs and len(node.args) == 1 and isinstance(node.args[0], KerasTensor):
                out = layer.fast_call(values[id(node.args[0])])
            else:
                out = layer(*_map(resolve, node.args), **_map(resolve, node.kwargs))
            for tensor, value in zip(node.flat_outputs, _flatten(out)):
                values[id(tensor)] = value
        return _map(resolve, self._output_struct)

    def check_input(self, x: Any, argument: str) -> None:
        if isinstance(x, torch.Tensor) and len(_flatten(self._input_struct)) > 1:
            raise ValueError(
                f"Model {self.name!r} has {len(_flatten(self._input_struct))} inputs "
                f"({self.input_names}); pass {argument} as a list or a dict keyed by those names."
            )
        bound = self._bind_inputs(x)
        for t in _flatten(self._input_struct):
            value = bound[id(t)]
            if not hasattr(value, "shape"):
                continue
            expected, got = t.shape[1:], tuple(value.shape[1:])
            if len(expected) != len(got) or any(e is not None and e != g
                                                for e, g in zip(expected, got)):
                raise ValueError(
                    f"{argument} for input {t._keras_history.name!r} has per-sample shape {got}, "
                    f"but the model expects {tuple(expected)}."
                )

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        node_keys: dict[int, int] = {}
        per_layer: dict[int, list[Node]] = {}
        for node in self._nodes:
            nodes = per_layer.setdefault(id(node.layer), [])
            node_keys[id(node)] = len(nodes)
            nodes.append(node)

        def ref(t: KerasTensor) -> list:
            node = getattr(t, "node", None)
            return [t._keras_history.name, node_keys.get(id(node), 0), getattr(t, "index", 0)]

        def tensor_config(v: Any) -> Any:
            if not isinstance(v, KerasTensor):
                return v
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(v.shape),
                               "dtype": str(v.dtype).replace("torch.", ""),
                               "keras_history": ref(v)}}

        layers = []
        for layer in self._graph_layers:
            entry = serialize(layer)
            entry["name"] = layer.name
            entry["inbound_nodes"] = [
                {"args": _map(tensor_config, list(node.args)),
                 "kwargs": _map(tensor_config, node.kwargs)}
                for node in per_layer.get(id(layer), [])]
            layers.append(entry)

        def refs(struct):
            if isinstance(struct, dict):
                return {k: ref(v) for k, v in struct.items()}
            if isinstance(struct, KerasTensor):
                return ref(struct)
            return [ref(t) for t in _flatten(struct)]

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": refs(self._input_struct),
                "output_layers": refs(self._output_struct)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Functional":
        from ..layers import deserialize as deserialize_layer

        created: dict[str, Layer] = {}
        outputs_of: dict[tuple, KerasTensor] = {}
        pending = list(config["layers"])
        for entry in pending:
            created[entry["name"]] = deserialize_layer(
                {"class_name": entry["class_name"], "config": entry["config"]}, custom_objects)
        done: dict[str, int] = {}
        progress = True
        while progress:
            progress = False
            for entry in pending:
                layer = created[entry["name"]]
                if isinstance(layer, InputLayer):
                    if (layer.name, 0, 0) not in outputs_of:
                        outputs_of[(layer.name, 0, 0)] = layer.output
                        progress = True
                    continue
                for node_index, node in enumerate(entry["inbound_nodes"]):
                    if done.get(layer.name, 0) > node_index:
                        continue
                    try:
                        args = _deserialize_refs(node["args"], outputs_of)
                        kwargs = _deserialize_refs(node["kwargs"], outputs_of)
                    except KeyError:
                        break
                    out = layer(*args, **kwargs)
                    for i, t in enumerate(_flatten(out)):
                        outputs_of[(layer.name, node_index, i)] = t
                    done[layer.name] = node_index + 1
                    progress = True

        def tensors(spec):
            if isinstance(spec, dict):
                return {k: tensors(v) for k, v in spec.items()}
            if spec and isinstance(spec[0], str):
                return outputs_of[tuple(spec)]
            return [tensors(s) for s in spec]

        inputs = tensors(config["input_layers"])
        outputs = tensors(config["output_layers"])
        return cls(inputs, outputs, name=config.get("name"),
                   trainable=config.get("trainable", True))


def _deserialize_refs(data: Any, outputs_of: dict) -> Any:
    if isinstance(data, dict) and data.get("class_name") == "__keras_tensor__":
        return outputs_of[tuple(data["config"]["keras_history"])]
    if isinstance(data, dict):
        return {k: _deserialize_refs(v, outputs_of) for k, v in data.items()}
    if isinstance(data, list):
        return [_deserialize_refs(v, outputs_of) for v in data]
    return data


def _default_name() -> str:
    from ..layers.layer import unique_name
    return unique_name("functional")
