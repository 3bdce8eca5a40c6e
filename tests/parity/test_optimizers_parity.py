"""Optimizers and learning-rate schedules against real Keras 3 (torch backend).

Each case starts two copies of the same float32 weights (four tensors of different shapes,
values in [-1, 1]), feeds both optimizers the same 40 random gradients and compares the weights:
ours through ``.grad`` + ``step()``, Keras's through ``apply_gradients``. Tolerance atol 1e-6:
SGD, Adagrad, Adadelta, Adamax and Adam(fused=False) run Keras's foreach ops in Keras's order and
agree bit for bit (``test_bit_identical_where_keras_ops_are_replayed``); RMSprop and Nadam fuse
some of them (addcmul/addcdiv), Adam runs torch's fused kernel, clipnorm uses
``torch._foreach_norm`` and schedules are evaluated in float64: all of that changes only
last-bit rounding, the largest gap seen over several seeds being 3.6e-7 (3 float32 ulps at
|w| ~ 1). Gradients span three orders of magnitude so that
clipping is active and ``epsilon`` matters; the large-epsilon cases tell Keras's epsilon
placement from torch's (see ``test_the_harness_tells_torch_rules_apart``).

Schedules: Keras evaluates them in float32, ours in float64: rtol 1e-6, atol 1e-7 (cosine
schedules lose relative precision near 0 in float32).
"""
import copy
import re

import numpy as np
import pytest
import torch

from torchkeras_lite import optimizers
from torchkeras_lite.optimizers import schedules

# Keras's own Variable.__array__ triggers this numpy 2 warning on every read.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]
STEPS = 40
ATOL = 1e-6


def _exp_decay(S):
    return S.ExponentialDecay(0.01, decay_steps=5, decay_rate=0.5)


def _cosine_warmup(S):
    return S.CosineDecay(0.0, decay_steps=30, alpha=0.1, warmup_target=0.05, warmup_steps=10)


def _piecewise(S):
    return S.PiecewiseConstantDecay([10, 25], [0.05, 0.01, 0.002])


