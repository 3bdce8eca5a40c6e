"""The benchmark script keeps running (smoke test; timings are never asserted)."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_bench_quick_runs_and_prints_tables():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench.py"), "--quick", "--no-keras",
         "--only", "w1,w2,predict"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    for row in ("| W1 tutorial | torchkeras_lite fit |", "| W2 MNIST MLP | minimal torch loop |",
                "| predict | torchkeras_lite predict |"):
        assert row in result.stdout
