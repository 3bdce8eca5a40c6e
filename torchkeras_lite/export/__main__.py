"""``python -m torchkeras_lite.export MODEL.keras OUT.onnx [--opset N] [--check]``."""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m torchkeras_lite.export",
        description="Convert a saved .keras model (ours or Keras 3's) to ONNX.")
    parser.add_argument("model", help="path of a .keras file")
    parser.add_argument("output", help="path of the .onnx file to write")
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (default: torchkeras_lite.export.DEFAULT_OPSET)")
    parser.add_argument("--check", action="store_true",
                        help="run the file in onnxruntime and compare with predict "
                             "(batch 1 and 37, atol 1e-5)")
    args = parser.parse_args(argv)
    from ..saving import load_model
    from .onnx_export import export_onnx
    start = time.perf_counter()
    try:
        model = load_model(args.model, compile=False)
        export_onnx(model, args.output, opset=args.opset, verify=args.check)
    except (OSError, ValueError, TypeError, AssertionError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    checked = " and matched predict in onnxruntime" if args.check else ""
    print(f"Wrote {args.output}{checked} in {elapsed:.2f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
