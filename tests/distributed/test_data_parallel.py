"""Data-parallel training under torchrun: 2 processes on the CPU (gloo) against 1 process.

The scenarios live in ``scenarios.py``: one torchrun launch runs them all with 2 processes, one
plain ``python`` run gives the 1-process reference (both start from the same initial weights).
Every launch has a timeout, so a hang fails the test instead of blocking the suite.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import torchkeras_lite
from torchkeras_lite import distribution

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(),
                                reason="this torch build has no torch.distributed")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TIMEOUT = 120
SCENARIOS = ["mlp_even", "mlp_shuffle_odd", "mlp_padding", "convnet", "sync_bn", "local_bn",
             "custom_step", "early_stopping", "dataset", "sampler", "generator", "two_outputs",
             "checkpoints"]
# Scenarios whose 2-process training must reproduce the 1-process run.
SAME_AS_ONE_PROCESS = ["mlp_even", "mlp_shuffle_odd", "mlp_padding", "convnet", "sync_bn",
                       "custom_step", "early_stopping", "dataset", "sampler", "generator",
                       "two_outputs", "checkpoints"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                        "TORCHKERAS_LITE_DEVICE")}
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU and gloo, even on a machine with GPUs
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def torchrun(*args: str, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node=2`` on a free port, bounded by
    ``timeout`` (a port taken between the check and the launch is retried once)."""
    for attempt in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
               "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", *args]
        result = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True,
                                timeout=timeout)
        output = result.stdout + result.stderr
        if result.returncode == 0 or "address already in use" not in output.lower():
            return result
    return result


