"""``export_onnx``: a model -> an ONNX file, layer by layer with ``onnx.helper``.

Who owns what:
- :func:`export_onnx` checks the arguments, builds the graph (:func:`build_onnx_model`), runs
  ``onnx.checker`` (full check), writes the file atomically and, with ``verify=True``, compares
  onnxruntime with ``predict``.
- :func:`build_onnx_model` declares the graph inputs (names from the model's ``Input`` layers,
  a dynamic batch axis, other ``None`` axes dynamic too) and walks the model: a ``Sequential``
  layer after layer, a functional model node by node, nested models recursively. Each layer
  goes to its converter (:mod:`.converters`); a layer without one is exported through
  ``torch.onnx.export`` (TorchScript exporter) and spliced in, or named in a clear error.
"""
from __future__ import annotations

import io
import json
import os
import warnings
from typing import Any, Sequence

import numpy as np
import torch

from ..layers.input_layer import InputLayer, KerasTensor
from ..layers.layer import Layer
from ..models.functional import Functional, _flatten, _map
from ..models.sequential import Sequential
from . import converters as _converters
from .graph import GraphBuilder, OpsetTooOldError, Value, _onnx, onnx_dtype

DEFAULT_OPSET = 18
MIN_OPSET = 13


class UnsupportedLayerError(TypeError):
    """A layer (or activation) that has no ONNX converter and no working fallback."""


# ---------------------------------------------------------------------------- inputs
def _input_specs(model: Any, input_signature: Any) -> list[tuple[str, tuple, str]]:
    """``[(name, keras_shape, dtype)]`` of the model's inputs."""
    if input_signature is not None:
        return _specs_from_signature(model, input_signature)
    if isinstance(model, Functional):
        return [(name, tuple(t.shape), _dtype_name(t.dtype))
                for name, t in zip(model.input_names, model.inputs)]
    if isinstance(model, Sequential):
        layer = model._input_layer
        if layer is None or not model.built:
            raise ValueError(_unbuilt_message(model))
        return [(layer.name, tuple(layer.batch_shape), _dtype_name(layer.dtype))]
    shape = getattr(model, "_saved_input_shape", None)
    if shape is None:
        raise ValueError(_unbuilt_message(model))
    return [("inputs", tuple(shape), "float32")]


def _unbuilt_message(model: Any) -> str:
    return (
        f"Model {model.name!r} is not built, so its input shape is unknown and it cannot be "
        "exported. Call it on data (model.predict(x[:1])), fit it, call "
        "model.build(input_shape), or pass input_signature=(None, features) to export."
    )


def _specs_from_signature(model: Any, signature: Any) -> list[tuple[str, tuple, str]]:
    items = signature if isinstance(signature, (list, tuple)) and signature and \
        not all(isinstance(d, (int, type(None))) for d in signature) else [signature]
    if isinstance(signature, dict):
        items = list(signature.items())
    names = list(getattr(model, "input_names", None) or [])
    specs = []
    for i, item in enumerate(items):
        name = names[i] if i < len(names) else ("inputs" if len(items) == 1 else f"inputs_{i}")
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, item = item
        if isinstance(item, KerasTensor):
            specs.append((name, tuple(item.shape), _dtype_name(item.dtype)))
        elif isinstance(item, (torch.Tensor, np.ndarray)):
            specs.append((name, (None,) + tuple(item.shape[1:]), _dtype_name(item.dtype)))
        elif isinstance(item, (list, tuple)) and all(isinstance(d, (int, type(None)))
                                                      for d in item):
            specs.append((name, tuple(item), "float32"))
        else:
            raise TypeError(
                "input_signature must be a shape tuple with the batch axis first (e.g. "
                "(None, 8)), a list of them (one per input), KerasTensors from Input(), or "
                f"sample arrays; got {item!r}."
            )
    return specs


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


# ---------------------------------------------------------------------------- walking
def convert_layer(ctx: GraphBuilder, layer: Any, args: tuple, kwargs: dict) -> Any:
    """Convert one call of ``layer`` on Values; returns Value(s)."""
    outer_scope, outer_class = ctx.scope, ctx.scope_class
    ctx.scope = f"{outer_scope}/{layer.name}" if outer_scope else layer.name
    ctx.scope_class = type(layer).__name__
    try:
        if isinstance(layer, (Sequential, Functional)):
            flat = args[0] if isinstance(args[0], (list, tuple)) else [args[0]]
            outs = _convert_graph(ctx, layer, list(flat))
            if isinstance(layer, Functional):
                return _restructure(layer._output_struct, outs)
            return outs[0]
        converter = _converters.find_converter(layer)
        if converter is None:
            out = _torch_fallback(ctx, layer, args, kwargs)
        else:
            out = converter(ctx, layer, *args, **kwargs)
        first = args[0] if args else None
        if (isinstance(out, Value) and isinstance(first, Value) and out.mask is None
                and first.mask is not None and layer.supports_masking
                and type(layer).compute_mask is Layer.compute_mask):
            out.mask = first.mask
        return out
    finally:
        ctx.scope, ctx.scope_class = outer_scope, outer_class


