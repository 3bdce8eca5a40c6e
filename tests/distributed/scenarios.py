"""Training scenarios run by tests/distributed: under torchrun (2 processes, gloo on the CPU) and as
a plain one-process ``python`` run for the reference. Not collected by pytest (no ``test_`` name).

Usage: python scenarios.py OUT_DIR INIT_WEIGHTS.npz SCENARIO [SCENARIO ...]

Every process writes ``OUT_DIR/<scenario>.rank<r>.npz`` with the final weights (``w0``, ``w1``,
...), the History (``history/<key>``), and what else the scenario computes. The initial weights
come from INIT_WEIGHTS.npz (``<model>/<i>``), so every run starts from the same model.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

from torchkeras_lite import distribution
from torchkeras_lite.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint
from torchkeras_lite.layers import (BatchNormalization, Concatenate, Conv2D, Dense, Flatten,
                                    Input, MaxPooling2D)
from torchkeras_lite.models import Model, Sequential
from torchkeras_lite.utils import to_categorical


# --------------------------------------------------------------------------- data and models
def tutorial_data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype("float32")
    scores = x @ np.random.default_rng(42).normal(size=(8, 3))
    return x, to_categorical(scores.argmax(axis=1), num_classes=3).astype("float32")


def image_data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8, 8, 1)).astype("float32")
    labels = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(int)
    labels += (x[:, :, :4].mean(axis=(1, 2, 3)) > 0.5).astype(int)
    return x, to_categorical(labels, num_classes=3).astype("float32")


def mlp():
    return Sequential([Input((8,)), Dense(12, activation="relu"), Dense(8, activation="relu"),
                       Dense(3, activation="softmax")])


def convnet():
    return Sequential([Input((8, 8, 1)), Conv2D(4, 3, activation="relu"), MaxPooling2D(),
                       Flatten(), Dense(3, activation="softmax")])


def bn_mlp():
    # No bias before the normalization: its gradient is zero up to rounding noise, which Adam
    # would blow up into steps that differ from run to run.
    return Sequential([Input((8,)), Dense(12, use_bias=False), BatchNormalization(),
                       Dense(8, activation="relu"), Dense(3, activation="softmax")])


class CustomStep(Model):
    """A subclassed model with its own train_step (no DDP wrapper on this path)."""

    def __init__(self):
        super().__init__()
        self.hidden = Dense(12, activation="relu")
        self.out = Dense(3, activation="softmax")

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))

    def train_step(self, data):
        x, y, _ = data
        self.zero_grad()
        loss = self.compute_loss(y=y, y_pred=self(x, training=True))
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach()}


def two_outputs():
    """Two inputs (a dict), two outputs with their own losses, weights and metrics."""
    a, b = Input((8,), name="a"), Input((3,), name="b")
    hidden = Dense(12, activation="relu")(Concatenate()([a, b]))
    return Model(inputs={"a": a, "b": b},
                 outputs=[Dense(1, name="score")(hidden),
                          Dense(3, activation="softmax", name="segment")(hidden)])


BUILDERS = {"mlp": mlp, "convnet": convnet, "bn_mlp": bn_mlp, "custom": CustomStep,
            "two_outputs": two_outputs}


def build(kind: str, init: dict):
    model = BUILDERS[kind]()
    if kind == "custom":
        model.build_from_data(torch.zeros(2, 8))
    model.set_weights([init[f"{kind}/{i}"] for i in range(len(model.get_weights()))])
    if kind == "two_outputs":
        model.compile(optimizer="adam",
                      loss={"score": "mse", "segment": "categorical_crossentropy"},
                      loss_weights={"score": 1.0, "segment": 0.5},
                      metrics={"score": ["mae"], "segment": ["accuracy"]}, device="cpu")
        return model
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  device="cpu")
    return model


def initial_weights(path: str) -> None:
    """Write every model's initial weights (called once by the tests)."""
    torch.manual_seed(0)
    arrays = {}
    for kind, make in BUILDERS.items():
        model = make()
        if kind == "custom":
            model.build_from_data(torch.zeros(2, 8))
        for i, w in enumerate(model.get_weights()):
            arrays[f"{kind}/{i}"] = w
    np.savez(path, **arrays)