# (id, class name, kwargs); a callable value is given the schedules module of its side.
CASES = [
    ("sgd", "SGD", {}),
    ("sgd-momentum", "SGD", {"momentum": 0.9}),
    ("sgd-nesterov", "SGD", {"momentum": 0.9, "nesterov": True}),
    ("sgd-weight_decay", "SGD", {"learning_rate": 0.1, "weight_decay": 0.05}),
    ("sgd-clipnorm", "SGD", {"clipnorm": 1.0}),
    ("sgd-global_clipnorm", "SGD", {"momentum": 0.5, "global_clipnorm": 1.0}),
    ("sgd-clipvalue", "SGD", {"clipvalue": 0.5}),
    ("sgd-piecewise_schedule", "SGD", {"learning_rate": _piecewise, "momentum": 0.9}),
    ("sgd-ema", "SGD", {"use_ema": True, "ema_overwrite_frequency": 7}),
    ("sgd-loss_scale", "SGD", {"momentum": 0.9, "loss_scale_factor": 8.0}),
    ("adam", "Adam", {}),
    ("adam-lr", "Adam", {"learning_rate": 0.01}),
    ("adam-epsilon", "Adam", {"learning_rate": 0.01, "epsilon": 0.1}),
    ("adam-amsgrad", "Adam", {"learning_rate": 0.01, "amsgrad": True, "epsilon": 0.1}),
    ("adam-betas", "Adam", {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9}),
    ("adam-weight_decay", "Adam", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("adam-clipnorm", "Adam", {"learning_rate": 0.01, "clipnorm": 1.0}),
    ("adam-global_clipnorm", "Adam", {"learning_rate": 0.01, "global_clipnorm": 1.0}),
    ("adam-clipvalue", "Adam", {"learning_rate": 0.01, "clipvalue": 0.5}),
    ("adam-exponential_schedule", "Adam", {"learning_rate": _exp_decay}),
    ("adam-cosine_warmup_schedule", "Adam", {"learning_rate": _cosine_warmup}),
    ("adam-grad_accumulation", "Adam", {"learning_rate": 0.01, "gradient_accumulation_steps": 3}),
    ("adam-ema", "Adam", {"learning_rate": 0.01, "use_ema": True, "ema_momentum": 0.9}),
    ("adamw", "AdamW", {}),
    ("adamw-strong", "AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "epsilon": 0.1}),
    ("adamw-amsgrad", "AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("adamw-schedule", "AdamW", {"learning_rate": _exp_decay, "weight_decay": 0.5}),
    ("rmsprop", "RMSprop", {}),
    ("rmsprop-epsilon", "RMSprop", {"epsilon": 0.1, "rho": 0.8}),
    ("rmsprop-momentum", "RMSprop", {"momentum": 0.9}),
    ("rmsprop-centered", "RMSprop", {"centered": True}),
    ("rmsprop-centered_momentum", "RMSprop", {"centered": True, "momentum": 0.5}),
    ("rmsprop-weight_decay", "RMSprop", {"weight_decay": 0.05, "clipnorm": 1.0}),
    ("adagrad", "Adagrad", {"learning_rate": 0.01}),
    ("adagrad-epsilon", "Adagrad", {"learning_rate": 0.01, "epsilon": 0.5}),
    ("adagrad-accumulator", "Adagrad", {"initial_accumulator_value": 0.0, "global_clipnorm": 2.0}),
    ("adadelta", "Adadelta", {"learning_rate": 1.0}),
    ("adadelta-epsilon", "Adadelta", {"learning_rate": 1.0, "rho": 0.8, "epsilon": 1e-3}),
    ("adadelta-weight_decay", "Adadelta", {"weight_decay": 0.1, "clipvalue": 0.5}),
    ("adamax", "Adamax", {}),
    ("adamax-options", "Adamax", {"learning_rate": 0.01, "beta_1": 0.8, "epsilon": 0.1}),
    ("adamax-weight_decay", "Adamax", {"weight_decay": 0.1, "clipnorm": 1.0}),
    ("nadam", "Nadam", {}),
    ("nadam-options", "Nadam", {"learning_rate": 0.01, "beta_2": 0.9, "epsilon": 0.1}),
    ("nadam-grad_accumulation", "Nadam", {"gradient_accumulation_steps": 4}),
    ("nadam-weight_decay", "Nadam", {"weight_decay": 0.1, "clipvalue": 0.5}),
]


def _resolve(kwargs, schedules_module):
    return {k: v(schedules_module) if callable(v) else v for k, v in kwargs.items()}


def _data(seed, missing=False):
    """Initial weights and 40 gradient lists; with ``missing``, some gradients are None."""
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, size=s).astype(np.float32) for s in SHAPES]
    grads = []
    for step in range(STEPS):
        scale = 10.0 ** rng.uniform(-2, 1)
        row = [(rng.normal(size=s) * scale).astype(np.float32) for s in SHAPES]
        if missing and step % 3 == 1:
            row[1] = None
        grads.append(row)
    return weights, grads


def _run_ours(cls_name, kwargs, weights, grads, **extra):
    params = [torch.nn.Parameter(torch.tensor(w)) for w in weights]
    opt = getattr(optimizers, cls_name)(**_resolve(kwargs, schedules), **extra)
    opt.build(params)
    for row in grads:
        for p, g in zip(params, row):
            p.grad = None if g is None else torch.tensor(g)
        opt.step()
    if opt.use_ema:
        opt.finalize_variable_values()
    return [p.detach().numpy() for p in params], opt


def _run_keras(K, cls_name, kwargs, weights, grads):
    variables = [K.Variable(w) for w in weights]
    opt = getattr(K.optimizers, cls_name)(**_resolve(kwargs, K.optimizers.schedules))
    for row in grads:
        opt.apply_gradients(
            [(None if g is None else torch.tensor(g), v) for g, v in zip(row, variables)]
        )
    if opt.use_ema:
        opt.finalize_variable_values(variables)
    return [np.asarray(v.numpy()) for v in variables], opt


def _assert_weights_close(ours, theirs, atol=ATOL):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=f"weight {i} {a.shape}")


@pytest.mark.parametrize("cls_name,kwargs", [pytest.param(c, k, id=i) for i, c, k in CASES])
def test_weights_match_keras_after_40_steps(K, cls_name, kwargs):
    weights, grads = _data(seed=len(cls_name) + len(kwargs))
    ours, opt = _run_ours(cls_name, kwargs, weights, grads)
    theirs, keras_opt = _run_keras(K, cls_name, kwargs, weights, grads)
    _assert_weights_close(ours, theirs)
    assert opt.iterations == int(keras_opt.iterations.numpy())
    assert opt.learning_rate == pytest.approx(float(keras_opt.learning_rate), rel=1e-6)
    assert any(np.abs(w - w0).max() > 1e-3 for w, w0 in zip(ours, weights)), "nothing trained"


BIT_IDENTICAL = [
    ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"momentum": 0.9, "clipvalue": 0.5, "use_ema": True, "ema_overwrite_frequency": 5}),
    ("Adagrad", {"learning_rate": 0.01, "gradient_accumulation_steps": 3}),
    ("Adadelta", {"learning_rate": 1.0, "loss_scale_factor": 4.0}),
    ("Adamax", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "weight_decay": 0.1, "fused": False}),
    ("AdamW", {"learning_rate": 0.01, "fused": False}),
]


