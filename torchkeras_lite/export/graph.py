"""The ONNX graph under construction, as layer converters see it.

Who owns what:
- :class:`Value` is a tensor of the graph: its ONNX name, its Keras-layout shape (``None`` for
  the batch axis and any other dynamic axis) and, for sequences, the name of its Keras mask
  (a bool ``(batch, time)`` tensor) when one travels with it.
- :class:`GraphBuilder` collects nodes and initializers. Converters call :meth:`node` (any ONNX
  op), :meth:`const` (a weight or constant), and the helpers that hide opset differences
  (:meth:`reduce`, :meth:`transpose`, ...). Names are unique and readable:
  ``<layer name>/<what>``. :meth:`transpose` cancels a transpose that undoes the previous one,
  so ``Conv2D -> MaxPooling2D`` keeps NCHW between the ops; :meth:`finish` drops nodes no
  output needs.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "ONNX export needs the 'onnx' package: pip install onnx (or "
            "pip install 'torchkeras-lite[onnx]' for onnx and onnxruntime)."
        ) from exc
    return onnx


def onnx_dtype(dtype: Any) -> int:
    """The ONNX element type of a numpy/torch dtype (or its name)."""
    onnx = _onnx()
    name = str(dtype).replace("torch.", "")
    table = {
        "float32": onnx.TensorProto.FLOAT, "float64": onnx.TensorProto.DOUBLE,
        "float16": onnx.TensorProto.FLOAT16, "bfloat16": onnx.TensorProto.BFLOAT16,
        "int64": onnx.TensorProto.INT64, "int32": onnx.TensorProto.INT32,
        "int16": onnx.TensorProto.INT16, "int8": onnx.TensorProto.INT8,
        "uint8": onnx.TensorProto.UINT8, "bool": onnx.TensorProto.BOOL,
    }
    if name not in table:
        raise TypeError(f"Cannot export tensors of dtype {name} to ONNX; "
                        f"supported: {sorted(table)}.")
    return table[name]


class Value:
    """A tensor of the graph being built.

    Attributes:
        name: its ONNX name.
        shape: Keras-layout shape, batch first; ``None`` marks a dynamic axis.
        dtype: numpy dtype name (``'float32'``, ``'int64'``, ``'bool'``...).
        mask: the :class:`Value` of its Keras mask (bool, ``(batch, time)``), or None.
    """

    def __init__(self, name: str, shape: Sequence[int | None] | None, dtype: str = "float32",
                 mask: "Value | None" = None) -> None:
        self.name = name
        self.shape = None if shape is None else tuple(shape)
        self.dtype = dtype
        self.mask = mask

    @property
    def rank(self) -> int:
        if self.shape is None:
            raise ValueError(f"The rank of {self.name!r} is unknown.")
        return len(self.shape)

    def __repr__(self) -> str:
        return f"Value({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class OpsetTooOldError(ValueError):
    """An op (or op form) needs a newer ONNX opset than the one asked for."""


class GraphBuilder:
    """Nodes, initializers and unique names of one ONNX graph.

    Args:
        opset: the default-domain opset the graph targets.
    """

    def __init__(self, opset: int) -> None:
        self.opset = int(opset)
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()
        self._transposes: dict[str, tuple[str, tuple[int, ...]]] = {}
        self._consts: dict[tuple, str] = {}
        self.scope = ""  # the layer being converted, used in names and errors
        self.scope_class = ""

    # ------------------------------------------------------------------ names
    def fresh(self, hint: str) -> str:
        """A unique tensor name ``<scope>/<hint>`` (``_1``, ``_2``... if taken)."""
        return self.reserve(f"{self.scope}/{hint}" if self.scope else hint)

    def reserve(self, name: str) -> str:
        """Claim an exact name (graph inputs and outputs); a clash gets a suffix."""
        candidate, i = name, 0
        while candidate in self._names:
            i += 1
            candidate = f"{name}_{i}"
        self._names.add(candidate)
        return candidate

    def require_opset(self, op: str, minimum: int, what: str | None = None) -> None:
        """Raise :class:`OpsetTooOldError` naming ``op`` and its minimum opset."""
        if self.opset < minimum:
            where = f" for layer {self.scope!r} ({self.scope_class})" if self.scope else ""
            raise OpsetTooOldError(
                f"ONNX op {op}{' (' + what + ')' if what else ''}{where} needs opset "
                f">= {minimum}, but the export targets opset {self.opset}. "
                f"Pass opset={minimum} or newer (the default is newer)."
            )

    # ------------------------------------------------------------------ nodes
    def node(self, op_type: str, inputs: Sequence[Value | str | None], *, shape: Any = None,
             dtype: str = "float32", outputs: int = 1, hint: str | None = None,
             domain: str = "", **attrs: Any) -> Any:
        """Add one node; returns its output :class:`Value` (a list when ``outputs > 1``).

        ``inputs`` are Values or names; ``None`` (or ``''``) stands for an omitted optional
        input. ``shape``/``dtype`` describe the output(s) for later converters (Keras layout;
        use None where unknown). ``attrs`` become ONNX attributes (numpy arrays become tensors).
        """
        onnx = _onnx()
        names_in = ["" if v is None else (v.name if isinstance(v, Value) else str(v))
                    for v in inputs]
        base = hint or op_type.lower()
        out_names = [self.fresh(base if outputs == 1 else f"{base}_{i}") for i in range(outputs)]
        attributes = {}
        for key, value in attrs.items():
            if value is None:
                continue
            if isinstance(value, np.ndarray):
                value = onnx.numpy_helper.from_array(value)
            attributes[key] = value
        self.nodes.append(onnx.helper.make_node(
            op_type, names_in, out_names, name=self.fresh(f"{base}_node"), domain=domain,
            **attributes))
        shapes = shape if outputs > 1 and isinstance(shape, list) else [shape] * outputs
        values = [Value(n, s, dtype) for n, s in zip(out_names, shapes)]
        return values[0] if outputs == 1 else values

    def const(self, array: Any, hint: str = "const", dtype: Any = None) -> Value:
        """An initializer from a numpy array, torch tensor or Python number/list."""
        onnx = _onnx()
        if hasattr(array, "detach"):
            array = array.detach().cpu().numpy()
        array = np.asarray(array, dtype=dtype)
        if array.dtype == np.float64 and dtype is None:
            array = array.astype(np.float32)
        small = array.size <= 16
        key = (array.dtype.str, array.shape, array.tobytes()) if small else None
        if key is not None and key in self._consts:
            return Value(self._consts[key], array.shape, array.dtype.name)
        name = self.fresh(hint)
        self.initializers.append(onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        if key is not None:
            self._consts[key] = name
        return Value(name, array.shape, array.dtype.name)

    def ints(self, values: Sequence[int], hint: str = "shape") -> Value:
        """An int64 1-D constant (shapes, axes, pads as inputs)."""
        return self.const(np.asarray(list(values), dtype=np.int64), hint)

    # ------------------------------------------------------------------ helpers
    def transpose(self, x: Value, perm: Sequence[int], hint: str = "transpose") -> Value:
        """``Transpose``; returns the original tensor when ``x`` came from the inverse one."""
        perm = tuple(int(p) for p in perm)
        if perm == tuple(range(len(perm))):
            return x
        shape = None if x.shape is None else tuple(x.shape[p] for p in perm)
        source = self._transposes.get(x.name)
        if source is not None:
            src_name, src_perm = source
            composed = tuple(src_perm[p] for p in perm)
            if composed == tuple(range(len(perm))):
                return Value(src_name, shape, x.dtype, x.mask)
        out = self.node("Transpose", [x], perm=list(perm), shape=shape, dtype=x.dtype, hint=hint)
        self._transposes[out.name] = (x.name, perm)
        return out

    def transpose_input(self, x: Value) -> tuple[str, tuple[int, ...]] | None:
        """``(source name, perm)`` when ``x`` was made by :meth:`transpose`, else None."""
        return self._transposes.get(x.name)

    def reduce(self, op: str, x: Value, axes: Sequence[int] | None, keepdims: bool,
               shape: Any = None, hint: str | None = None) -> Value:
        """``Reduce*`` with ``axes`` as an attribute or an input, whichever the opset wants
        (ReduceSum takes an input from opset 13, the others from 18)."""
        as_input = self.opset >= (13 if op == "ReduceSum" else 18)
        if axes is None:
            return self.node(op, [x], keepdims=int(keepdims), shape=shape, dtype=x.dtype,
                             hint=hint)
        axes = [int(a) for a in axes]
        if as_input:
            return self.node(op, [x, self.ints(axes, "axes")], keepdims=int(keepdims),
                             shape=shape, dtype=x.dtype, hint=hint)
        return self.node(op, [x], axes=axes, keepdims=int(keepdims), shape=shape,
                         dtype=x.dtype, hint=hint)

    def unsqueeze(self, x: Value, axes: Sequence[int], shape: Any = None) -> Value:
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")], shape=shape, dtype=x.dtype)

    def squeeze(self, x: Value, axes: Sequence[int], shape: Any = None) -> Value:
        return self.node("Squeeze", [x, self.ints(axes, "axes")], shape=shape, dtype=x.dtype)

    def reshape(self, x: Value, target: Sequence[int], shape: Any = None) -> Value:
        """``Reshape`` to ``target`` (ONNX semantics: 0 copies the input dim, -1 is inferred)."""
        return self.node("Reshape", [x, self.ints(target)], shape=shape, dtype=x.dtype)

    def cast(self, x: Value, dtype: str) -> Value:
        if x.dtype == dtype:
            return x
        return self.node("Cast", [x], to=onnx_dtype(dtype), shape=x.shape, dtype=dtype)

    def scalar(self, value: float, dtype: str = "float32") -> Value:
        return self.const(np.asarray(value, dtype=dtype), "scalar")

    # ------------------------------------------------------------------ finish
    def finish(self, outputs: Sequence[str]) -> tuple[list, list]:
        """Nodes and initializers that the ``outputs`` depend on, in order."""
        needed = set(outputs)
        kept = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed.update(i for i in node.input if i)
                for attr in node.attribute:  # subgraphs (Loop/Scan/If) read outer names
                    for sub in list(attr.g.node if attr.HasField("g") else []) + \
                            [n for g in attr.graphs for n in g.node]:
                        needed.update(i for i in sub.input if i)
        kept.reverse()
        inits = [t for t in self.initializers if t.name in needed]
        return kept, inits
