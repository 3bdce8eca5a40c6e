"""torchkeras_lite.optimizers: argument checks, catalog, configs, torch integration, state.

Update rules are checked against real Keras in tests/parity/test_optimizers_parity.py.
"""
import copy
import io
import pickle

import pytest
import torch

from torchkeras_lite import optimizers
from torchkeras_lite.optimizers import schedules

ALL = [
    optimizers.SGD,
    optimizers.Adam,
    optimizers.AdamW,
    optimizers.RMSprop,
    optimizers.Adagrad,
    optimizers.Adadelta,
    optimizers.Adamax,
    optimizers.Nadam,
]
NON_DEFAULT = {
    optimizers.SGD: {"momentum": 0.9, "nesterov": True},
    optimizers.Adam: {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3, "amsgrad": True},
    optimizers.AdamW: {"weight_decay": 0.1, "amsgrad": True},
    optimizers.RMSprop: {"rho": 0.8, "momentum": 0.5, "epsilon": 1e-4, "centered": True},
    optimizers.Adagrad: {"initial_accumulator_value": 0.5, "epsilon": 1e-3},
    optimizers.Adadelta: {"rho": 0.9, "epsilon": 1e-5},
    optimizers.Adamax: {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
    optimizers.Nadam: {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
}
COMMON = {
    "learning_rate": 0.05,
    "clipnorm": 2.0,
    "use_ema": True,
    "ema_momentum": 0.9,
    "ema_overwrite_frequency": 3,
    "loss_scale_factor": 2.0,
    "gradient_accumulation_steps": 2,
    "name": "custom",
}
ids = [cls.__name__ for cls in ALL]


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def _train(model, opt, steps=5, seed=1):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_defaults_are_keras_defaults(cls):
    opt = cls()
    assert opt.learning_rate == (0.01 if cls is optimizers.SGD else 0.001)
    assert not opt.built and opt.iterations == 0
    for attr in ("beta_1", "beta_2", "rho", "epsilon", "momentum"):
        if hasattr(opt, attr):
            expected = {
                "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "momentum": 0.0,
                "rho": 0.95 if cls is optimizers.Adadelta else 0.9,
            }[attr]
            assert getattr(opt, attr) == expected, attr
    assert opt.weight_decay == (0.004 if cls is optimizers.AdamW else None)


def test_positional_order_is_keras():
    assert optimizers.SGD(0.1, 0.9, True).nesterov
    assert optimizers.Adam(0.1, 0.8, 0.9, 1e-3, True).amsgrad
    assert optimizers.AdamW(0.1, 0.2).weight_decay == 0.2
    assert optimizers.RMSprop(0.1, 0.8, 0.5, 1e-3, True).centered
    assert optimizers.Adagrad(0.1, 0.3).initial_accumulator_value == 0.3


@pytest.mark.parametrize(
    "make,argument",
    [
        (lambda: optimizers.Adam(learning_rate=-0.1), "learning_rate"),
        (lambda: optimizers.Adam(learning_rate=float("nan")), "learning_rate"),
        (lambda: optimizers.Adam(beta_1=1.0), "beta_1"),
        (lambda: optimizers.Adam(beta_1=-0.1), "beta_1"),
        (lambda: optimizers.Nadam(beta_2=1.5), "beta_2"),
        (lambda: optimizers.Adamax(beta_2=1.0), "beta_2"),
        (lambda: optimizers.RMSprop(rho=1.0), "rho"),
        (lambda: optimizers.Adadelta(rho=-0.5), "rho"),
        (lambda: optimizers.SGD(momentum=1.0), "momentum"),
        (lambda: optimizers.RMSprop(momentum=-0.1), "momentum"),
        (lambda: optimizers.Adam(epsilon=-1e-7), "epsilon"),
        (lambda: optimizers.Adagrad(epsilon=-1.0), "epsilon"),
        (lambda: optimizers.Adagrad(initial_accumulator_value=-0.1), "initial_accumulator_value"),
        (lambda: optimizers.SGD(weight_decay=-0.1), "weight_decay"),
        (lambda: optimizers.AdamW(weight_decay=-0.1), "weight_decay"),
        (lambda: optimizers.AdamW(weight_decay=None), "weight_decay"),
        (lambda: optimizers.SGD(clipnorm=0.0), "clipnorm"),
        (lambda: optimizers.SGD(clipnorm=-1.0), "clipnorm"),
        (lambda: optimizers.SGD(global_clipnorm=0.0), "global_clipnorm"),
        (lambda: optimizers.SGD(clipvalue=-0.5), "clipvalue"),
        (lambda: optimizers.SGD(ema_momentum=1.5, use_ema=True), "ema_momentum"),
        (lambda: optimizers.SGD(ema_overwrite_frequency=0), "ema_overwrite_frequency"),
        (lambda: optimizers.SGD(loss_scale_factor=0.0), "loss_scale_factor"),
        (lambda: optimizers.SGD(gradient_accumulation_steps=1), "gradient_accumulation_steps"),
        (lambda: optimizers.Adam(fused="yes"), "fused"),
    ],
)
def test_bad_values_raise_value_error_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=argument) as info:
        make()
    assert "got" in str(info.value)


def test_only_one_clipping_argument():
    with pytest.raises(ValueError, match="Only one of clipnorm, clipvalue and global_clipnorm"):
        optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(ValueError, match="global_clipnorm=2.0"):
        optimizers.SGD(clipnorm=1.0, global_clipnorm=2.0)


@pytest.mark.parametrize("value", ["0.1", None, [0.1], torch.tensor(0.1), True])
def test_learning_rate_of_wrong_type_raises_type_error(value):
    with pytest.raises(TypeError, match="learning_rate must be a float"):
        optimizers.SGD(learning_rate=value)


def test_parameters_passed_positionally_get_a_hint():
    with pytest.raises(TypeError, match="params=model.parameters"):
        optimizers.Adam(_model().parameters())


def test_integer_learning_rate_is_accepted():
    assert optimizers.SGD(1).learning_rate == 1.0


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        optimizers.Adam(lr=0.1)


# ------------------------------------------------------------------------------- catalog


def test_get_by_name_in_any_case_gives_new_unbuilt_instances():
    for name, cls in [("adam", optimizers.Adam), ("Adam", optimizers.Adam),
                      ("ADAMW", optimizers.AdamW), ("rmsprop", optimizers.RMSprop),
                      ("RMSprop", optimizers.RMSprop), ("sgd", optimizers.SGD),
                      ("adagrad", optimizers.Adagrad), ("adadelta", optimizers.Adadelta),
                      ("adamax", optimizers.Adamax), ("Nadam", optimizers.Nadam)]:
        first, second = optimizers.get(name), optimizers.get(name)
        assert type(first) is cls and first is not second and not first.built


def test_get_unknown_name_lists_names_and_suggests():
    with pytest.raises(ValueError, match="Unknown optimizer 'rmsprp'") as info:
        optimizers.get("rmsprp")
    assert "Did you mean 'rmsprop'" in str(info.value) and "adamw" in str(info.value)


def test_get_dict_class_instance_none():
    opt = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.5, "momentum": 0.9}})
    assert type(opt) is optimizers.SGD and opt.momentum == 0.9 and opt.learning_rate == 0.5
    assert type(optimizers.get({"class_name": "rmsprop"})) is optimizers.RMSprop
    assert type(optimizers.get(optimizers.Nadam)) is optimizers.Nadam
    instance = optimizers.Adam()
    assert optimizers.get(instance) is instance
    plain = torch.optim.SGD(_model().parameters(), lr=0.1)
    assert optimizers.get(plain) is plain
    assert optimizers.get(None) is None