def _restructure(struct: Any, flat: list) -> Any:
    it = iter(flat)

    def rebuild(s):
        if isinstance(s, dict):
            return {k: rebuild(v) for k, v in s.items()}
        if isinstance(s, (list, tuple)):
            return type(s)(rebuild(v) for v in s)
        return next(it)
    return rebuild(struct)


def _convert_graph(ctx: GraphBuilder, model: Any, inputs: list[Value]) -> list[Value]:
    """Flat list of output Values of a Sequential/Functional model on ``inputs``."""

    if not isinstance(model, Functional):  # Sequential
        x = inputs[0]
        for layer in model.layers:
            shape = x.shape
            x = convert_layer(ctx, layer, (x,), {})
            # A layer exported by torch's exporter has the shape torch inferred; a custom layer's
            # compute_output_shape may be Layer's identity default.
            if isinstance(x, Value) and shape is not None and (
                    _converters.find_converter(layer) is not None
                    or type(layer).compute_output_shape is not Layer.compute_output_shape):
                try:
                    x.shape = tuple(layer.compute_output_shape(shape))
                except Exception:  # noqa: BLE001 - shapes are advisory
                    pass
        return [x]
    values: dict[int, Value] = {id(t): v for t, v in zip(model.inputs, inputs)}
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        resolve = (lambda v: values[id(v)] if isinstance(v, KerasTensor) else v)
        args = _map(resolve, node.args)
        kwargs = _map(resolve, node.kwargs)
        out = convert_layer(ctx, node.layer, tuple(args), dict(kwargs))
        flat_out = _flatten(out)
        if len(flat_out) != len(node.flat_outputs):
            raise RuntimeError(
                f"The converter of layer {node.layer.name!r} returned {len(flat_out)} outputs; "
                f"the layer has {len(node.flat_outputs)}.")
        for tensor, value in zip(node.flat_outputs, flat_out):
            value.shape = tuple(tensor.shape)
            values[id(tensor)] = value
    return [values[id(t)] for t in model.outputs]


def _torch_fallback(ctx: GraphBuilder, layer: Any, args: tuple, kwargs: dict) -> Value:
    """Export one single-input layer with ``torch.onnx.export`` and splice its graph in."""
    onnx = _onnx()
    x = args[0] if len(args) == 1 and not kwargs else None
    fix = (f"Register a converter for it: @torchkeras_lite.export.register_converter"
           f"({type(layer).__name__}) def convert(ctx, layer, x): ... (see docs/onnx.md).")
    if not isinstance(x, Value) or x.shape is None or any(d is None for d in x.shape[1:]) \
            or x.mask is not None:
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX converter, and the "
            "torch.onnx fallback needs a single input of known shape without a mask. " + fix)
    dummy = torch.zeros((2,) + tuple(x.shape[1:]),
                        dtype=getattr(torch, x.dtype, torch.float32))
    buffer = io.BytesIO()
    previous = layer.training
    layer.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(layer, (dummy,), buffer, dynamo=False,
                              opset_version=ctx.opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    except Exception as exc:  # noqa: BLE001 - any failure means "no ONNX form"
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({type(layer).__name__}) has no ONNX converter and "
            f"torch.onnx.export could not export it ({type(exc).__name__}: {exc}). " + fix
        ) from exc
    finally:
        layer.train(previous)
    sub = onnx.load_from_string(buffer.getvalue()).graph
    rename = {"x": x.name}
    for init in sub.initializer:
        new = ctx.fresh(f"torch/{init.name}")
        rename[init.name] = new
        init.name = new
        ctx.initializers.append(init)
    for node in sub.node:
        for i, name in enumerate(node.input):
            if name:
                node.input[i] = rename.get(name, name)
        for i, name in enumerate(node.output):
            new = ctx.fresh(f"torch/{name}")
            rename[name] = new
            node.output[i] = new
        node.name = ctx.fresh(f"torch/{node.name or node.op_type}")
        ctx.nodes.append(node)
    dims = sub.output[0].type.tensor_type.shape.dim
    shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims) or None
    return Value(rename["y"], shape, x.dtype)


