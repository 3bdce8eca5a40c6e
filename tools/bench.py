#!/usr/bin/env python
"""Speed benchmark: torchkeras_lite vs a minimal hand-written torch loop vs Keras 3 (torch backend).

Run from the repository root::

    python tools/bench.py                       # everything (several minutes on 2 cores)
    python tools/bench.py --quick               # smoke test, tiny sizes (< 60 s)
    python tools/bench.py --only w1,w2 --repeats 7
    python tools/bench.py --only w1 --profile   # + cProfile / torch.profiler of our W1 fit
    python tools/bench.py --json out.json       # also write every measured number as JSON

Workloads (``--only`` takes a comma list of these; the default runs all of them)
    w1       tutorial MLP: 100x8 data, Dense 12/8/3, adam, categorical CE, accuracy, batch 10,
             150 epochs (1,500 steps). Reports us/step.
    w2       MNIST-shaped MLP: 60,000x784, Dense 512/512/10, adam, categorical CE, accuracy,
             batch 128, one epoch (469 steps). Reports us/step and GFLOP/s, with a bare
             ``torch.mm`` reference.
    w3       the Keras MNIST convnet example: (28,28,1) -> Conv2D 32/3 relu -> MaxPool 2 ->
             Conv2D 64/3 relu -> MaxPool 2 -> Flatten -> Dropout 0.5 -> Dense 10 softmax, adam,
             categorical CE, accuracy, batch 128, 10,000 random images, one epoch (79 steps).
    predict  evaluate() and predict() throughput of the W2 model over 60,000 rows (batch 32,
             the Keras default). Reports rows/s.
    import   ``python -c "import torchkeras_lite"`` vs ``import torch`` (and keras), median of 3.
    onnx     ``torchkeras_lite.export.export_onnx`` time for the tutorial and W2 MLPs, then
             onnxruntime ``InferenceSession.run`` vs our ``predict`` at batch 1 and 1024.
    memory   peak RSS (ru_maxrss) of one W2 epoch, ours vs minimal, each in a fresh child
             process, minus a child that only imports torch and builds the same data.

Implementations, timed interleaved (a, b, c, a, b, c, ...) after one warm-up each:
    ours     torchkeras_lite ``fit(..., verbose=0, shuffle=True)`` given numpy arrays.
    minimal  the same network as plain ``nn`` modules emitting logits, data as in-memory tensors
             (W3: permuted once to NCHW up front), one ``randperm`` per epoch + index slicing,
             ``Adam(fused=True)``, ``F.cross_entropy`` with the one-hot target, loss accumulated
             on-device, one ``.item()`` at the end. It computes no accuracy metric (ours and
             Keras do).
    keras    Keras 3 on its torch backend, ``fit(verbose=0)`` given numpy arrays, in this same
             process. It is slow, so by default it times fewer steps (stated in the output);
             ``--keras-full`` gives it the same sizes as the others.

The ``## targets`` section judges each target on medians (PASS/MISS); ``--json PATH`` writes
the numbers, ratios, targets and machine info (written atomically).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported anywhere

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

perf = time.perf_counter

# Issue 7 (speed) and issue 6 (inference/memory). Every verdict is judged on medians.
TARGETS = {
    "w1_keras_over_ours_min": 15.0,        # W1: >= 15x faster than Keras
    "w1_ours_over_minimal_max": 0.9,       # W1: <= 0.9x the minimal loop
    "w2_keras_over_ours_min": 2.0,         # W2: >= 2x faster than Keras
    "w2_ours_over_minimal_max": 1.0,       # W2: <= 1.0x the minimal loop
    "w3_keras_over_ours_min": 2.5,         # W3: >= 2.5x faster than Keras
    "w3_ours_over_minimal_max": 1.1,       # W3: <= 1.1x the minimal loop
    "predict_keras_over_ours_min": 2.5,    # evaluate and predict, W2 model, 60k rows
    "predict_ours_over_minimal_max": 1.0,
    "import_extra_s_max": 0.3,             # import torchkeras_lite <= import torch + 0.3 s
    "memory_ours_over_minimal_max": 1.2,   # W2 fit peak memory (extra over data) <= 1.2x minimal
    "onnx_export_s_max": 0.5,              # export_onnx of the tutorial model < 0.5 s
}

WORKLOADS = ("w1", "w2", "w3", "predict", "import", "onnx", "memory")


# ----------------------------------------------------------------------------- helpers
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def import_keras():
    """Keras 3 on the torch backend, or (None, reason)."""
    try:
        import keras
    except Exception as exc:  # pragma: no cover - depends on the environment
        return None, f"keras not importable ({type(exc).__name__}: {exc})"
    backend = keras.backend.backend()
    if backend != "torch":
        return None, f"keras uses backend {backend!r}, not torch"
    return keras, None


def one_hot(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]


def timed(fn):
    """Wall seconds and process CPU seconds taken by ``fn()``, and the units it reports."""
    gc.collect()
    c0, t0 = time.process_time(), perf()
    units = fn()
    return perf() - t0, time.process_time() - c0, units


def fmt(v: float) -> str:
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.1f}"


def fmt_ratio(v) -> str:
    return "—" if v is None else f"{v:.2f}×"


class Impl:
    """One column of a workload: warm-up, then a timed ``run`` returning its unit count."""

    def __init__(self, key: str, label: str, warmup, run, note: str = "") -> None:
        self.key, self.label, self.warmup, self.run, self.note = key, label, warmup, run, note
        self.samples: list[float] = []  # wall microseconds per unit
        self.cpu_samples: list[float] = []  # process CPU microseconds per unit (all threads)
        self.info: dict = {}
        self.units = None  # units (steps, rows, calls) per timed repeat


def run_interleaved(impls: list[Impl], repeats: int, tag: str) -> None:
    for impl in impls:
        t0 = perf()
        impl.warmup()
        print(f"  [{tag}] warm-up {impl.label:28s} {perf() - t0:6.2f} s", flush=True)
    for r in range(repeats):
        parts = []
        for impl in impls:
            dt, cpu, units = timed(impl.run)
            impl.samples.append(dt / units * 1e6)
            impl.cpu_samples.append(cpu / units * 1e6)
            impl.units = units
            parts.append(f"{impl.key} {dt:.2f}s")
        print(f"  [{tag}] repeat {r + 1}/{repeats}: " + ", ".join(parts), flush=True)


def med(impl: Impl | None):
    return None if impl is None or not impl.samples else statistics.median(impl.samples)


def print_table(workload: str, impls: list[Impl], unit: str = "µs/step",
                rows_per_unit: float | None = None) -> dict:
    by = {i.key: i for i in impls}
    m_min, m_keras = med(by.get("minimal")), med(by.get("keras"))
    head = (f"| workload | impl | {unit} (median) | min | max | vs minimal | Keras / this "
            f"| CPU {unit} (median) | CPU vs minimal |")
    sep = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    c_min = statistics.median(by["minimal"].cpu_samples) if "minimal" in by else None
    if rows_per_unit:
        head += " rows/s (median) |"
        sep += "---:|"
    print(head)
    print(sep)
    ratios = {}
    for impl in impls:
        m = med(impl)
        vs_min = None if m_min is None else m / m_min
        k_over = None if m_keras is None else m_keras / m
        ratios[impl.key] = (vs_min, k_over)
        # Ratio of the fastest repeats: the robust figure when other processes share the CPUs.
        b_min, b_keras = by.get("minimal"), by.get("keras")
        ratios[impl.key + "_best"] = (
            None if b_min is None else min(impl.samples) / min(b_min.samples),
            None if b_keras is None else min(b_keras.samples) / min(impl.samples))
        line = (f"| {workload} | {impl.label} | {fmt(m)} | {fmt(min(impl.samples))} | "
                f"{fmt(max(impl.samples))} | {fmt_ratio(vs_min)} | {fmt_ratio(k_over)} | ")
        c = statistics.median(impl.cpu_samples)
        line += f"{fmt(c)} | {fmt_ratio(None if c_min is None else c / c_min)} |"
        if rows_per_unit:
            line += f" {rows_per_unit / m * 1e6:,.0f} |"
        print(line)
    print()
    notes = [f"- {impl.label}: {impl.note}" for impl in impls if impl.note]
    if notes:
        print("\n".join(notes) + "\n")
    return ratios


def impls_json(impls: list[Impl], unit: str, ratios: dict | None = None,
               steps_per_unit: float = 1.0) -> dict:
    """Per-implementation numbers for ``--json``: median/min/max of the samples in ``unit``."""
    out = {}
    for impl in impls:
        if not impl.samples:
            continue
        entry = {"label": impl.label, "unit": unit, "median": med(impl),
                 "min": min(impl.samples), "max": max(impl.samples), "samples": impl.samples,
                 "cpu_median": statistics.median(impl.cpu_samples) if impl.cpu_samples else None,
                 "steps": (None if impl.units is None
                           else int(math.ceil(impl.units * steps_per_unit))),
                 "note": impl.note}
        entry.update({k: v for k, v in impl.info.items() if isinstance(v, (int, float, str))})
        if ratios and impl.key in ratios:
            vs_min, k_over = ratios[impl.key]
            b_min, b_k = ratios.get(impl.key + "_best", (None, None))
            entry["ratios"] = {"vs_minimal": vs_min, "keras_over_this": k_over,
                               "vs_minimal_fastest": b_min, "keras_over_this_fastest": b_k}
        out[impl.key] = entry
    return out


def print_simple_table(workload: str, impls: list[Impl], base_key: str, base_name: str,
                       unit: str = "µs/call", rows_per_unit: float | None = None) -> dict:
    """A table of medians with one ratio column, each row's median over ``base_key``'s.

    Returns ``{key: (median ratio, fastest-repeat ratio)}``."""
    by = {i.key: i for i in impls}
    base = by[base_key]
    head = f"| workload | impl | {unit} (median) | min | max | vs {base_name} |"
    sep = "|---|---|---:|---:|---:|---:|"
    if rows_per_unit:
        head += " rows/s (median) |"
        sep += "---:|"
    print(head)
    print(sep)
    ratios = {}
    for impl in impls:
        m = med(impl)
        r = m / med(base)
        ratios[impl.key] = (r, min(impl.samples) / min(base.samples))
        line = (f"| {workload} | {impl.label} | {fmt(m)} | {fmt(min(impl.samples))} | "
                f"{fmt(max(impl.samples))} | {fmt_ratio(r)} |")
        if rows_per_unit:
            line += f" {rows_per_unit / m * 1e6:,.0f} |"
        print(line)
    print()
    return ratios


def write_json_atomic(path: str, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` via a temp file in the same folder + ``os.replace``."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=str(target.parent))
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=_json_default, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite(obj):
    """NaN/inf -> None, recursively (JSON has no NaN)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- models
