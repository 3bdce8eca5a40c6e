#!/usr/bin/env python
"""Speed benchmark: torchkeras_lite vs a minimal hand-written torch loop vs Keras 3 (torch backend).

Run from the repository root::

    python tools/bench.py                       # everything (a few minutes on 2 cores)
    python tools/bench.py --quick               # smoke test, tiny sizes (< 30 s)
    python tools/bench.py --only w1,w2 --repeats 7
    python tools/bench.py --only w1 --profile   # + cProfile / torch.profiler of our W1 fit

Workloads
    w1       tutorial MLP: 100x8 data, Dense 12/8/3, adam, categorical CE, accuracy, batch 10,
             150 epochs (1,500 steps). Reports us/step.
    w2       MNIST-shaped MLP: 60,000x784, Dense 512/512/10, adam, categorical CE, accuracy,
             batch 128, one epoch (469 steps). Reports us/step and GFLOP/s, with a bare
             ``torch.mm`` reference.
    predict  evaluate() and predict() throughput of the W2 model over 60,000 rows (batch 32,
             the Keras default). Reports rows/s.
    import   ``python -c "import torchkeras_lite"`` vs ``import torch`` (and keras), median of 3.

Implementations, timed interleaved (a, b, c, a, b, c, ...) after one warm-up each:
    ours     torchkeras_lite ``fit(..., verbose=0, shuffle=True)`` given numpy arrays.
    minimal  ``nn.Sequential(Linear, ReLU, ...)`` emitting logits, data as in-memory tensors, one
             ``randperm`` per epoch + index slicing, ``Adam(fused=True)``, ``F.cross_entropy``
             with the one-hot target, loss accumulated on-device, one ``.item()`` at the end.
             It computes no accuracy metric (ours and Keras do).
    keras    Keras 3 on its torch backend, ``fit(verbose=0)`` given numpy arrays, in this same
             process. It is slow, so by default it times fewer steps (stated in the output);
             ``--keras-full`` gives it the same sizes as the others.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import subprocess
import sys
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

TARGETS = {
    "w1_keras_over_ours_min": 8.0,     # W1: >= 8x faster than Keras
    "w1_ours_over_minimal_max": 1.2,   # W1: <= 1.2x the minimal loop
    "w2_ours_over_minimal_max": 1.1,   # W2: <= 1.1x the minimal loop
}


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


def train_impls(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int, epochs: int,
                keras, keras_rows: int, keras_epochs: int, warm_rows: int,
                warm_epochs: int) -> list[Impl]:
    """ours / minimal / keras Impl objects for one training workload."""
    n, d = x.shape
    impls = []
    steps_per_epoch = math.ceil(n / batch)

    ours = tkl_mlp(sizes, d)

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
    tm = torch_mlp(sizes, d)
    topt = torch.optim.Adam(tm.parameters(), lr=1e-3, fused=True)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def min_run(xx=xt, yy=yt, ep=epochs):
        steps, loss = minimal_train(tm, topt, xx, yy, ep, batch)
        impl_m.info["loss"] = loss
        return steps

    impl_m = Impl("minimal", "minimal torch loop",
                  lambda: min_run(xt[:warm_rows], yt[:warm_rows], warm_epochs), min_run,
                  f"nn.Sequential + Adam(fused=True) + F.cross_entropy, "
                  f"{epochs * steps_per_epoch:,} steps per repeat (no accuracy metric)")
    impls.append(impl_m)

    if keras is not None:
        km = keras_mlp(keras, sizes, d)
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
def bench_w1(args, keras, keras_note) -> dict:
    epochs = 5 if args.quick else 150
    k_epochs = epochs if (args.keras_full or args.quick) else min(epochs, args.keras_w1_epochs)
    repeats = args.repeats or (2 if args.quick else 5)
    print(f"\n## W1 tutorial MLP (100×8 → 12 → 8 → 3, batch 10, {epochs} epochs = "
          f"{epochs * 10:,} steps), {repeats} repeats\n", flush=True)
    rng = np.random.default_rng(1)
    x = rng.random((100, 8), dtype=np.float32)
    y = one_hot(rng, 100, 3)
    impls = train_impls(x, y, [12, 8, 3], 10, epochs, keras, 100, k_epochs, 100, 2)
    run_interleaved(impls, repeats, "w1")
    print()
    ratios = print_table("W1 tutorial", impls)
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


def bench_w2(args, keras, keras_note) -> dict:
    batch, dims = 128, [784, 512, 512, 10]
    n = 2560 if args.quick else 60000
    repeats = args.repeats or (2 if args.quick else 3)
    k_rows = n if (args.keras_full or args.quick) else min(n, args.keras_w2_steps * batch)
    if args.quick:
        k_rows = min(n, 10 * batch)
    steps = math.ceil(n / batch)
    print(f"\n## W2 MNIST-shaped MLP ({n:,}×784 → 512 → 512 → 10, batch {batch}, 1 epoch = "
          f"{steps} steps), {repeats} repeats\n", flush=True)
    rng = np.random.default_rng(2)
    x = rng.random((n, 784), dtype=np.float32)
    y = one_hot(rng, n, 10)
    impls = train_impls(x, y, dims[1:], batch, 1, keras, k_rows, 1, 10 * batch, 1)
    run_interleaved(impls, repeats, "w2")
    print()
    ratios = print_table("W2 MNIST MLP", impls)
    if keras is None:
        print(f"- Keras column skipped: {keras_note}")
    flops = 3 * 2 * batch * sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    ref = mm_reference(batch, dims, 20 if args.quick else 200)
    print(f"- training FLOPs per step ≈ 3·2·{batch}·(784·512+512·512+512·10) = "
          f"{flops / 1e9:.3f} GFLOP")
    for impl in impls:
        print(f"- achieved: {impl.label}: {flops / (med(impl) * 1e-6) / 1e9:.1f} GFLOP/s")
    print(f"- reference: bare torch.mm of the forward matmuls ({batch}×784·784×512, "
          f"{batch}×512·512×512, {batch}×512·512×10) alone: {ref:.1f} GFLOP/s "
          f"→ matmul-only floor at that rate ≈ {flops / (ref * 1e9) * 1e6:,.0f} µs/step")
    print("- last-epoch training loss (sanity): " + ", ".join(
        f"{i.key} {i.info.get('loss', float('nan')):.4f}" for i in impls))
    return {"w2": ratios}


def bench_predict(args, keras, keras_note) -> dict:
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
    return {"evaluate": r1, "predict": r2}


def bench_import(args, keras_available: bool) -> None:
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
    print(f"\n- torchkeras_lite's own import cost ≈ "
          f"{(statistics.median(times['import torchkeras_lite']) - base) * 1e3:,.0f} ms "
          "on top of torch (includes interpreter start-up in both)")


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="w1,w2,predict,import",
                    help="comma list of w1, w2, predict (or evaluate), import")
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed repeats per implementation (default 5 for W1 and predict, 3 W2)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, smoke test (< 30 s)")
    ap.add_argument("--no-keras", action="store_true", help="skip the Keras columns")
    ap.add_argument("--keras-full", action="store_true",
                    help="give Keras the same sizes as the others (slow)")
    ap.add_argument("--keras-w1-epochs", type=int, default=50,
                    help="epochs Keras is timed for in W1 (default 50 = 500 steps)")
    ap.add_argument("--keras-w2-steps", type=int, default=100,
                    help="steps Keras is timed for in W2 (rows = steps*128; default 100)")
    ap.add_argument("--keras-predict-rows", type=int, default=9600,
                    help="rows Keras evaluates/predicts (default 9,600 = 300 batches)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile our W1 fit (cProfile + torch.profiler op counts)")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None,
                    help="diagnostic only: torch.set_num_threads(N) (default: leave torch's "
                         "default; the targets are defined with the default)")
    args = ap.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        ap.error("--repeats must be >= 1")
    only = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    if "evaluate" in only:
        only.add("predict")
    unknown = only - {"w1", "w2", "predict", "evaluate", "import"}
    if unknown:
        ap.error(f"unknown workload(s) {sorted(unknown)}; choose from w1, w2, predict, import")

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
    keras, keras_note = (None, "--no-keras given") if args.no_keras else import_keras()
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

    results: dict = {}
    if "w1" in only:
        results.update(bench_w1(args, keras, keras_note))
    if "w2" in only:
        results.update(bench_w2(args, keras, keras_note))
    if "predict" in only:
        results.update(bench_predict(args, keras, keras_note))
    if "import" in only:
        bench_import(args, keras is not None)
    if args.profile:
        profile_w1(args)

    print("\n## targets\n")

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    def best(key: str, i: int) -> str:
        value = results[key].get("ours_best", (None, None))[i]
        return "" if value is None else f"; fastest repeats: {value:.2f}×"

    if "w1" in results:
        k_over = results["w1"]["ours"][1]
        goal = TARGETS["w1_keras_over_ours_min"]
        if k_over is None:
            print(f"- W1 ≥ {goal:.0f}× faster than Keras: n/a ({keras_note})")
        else:
            print(f"- W1 ≥ {goal:.0f}× faster than Keras: {verdict(k_over >= goal)} "
                  f"(medians: {k_over:.2f}×{best('w1', 1)})")
        vs_min = results["w1"]["ours"][0]
        goal = TARGETS["w1_ours_over_minimal_max"]
        print(f"- W1 ≤ {goal}× minimal loop: {verdict(vs_min <= goal)} "
              f"(medians: {vs_min:.2f}×{best('w1', 0)})")
    if "w2" in results:
        vs_min = results["w2"]["ours"][0]
        goal = TARGETS["w2_ours_over_minimal_max"]
        print(f"- W2 ≤ {goal}× minimal loop: {verdict(vs_min <= goal)} "
              f"(medians: {vs_min:.2f}×{best('w2', 0)})")
    print("- PASS/MISS is judged on medians; the ratio of the fastest repeats is given because "
          "other processes on these cores inflate some repeats")
    if not ({"w1", "w2"} & set(results)):
        print("- (no target workloads run)")
    if args.quick:
        print("- NOTE: --quick sizes; these verdicts are not meaningful")
    print(f"\ntotal benchmark time: {perf() - start:.1f} s; {load_note()} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