def _load(folder: Path, scenario: str, rank: int) -> dict:
    with np.load(folder / f"{scenario}.rank{rank}.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``(one, two)``: the folders of the 1-process and the 2-process runs of every scenario."""
    base = tmp_path_factory.mktemp("ddp")
    init = base / "init.npz"
    script = str(HERE / "scenarios.py")
    subprocess.run([sys.executable, script, str(base), str(init), "--init"], cwd=ROOT,
                   env=_env(), check=True, timeout=TIMEOUT)
    one, two = base / "one", base / "two"
    reference = subprocess.Popen([sys.executable, script, str(one), str(init), *SCENARIOS],
                                 cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
    try:
        result = torchrun(script, str(two), str(init), *SCENARIOS)
        out, _ = reference.communicate(timeout=TIMEOUT)
    finally:
        if reference.poll() is None:
            reference.kill()
    assert reference.returncode == 0, out[-4000:]
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return one, two


@pytest.mark.parametrize("scenario", SAME_AS_ONE_PROCESS)
def test_two_processes_reproduce_one_process(runs, scenario):
    one, two = runs
    reference = _load(one, scenario, 0)
    rank0, rank1 = _load(two, scenario, 0), _load(two, scenario, 1)
    history = [k for k in reference if k.startswith("history/")]
    assert history and "history/loss" in history
    for key in reference:
        if key == "save_calls":
            continue
        # Every rank ends with the same weights and the same History (all-reduced logs).
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=f"{scenario}: {key}")
        assert rank0[key].shape == reference[key].shape, f"{scenario}: {key}"
        np.testing.assert_allclose(rank0[key], reference[key], rtol=0, atol=1e-5,
                                   err_msg=f"{scenario}: {key}")


def test_uneven_batches_are_really_uneven():
    """The scenarios cover a global batch that does not divide the data (100 / 16), one that
    does not divide over 2 ranks (7), and a last batch of 1 sample (99 / 7: rank 1 has none)."""
    assert 100 % 16 and 7 % 2 and 99 % 7 == 1


def test_early_stopping_stops_at_the_same_epoch(runs):
    one, two = runs
    epochs = {len(_load(folder, "early_stopping", r)["history/loss"])
              for folder, r in ((one, 0), (two, 0), (two, 1))}
    assert len(epochs) == 1 and epochs.pop() < 10


def test_evaluate_and_predict_match_one_process(runs):
    one, two = runs
    for scenario, keys in (("mlp_even", ("evaluate", "predict", "predict16")),
                           ("convnet", ("predict",)), ("dataset", ("predict",)),
                           ("sampler", ("predict",))):
        reference = _load(one, scenario, 0)
        for rank in (0, 1):
            got = _load(two, scenario, rank)
            for key in keys:
                # Full result, original order, on every rank (batches of 7 over 50 samples:
                # the last one has 1 sample, so rank 1 has none there).
                assert got[key].shape == reference[key].shape, (scenario, key)
                np.testing.assert_allclose(got[key], reference[key], rtol=0, atol=1e-5,
                                           err_msg=f"{scenario}: {key}")


def test_per_rank_batchnorm_statistics_stay_consistent(runs):
    """Default BatchNormalization: per-rank statistics (not the 1-process numbers), but every
    rank ends with rank 0's moving statistics, so evaluation agrees across ranks."""
    one, two = runs
    rank0, rank1 = _load(two, "local_bn", 0), _load(two, "local_bn", 1)
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    reference = _load(one, "local_bn", 0)
    assert abs(float(rank0["evaluate"][0]) - float(reference["evaluate"][0])) < 0.1


def test_checkpoints_are_written_once_by_rank0(runs):
    one, two = runs
    rank0, rank1 = _load(two, "checkpoints", 0), _load(two, "checkpoints", 1)
    assert int(rank1["save_calls"]) == 0
    assert int(rank0["save_calls"]) == int(_load(one, "checkpoints", 0)["save_calls"]) > 2
    files = two / "files"
    assert sorted(p.name for p in files.iterdir()) == [
        "best.keras", "ckpt-01.keras", "ckpt-02.keras", "final.keras", "log.csv"]
    rows = (files / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 3
    logged = [float(r.split(",")[2]) for r in rows[1:]]
    np.testing.assert_allclose(logged, rank0["history/loss"], rtol=1e-6)
    # A single process reading rank 0's checkpoint predicts what the 2-process run predicted.
    x_val = np.random.default_rng(1).random((50, 8)).astype("float32")
    for name in ("final.keras", "ckpt-02.keras"):
        restored = torchkeras_lite.models.load_model(files / name)
        np.testing.assert_allclose(restored.predict(x_val, verbose=0), rank0["predict"],
                                   rtol=0, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("scenario, message", [
    ("bad_input_on_rank1", "x has per-sample shape (5,), but model"),
    ("raise_on_rank1_mid_fit", "rank 1 fails at batch 3 on purpose"),
])
def test_a_failing_rank_ends_the_job(tmp_path, scenario, message):
    """One rank raises (before any collective, or while the other waits in one): torchrun
    stops the whole job with the error instead of hanging."""
    init = tmp_path / "init.npz"
    script = str(HERE / "scenarios.py")
    subprocess.run([sys.executable, script, str(tmp_path), str(init), "--init"], cwd=ROOT,
                   env=_env(), check=True, timeout=TIMEOUT)
    start = time.monotonic()
    result = torchrun(script, str(tmp_path / "out"), str(init), scenario)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert message in output, output[-3000:]
    assert time.monotonic() - start < TIMEOUT
    assert not (tmp_path / "out" / "done.rank0.json").exists()


def test_example_runs_under_torchrun():
    result = torchrun(str(ROOT / "examples" / "ddp_train.py"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    lines = result.stdout.splitlines()
    summary = [line for line in lines if line.startswith("Processes: ")]
    assert summary and len(summary) == 1 and summary[0].startswith("Processes: 2.")  # rank 0
    assert sum(line.startswith("Epoch 150/150") for line in lines) == 1


# ------------------------------------------------------------------ one process, in this process
def test_one_process_is_not_distributed(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not distribution.is_distributed()
    assert (distribution.rank(), distribution.world_size(), distribution.local_rank()) == (0, 1, 0)
    assert distribution.is_main_process()
    assert not distribution.initialize()
    distribution.barrier()  # nothing to wait for
    assert torchkeras_lite.distribution is distribution


def test_one_process_fit_takes_no_distributed_path(monkeypatch):
    """Without a launch, fit never touches torch.distributed and trains through fast_call."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("a collective ran in a one-process fit")

    for name in ("all_reduce", "broadcast", "all_gather", "barrier", "init_process_group"):
        monkeypatch.setattr(torch.distributed, name, forbidden)
    model = torchkeras_lite.Sequential([torchkeras_lite.layers.Input((4,)),
                                        torchkeras_lite.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], device="cpu")
    x, y = np.random.rand(20, 4).astype("float32"), np.random.rand(20, 2).astype("float32")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_split=0.2)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert model._trainer._forward == model.fast_call


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match="backend must be None"):
        distribution.DataParallel(backend="")
    with pytest.raises(TypeError, match="sync_batchnorm must be True or False"):
        distribution.DataParallel(sync_batchnorm="yes")
    with pytest.raises(ValueError, match="timeout must be None"):
        distribution.DataParallel(timeout=-1)
    with pytest.raises(TypeError, match="set_distribution"):
        distribution.set_distribution("data_parallel")
    strategy = distribution.DataParallel(sync_batchnorm=True, timeout=30)
    distribution.set_distribution(strategy)
    try:
        assert distribution.distribution() is strategy
    finally:
        distribution.set_distribution(None)
    assert distribution.distribution() is None


def test_local_block_and_launch_detection(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert distribution.launched() and distribution.rank() == 1
    assert not distribution.is_main_process()
    with distribution.local():
        assert distribution._begin(object()) is None  # never starts a group inside local()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not distribution.launched() and distribution.rank() == 0