def test_get_rejects_other_things():
    with pytest.raises(TypeError, match="optimizer class"):
        optimizers.get(torch.optim.Adam)
    with pytest.raises(TypeError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="class_name"):
        optimizers.get({"config": {}})


# ------------------------------------------------------------------------------- configs


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_config_round_trip(cls):
    opt = cls(**COMMON, **NON_DEFAULT[cls])
    config = opt.get_config()
    assert config["name"] == "custom"
    for key, value in {**COMMON, **NON_DEFAULT[cls]}.items():
        assert config[key] == value, key
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.get_config() == config and not clone.built
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is cls and again.get_config() == config


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_config_with_schedule_round_trip(cls):
    schedule = schedules.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.2, warmup_steps=5)
    config = cls(learning_rate=schedule).get_config()
    assert config["learning_rate"]["class_name"] == "CosineDecay"
    assert config["learning_rate"]["module"] == "keras.optimizers.schedules"
    clone = optimizers.get({"class_name": cls.__name__, "config": config})
    assert isinstance(clone._learning_rate, schedules.CosineDecay)
    assert clone.get_config() == config


def test_default_names_are_snake_case_of_the_class():
    assert [cls().name for cls in ALL] == [
        "sgd", "adam", "adam_w", "rm_sprop", "adagrad", "adadelta", "adamax", "nadam"
    ]


