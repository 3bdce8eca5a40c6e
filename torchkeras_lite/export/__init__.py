"""Export models to ONNX: ``export_onnx(model, "model.onnx")`` or ``model.export(...)``.

The graph is emitted layer by layer with ``onnx.helper`` (only the ``onnx`` package is needed;
onnxruntime only for ``verify=True``). See :mod:`.onnx_export` for the walk and
:mod:`.converters` for the per-layer converters; ``register_converter`` adds one for a custom
layer. Command line: ``python -m torchkeras_lite.export MODEL.keras OUT.onnx [--opset N] [--check]``.
"""
from __future__ import annotations

from .converters import register_activation, register_converter
from .graph import GraphBuilder, OpsetTooOldError, Value
from .onnx_export import (DEFAULT_OPSET, UnsupportedLayerError, build_onnx_model, export_onnx,
                          verify_onnx)

__all__ = ["export_onnx", "build_onnx_model", "verify_onnx", "register_converter",
           "register_activation", "GraphBuilder", "Value", "UnsupportedLayerError",
           "OpsetTooOldError", "DEFAULT_OPSET"]