def tkl_mlp(sizes: list[int], input_dim: int):
    from torchkeras_lite.layers import Dense
    from torchkeras_lite.models import Sequential
    layers = [Dense(sizes[0], input_dim=input_dim, activation="relu")]
    layers += [Dense(s, activation="relu") for s in sizes[1:-1]]
    layers.append(Dense(sizes[-1], activation="softmax"))
    model = Sequential(layers)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_mlp(keras, sizes: list[int], input_dim: int):
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(s, activation="relu") for s in sizes[:-1]]
    layers.append(keras.layers.Dense(sizes[-1], activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_mlp(sizes: list[int], input_dim: int) -> nn.Sequential:
    mods, d = [], input_dim
    for s in sizes[:-1]:
        mods += [nn.Linear(d, s), nn.ReLU()]
        d = s
    mods.append(nn.Linear(d, sizes[-1]))  # logits; softmax lives in the loss
    return nn.Sequential(*mods)


def tkl_convnet():
    """The Keras MNIST convnet example, built from ``torchkeras_lite.layers``."""
    from torchkeras_lite.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from torchkeras_lite.models import Sequential
    model = Sequential([Input((28, 28, 1)),
                        Conv2D(32, kernel_size=(3, 3), activation="relu"),
                        MaxPooling2D(pool_size=(2, 2)),
                        Conv2D(64, kernel_size=(3, 3), activation="relu"),
                        MaxPooling2D(pool_size=(2, 2)),
                        Flatten(),
                        Dropout(0.5),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_convnet(keras):
    L = keras.layers
    model = keras.Sequential([keras.Input((28, 28, 1)),
                              L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                              L.MaxPooling2D(pool_size=(2, 2)),
                              L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                              L.MaxPooling2D(pool_size=(2, 2)),
                              L.Flatten(),
                              L.Dropout(0.5),
                              L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_convnet() -> nn.Sequential:
    """The same convnet as plain ``nn`` modules on NCHW input, emitting logits."""
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 5 * 5, 10))


class Builders:
    """How one training workload builds each implementation's model.

    ``ours()`` and ``keras(keras)`` return compiled models; ``torch()`` an ``nn.Module``
    emitting logits; ``to_torch(x)`` turns the user's numpy array into the minimal loop's
    tensor (done once, outside the timed region)."""

    def __init__(self, ours, torch_model, keras_model, to_torch=None,
                 minimal_desc: str = "nn.Sequential") -> None:
        self.ours, self.torch, self.keras = ours, torch_model, keras_model
        self.to_torch = to_torch or torch.from_numpy
        self.minimal_desc = minimal_desc


def mlp_builders(sizes: list[int], input_dim: int) -> Builders:
    return Builders(lambda: tkl_mlp(sizes, input_dim), lambda: torch_mlp(sizes, input_dim),
                    lambda keras: keras_mlp(keras, sizes, input_dim))


def convnet_builders() -> Builders:
    return Builders(tkl_convnet, torch_convnet, keras_convnet,
                    to_torch=lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(),
                    minimal_desc="nn.Conv2d/MaxPool2d/Linear on NCHW (data permuted once up "
                                 "front from the user's NHWC, outside the timed region)")


def minimal_train(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor, epochs: int, batch_size: int) -> tuple[int, float]:
    """The hand-written loop: returns (steps, mean loss). One host sync, at the end."""
    n = x.shape[0]
    nb = math.ceil(n / batch_size)
    total = torch.zeros(())
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(nb):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            logits = model(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
    steps = epochs * nb
    return steps, total.item() / max(steps, 1)


def train_impls(x: np.ndarray, y: np.ndarray, build: Builders, batch: int, epochs: int,
                keras, keras_rows: int, keras_epochs: int, warm_rows: int,
                warm_epochs: int) -> list[Impl]:
    """ours / minimal / keras Impl objects for one training workload."""
    n = x.shape[0]
    impls = []
    steps_per_epoch = math.ceil(n / batch)

    ours = build.ours()

    def ours_run(xx=x, yy=y, ep=epochs):
        h = ours.fit(xx, yy, batch_size=batch, epochs=ep, verbose=0, shuffle=True)
        impl_o.info["loss"] = h.history["loss"][-1]
        return ep * math.ceil(len(xx) / batch)

    impl_o = Impl("ours", "torchkeras_lite fit", lambda: ours_run(x[:warm_rows], y[:warm_rows],
                                                                 warm_epochs), ours_run,
                  f"fit(numpy, batch_size={batch}, epochs={epochs}, verbose=0, shuffle=True): "
                  f"{epochs * steps_per_epoch:,} steps per repeat")
    impls.append(impl_o)

    torch.manual_seed(0)
    tm = build.torch()
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3, fused=True)
    xt, yt = build.to_torch(x), torch.from_numpy(y)

    def min_run(xx=xt, yy=yt, ep=epochs):
        steps, loss = minimal_train(tm, topt, xx, yy, ep, batch)
        impl_m.info["loss"] = loss
        return steps

    impl_m = Impl("minimal", "minimal torch loop",
                  lambda: min_run(xt[:warm_rows], yt[:warm_rows], warm_epochs), min_run,
                  f"{build.minimal_desc} + Adam(fused=True) + F.cross_entropy, "
                  f"{epochs * steps_per_epoch:,} steps per repeat (no accuracy metric)")
    impls.append(impl_m)

    if keras is not None:
        km = build.keras(keras)
        kx, ky = x[:keras_rows], y[:keras_rows]
        k_steps = keras_epochs * math.ceil(keras_rows / batch)

        def keras_run(xx=kx, yy=ky, ep=keras_epochs):
            h = km.fit(xx, yy, batch_size=batch, epochs=ep, verbose=0, shuffle=True)
            impl_k.info["loss"] = h.history["loss"][-1]
            return ep * math.ceil(len(xx) / batch)

        scaled = (keras_rows, keras_epochs) != (n, epochs)
        note = (f"fit(numpy, batch_size={batch}, epochs={keras_epochs}, verbose=0) on "
                f"{keras_rows:,} rows: {k_steps:,} steps per repeat")
        if scaled:
            note += (f" (SCALED DOWN from {epochs * steps_per_epoch:,} to save time; "
                     "per-step figure, --keras-full for the same size)")
        impl_k = Impl("keras", "Keras 3 (torch) fit",
                      lambda: keras_run(x[:warm_rows], y[:warm_rows], warm_epochs), keras_run,
                      note)
        impls.append(impl_k)
    return impls


# ----------------------------------------------------------------------------- workloads
def bench_w1(args, keras, keras_note, report: dict) -> dict:
    epochs = 5 if args.quick else 150
    k_epochs = epochs if (args.keras_full or args.quick) else min(epochs, args.keras_w1_epochs)
    repeats = args.repeats or (2 if args.quick else 5)
    print(f"\n## W1 tutorial MLP (100×8 → 12 → 8 → 3, batch 10, {epochs} epochs = "
          f"{epochs * 10:,} steps), {repeats} repeats\n", flush=True)
    rng = np.random.default_rng(1)
    x = rng.random((100, 8), dtype=np.float32)
    y = one_hot(rng, 100, 3)
    impls = train_impls(x, y, mlp_builders([12, 8, 3], 8), 10, epochs, keras, 100, k_epochs,
                        100, 2)
    run_interleaved(impls, repeats, "w1")
    print()
    ratios = print_table("W1 tutorial", impls)
    report["workloads"]["w1"] = {
        "title": "W1 tutorial MLP", "unit": "µs/step", "repeats": repeats,
        "config": {"rows": 100, "features": 8, "layers": [12, 8, 3], "batch_size": 10,
                   "epochs": epochs, "keras_epochs": k_epochs if keras is not None else None},
        "impls": impls_json(impls, "µs/step", ratios)}
    if keras is None:
        print(f"- Keras column skipped: {keras_note}")
    print("- last-epoch training loss (sanity): " + ", ".join(
        f"{i.key} {i.info.get('loss', float('nan')):.4f}" for i in impls)
        + " (minimal: mean over the last run)")
    return {"w1": ratios}


def mm_reference(batch: int, dims: list[int], iters: int) -> float:
    """GFLOP/s of the bare forward matmuls (torch.mm) of the W2 MLP."""
    g = torch.Generator().manual_seed(0)
    xs, ws = [], []
    for a, b in zip(dims[:-1], dims[1:]):
        xs.append(torch.randn(batch, a, generator=g))
        ws.append(torch.randn(a, b, generator=g))
    flops = sum(2 * batch * a * b for a, b in zip(dims[:-1], dims[1:]))
    for _ in range(10):
        for xx, ww in zip(xs, ws):
            torch.mm(xx, ww)
    rates = []
    for _ in range(5):
        t0 = perf()
        for _ in range(iters):
            for xx, ww in zip(xs, ws):
                torch.mm(xx, ww)
        rates.append(flops * iters / (perf() - t0) / 1e9)
    return statistics.median(rates)


def w2_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The W2 data set (also built, identically, by every --memory child)."""
    rng = np.random.default_rng(2)
    x = rng.random((n, 784), dtype=np.float32)
    y = one_hot(rng, n, 10)
    return x, y


def bench_w2(args, keras, keras_note, report: dict) -> dict:
    batch, dims = 128, [784, 512, 512, 10]
    n = 2560 if args.quick else 60000
    repeats = args.repeats or (2 if args.quick else 3)
    k_rows = n if (args.keras_full or args.quick) else min(n, args.keras_w2_steps * batch)
    if args.quick:
        k_rows = min(n, 10 * batch)
    steps = math.ceil(n / batch)
    print(f"\n## W2 MNIST-shaped MLP ({n:,}×784 → 512 → 512 → 10, batch {batch}, 1 epoch = "
          f"{steps} steps), {repeats} repeats\n", flush=True)
    x, y = w2_data(n)
    impls = train_impls(x, y, mlp_builders(dims[1:], 784), batch, 1, keras, k_rows, 1,
                        10 * batch, 1)
    run_interleaved(impls, repeats, "w2")
    print()
    ratios = print_table("W2 MNIST MLP", impls)
    if keras is None:
        print(f"- Keras column skipped: {keras_note}")
    flops = 3 * 2 * batch * sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    ref = mm_reference(batch, dims, 20 if args.quick else 200)
    print(f"- training FLOPs per step ≈ 3·2·{batch}·(784·512+512·512+512·10) = "
          f"{flops / 1e9:.3f} GFLOP")
    gflops = {}
    for impl in impls:
        gflops[impl.key] = flops / (med(impl) * 1e-6) / 1e9
        print(f"- achieved: {impl.label}: {gflops[impl.key]:.1f} GFLOP/s")
    print(f"- reference: bare torch.mm of the forward matmuls ({batch}×784·784×512, "
          f"{batch}×512·512×512, {batch}×512·512×10) alone: {ref:.1f} GFLOP/s "
          f"→ matmul-only floor at that rate ≈ {flops / (ref * 1e9) * 1e6:,.0f} µs/step")
    print("- last-epoch training loss (sanity): " + ", ".join(
        f"{i.key} {i.info.get('loss', float('nan')):.4f}" for i in impls))
    report["workloads"]["w2"] = {
        "title": "W2 MNIST-shaped MLP", "unit": "µs/step", "repeats": repeats,
        "config": {"rows": n, "features": 784, "layers": dims[1:], "batch_size": batch,
                   "epochs": 1, "keras_rows": k_rows if keras is not None else None},
        "impls": impls_json(impls, "µs/step", ratios),
        "gflops": {"flop_per_step": flops, "achieved_gflop_s": gflops,
                   "torch_mm_reference_gflop_s": ref}}
    return {"w2": ratios, "w2_gflops": (gflops, ref)}


def bench_w3(args, keras, keras_note, report: dict) -> dict:
    batch = 128
    n = 512 if args.quick else 10000
    repeats = args.repeats or (2 if args.quick else 3)
    if args.quick:
        k_rows = min(n, 2 * batch)
    else:
        k_rows = n if args.keras_full else min(n, args.keras_w3_steps * batch)
    steps = math.ceil(n / batch)
    print(f"\n## W3 Keras MNIST convnet ({n:,}×28×28×1 → Conv2D 32 → MaxPool → Conv2D 64 → "
          f"MaxPool → Flatten → Dropout 0.5 → Dense 10, batch {batch}, 1 epoch = "
          f"{steps} steps), {repeats} repeats\n", flush=True)
    rng = np.random.default_rng(4)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = one_hot(rng, n, 10)
    # Warm up on one full batch and one of the epoch's last (partial) size, so that both
    # shapes' convolution kernels are set up before timing.
    warm = batch + (n % batch or batch)
    impls = train_impls(x, y, convnet_builders(), batch, 1, keras, k_rows, 1, warm, 1)
    run_interleaved(impls, repeats, "w3")
    print()
    ratios = print_table("W3 MNIST convnet", impls)
    if keras is None:
        print(f"- Keras column skipped: {keras_note}")
    print("- minimal: the user's (N, 28, 28, 1) channels_last array is permuted once to NCHW "
          "before timing (as a hand-tuned loop would); ours and Keras take the NHWC numpy "
          "array every repeat")
    print("- last-epoch training loss (sanity): " + ", ".join(
        f"{i.key} {i.info.get('loss', float('nan')):.4f}" for i in impls))
    report["workloads"]["w3"] = {
        "title": "W3 Keras MNIST convnet", "unit": "µs/step", "repeats": repeats,
        "config": {"rows": n, "input_shape": [28, 28, 1], "batch_size": batch, "epochs": 1,
                   "keras_rows": k_rows if keras is not None else None},
        "impls": impls_json(impls, "µs/step", ratios)}
    return {"w3": ratios}


def bench_predict(args, keras, keras_note, report: dict) -> dict:
    dims, batch = [784, 512, 512, 10], 32
    n = 3200 if args.quick else 60000
    k_rows = n if (args.keras_full or args.quick) else min(n, args.keras_predict_rows)
    if args.quick:
        k_rows = min(n, 1600)
    repeats = args.repeats or (2 if args.quick else 5)
    print(f"\n## evaluate / predict throughput (W2 model, {n:,} rows, batch {batch} default), "
          f"{repeats} repeats\n", flush=True)
    rng = np.random.default_rng(3)
    x = rng.random((n, 784), dtype=np.float32)
    y = one_hot(rng, n, 10)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    warm = 320

    ours = tkl_mlp(dims[1:], 784)
    torch.manual_seed(0)
    tm = torch_mlp(dims[1:], 784).eval()

    def min_eval(xx=xt, yy=yt):
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        with torch.no_grad():
            for i in range(0, xx.shape[0], batch):
                xb, yb = xx[i:i + batch], yy[i:i + batch]
                logits = tm(xb)
                loss_sum += F.cross_entropy(logits, yb, reduction="sum")
                correct += (logits.argmax(1) == yb.argmax(1)).sum()
        _ = (loss_sum / xx.shape[0]).item(), correct.item()
        return xx.shape[0]

    def min_predict(xx=xt):
        outs = []
        with torch.inference_mode():
            for i in range(0, xx.shape[0], batch):
                outs.append(torch.softmax(tm(xx[i:i + batch]), -1))
        torch.cat(outs).numpy()
        return xx.shape[0]

    def ours_eval(xx=x, yy=y):
        ours.evaluate(xx, yy, verbose=0)
        return len(xx)

    def ours_predict(xx=x):
        ours.predict(xx, verbose=0)
        return len(xx)

    note_o = f"evaluate(numpy, verbose=0) / predict(numpy, verbose=0), default batch 32, {n:,} rows"
    note_m = (f"no_grad loop, slices of {batch}, cross_entropy(sum)+argmax accuracy on-device / "
              f"inference_mode + softmax + cat().numpy(), {n:,} rows")
    ev = [Impl("ours", "torchkeras_lite evaluate", lambda: ours_eval(x[:warm], y[:warm]),
               ours_eval, note_o),
          Impl("minimal", "minimal torch evaluate", lambda: min_eval(xt[:warm], yt[:warm]),
               min_eval, note_m)]
    pr = [Impl("ours", "torchkeras_lite predict", lambda: ours_predict(x[:warm]), ours_predict),
          Impl("minimal", "minimal torch predict", lambda: min_predict(xt[:warm]), min_predict)]
    if keras is not None:
        km = keras_mlp(keras, dims[1:], 784)
        kx, ky = x[:k_rows], y[:k_rows]

        def k_eval(xx=kx, yy=ky):
            km.evaluate(xx, yy, verbose=0)
            return len(xx)

        def k_predict(xx=kx):
            km.predict(xx, verbose=0)
            return len(xx)

        note_k = f"evaluate/predict(numpy, verbose=0), default batch 32, {k_rows:,} rows"
        if k_rows != n:
            note_k += f" (SCALED DOWN from {n:,}; per-row figure, --keras-full for the same size)"
        ev.append(Impl("keras", "Keras 3 (torch) evaluate", lambda: k_eval(x[:warm], y[:warm]),
                       k_eval, note_k))
        pr.append(Impl("keras", "Keras 3 (torch) predict", lambda: k_predict(x[:warm]),
                       k_predict))
    impls = ev + pr
    # Interleave all six; report per batch of 32 rows.
    run_interleaved(impls, repeats, "eval/predict")
    for impl in impls:
        impl.samples = [s * batch for s in impl.samples]  # µs per row -> µs per batch
        impl.cpu_samples = [s * batch for s in impl.cpu_samples]
    print()
    r1 = print_table("evaluate", ev, unit="µs/batch", rows_per_unit=batch)
    r2 = print_table("predict", pr, unit="µs/batch", rows_per_unit=batch)
    if keras is None:
        print(f"- Keras columns skipped: {keras_note}")
    for name, group, ratios in (("evaluate", ev, r1), ("predict", pr, r2)):
        report["workloads"][name] = {
            "title": f"{name}() throughput, W2 model", "unit": "µs/batch", "repeats": repeats,
            "config": {"rows": n, "batch_size": batch,
                       "keras_rows": k_rows if keras is not None else None},
            "impls": impls_json(group, "µs/batch", ratios, steps_per_unit=1 / batch)}
        for impl in group:
            report["workloads"][name]["impls"][impl.key]["rows_per_s"] = batch / med(impl) * 1e6
    return {"evaluate": r1, "predict": r2}


def bench_import(args, keras_available: bool, report: dict) -> dict:
    runs = 1 if args.quick else 3
    print(f"\n## import time (fresh `python -c`, median of {runs})\n", flush=True)
    cases = [("import torch", "import torch"),
             ("import torchkeras_lite", "import torchkeras_lite")]
    if keras_available and not args.quick:
        cases.append(("import keras (torch backend)", "import keras"))
    env = dict(os.environ, KERAS_BACKEND="torch",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    times = {label: [] for label, _ in cases}
    for _ in range(runs):
        for label, code in cases:
            t0 = perf()
            subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(REPO),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[label].append(perf() - t0)
    base = statistics.median(times["import torch"])
    print("| workload | impl | ms (median) | min | max | vs import torch |")
    print("|---|---|---:|---:|---:|---:|")
    for label, _ in cases:
        t = times[label]
        print(f"| import | `{label}` | {statistics.median(t) * 1e3:,.0f} | {min(t) * 1e3:,.0f} | "
              f"{max(t) * 1e3:,.0f} | {statistics.median(t) / base:.2f}× |")
    extra = statistics.median(times["import torchkeras_lite"]) - base
    print(f"\n- torchkeras_lite's own import cost ≈ {extra * 1e3:,.0f} ms "
          "on top of torch (includes interpreter start-up in both)")
    report["workloads"]["import"] = {
        "title": "import time (fresh python -c)", "unit": "ms", "repeats": runs,
        "impls": {label: {"label": label, "unit": "ms", "median": statistics.median(t) * 1e3,
                          "min": min(t) * 1e3, "max": max(t) * 1e3,
                          "samples": [v * 1e3 for v in t], "steps": 1,
                          "ratios": {"vs_import_torch": statistics.median(t) / base}}
                  for label, t in times.items()},
        "torchkeras_lite_extra_s": extra}
    return {"import_extra_s": extra}


# ----------------------------------------------------------------------------- ONNX / inference
def bench_onnx(args, report: dict) -> dict:
    repeats = args.repeats or (2 if args.quick else 5)
    print(f"\n## ONNX export and inference (onnxruntime vs our predict), {repeats} repeats\n",
          flush=True)
    try:
        import onnx  # noqa: F401
        import onnxruntime as ort
    except Exception as exc:
        note = f"onnx/onnxruntime not importable ({type(exc).__name__}: {exc})"
        print(f"- ONNX row skipped: {note}")
        report["workloads"]["onnx"] = {"skipped": note}
        return {"onnx_skipped": note}
    from torchkeras_lite.export import export_onnx

    models = [("tutorial", "tutorial MLP 8-12-8-3", [12, 8, 3], 8),
              ("w2", "W2 MLP 784-512-512-10", [512, 512, 10], 784)]
    n_export = 5
    calls_b1 = 20 if args.quick else 300
    calls_big = 2 if args.quick else 20
    big = 1024
    out: dict = {"export": {}, "inference": {}}
    export_rows, ratios_all = [], {}
    with tempfile.TemporaryDirectory(prefix="tkl_bench_onnx_") as tmp:
        for key, title, sizes, d in models:
            torch.manual_seed(0)
            model = tkl_mlp(sizes, d)
            path = os.path.join(tmp, f"{key}.onnx")
            t0 = perf()
            export_onnx(model, path)  # cold: includes the lazy ``import onnx`` on first use
            cold = perf() - t0
            times = []
            for _ in range(n_export):
                gc.collect()
                t0 = perf()
                export_onnx(model, path)
                times.append(perf() - t0)
            size_kib = os.path.getsize(path) / 1024
            export_rows.append((title, times, cold, size_kib))
            out["export"][key] = {"label": title, "unit": "ms",
                                  "median": statistics.median(times) * 1e3,
                                  "min": min(times) * 1e3, "max": max(times) * 1e3,
                                  "samples": [t * 1e3 for t in times], "steps": 1,
                                  "first_call_ms": cold * 1e3, "file_kib": size_kib}

            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            in_name = sess.get_inputs()[0].name
            rng = np.random.default_rng(5)
            x1 = rng.random((1, d), dtype=np.float32)
            xb = rng.random((big, d), dtype=np.float32)
            diff = float(np.max(np.abs(sess.run(None, {in_name: xb})[0]
                                       - model.predict(xb, verbose=0, batch_size=big))))

            def ort_run(xx, calls):
                def run():
                    for _ in range(calls):
                        sess.run(None, {in_name: xx})
                    return calls
                return run

            def ours_run(xx, calls):
                def run():
                    for _ in range(calls):
                        model.predict(xx, verbose=0, batch_size=len(xx))
                    return calls
                return run

            for bkey, xx, calls in (("b1", x1, calls_b1), (f"b{big}", xb, calls_big)):
                impls = [Impl("onnxruntime", "onnxruntime InferenceSession.run",
                              ort_run(xx, 3), ort_run(xx, calls),
                              f"sess.run(None, {{input: x}}), CPUExecutionProvider, default "
                              f"SessionOptions, {calls} calls per repeat"),
                         Impl("ours", "torchkeras_lite predict", ours_run(xx, 3),
                              ours_run(xx, calls),
                              f"model.predict(x, verbose=0, batch_size={len(xx)}), {calls} calls "
                              "per repeat")]
                run_interleaved(impls, repeats, f"onnx {key} {bkey}")
                out["inference"][f"{key}_{bkey}"] = {"model": title, "batch": len(xx),
                                                     "impls": impls, "diff": diff}
    print()
    print("| workload | model | export ms (median of 5) | min | max | first call ms (cold) "
          "| file KiB |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for title, times, cold, size_kib in export_rows:
        print(f"| ONNX export | {title} | {statistics.median(times) * 1e3:,.1f} | "
              f"{min(times) * 1e3:,.1f} | {max(times) * 1e3:,.1f} | {cold * 1e3:,.1f} | "
              f"{size_kib:,.1f} |")
    print("\n- export_onnx(model, path): build + onnx.checker (full_check) + atomic write; the "
          "first call also imports onnx and is not counted in the median\n")
    json_inf = {}
    for name, entry in out["inference"].items():
        impls, batch_n = entry["impls"], entry["batch"]
        label = f"{entry['model'].split(' ')[0]} b={batch_n}"
        if batch_n == 1:
            ratios = print_simple_table(f"ONNX {label}", impls, "onnxruntime", "onnxruntime",
                                        unit="µs/call")
        else:
            ratios = print_simple_table(f"ONNX {label}", impls, "onnxruntime", "onnxruntime",
                                        unit="µs/call", rows_per_unit=batch_n)
        ratios_all[name] = ratios
        js = impls_json(impls, "µs/call")
        for impl in impls:
            js[impl.key]["rows_per_s"] = batch_n / med(impl) * 1e6
            js[impl.key]["ratios"] = {"vs_onnxruntime": ratios[impl.key][0],
                                      "vs_onnxruntime_fastest": ratios[impl.key][1]}
        json_inf[name] = {"model": entry["model"], "batch": batch_n, "unit": "µs/call",
                          "max_abs_diff_vs_predict": entry["diff"], "impls": js}
    print("- onnxruntime InferenceSession.run: sess.run(None, {input: x}), "
          "CPUExecutionProvider, default SessionOptions")
    print("- torchkeras_lite predict: model.predict(x, verbose=0, batch_size=len(x))")
    print(f"- per repeat: {calls_b1} calls at batch 1, {calls_big} calls at batch {big}; "
          "one warm-up of 3 calls each")
    print("- vs onnxruntime: our median time per call over onnxruntime's (> 1× means "
          "onnxruntime is faster); max |onnxruntime − predict| at batch "
          f"{big}: " + ", ".join(f"{e['model'].split(' ')[0]} {e['diff']:.1e}"
                                 for k, e in out["inference"].items() if k.endswith(f"b{big}")))
    report["workloads"]["onnx"] = {"title": "ONNX export and inference", "repeats": repeats,
                                   "export": out["export"], "inference": json_inf}
    return {"onnx_export_s": out["export"]["tutorial"]["median"] / 1e3,
            "onnx_inference": ratios_all}


# ----------------------------------------------------------------------------- peak memory
def memory_child(mode: str, rows: int) -> int:
    """``--_child MODE``: build the W2 data (all modes identically), then train one epoch with
    ``ours`` or ``minimal`` (``baseline`` stops after the data), print ru_maxrss as JSON."""
    import resource
    x, y = w2_data(rows)
    t0 = perf()
    if mode == "ours":
        model = tkl_mlp([512, 512, 10], 784)
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=True)
    elif mode == "minimal":
        torch.manual_seed(0)
        tm = torch_mlp([512, 512, 10], 784)
        opt = torch.optim.Adam(tm.parameters(), lr=1e-3, fused=True)
        minimal_train(tm, opt, torch.from_numpy(x), torch.from_numpy(y), 1, 128)
    elif mode != "baseline":
        raise SystemExit(f"unknown --_child mode {mode!r}")
    seconds = perf() - t0
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = maxrss / 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS, KiB on Linux
    hwm = None  # cross-check: this address space's own peak (Linux only)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = float(line.split()[1])
    except OSError:
        pass
    print(json.dumps({"mode": mode, "rows": rows, "maxrss_kib": kib, "vmhwm_kib": hwm,
                      "seconds": seconds}))
    return 0


# ru_maxrss survives fork+exec: a child spawned straight from this (large) process would report
# at least this process's peak. So each child is started by a tiny launcher interpreter, whose
# own small peak is all the real child can inherit.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def bench_memory(args, report: dict) -> dict:
    rows = 2560 if args.quick else 60000
    runs = args.repeats or (1 if args.quick else 3)
    print(f"\n## peak memory of one W2 epoch ({rows:,}×784 float32, batch 128; fresh child "
          f"process each, ru_maxrss), {runs} run(s) each, interleaved\n", flush=True)
    try:
        import resource  # noqa: F401
    except ImportError:
        note = "the resource module is not available on this platform"
        print(f"- memory row skipped: {note}")
        report["workloads"]["memory"] = {"skipped": note}
        return {"memory_skipped": note}
    env = dict(os.environ, KERAS_BACKEND="torch",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    modes = ("baseline", "ours", "minimal")
    rss: dict = {m: [] for m in modes}
    secs: dict = {m: [] for m in modes}
    hwm: dict = {m: [] for m in modes}
    for r in range(runs):
        parts = []
        for mode in modes:
            cmd = [sys.executable, "-S", "-c", _LAUNCHER, sys.executable,
                   str(Path(__file__).resolve()), "--_child", mode, "--_rows", str(rows)]
            proc = subprocess.run(cmd, env=env, cwd=str(REPO), capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"memory child {mode!r} failed:\n{proc.stderr[-2000:]}")
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            rss[mode].append(res["maxrss_kib"] / 1024)
            secs[mode].append(res["seconds"])
            if res.get("vmhwm_kib") is not None:
                hwm[mode].append(res["vmhwm_kib"] / 1024)
            parts.append(f"{mode} {rss[mode][-1]:,.0f} MiB")
        print(f"  [memory] run {r + 1}/{runs}: " + ", ".join(parts), flush=True)
    m = {mode: statistics.median(v) for mode, v in rss.items()}
    extra = {mode: m[mode] - m["baseline"] for mode in ("ours", "minimal")}
    ratio = extra["ours"] / extra["minimal"] if extra["minimal"] > 0 else None
    labels = {"baseline": "baseline (import torch + build data)",
              "ours": "torchkeras_lite fit", "minimal": "minimal torch loop"}
    print()
    print("| workload | impl | peak RSS MiB (median) | min | max | extra over baseline MiB "
          "| extra vs minimal |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        ex = extra.get(mode)
        r_ = None if mode == "baseline" else (extra[mode] / extra["minimal"]
                                              if extra["minimal"] > 0 else None)
        print(f"| W2 peak memory | {labels[mode]} | {m[mode]:,.0f} | {min(rss[mode]):,.0f} | "
              f"{max(rss[mode]):,.0f} | {'—' if ex is None else f'{ex:,.0f}'} | "
              f"{fmt_ratio(r_)} |")
    data_mib = rows * (784 + 10) * 4 / 2**20
    print(f"\n- each child: `{Path(sys.executable).name} tools/bench.py --_child MODE`: imports "
          f"torch + numpy, builds the W2 arrays ({data_mib:,.0f} MiB of float32) with the same "
          "code, then ours: fit(numpy, batch_size=128, epochs=1, verbose=0, shuffle=True) / "
          "minimal: torch.from_numpy (no copy) + the minimal loop / baseline: nothing")
    print("- extra = peak RSS − baseline's peak RSS (medians): the memory training adds, "
          "including ours importing torchkeras_lite; each child is started through a tiny "
          "launcher process because ru_maxrss carries over a parent's peak across fork+exec")
    if all(hwm[mode] for mode in modes):
        h = {mode: statistics.median(v) for mode, v in hwm.items()}
        print("- cross-check, /proc/self/status VmHWM (MiB, medians): " + ", ".join(
            f"{mode} {h[mode]:,.0f}" for mode in modes))
    report["workloads"]["memory"] = {
        "title": "W2 fit peak memory (ru_maxrss, fresh child process)", "unit": "MiB",
        "repeats": runs, "config": {"rows": rows, "batch_size": 128, "epochs": 1},
        "impls": {mode: {"label": labels[mode], "unit": "MiB", "median": m[mode],
                         "min": min(rss[mode]), "max": max(rss[mode]), "samples": rss[mode],
                         "steps": 0 if mode == "baseline" else math.ceil(rows / 128),
                         "extra_over_baseline": extra.get(mode),
                         "vmhwm_median": statistics.median(hwm[mode]) if hwm[mode] else None,
                         "train_seconds_median": statistics.median(secs[mode])}
                  for mode in modes},
        "ratios": {"ours_extra_over_minimal_extra": ratio}}
    return {"memory_ratio": ratio}


# ----------------------------------------------------------------------------- profiling
def profile_w1(args) -> None:
    """cProfile and torch.profiler of our W1 fit; top costs per step."""
    import cProfile
    import pstats

    epochs = 30 if not args.quick else 5
    steps = epochs * 10
    print(f"\n## profile: torchkeras_lite W1 fit, {steps} steps (cProfile, per step)\n",
          flush=True)
    rng = np.random.default_rng(1)
    x = rng.random((100, 8), dtype=np.float32)
    y = one_hot(rng, 100, 3)
    model = tkl_mlp([12, 8, 3], 8)
    model.fit(x, y, batch_size=10, epochs=2, verbose=0)
    prof = cProfile.Profile()
    t0 = perf()
    prof.enable()
    model.fit(x, y, batch_size=10, epochs=epochs, verbose=0, shuffle=True)
    prof.disable()
    wall = perf() - t0
    stats = pstats.Stats(prof)
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)
    print(f"wall under cProfile: {wall / steps * 1e6:,.0f} µs/step (profiler inflates Python "
          "call costs)\n")
    print("| # | tottime µs/step | cumtime µs/step | calls/step | function |")
    print("|---:|---:|---:|---:|---|")
    for rank, ((fname, line, func), (cc, nc, tt, ct, _)) in enumerate(rows[:args.profile_top], 1):
        short = fname
        for prefix in (str(REPO) + os.sep, sys.prefix + os.sep):
            short = short.replace(prefix, "")
        if "site-packages" in short:
            short = short.split("site-packages" + os.sep, 1)[1]
        where = f"{short}:{line}({func})" if line else func
        print(f"| {rank} | {tt / steps * 1e6:,.1f} | {ct / steps * 1e6:,.1f} | "
              f"{nc / steps:.1f} | `{where}` |")

    # Where the step goes, by component (cumulative time of the functions that own each part).
    components = [
        ("whole fit() call", "trainers/trainer.py", "fit"),
        ("train_step", "trainers/trainer.py", "train_step"),
        ("forward: Layer.fast_call (model)", "layers/layer.py", "fast_call"),
        ("forward: Sequential.call", "models/sequential.py", "call"),
        ("loss: Trainer._loss", "trainers/trainer.py", "_loss"),
        ("backward: torch.autograd.backward", "torch/autograd/__init__.py", "backward"),
        ("optimizer.zero_grad", "optimizers/optimizer.py", "zero_grad"),
        ("optimizer.step", "optimizers/optimizer.py", "step"),
        ("metrics: CompiledMetrics.update_state", "trainers/compile_utils.py", "update_state"),
        ("loss tracker: MeanTracker.update", "trainers/compile_utils.py", "update"),
        ("data: ArrayBatcher.__iter__ (generator resumes)", "trainers/data.py", "__iter__"),
        ("callbacks: on_train_batch_begin", "callbacks/callback_list.py", "on_train_batch_begin"),
        ("callbacks: on_train_batch_end", "callbacks/callback_list.py", "on_train_batch_end"),
    ]
    print(f"\n### components of our step (cProfile cumtime, µs/step; {steps} steps)\n")
    print("| component | cumtime µs/step | calls/step |")
    print("|---|---:|---:|")
    for label, suffix, func in components:
        hits = [(nc, ct) for (fname, _, fn), (_, nc, _, ct, _) in stats.stats.items()
                if fn == func and fname.replace(os.sep, "/").endswith(suffix)]
        if not hits:
            print(f"| {label} | (not found) | |")
            continue
        nc, ct = max(hits, key=lambda h: h[1])
        print(f"| {label} | {ct / steps * 1e6:,.1f} | {nc / steps:.2f} |")

    # torch op counts per step: ours vs minimal.
    from torch.profiler import ProfilerActivity, profile
    n_steps = 100
    tm = torch_mlp([12, 8, 3], 8)
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3, fused=True)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    minimal_train(tm, topt, xt, yt, 2, 10)
    results = {}
    for key, fn in (("ours", lambda: model.fit(x, y, batch_size=10, epochs=n_steps // 10,
                                                verbose=0, shuffle=True)),
                    ("minimal", lambda: minimal_train(tm, topt, xt, yt, n_steps // 10, 10))):
        with profile(activities=[ProfilerActivity.CPU]) as p:
            fn()
        results[key] = p.key_averages()
    print(f"\n### torch ops per step (torch.profiler, {n_steps} steps; top-level aten ops "
          "dispatched from Python)\n")
    for key, ka in results.items():
        total_calls = sum(e.count for e in ka if e.key.startswith("aten::"))
        self_us = sum(e.self_cpu_time_total for e in ka)
        print(f"- {key}: {total_calls / n_steps:.0f} aten op calls/step (incl. nested), "
              f"profiled self CPU {self_us / n_steps:,.0f} µs/step")
    print("\n| op | ours calls/step | minimal calls/step | ours self µs/step | "
          "minimal self µs/step |")
    print("|---|---:|---:|---:|---:|")
    ours_ops = {e.key: e for e in results["ours"]}
    min_ops = {e.key: e for e in results["minimal"]}
    keys = sorted(set(ours_ops) | set(min_ops),
                  key=lambda k: -(ours_ops[k].self_cpu_time_total if k in ours_ops else 0))
    for k in keys[:args.profile_top + 5]:
        o, m = ours_ops.get(k), min_ops.get(k)
        print(f"| `{k}` | {o.count / n_steps if o else 0:.1f} | {m.count / n_steps if m else 0:.1f} "
              f"| {o.self_cpu_time_total / n_steps if o else 0:,.1f} | "
              f"{m.self_cpu_time_total / n_steps if m else 0:,.1f} |")
    only_ours = sorted(k for k in ours_ops if k not in min_ops)
    if only_ours:
        print(f"\n- ops only in ours: {', '.join(only_ours)}")


# ----------------------------------------------------------------------------- main
def load_note() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def package_version(name: str):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def machine_info(threads: int, args, keras) -> dict:
    import torchkeras_lite
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "cpu": cpu_name(), "machine": platform.machine(), "cores": os.cpu_count(),
        "torch_threads": threads, "threads_set_by_flag": args.threads is not None,
        "python": platform.python_version(), "platform": platform.platform(),
        "torch": torch.__version__,
        "keras": keras.__version__ if keras is not None else package_version("keras"),
        "keras_used": keras is not None,
        "torchkeras_lite": torchkeras_lite.__version__,
        "numpy": np.__version__, "onnx": package_version("onnx"),
        "onnxruntime": package_version("onnxruntime"),
        "date": datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(
            timespec="seconds"),
        "load_average_start": load,
    }


def judge_targets(results: dict, keras_note: str) -> list[dict]:
    """Print the ``## targets`` lines; return them as dicts for --json."""
    out: list[dict] = []

    def add(tid: str, desc: str, value, op: str, threshold: float, shown: str = "",
            fastest=None, missing: str = "") -> None:
        if value is None:
            verdict = "n/a"
        elif op == ">=":
            verdict = "PASS" if value >= threshold else "MISS"
        elif op == "<=":
            verdict = "PASS" if value <= threshold else "MISS"
        else:  # "<"
            verdict = "PASS" if value < threshold else "MISS"
        if value is None:
            print(f"- {desc}: n/a ({missing})")
        else:
            extra = "" if fastest is None else f"; fastest repeats: {fastest:.2f}×"
            print(f"- {desc}: {verdict} ({shown or f'medians: {value:.2f}×'}{extra})")
        out.append({"id": tid, "description": desc, "value": value, "op": op,
                    "threshold": threshold, "verdict": verdict, "fastest_repeats": fastest,
                    **({"note": missing} if value is None else {})})

    for w, name in (("w1", "W1"), ("w2", "W2"), ("w3", "W3")):
        if w not in results:
            continue
        vs_min, k_over = results[w]["ours"]
        b_min, b_k = results[w]["ours_best"]
        goal = TARGETS[f"{w}_keras_over_ours_min"]
        add(f"{w}_keras_over_ours", f"{name} ≥ {goal:g}× faster than Keras", k_over, ">=", goal,
            fastest=b_k, missing=keras_note)
        goal = TARGETS[f"{w}_ours_over_minimal_max"]
        add(f"{w}_ours_over_minimal", f"{name} ≤ {goal:g}× minimal loop", vs_min, "<=", goal,
            fastest=b_min)
    if "w2_gflops" in results:
        gflops, ref = results["w2_gflops"]
        ours = gflops.get("ours")
        print(f"- W2 achieved GFLOP/s (report, no threshold): ours {ours:.1f}, minimal "
              f"{gflops['minimal']:.1f} vs bare torch.mm {ref:.1f} → ours at "
              f"{ours / ref * 100:.0f}% of torch.mm")
        out.append({"id": "w2_gflops", "description": "W2 achieved GFLOP/s vs bare torch.mm",
                    "value": ours, "op": "report", "threshold": ref, "verdict": "info",
                    "ours_over_torch_mm": ours / ref})
    for w in ("evaluate", "predict"):
        if w not in results:
            continue
        vs_min, k_over = results[w]["ours"]
        b_min, b_k = results[w]["ours_best"]
        goal = TARGETS["predict_keras_over_ours_min"]
        add(f"{w}_keras_over_ours", f"{w} (W2 model) ≥ {goal:g}× faster than Keras", k_over,
            ">=", goal, fastest=b_k, missing=keras_note)
        goal = TARGETS["predict_ours_over_minimal_max"]
        add(f"{w}_ours_over_minimal", f"{w} (W2 model) ≤ {goal:g}× minimal loop", vs_min, "<=",
            goal, fastest=b_min)
    if "import_extra_s" in results:
        extra, goal = results["import_extra_s"], TARGETS["import_extra_s_max"]
        add("import_extra_s", f"`import torchkeras_lite` ≤ `import torch` + {goal:g} s", extra,
            "<=", goal, shown=f"medians: {extra:+.3f} s")
    if "memory_ratio" in results:
        ratio, goal = results["memory_ratio"], TARGETS["memory_ours_over_minimal_max"]
        add("memory_ours_over_minimal", f"W2 fit peak memory ≤ {goal:g}× minimal (extra over "
            "baseline)", ratio, "<=", goal, missing="minimal's extra memory was not positive")
    elif "memory_skipped" in results:
        goal = TARGETS["memory_ours_over_minimal_max"]
        add("memory_ours_over_minimal", f"W2 fit peak memory ≤ {goal:g}× minimal", None, "<=",
            goal, missing=results["memory_skipped"])
    if "onnx_export_s" in results:
        t, goal = results["onnx_export_s"], TARGETS["onnx_export_s_max"]
        add("onnx_export_s", f"ONNX export of the tutorial model < {goal:g} s", t, "<", goal,
            shown=f"median of 5: {t * 1e3:,.1f} ms")
    elif "onnx_skipped" in results:
        goal = TARGETS["onnx_export_s_max"]
        add("onnx_export_s", f"ONNX export of the tutorial model < {goal:g} s", None, "<", goal,
            missing=results["onnx_skipped"])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(WORKLOADS),
                    help="comma list of " + ", ".join(WORKLOADS) + " (evaluate = predict); "
                         "default: all")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per implementation (default 5 for W1, predict and onnx, "
                         "3 for W2, W3 and memory)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, smoke test (< 60 s)")
    ap.add_argument("--no-keras", action="store_true", help="skip the Keras columns")
    ap.add_argument("--keras-full", action="store_true",
                    help="give Keras the same sizes as the others (slow)")
    ap.add_argument("--keras-w1-epochs", type=int, default=50,
                    help="epochs Keras is timed for in W1 (default 50 = 500 steps)")
    ap.add_argument("--keras-w2-steps", type=int, default=100,
                    help="steps Keras is timed for in W2 (rows = steps*128; default 100)")
    ap.add_argument("--keras-w3-steps", type=int, default=40,
                    help="steps Keras is timed for in W3 (rows = steps*128; default 40)")
    ap.add_argument("--keras-predict-rows", type=int, default=9600,
                    help="rows Keras evaluates/predicts (default 9,600 = 300 batches)")
    ap.add_argument("--json", metavar="PATH", default=None,
                    help="also write all measured numbers, ratios, targets and machine info "
                         "as JSON to PATH (atomically)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile our W1 fit (cProfile + torch.profiler op counts)")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None,
                    help="diagnostic only: torch.set_num_threads(N) (default: leave torch's "
                         "default; the targets are defined with the default)")
    ap.add_argument("--_child", choices=("baseline", "ours", "minimal"), default=None,
                    help=argparse.SUPPRESS)  # internal: one memory-measurement child process
    ap.add_argument("--_rows", type=int, default=60000, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child is not None:
        return memory_child(args._child, args._rows)
    if args.repeats is not None and args.repeats < 1:
        ap.error("--repeats must be >= 1")
    only = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    if "evaluate" in only:
        only.discard("evaluate")
        only.add("predict")
    unknown = only - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workload(s) {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")

    start = perf()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    print("# torchkeras_lite benchmark\n")
    print(f"- python {platform.python_version()}, torch {torch.__version__}, "
          f"torch.get_num_threads() = {threads}"
          f"{' (SET BY --threads, not the default)' if args.threads is not None else ''}, "
          f"os.cpu_count() = {os.cpu_count()}")
    print(f"- CPU: {cpu_name()} ({platform.machine()})")
    import torchkeras_lite
    print(f"- torchkeras_lite {torchkeras_lite.__version__} from "
          f"{Path(torchkeras_lite.__file__).parent}")
    needs_keras = bool(only & {"w1", "w2", "w3", "predict"})
    if args.no_keras:
        keras, keras_note = None, "--no-keras given"
    elif not needs_keras:
        keras, keras_note = None, "no workload with a Keras column selected"
    else:
        keras, keras_note = import_keras()
    if keras is not None:
        print(f"- keras {keras.__version__}, backend {keras.backend.backend()} (same process)")
        if torch.get_num_threads() != threads:
            print(f"- WARNING: importing keras changed torch threads to {torch.get_num_threads()}")
    else:
        print(f"- Keras column skipped: {keras_note}")
    print(f"- {load_note()} at start" + ("  ⚠ other work is running; expect noisy timings"
                                         if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1)
                                         else ""))
    print("- wall-clock columns are the measure; the CPU columns are time.process_time over "
          "all threads of this process (≈ threads × wall when torch's OpenMP threads spin)")
    print(f"- mode: {'QUICK (smoke test sizes)' if args.quick else 'full'}; timings are "
          "wall-clock (time.perf_counter), per implementation one warm-up, then interleaved "
          "repeats; medians reported")

    report: dict = {"machine": machine_info(threads, args, keras),
                    "mode": "quick" if args.quick else "full",
                    "workloads_run": [w for w in WORKLOADS if w in only],
                    "keras_note": None if keras is not None else keras_note,
                    "workloads": {}}
    results: dict = {}
    if "w1" in only:
        results.update(bench_w1(args, keras, keras_note, report))
    if "w2" in only:
        results.update(bench_w2(args, keras, keras_note, report))
    if "w3" in only:
        results.update(bench_w3(args, keras, keras_note, report))
    if "predict" in only:
        results.update(bench_predict(args, keras, keras_note, report))
    if "import" in only:
        # keras_available: whether to time ``import keras`` too (importable, not --no-keras).
        results.update(bench_import(args, keras is not None or (
            not args.no_keras and package_version("keras") is not None), report))
    if "onnx" in only:
        results.update(bench_onnx(args, report))
    if "memory" in only:
        results.update(bench_memory(args, report))
    if args.profile:
        profile_w1(args)

    print("\n## targets\n")
    targets = judge_targets(results, keras_note)
    print("- PASS/MISS is judged on medians; the ratio of the fastest repeats is given because "
          "other processes on these cores inflate some repeats")
    if not targets:
        print("- (no target workloads run)")
    if args.quick:
        print("- NOTE: --quick sizes; these verdicts are not meaningful")
    total = perf() - start
    print(f"\ntotal benchmark time: {total:.1f} s; {load_note()} at end")
    if args.json:
        report["targets"] = targets
        report["total_seconds"] = total
        try:
            report["machine"]["load_average_end"] = list(os.getloadavg())
        except OSError:
            report["machine"]["load_average_end"] = None
        write_json_atomic(args.json, _finite(report))
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