# ------------------------------------------------------------------------------- scenarios
def fit_case(init, kind, data, *, batch_size, shuffle, epochs, seed=123, validation=None,
             callbacks=None, strategy=None, **fit_kwargs):
    model = build(kind, init)
    distribution.set_distribution(strategy)
    torch.manual_seed(seed)  # rank 0's generator draws the permutations
    history = model.fit(*data, batch_size=batch_size, epochs=epochs, shuffle=shuffle, verbose=0,
                        validation_data=validation, callbacks=callbacks, **fit_kwargs)
    distribution.set_distribution(None)
    return model, history.history


def scenario(name: str, init: dict, out: str) -> dict:
    x, y = tutorial_data(100, 0)
    val = tutorial_data(50, 1)
    if name == "mlp_even":  # 16 per step (8 per rank); the last batch has 4 (100 = 6 * 16 + 4)
        model, hist = fit_case(init, "mlp", (x, y), batch_size=16, shuffle=False, epochs=3,
                               validation=val)
        return {"model": model, "history": hist,
                "evaluate": np.array(model.evaluate(*val, batch_size=7, verbose=0)),
                "predict": model.predict(val[0], batch_size=7, verbose=0),
                "predict16": model.predict(val[0], batch_size=16, verbose=0)}
    if name == "mlp_shuffle_odd":  # global batch 7: 4 + 3 samples per rank
        model, hist = fit_case(init, "mlp", (x, y), batch_size=7, shuffle=True, epochs=3,
                               validation=val)
        return {"model": model, "history": hist}
    if name == "mlp_padding":  # 99 = 14 * 7 + 1: rank 1 has no sample in the last batch
        model, hist = fit_case(init, "mlp", (x[:99], y[:99]), batch_size=7, shuffle=True,
                               epochs=2, validation=(val[0][:43], val[1][:43]))
        return {"model": model, "history": hist}
    if name == "convnet":
        xi, yi = image_data(40, 2)
        model, hist = fit_case(init, "convnet", (xi, yi), batch_size=10, shuffle=True, epochs=2)
        return {"model": model, "history": hist,
                "predict": model.predict(image_data(13, 3)[0], batch_size=4, verbose=0)}
    if name == "sync_bn":
        model, hist = fit_case(init, "bn_mlp", (x[:99], y[:99]), batch_size=7, shuffle=True,
                               epochs=2, validation=val,
                               strategy=distribution.DataParallel(sync_batchnorm=True))
        return {"model": model, "history": hist}
    if name == "local_bn":
        model, hist = fit_case(init, "bn_mlp", (x, y), batch_size=16, shuffle=True, epochs=2,
                               validation=val)
        return {"model": model, "history": hist,
                "evaluate": np.array(model.evaluate(*val, verbose=0))}
    if name == "custom_step":
        model, hist = fit_case(init, "custom", (x, y), batch_size=16, shuffle=False, epochs=2)
        return {"model": model, "history": hist}
    if name == "early_stopping":
        stop = EarlyStopping(monitor="val_loss", min_delta=1.0, patience=1)
        model, hist = fit_case(init, "mlp", (x, y), batch_size=16, shuffle=True, epochs=10,
                               validation=val, callbacks=[stop])
        return {"model": model, "history": hist}
    if name == "dataset":  # a map-style torch Dataset, shuffled by rank 0's order
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        wrapped = torch.utils.data.Subset(dataset, list(range(100)))  # not unwrapped to arrays
        model, hist = fit_case(init, "mlp", (wrapped,), batch_size=7, shuffle=True, epochs=2)
        loader = torch.utils.data.DataLoader(torch.from_numpy(val[0]), batch_size=9)
        return {"model": model, "history": hist,
                "predict": model.predict(loader, verbose=0)}
    if name == "two_outputs":
        extra = np.random.default_rng(5).random((100, 3)).astype("float32")
        inputs = {"a": x, "b": extra}
        targets = {"score": x[:, :1] - extra[:, 1:2], "segment": y}
        model, hist = fit_case(init, "two_outputs", (inputs, targets), batch_size=7,
                               shuffle=True, epochs=2, sample_weight=np.linspace(0.5, 1.5, 100))
        ev = model.evaluate(inputs, targets, batch_size=9, verbose=0, return_dict=True)
        score, segment = model.predict(inputs, batch_size=9, verbose=0)
        return {"model": model, "history": hist, "evaluate": np.array(list(ev.values())),
                "predict_score": score, "predict_segment": segment}
    if name == "sampler":  # DataLoader + DistributedSampler: each rank's batches are its own
        if distribution.initialize():  # the sampler needs the process group
            dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
            sampler = torch.utils.data.distributed.DistributedSampler(dataset, shuffle=False)
            # 8 per rank and step: the global batches are those of batch_size=16 on arrays.
            train = (torch.utils.data.DataLoader(dataset, batch_size=8, sampler=sampler),)
            vx = torch.from_numpy(val[0])
            loader = torch.utils.data.DataLoader(
                vx, batch_size=5,
                sampler=torch.utils.data.distributed.DistributedSampler(vx, shuffle=False))
            model, hist = fit_case(init, "mlp", train, batch_size=None, shuffle=False, epochs=2)
        else:
            model, hist = fit_case(init, "mlp", (x, y), batch_size=16, shuffle=False, epochs=2)
            loader = val[0]
        return {"model": model, "history": hist, "predict": model.predict(loader, verbose=0)}
    if name == "generator":  # a one-shot source: every rank reads the same batches
        def batches():
            for _ in range(2):
                for i in range(0, 100, 16):
                    yield x[i:i + 16], y[i:i + 16]

        model, hist = fit_case(init, "mlp", (batches(),), batch_size=None, shuffle=False,
                               epochs=2, validation=val, steps_per_epoch=7)
        return {"model": model, "history": hist}
    if name == "checkpoints":
        from torchkeras_lite.saving import saving_lib

        calls = {"save_model": 0}
        original = saving_lib.save_model

        def counting(*args, **kwargs):
            calls["save_model"] += 1
            return original(*args, **kwargs)

        saving_lib.save_model = counting
        folder = os.path.join(out, "files")
        os.makedirs(folder, exist_ok=True)
        callbacks = [ModelCheckpoint(os.path.join(folder, "ckpt-{epoch:02d}.keras")),
                     ModelCheckpoint(os.path.join(folder, "best.keras"), monitor="loss",
                                     save_best_only=True, save_freq=3),
                     CSVLogger(os.path.join(folder, "log.csv"))]
        model, hist = fit_case(init, "mlp", (x, y), batch_size=16, shuffle=True, epochs=2,
                               validation=val, callbacks=callbacks)
        model.save(os.path.join(folder, "final.keras"))
        saving_lib.save_model = original
        return {"model": model, "history": hist, "save_calls": np.array(calls["save_model"]),
                "predict": model.predict(val[0], verbose=0)}
    if name == "raise_on_rank1_mid_fit":  # the other rank is inside a collective by then
        from torchkeras_lite.callbacks import LambdaCallback

        def fail(batch, logs):
            if distribution.rank() == 1 and batch == 3:
                raise RuntimeError("rank 1 fails at batch 3 on purpose")

        fit_case(init, "mlp", (x, y), batch_size=8, shuffle=True, epochs=3,
                 callbacks=[LambdaCallback(on_train_batch_end=fail)])
        raise SystemExit("unreachable: rank 1 should have failed")
    if name == "bad_input_on_rank1":
        model = build("mlp", init)
        bad = x[:, :5] if distribution.rank() == 1 else x
        model.fit(bad, y, batch_size=16, epochs=1, verbose=0)
        return {"model": model, "history": {}}
    raise SystemExit(f"unknown scenario {name!r}")


def main() -> None:
    out, init_path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    if names == ["--init"]:
        initial_weights(init_path)
        return
    init = dict(np.load(init_path))
    os.makedirs(out, exist_ok=True)
    for name in names:
        result = scenario(name, init, out)
        arrays = {f"w{i}": w for i, w in enumerate(result.pop("model").get_weights())}
        for key, values in result.pop("history").items():
            arrays[f"history/{key}"] = np.array(values)
        arrays.update({k: np.asarray(v) for k, v in result.items()})
        np.savez(os.path.join(out, f"{name}.rank{distribution.rank()}.npz"), **arrays)
    with open(os.path.join(out, f"done.rank{distribution.rank()}.json"), "w") as f:
        json.dump({"world_size": distribution.world_size(), "scenarios": names}, f)


if __name__ == "__main__":
    main()