@pytest.mark.parametrize(
    "cls_name,kwargs", [pytest.param(c, k, id=c) for c, k in BIT_IDENTICAL]
)
def test_bit_identical_where_keras_ops_are_replayed(K, cls_name, kwargs):
    kwargs = dict(kwargs)
    fused = {"fused": kwargs.pop("fused")} if "fused" in kwargs else {}
    weights, grads = _data(seed=13)
    ours, _ = _run_ours(cls_name, kwargs, weights, grads, **fused)
    theirs, _ = _run_keras(K, cls_name, kwargs, weights, grads)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "cls_name,kwargs",
    [
        pytest.param("Adam", {"learning_rate": 0.01, "epsilon": 0.1}, id="adam"),
        pytest.param("Adam", {"learning_rate": 0.01, "amsgrad": True}, id="adam-amsgrad"),
        pytest.param("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}, id="adamw"),
        pytest.param("Adam", {"learning_rate": 0.01, "clipnorm": 1.0}, id="adam-clipnorm"),
    ],
)
def test_adam_foreach_path_matches_keras(K, cls_name, kwargs):
    """The non-fused fallback (other devices, mixed dtypes) follows the same rule."""
    weights, grads = _data(seed=3)
    ours, opt = _run_ours(cls_name, kwargs, weights, grads, fused=False)
    assert not opt._use_fused
    theirs, _ = _run_keras(K, cls_name, kwargs, weights, grads)
    _assert_weights_close(ours, theirs)


@pytest.mark.parametrize(
    "cls_name,kwargs",
    [
        pytest.param("SGD", {"momentum": 0.9}, id="sgd-momentum"),
        pytest.param("Adam", {"learning_rate": 0.01}, id="adam"),
        pytest.param("Adam", {"learning_rate": 0.01, "fused": False}, id="adam-foreach"),
        pytest.param("Nadam", {"learning_rate": 0.01}, id="nadam"),
        pytest.param("RMSprop", {"centered": True, "global_clipnorm": 1.0}, id="rmsprop"),
    ],
)
def test_missing_gradients_are_skipped_as_keras_does(K, cls_name, kwargs):
    """A weight without gradient is left alone, but the step count stays global (bias
    corrections of Adam/Nadam use the optimizer's iterations, not a per-weight count)."""
    kwargs = dict(kwargs)
    extra = {"fused": kwargs.pop("fused")} if "fused" in kwargs else {}
    weights, grads = _data(seed=5, missing=True)
    ours, _ = _run_ours(cls_name, kwargs, weights, grads, **extra)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        theirs, _ = _run_keras(K, cls_name, kwargs, weights, grads)
    _assert_weights_close(ours, theirs)


@pytest.mark.parametrize(
    "make_torch,cls_name,kwargs",
    [
        pytest.param(
            lambda p: torch.optim.Adam(p, lr=0.01, eps=0.1), "Adam",
            {"learning_rate": 0.01, "epsilon": 0.1}, id="adam",
        ),
        pytest.param(
            lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-7), "RMSprop", {},
            id="rmsprop",
        ),
        pytest.param(
            lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), "SGD",
            {"momentum": 0.9, "learning_rate": _exp_decay}, id="sgd-momentum-schedule",
        ),
    ],
)
def test_the_harness_tells_torch_rules_apart(K, make_torch, cls_name, kwargs):
    """torch's own rules fail this comparison, so passing it means something."""
    weights, grads = _data(seed=7)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in weights]
    opt = make_torch(params)
    scheduler = None
    if callable(kwargs.get("learning_rate")):
        scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5 ** (1 / 5))
    for row in grads:
        for p, g in zip(params, row):
            p.grad = torch.tensor(g)
        opt.step()
        if scheduler is not None:
            scheduler.step()
    theirs, _ = _run_keras(K, cls_name, kwargs, weights, grads)
    gap = max(np.abs(p.detach().numpy() - t).max() for p, t in zip(params, theirs))
    assert gap > 10 * ATOL


def test_state_resumed_from_state_dict_continues_like_keras(K):
    """Train 17 steps, save, rebuild a fresh optimizer on copied weights, load, finish."""
    kwargs = {"learning_rate": 0.01, "gradient_accumulation_steps": 2}
    weights, grads = _data(seed=11)
    theirs, _ = _run_keras(K, "Nadam", kwargs, weights, grads)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in weights]
    first = optimizers.Nadam(**kwargs, params=params)
    for row in grads[:17]:
        for p, g in zip(params, row):
            p.grad = torch.tensor(g)
        first.step()
    saved = first.state_dict()
    params = [torch.nn.Parameter(p.detach().clone()) for p in params]
    second = optimizers.Nadam(**kwargs, params=params)
    second.load_state_dict(saved)
    for row in grads[17:]:
        for p, g in zip(params, row):
            p.grad = torch.tensor(g)
        second.step()
    _assert_weights_close([p.detach().numpy() for p in params], theirs)