# ---------------------------------------------------------------------------- the model
def _value_info(name: str, shape: Sequence[int | None] | None, dtype: str, prefix: str):
    onnx = _onnx()
    if shape is None:
        return onnx.helper.make_tensor_value_info(name, onnx_dtype(dtype), None)
    dims = []
    for i, d in enumerate(shape):
        if d is not None:
            dims.append(int(d))
        elif i == 0:
            dims.append("batch")
        else:
            dims.append(f"{prefix}_axis{i}")
    return onnx.helper.make_tensor_value_info(name, onnx_dtype(dtype), dims)


def _output_names(model: Any, count: int) -> list[str]:
    names = list(getattr(model, "output_names", None) or [])
    if len(names) == count:
        return names
    layers = getattr(model, "layers", None)
    if count == 1 and layers:
        return [layers[-1].name]
    return ["output" if count == 1 else f"output_{i}" for i in range(count)]


def build_onnx_model(model: Any, *, input_signature: Any = None, opset: int | None = None):
    """The ``onnx.ModelProto`` of ``model`` (not checked, not written)."""
    from .. import __version__
    onnx = _onnx()
    opset = _check_opset(opset)
    specs = _input_specs(model, input_signature)
    ctx = GraphBuilder(opset)
    inputs = []
    graph_inputs = []
    for name, shape, dtype in specs:
        name = ctx.reserve(name)
        inputs.append(Value(name, (None,) + tuple(shape[1:]), dtype))
        graph_inputs.append(_value_info(name, (None,) + tuple(shape[1:]), dtype, name))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if isinstance(model, (Sequential, Functional)):
                outs = _convert_graph(ctx, model, inputs)
            elif len(inputs) == 1:
                if not model.built:  # subclassed: build it from input_signature first
                    shape = tuple(2 if d is None else d for d in inputs[0].shape)
                    model(torch.zeros(shape, dtype=getattr(torch, inputs[0].dtype)))
                ctx.scope, ctx.scope_class = model.name, type(model).__name__
                outs = [_torch_fallback(ctx, model, (inputs[0],), {})]
                ctx.scope = ctx.scope_class = ""
            else:
                raise UnsupportedLayerError(
                    f"Model {model.name!r} ({type(model).__name__}) is a subclassed model with "
                    "several inputs; only Sequential and functional models (any number of "
                    "inputs) and single-input subclassed models can be exported.")
    finally:
        model.train(was_training)
    names = _output_names(model, len(outs))
    graph_outputs = []
    final_names = []
    input_names = {v.name for v in inputs}
    for value, name in zip(outs, names):
        name = ctx.reserve(name) if name not in input_names else ctx.reserve(name + "_output")
        dtype = value.dtype
        ctx.nodes.append(onnx.helper.make_node("Identity", [value.name], [name],
                                               name=ctx.fresh(f"{name}/identity")))
        graph_outputs.append(_value_info(name, value.shape, dtype, name))
        final_names.append(name)
    _collapse_identities(ctx, final_names)
    nodes, inits = ctx.finish(final_names)
    graph = onnx.helper.make_graph(nodes, model.name, graph_inputs, graph_outputs, inits)
    proto = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="torchkeras_lite", producer_version=__version__,
        doc_string=f"{type(model).__name__} {model.name!r} exported by torchkeras_lite "
                   f"{__version__}")
    proto.ir_version = min(proto.ir_version, _max_ir_version(opset))
    meta = {"torchkeras_lite_version": __version__,
            "input_names": json.dumps([v.name for v in inputs]),
            "output_names": json.dumps(final_names)}
    config = _keras_config(model)
    if config is not None:
        meta["keras_config"] = config
    onnx.helper.set_model_props(proto, meta)
    return proto


def _collapse_identities(ctx: GraphBuilder, outputs: list[str]) -> None:
    """Rename the producer of each output to the output's name instead of an Identity node,
    when the produced tensor is a node output used nowhere else."""
    producers = {o: n for n in ctx.nodes for o in n.output}
    uses: dict[str, int] = {}
    for n in ctx.nodes:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    for out in outputs:
        ident = producers.get(out)
        if ident is None or ident.op_type != "Identity":
            continue
        source = ident.input[0]
        producer = producers.get(source)
        if producer is None or uses.get(source, 0) != 1 or source in outputs:
            continue
        for i, name in enumerate(producer.output):
            if name == source:
                producer.output[i] = out
        ctx.nodes.remove(ident)


def _max_ir_version(opset: int) -> int:
    onnx = _onnx()
    try:
        from onnx.helper import find_min_ir_version_for
        return max(find_min_ir_version_for([onnx.helper.make_opsetid("", opset)]), 8)
    except Exception:  # noqa: BLE001 - older onnx
        return onnx.IR_VERSION


def _keras_config(model: Any) -> str | None:
    try:
        from ..saving import serialization_lib
        return json.dumps(serialization_lib.serialize_model(model, include_compile=False))
    except Exception:  # noqa: BLE001 - config is optional metadata (custom layers)
        return None


