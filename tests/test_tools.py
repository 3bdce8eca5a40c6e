"""The benchmark script keeps running (smoke test; timings are never asserted)."""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

IMPL_KEYS = {"label", "unit", "median", "min", "max", "steps"}


def test_bench_quick_runs_and_prints_tables(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench.py"), "--quick", "--no-keras",
         "--json", str(out)],  # no --only: every workload
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ("| W1 tutorial | torchkeras_lite fit |", "| W2 MNIST MLP | minimal torch loop |",
                "| W3 MNIST convnet | torchkeras_lite fit |",
                "| W3 MNIST convnet | minimal torch loop |",
                "| predict | torchkeras_lite predict |", "| import | `import torchkeras_lite` |",
                "| W2 peak memory | torchkeras_lite fit |",
                "| W2 peak memory | minimal torch loop |", "## targets"):
        assert row in result.stdout
    onnx_ok = "ONNX row skipped" not in result.stdout
    if onnx_ok:
        assert "| ONNX export | tutorial MLP 8-12-8-3 |" in result.stdout
        assert "| ONNX tutorial b=1 | onnxruntime InferenceSession.run |" in result.stdout

    # The JSON file is complete, and no temp file is left beside it.
    data = json.loads(out.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]
    assert {"machine", "workloads", "targets", "mode"} <= set(data)
    assert data["mode"] == "quick"
    assert {"cpu", "cores", "torch", "keras", "date"} <= set(data["machine"])
    w = data["workloads"]
    assert {"w1", "w2", "w3", "evaluate", "predict", "import", "onnx", "memory"} <= set(w)
    for name in ("w1", "w2", "w3", "evaluate", "predict"):
        assert {"ours", "minimal"} <= set(w[name]["impls"]), name
        for impl in w[name]["impls"].values():
            assert IMPL_KEYS <= set(impl), (name, impl)
            assert {"vs_minimal", "keras_over_this"} <= set(impl["ratios"])
    assert {"achieved_gflop_s", "torch_mm_reference_gflop_s"} <= set(w["w2"]["gflops"])
    assert "torchkeras_lite_extra_s" in w["import"]
    assert {"baseline", "ours", "minimal"} <= set(w["memory"]["impls"])
    assert "ours_extra_over_minimal_extra" in w["memory"]["ratios"]
    if onnx_ok:
        assert {"tutorial", "w2"} <= set(w["onnx"]["export"])
        assert {"tutorial_b1", "tutorial_b1024", "w2_b1", "w2_b1024"} <= set(w["onnx"]["inference"])
        for entry in w["onnx"]["inference"].values():
            assert {"onnxruntime", "ours"} <= set(entry["impls"])

    ids = {t["id"] for t in data["targets"]}
    assert {"w1_keras_over_ours", "w1_ours_over_minimal", "w2_keras_over_ours",
            "w2_ours_over_minimal", "w3_keras_over_ours", "w3_ours_over_minimal",
            "evaluate_keras_over_ours", "predict_ours_over_minimal", "import_extra_s",
            "memory_ours_over_minimal", "onnx_export_s"} <= ids
    for t in data["targets"]:
        assert {"value", "threshold", "verdict"} <= set(t)
        assert t["verdict"] in {"PASS", "MISS", "n/a", "info"}
    # --no-keras: the Keras targets have no value.
    assert all(t["verdict"] == "n/a" for t in data["targets"] if "keras" in t["id"])