# ------------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "cls_name,kwargs",
    [
        ("SGD", {"momentum": 0.9, "nesterov": True, "clipnorm": 1.0}),
        ("Adam", {"learning_rate": 0.5, "beta_1": 0.8, "amsgrad": True, "weight_decay": 0.1}),
        ("AdamW", {"weight_decay": 0.01, "global_clipnorm": 2.0}),
        ("RMSprop", {"rho": 0.8, "momentum": 0.1, "centered": True, "use_ema": True}),
        ("Adagrad", {"initial_accumulator_value": 0.2, "clipvalue": 0.1}),
        ("Adadelta", {"rho": 0.9, "gradient_accumulation_steps": 2}),
        ("Adamax", {"beta_2": 0.99, "loss_scale_factor": 4.0}),
        ("Nadam", {"epsilon": 1e-3, "name": "my_nadam"}),
        ("SGD", {"learning_rate": _exp_decay}),
        ("Adam", {"learning_rate": _cosine_warmup}),
    ],
)
def test_configs_are_interchangeable_with_keras(K, cls_name, kwargs):
    kwargs = {"name": "opt", **kwargs}  # Keras numbers default names: adam, adam_1, ...
    ours = getattr(optimizers, cls_name)(**_resolve(kwargs, schedules))
    theirs = getattr(K.optimizers, cls_name)(**_resolve(kwargs, K.optimizers.schedules))
    ours_config, keras_config = ours.get_config(), theirs.get_config()
    _assert_same_config(ours_config, keras_config)
    rebuilt = getattr(K.optimizers, cls_name).from_config(copy.deepcopy(ours_config))
    assert rebuilt.get_config() == keras_config
    _assert_same_config(
        getattr(optimizers, cls_name).from_config(keras_config).get_config(), ours_config
    )
    _assert_same_config(
        optimizers.deserialize(K.optimizers.serialize(theirs)).get_config(), ours_config
    )


def _assert_same_config(ours, keras):
    """Equal keys in Keras's order; Keras reports a float learning rate rounded to float32."""
    assert list(ours) == list(keras)
    for key, value in keras.items():
        if isinstance(value, float):
            assert ours[key] == pytest.approx(value, rel=1e-7), key
        else:
            assert ours[key] == value, key


def test_default_names_match_keras(K):
    """Keras appends a process-wide counter after the first instance (``adam_3``); we don't."""
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam"]:
        keras_name = getattr(K.optimizers, name)().name
        assert re.fullmatch(re.escape(getattr(optimizers, name)().name) + r"(_\d+)?", keras_name)


def test_get_accepts_the_names_keras_accepts(K):
    for name in ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam",
                 "SGD", "Adam", "AdamW", "RMSprop", "RMSProp", "ADAM", "Nadam"]:
        assert type(optimizers.get(name)).__name__.lower() == name.lower()
        assert type(K.optimizers.get(name)).__name__.lower() == name.lower()


# ----------------------------------------------------------------------------- schedules

SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5}),
    ("ExponentialDecay",
     {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [10, 20, 35], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("PolynomialDecay",
     {"initial_learning_rate": 0.1, "decay_steps": 30, "end_learning_rate": 0.001, "power": 2.0}),
    ("PolynomialDecay",
     {"initial_learning_rate": 0.1, "decay_steps": 30, "power": 0.5, "cycle": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    ("InverseTimeDecay",
     {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5, "staircase": True}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 40, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 40, "warmup_target": 0.1,
                     "warmup_steps": 10}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10,
                             "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 7,
                             "t_mul": 1.5, "m_mul": 0.9}),
]


@pytest.mark.parametrize(
    "cls_name,kwargs",
    [pytest.param(c, k, id=f"{c}-{i}") for i, (c, k) in enumerate(SCHEDULES)],
)
def test_schedule_values_match_keras(K, cls_name, kwargs):
    ours = getattr(schedules, cls_name)(**kwargs)
    theirs = getattr(K.optimizers.schedules, cls_name)(**kwargs)
    steps = range(0, 200)
    ours_values = np.array([ours(s) for s in steps])
    keras_values = np.array([float(theirs(s)) for s in steps])
    np.testing.assert_allclose(ours_values, keras_values, rtol=1e-6, atol=1e-7)
    assert ours.get_config() == theirs.get_config()
    assert schedules.serialize(ours) == K.optimizers.schedules.serialize(theirs)