def _check_opset(opset: Any) -> int:
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) \
            or not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"opset must be an integer from {MIN_OPSET} to {newest} (the newest your onnx "
            f"package knows), got {opset!r}. The default is {min(DEFAULT_OPSET, newest)}.")
    return int(opset)


# ---------------------------------------------------------------------------- public
def export_onnx(model: Any, filepath: "str | os.PathLike", *, input_signature: Any = None,
                opset: int | None = None, verify: bool = False, verbose: bool = False,
                atol: float = 1e-5) -> str:
    """Write ``model`` as an ONNX file that onnxruntime runs with ``predict``'s outputs.

    Args:
        model: a built Sequential or functional model (or a single-input subclassed model).
        filepath: where to write (``.onnx``); written atomically.
        input_signature: for a model that is not built: its input shape(s) with the batch axis
            first, e.g. ``(None, 8)`` or ``[(None, 8), (None, 4)]`` (or KerasTensors/arrays).
        opset: ONNX opset (default 18; 13 or newer).
        verify: run the file in onnxruntime at batch sizes 1 and 37 on random inputs and
            raise if any output differs from ``model.predict`` by more than ``atol``.
        verbose: print what was written.

    Returns:
        The path written.

    Example:
        >>> export_onnx(model, "tutorial.onnx", verify=True)
    """
    onnx = _onnx()
    path = os.fspath(filepath)
    if not path.endswith(".onnx"):
        raise ValueError(f"filepath must end in '.onnx', got {path!r}.")
    proto = build_onnx_model(model, input_signature=input_signature, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    from ..saving.atomic import atomic_write
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    if verify:
        verify_onnx(model, path, atol=atol)
    if verbose:
        names_in = [i.name for i in proto.graph.input]
        names_out = [o.name for o in proto.graph.output]
        print(f"Saved ONNX model to {path} (opset {proto.opset_import[0].version}, "
              f"inputs {names_in}, outputs {names_out}, {len(proto.graph.node)} nodes).")
    return path


def random_inputs(model: Any, proto: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random feeds for the graph inputs of ``proto`` (integers below the smallest Embedding
    vocabulary when the model has Embedding layers)."""
    from ..layers.embedding import Embedding
    rng = np.random.default_rng(seed)
    vocab = [layer.input_dim for layer in _all_layers(model) if isinstance(layer, Embedding)]
    feeds = {}
    for inp in proto.graph.input:
        dims = [batch if i == 0 else (d.dim_value if d.HasField("dim_value") else 5)
                for i, d in enumerate(inp.type.tensor_type.shape.dim)]
        elem = inp.type.tensor_type.elem_type
        np_dtype = _onnx().helper.tensor_dtype_to_np_dtype(elem)
        if vocab or np.issubdtype(np_dtype, np.integer):
            feeds[inp.name] = rng.integers(0, min(vocab) if vocab else 10, dims).astype(np_dtype)
        else:
            feeds[inp.name] = rng.standard_normal(dims).astype(np_dtype)
    return feeds


def _all_layers(model: Any) -> list:
    return [m for m in model.modules() if isinstance(m, Layer)]


def verify_onnx(model: Any, path: str, *, atol: float = 1e-5,
                batch_sizes: Sequence[int] = (1, 37)) -> None:
    """Compare onnxruntime on ``path`` with ``model.predict``; raise if they differ."""
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("verify=True needs onnxruntime: pip install onnxruntime") from exc
    onnx = _onnx()
    proto = onnx.load(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for batch in batch_sizes:
        feeds = random_inputs(model, proto, batch)
        got = session.run(None, feeds)
        names = [i.name for i in proto.graph.input]
        x = [feeds[n] for n in names]
        if isinstance(getattr(model, "_input_struct", None), dict):
            x = [dict(zip(model.input_names, x))]
        want = model.predict(x[0] if len(x) == 1 else x, verbose=0, batch_size=max(batch, 1))
        want = _flatten(list(want.values()) if isinstance(want, dict) else want) \
            if not isinstance(want, np.ndarray) else [want]
        for out, a, b in zip(proto.graph.output, got, want):
            if a.shape != b.shape or not np.allclose(a, b, atol=atol, rtol=atol):
                diff = np.max(np.abs(a - b)) if a.shape == b.shape else "shape"
                raise AssertionError(
                    f"ONNX output {out.name!r} differs from predict at batch {batch}: "
                    f"shapes {a.shape} vs {b.shape}, max abs diff {diff} (atol {atol}). "
                    "Please report this with the model's summary().")


__all__ = ["export_onnx", "build_onnx_model", "verify_onnx", "UnsupportedLayerError",
           "OpsetTooOldError", "DEFAULT_OPSET"]