def test_fused_choice_is_kept_in_config_only_when_set():
    assert "fused" not in optimizers.Adam().get_config()
    assert optimizers.Adam(fused=False).get_config()["fused"] is False
    assert optimizers.Adam.from_config(optimizers.Adam(fused=False).get_config()).fused is False


# ------------------------------------------------------------------ building and stepping


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_torch_style_construction_trains(cls):
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    opt = cls(learning_rate=0.01, params=model.parameters())
    assert isinstance(opt, torch.optim.Optimizer) and opt.built
    _train(model, opt)
    assert opt.iterations == 5
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_keras_style_build_later_equals_torch_style(cls):
    first, second = _model(), _model()
    keras_style = cls(learning_rate=0.01)
    keras_style.build(first.parameters())
    torch_style = cls(learning_rate=0.01, params=second.parameters())
    _train(first, keras_style)
    _train(second, torch_style)
    for a, b in zip(first.parameters(), second.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_step_before_build_is_a_clear_error():
    opt = optimizers.Adam()
    with pytest.raises(RuntimeError, match=r"before the optimizer was built.*build\(model"):
        opt.step()
    with pytest.raises(RuntimeError, match="state_dict"):
        opt.state_dict()
    opt.zero_grad()  # nothing bound yet: a no-op


def test_build_twice_same_params_is_a_no_op_other_params_raise():
    model = _model()
    opt = optimizers.SGD()
    opt.build(model.parameters())
    opt.build(model.parameters())
    with pytest.raises(ValueError, match="already built on other parameters"):
        opt.build(_model().parameters())


def test_learning_rate_get_and_set():
    model = _model()
    opt = optimizers.SGD(learning_rate=0.1)
    opt.learning_rate = 0.2
    assert opt.learning_rate == 0.2
    opt.build(model.parameters())
    assert opt.param_groups[0]["lr"] == 0.2
    opt.learning_rate = 0.05
    assert opt.learning_rate == 0.05 and opt.param_groups[0]["lr"] == 0.05
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0
    with pytest.raises(TypeError, match="learning_rate"):
        opt.learning_rate = "fast"
    opt.learning_rate = schedules.ExponentialDecay(1.0, 1, 0.5)
    _train(model, opt, steps=3)
    assert opt.learning_rate == pytest.approx(0.125)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.1


def test_schedule_is_evaluated_at_iterations_each_step():
    model = _model()
    opt = optimizers.SGD(schedules.PiecewiseConstantDecay([1, 2], [0.3, 0.2, 0.1]),
                         params=model.parameters())
    seen = []
    for _ in range(4):
        _train(model, opt, steps=1)
        seen.append(opt.param_groups[0]["lr"])
    assert seen == [0.3, 0.3, 0.2, 0.1]


def test_callable_learning_rate_is_called_each_step():
    calls = []
    model = _model()
    opt = optimizers.SGD(lambda: calls.append(1) or 0.1, params=model.parameters())
    _train(model, opt, steps=3)
    assert len(calls) >= 3 and opt.param_groups[0]["lr"] == 0.1


def test_torch_lr_scheduler_drives_the_learning_rate():
    model = _model()
    opt = optimizers.Adam(learning_rate=0.1, params=model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        _train(model, opt, steps=1)
        scheduler.step()
    assert opt.learning_rate == pytest.approx(0.025)


def test_param_groups_may_set_their_own_lr():
    model = _model()
    first, second = list(model[0].parameters()), list(model[2].parameters())
    opt = optimizers.SGD(0.1, params=[{"params": first}, {"params": second, "lr": 0.0}])
    frozen = [p.detach().clone() for p in second]
    _train(model, opt, steps=2)
    assert all(torch.equal(a, b) for a, b in zip(frozen, second))
    with pytest.raises(ValueError, match="optimizer-wide"):
        optimizers.SGD(params=[{"params": first, "momentum": 0.9}])


def test_parameters_without_gradient_are_skipped():
    w, frozen = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = optimizers.Adam(0.1, params=[w, frozen])
    w.grad = torch.ones(3)
    opt.step()
    assert torch.equal(frozen.detach(), torch.ones(2)) and w.detach().lt(1).all()
    w.grad = None
    with pytest.raises(ValueError, match="No gradients"):
        opt.step()


def test_closure_is_evaluated_and_returned():
    model = _model()
    opt = optimizers.SGD(params=model.parameters())
    x = torch.randn(4, 4)

    def closure():
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        return loss

    assert isinstance(opt.step(closure), torch.Tensor)


def test_step_hooks_still_run():
    model = _model()
    opt = optimizers.Adam(params=model.parameters())
    calls = []
    opt.register_step_pre_hook(lambda *args: calls.append("pre"))
    opt.register_step_post_hook(lambda *args: calls.append("post"))
    _train(model, opt, steps=1)
    assert calls == ["pre", "post"]


def test_zero_grad_sets_grads_to_none():
    model = _model()
    opt = optimizers.SGD(params=model.parameters())
    _train(model, opt, steps=1)
    model(torch.randn(2, 4)).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(torch.randn(2, 4)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(torch.count_nonzero(p.grad) == 0 for p in model.parameters())


def test_apply_gradients_keras_style():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = optimizers.SGD(0.5)
    assert opt.apply_gradients([(torch.ones(2), w)]) == 1
    assert opt.built and torch.equal(w.detach(), torch.full((2,), -0.5))
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply_gradients([(torch.ones(2), torch.nn.Parameter(torch.zeros(2)))])


def test_gradient_accumulation_counts_updates_not_calls():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD(1.0, gradient_accumulation_steps=3, params=[w])
    for value in (1.0, 2.0):
        w.grad = torch.tensor([value])
        opt.step()
    assert torch.equal(w.detach(), torch.zeros(1)) and opt.iterations == 0
    w.grad = torch.tensor([6.0])
    opt.step()
    assert torch.equal(w.detach(), torch.tensor([-3.0])) and opt.iterations == 1


def test_loss_scale_and_ema_helpers():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = optimizers.SGD(1.0, loss_scale_factor=4.0, use_ema=True, ema_momentum=0.5, params=[w])
    assert opt.scale_loss(torch.tensor(2.0)).item() == 8.0
    for _ in range(2):
        w.grad = torch.tensor([4.0])  # unscaled: 1.0
        opt.step()
    assert w.item() == -2.0
    opt.finalize_variable_values()
    assert w.item() == -1.5  # average: -1 after step 1, 0.5 * -1 + 0.5 * -2 after step 2


def test_fused_adam_is_used_on_cpu_and_can_be_turned_off():
    assert optimizers.Adam(params=_model().parameters())._use_fused
    assert not optimizers.Adam(fused=False, params=_model().parameters())._use_fused


def test_mixed_dtypes_fall_back_from_fused():
    a = torch.nn.Parameter(torch.ones(2))
    b = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = optimizers.Adam(0.1, params=[a, b])
    assert not opt._use_fused
    a.grad, b.grad = torch.ones(2), torch.ones(2, dtype=torch.float64)
    opt.step()
    torch.testing.assert_close(a.detach().double(), b.detach())
    with pytest.raises(RuntimeError, match="fused=True"):
        optimizers.Adam(fused=True, params=[a, b])


# ----------------------------------------------------------------------------- state


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_state_dict_round_trip_resumes_exactly(cls):
    kwargs = {"learning_rate": 0.01, **NON_DEFAULT[cls], "gradient_accumulation_steps": 2}
    reference_model = _model()
    reference = cls(**kwargs, params=reference_model.parameters())
    _train(reference_model, reference, steps=7, seed=1)
    model = _model()
    opt = cls(**kwargs, params=model.parameters())
    _train(model, opt, steps=3, seed=1)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    assert saved["optimizer"]["iterations"] == 3
    resumed_model = _model()
    resumed_model.load_state_dict(saved["model"])
    resumed = cls(**kwargs)
    resumed.build(resumed_model.parameters())
    resumed.load_state_dict(saved["optimizer"])
    assert resumed.iterations == opt.iterations
    gen_state = torch.Generator().manual_seed(1)
    for _ in range(3):
        torch.randn(8, 4, generator=gen_state)
    for _ in range(4):
        x = torch.randn(8, 4, generator=gen_state)
        resumed.zero_grad()
        resumed_model(x).pow(2).mean().backward()
        resumed.step()
    for a, b in zip(reference_model.parameters(), resumed_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_dict_has_torch_layout_with_keras_state_names():
    model = _model()
    opt = optimizers.Adam(params=model.parameters(), amsgrad=True)
    _train(model, opt, steps=2)
    state = opt.state_dict()
    assert set(state) == {"state", "param_groups", "iterations"}
    assert set(state["state"][0]) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"}
    assert float(state["state"][0]["step"]) == 2.0
    opt.load_state_dict(state)
    assert float(opt.state[next(model.parameters())]["step"]) == 2.0
    rms = optimizers.RMSprop(momentum=0.9, centered=True, params=_model().parameters())
    assert set(rms.state_dict()["state"][0]) == {"velocity", "momentum", "average_gradient"}


@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_deepcopy_and_pickle_keep_hyper_parameters_and_state(cls):
    model = _model()
    opt = cls(learning_rate=0.01, params=model.parameters(), **NON_DEFAULT[cls])
    _train(model, opt, steps=2)
    clone = copy.deepcopy(opt)
    assert clone.get_config() == opt.get_config() and clone.iterations == 2
    unpickled = pickle.loads(pickle.dumps(cls(**NON_DEFAULT[cls])))
    assert unpickled.get_config() == cls(**NON_DEFAULT[cls]).get_config()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", ALL, ids=ids)
def test_cuda_matches_cpu(cls):
    cpu_model, cuda_model = _model(), _model().cuda()
    cpu_opt = cls(learning_rate=0.01, params=cpu_model.parameters())
    cuda_opt = cls(learning_rate=0.01, params=cuda_model.parameters())
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        x = torch.randn(8, 4, generator=gen)
        for model, opt, xx in ((cpu_model, cpu_opt, x), (cuda_model, cuda_opt, x.cuda())):
            opt.zero_grad()
            model(xx).pow(2).mean().backward()
            opt.step()
    for a, b in zip(cpu_model.parameters(), cuda_model.parameters()):
        torch.testing.assert_close(a, b.cpu(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ schedules


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
        (lambda: schedules.InverseTimeDecay(0.1, -1, 0.5), "decay_steps"),
        (lambda: schedules.PolynomialDecay(0.1, 0), "decay_steps"),
        (lambda: schedules.CosineDecay(0.1, 0), "decay_steps"),
        (lambda: schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1]), "one more element"),
        (lambda: schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), "increasing"),
    ],
)
def test_schedule_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
        schedules.PiecewiseConstantDecay([5, 10], [0.3, 0.2, 0.1]),
        schedules.PolynomialDecay(0.1, 10, 0.01, power=2.0, cycle=True),
        schedules.InverseTimeDecay(0.1, 10, 0.5),
        schedules.CosineDecay(0.1, 10, alpha=0.1, warmup_target=0.2, warmup_steps=3),
        schedules.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.1),
    ],
    ids=lambda s: type(s).__name__,
)
def test_schedule_round_trip_and_float_values(schedule):
    clone = schedules.deserialize(schedules.serialize(schedule))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()
    assert schedules.get(schedule) is schedule
    values = [schedule(step) for step in range(30)]
    assert all(type(v) is float for v in values) and values == [clone(s) for s in range(30)]


def test_schedule_base_needs_call_and_config():
    with pytest.raises(NotImplementedError, match="__call__"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        schedules.LearningRateSchedule().get_config()
