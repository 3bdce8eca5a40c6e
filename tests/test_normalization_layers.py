"""Normalization, regularization, preprocessing and activation layers: errors, configs, lazy
builds, in-place state updates and the statistics of the random layers (Keras parity lives in
tests/parity/test_normalization_layers_parity.py)."""
import math
import warnings

import numpy as np
import pytest
import torch

from torchkeras_lite import config, layers
from torchkeras_lite.layers import (ELU, ActivityRegularization, AlphaDropout,
                                    BatchNormalization, GaussianDropout, GaussianNoise,
                                    GroupNormalization, LayerNormalization, LeakyReLU,
                                    Normalization, PReLU, ReLU, Rescaling, RMSNormalization,
                                    Softmax, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
                                    UnitNormalization)

ALL_CLASSES = [
    (BatchNormalization, dict(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                              gamma_regularizer="l2", beta_constraint="non_neg", renorm=True,
                              renorm_clipping={"rmax": 3.0})),
    (LayerNormalization, dict(axis=[1, 2], epsilon=1e-5, scale=False, beta_regularizer="l1")),
    (GroupNormalization, dict(groups=-1, axis=1, gamma_initializer="random_normal")),
    (RMSNormalization, dict(axis=[-2, -1], epsilon=1e-4)),
    (UnitNormalization, dict(axis=[1, 2])),
    (SpatialDropout1D, dict(rate=0.2, seed=3)),
    (SpatialDropout2D, dict(rate=0.2, data_format="channels_first")),
    (SpatialDropout3D, dict(rate=0.1)),
    (GaussianNoise, dict(stddev=0.3, seed=1)),
    (GaussianDropout, dict(rate=0.4)),
    (AlphaDropout, dict(rate=0.1, noise_shape=(None, 1), seed=2)),
    (ActivityRegularization, dict(l1=0.1, l2=0.2)),
    (Rescaling, dict(scale=np.array([1.0, 2.0]), offset=-1.0)),
    (Normalization, dict(axis=(1, 2), mean=[1.0, 2.0], variance=[3.0, 4.0], invert=True)),
    (ReLU, dict(max_value=6.0, negative_slope=0.1, threshold=0.5)),
    (LeakyReLU, dict(negative_slope=0.1)),
    (PReLU, dict(alpha_initializer="ones", alpha_regularizer="l2", alpha_constraint="non_neg",
                 shared_axes=[1, 2])),
    (ELU, dict(alpha=0.7)),
    (Softmax, dict(axis=[1, 2])),
]


@pytest.mark.parametrize("cls,kwargs", ALL_CLASSES, ids=[c.__name__ for c, _ in ALL_CLASSES])
def test_config_round_trip(cls, kwargs):
    layer = cls(**kwargs)
    config_ = layer.get_config()
    clone = cls.from_config(config_)
    assert clone.get_config() == config_
    again = layers.deserialize({"class_name": cls.__name__, "config": config_})
    assert type(again) is cls and again.get_config() == config_


@pytest.mark.parametrize("cls,kwargs", ALL_CLASSES, ids=[c.__name__ for c, _ in ALL_CLASSES])
def test_layers_are_in_the_catalog_and_run_on_a_lazily_built_input(cls, kwargs):
    assert layers.get(cls.__name__) is cls
    layer = cls(**kwargs)
    x = torch.rand(2, 2, 2, 3) if cls is SpatialDropout2D else torch.rand(2, 3, 2)
    if cls is SpatialDropout3D:
        x = torch.rand(2, 2, 2, 2, 3)
    if cls is BatchNormalization:
        x = torch.rand(4, 3, 2)
    out = layer(x)
    assert layer.built and out.shape == x.shape
    assert tuple(layer.compute_output_shape((None,) + tuple(x.shape[1:]))) == \
        (None,) + tuple(x.shape[1:])


@pytest.mark.parametrize("cls,kwargs,weights", [
    (BatchNormalization, {}, [(5,)] * 4),
    (BatchNormalization, dict(center=False, scale=False), [(5,)] * 2),
    (LayerNormalization, {}, [(5,)] * 2),
    (GroupNormalization, dict(groups=5), [(5,)] * 2),
    (RMSNormalization, {}, [(5,)]),
    (PReLU, {}, [(3, 5)]),
    (Normalization, {}, [(5,), (5,), ()]),
])
def test_input_shape_builds_at_construction(cls, kwargs, weights):
    layer = cls(input_shape=(3, 5), **kwargs)
    assert layer.built
    assert [w.shape for w in layer.get_weights()] == weights


# ----------------------------------------------------------------------------- BatchNormalization
def test_batch_norm_updates_moving_stats_in_place_without_autograd():
    bn = BatchNormalization(momentum=0.5)
    x = torch.randn(32, 3) * 2 + 1
    bn(x)  # build
    mean_ptr, var_ptr = bn.moving_mean.data_ptr(), bn.moving_variance.data_ptr()
    x.requires_grad_(True)
    out = bn(x, training=True)
    assert bn.moving_mean.data_ptr() == mean_ptr and bn.moving_variance.data_ptr() == var_ptr
    assert bn.moving_mean.grad_fn is None and not bn.moving_mean.requires_grad
    expected_var = 0.5 + 0.5 * x.detach().var(0, unbiased=False)
    torch.testing.assert_close(bn.moving_mean.detach(), 0.5 * x.detach().mean(0))
    torch.testing.assert_close(bn.moving_variance.detach(), expected_var)
    out.sum().backward()  # the in-place update does not break the graph
    assert bn.gamma.grad is not None and x.grad is not None


def test_batch_norm_inference_leaves_moving_stats_and_train_mode_uses_batch_stats():
    bn = BatchNormalization()
    x = torch.randn(16, 4) * 3 + 2
    bn(x)
    before = bn.get_weights()
    torch.testing.assert_close(bn(x), (x - 0) / math.sqrt(1 + 1e-3))
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    bn.train()
    y = bn(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    assert not np.allclose(bn.get_weights()[2], before[2])


def test_batch_norm_trains_on_a_batch_of_one():
    bn = BatchNormalization()
    out = bn(torch.randn(1, 3), training=True)  # torch's F.batch_norm would raise here
    torch.testing.assert_close(out, torch.zeros(1, 3), atol=1e-5, rtol=0)


def test_batch_norm_frozen_in_fit_keeps_its_state():
    from torchkeras_lite.models import Sequential
    bn = BatchNormalization(trainable=False)
    model = Sequential([layers.Input((4,)), bn, layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", device="cpu")
    before = bn.get_weights()
    model.fit(np.random.rand(20, 4).astype("float32") * 5, np.zeros((20, 1), "float32"),
              verbose=0)
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    bn.trainable = True
    model.fit(np.random.rand(20, 4).astype("float32") * 5, np.zeros((20, 1), "float32"),
              verbose=0)
    assert not np.allclose(before[2], bn.get_weights()[2])


def test_batch_norm_channels_first_4d_normalizes_axis_1():
    bn = BatchNormalization(axis=1, momentum=0.0)
    x = torch.randn(4, 3, 5, 6) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    out = bn(x, training=True)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(bn.moving_variance.detach(),
                               x.var(dim=(0, 2, 3), unbiased=False))


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(axis=[1, 2]), TypeError, "axis must be an integer"),
    (dict(momentum=1.5), ValueError, r"momentum must be a float in \[0, 1\]"),
    (dict(epsilon=0), ValueError, "epsilon must be a positive number"),
    (dict(synchronized=True), ValueError, r"synchronized=True \(batch statistics shared"),
    (dict(renorm=True, renorm_clipping={"rmaxx": 2}), ValueError, "only the keys"),
    (dict(renorm=True, renorm_clipping={"rmax": 1, "rmin": 2}), ValueError, "rmax >= rmin"),
    (dict(renorm=True, renorm_clipping={"dmax": -1}), ValueError, "dmax >= 0"),
])
def test_batch_norm_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        BatchNormalization(**kwargs)


def test_batch_norm_input_errors():
    bn = BatchNormalization(name="bn")
    with pytest.raises(ValueError, match=r"axis 3 is out of range for inputs of rank 2"):
        BatchNormalization(axis=3).build((None, 4))
    with pytest.raises(ValueError, match="needs the size of the normalized axes"):
        bn.build((None, None))
    bn.build((None, 4))
    with pytest.raises(ValueError, match=r"'bn' was built for inputs of rank 2 with 4 features.*"
                                         r"received shape \(2, 5\)"):
        bn(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"rank 2 .* received shape \(2, 3, 4\)"):
        bn(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="mask must have one axis less than the inputs"):
        bn(torch.zeros(2, 4), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        BatchNormalization(axis=2).compute_output_shape((None, 3))


# ------------------------------------------------------------------ other normalization layers
def test_layer_norm_normalizes_each_sample_and_any_rank_with_default_axis():
    ln = LayerNormalization()
    x = torch.randn(2, 3, 8) * 5 + 3
    y = ln(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)
    assert ln(torch.randn(4, 8)).shape == (4, 8)  # axis -1 fits any rank, as in Keras


def test_layer_norm_errors():
    with pytest.raises(TypeError, match="axis must be an int or a list/tuple of ints"):
        LayerNormalization(axis="last")
    with pytest.raises(ValueError, match="axis must not repeat an axis"):
        LayerNormalization(axis=[1, 1])
    with pytest.raises(ValueError, match="epsilon must be a positive number"):
        LayerNormalization(epsilon=-1)
    ln = LayerNormalization(name="ln")
    ln.build((None, 4))
    with pytest.raises(ValueError, match=r"'ln' was built to normalize axes \[1\] of size "
                                         r"\(4,\).*received shape \(2, 5\)"):
        ln(torch.zeros(2, 5))
    fixed = LayerNormalization(axis=[1, 2])
    fixed.build((None, 3, 4))
    with pytest.raises(ValueError, match=r"received shape \(2, 3, 4, 5\)"):
        fixed(torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="the same input axis twice"):
        LayerNormalization(axis=[1, -1]).build((None, 3))
    with pytest.raises(ValueError, match="axis 2 is out of range for inputs of rank 2"):
        LayerNormalization(axis=2).build((None, 3))


def test_group_norm_errors():
    for groups in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="groups must be a positive integer"):
            GroupNormalization(groups=groups)
    with pytest.raises(ValueError, match=r"groups \(8\) cannot be more than the number of "
                                         r"channels \(6\)"):
        GroupNormalization(groups=8).build((None, 6))
    with pytest.raises(ValueError, match=r"channels \(6\) on axis -1 must be a multiple of "
                                         r"groups \(4\)"):
        GroupNormalization(groups=4).build((None, 6))
    with pytest.raises(ValueError, match="is the batch axis"):
        GroupNormalization(groups=1, axis=0).build((None, 6))
    gn = GroupNormalization(groups=2)
    gn.build((None, 5, 4))
    with pytest.raises(ValueError, match=r"received shape \(2, 5, 6\)"):
        gn(torch.zeros(2, 5, 6))


def test_group_norm_instance_mode_keeps_config_and_normalizes_each_channel():
    gn = GroupNormalization(groups=-1)
    y = gn(torch.randn(3, 7, 4) * 4 + 1)
    torch.testing.assert_close(y.mean(1), torch.zeros(3, 4), atol=1e-5, rtol=0)
    assert gn.get_config()["groups"] == -1


def test_unit_and_rms_norm():
    x = torch.randn(4, 6)
    torch.testing.assert_close(UnitNormalization()(x).norm(dim=-1), torch.ones(4))
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        UnitNormalization(axis=3)(x)
    with pytest.raises(TypeError, match="axis must be an int"):
        UnitNormalization(axis=None)
    y = RMSNormalization()(x)
    torch.testing.assert_close(y.square().mean(-1), torch.ones(4), atol=1e-4, rtol=0)


# -------------------------------------------------------------------------- regularization
@pytest.mark.parametrize("cls", [SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
                                 GaussianDropout, AlphaDropout])
@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5"])
def test_rate_errors(cls, rate):
    with pytest.raises(ValueError, match=r"rate must be a float in \[0, 1\)"):
        cls(rate)


def test_noise_and_seed_errors():
    with pytest.raises(ValueError, match=r"stddev must be a float in \[0, 1\]"):
        GaussianNoise(1.5)
    with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
        GaussianNoise(0.1, seed="a")
    with pytest.raises(ValueError, match="noise_shape must contain positive integers or None"):
        AlphaDropout(0.1, noise_shape=(0, None))
    with pytest.raises(ValueError, match="noise_shape .* must have one entry per input axis"):
        AlphaDropout(0.1, noise_shape=(None,))(torch.zeros(2, 3), training=True)
    with pytest.raises(ValueError, match="data_format must be 'channels_last' or"):
        SpatialDropout2D(0.1, data_format="nhwc")


@pytest.mark.parametrize("cls,shape,layout", [
    (SpatialDropout1D, (2, 3), r"3D input \(batch, steps, channels\)"),
    (SpatialDropout2D, (2, 3, 4), "4D input"),
    (SpatialDropout3D, (2, 3, 4, 5), "5D input"),
])
def test_spatial_dropout_rank_errors(cls, shape, layout):
    with pytest.raises(ValueError, match=layout + r".*got shape"):
        cls(0.5)(torch.zeros(shape))


@pytest.mark.parametrize("cls,shape,channel_axis,kwargs", [
    (SpatialDropout1D, (64, 10, 32), 2, {}),
    (SpatialDropout2D, (64, 5, 5, 32), 3, {}),
    (SpatialDropout2D, (64, 32, 5, 5), 1, dict(data_format="channels_first")),
    (SpatialDropout3D, (32, 3, 3, 3, 32), 4, {}),
])
def test_spatial_dropout_drops_whole_channels(cls, shape, channel_axis, kwargs):
    layer = cls(0.4, seed=0, **kwargs)
    x = torch.ones(shape)
    assert layer(x) is x
    y = layer(x, training=True)
    assert set(torch.unique(y).tolist()) <= {0.0, torch.tensor(1 / 0.6).item()}
    moved = y.movedim(channel_axis, 1).reshape(shape[0], shape[channel_axis], -1)
    assert bool((moved == moved[..., :1]).all())  # constant over each channel's positions
    assert 0.33 < (moved[..., 0] == 0).float().mean().item() < 0.47
    torch.testing.assert_close(y.mean(), torch.tensor(1.0), atol=0.06, rtol=0)


def test_gaussian_noise_and_dropout_statistics():
    x = torch.ones(400, 500)
    noisy = GaussianNoise(0.5, seed=0)(x, training=True) - x
    assert abs(noisy.mean().item()) < 0.01 and abs(noisy.std().item() - 0.5) < 0.01
    y = GaussianDropout(0.2, seed=0)(x, training=True)
    assert abs(y.mean().item() - 1) < 0.01 and abs(y.std().item() - math.sqrt(0.25)) < 0.01
    for layer in (GaussianNoise(0.5), GaussianDropout(0.2)):
        assert layer(x) is x


def test_alpha_dropout_keeps_selu_moments_and_noise_shape():
    x = torch.randn(400, 500)
    layer = AlphaDropout(0.3, seed=1)
    y = layer(x, training=True)
    assert abs(y.mean().item()) < 0.02 and abs(y.std().item() - 1) < 0.02
    alpha_p = 1.0507009873554805 * -1.6732632423543772  # SELU's saturation value
    a = ((1 - 0.3) * (1 + 0.3 * alpha_p ** 2)) ** -0.5
    dropped = torch.isclose(y, torch.tensor(a * alpha_p - a * alpha_p * 0.3))
    assert 0.27 < dropped.float().mean().item() < 0.33
    shared = AlphaDropout(0.5, noise_shape=(None, 1), seed=0)(torch.zeros(64, 8), training=True)
    assert bool((shared == shared[:, :1]).all())
    assert layer(x) is x


@pytest.mark.parametrize("make", [
    lambda s: SpatialDropout1D(0.5, seed=s), lambda s: GaussianNoise(0.5, seed=s),
    lambda s: GaussianDropout(0.5, seed=s), lambda s: AlphaDropout(0.5, seed=s),
])
def test_seeded_random_layers_are_reproducible(make):
    x = torch.randn(8, 4, 6)
    a, b, c = make(3), make(3), make(4)
    first = a(x, training=True)
    torch.testing.assert_close(first, b(x, training=True))
    assert not torch.equal(first, c(x, training=True))
    assert not torch.equal(first, a(x, training=True))  # the sequence moves on


def test_activity_regularization_penalty_is_normalised_by_batch_size():
    layer = ActivityRegularization(l1=0.1, l2=0.5)
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert layer(x) is x
    (penalty,) = layer.losses
    torch.testing.assert_close(penalty, torch.tensor((0.1 * 6 + 0.5 * 14) / 2))
    assert "activity_regularizer" not in layer.get_config()
    with pytest.raises(ValueError, match="l1 must be a non-negative finite number"):
        ActivityRegularization(l1=-1)


# ---------------------------------------------------------------------------- preprocessing
def test_rescaling_casts_integers_and_config_holds_lists():
    layer = Rescaling(np.array([1.0, 0.5]), offset=[0.0, 1.0])
    out = layer(torch.tensor([[2, 4]], dtype=torch.uint8))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[2.0, 3.0]]))
    assert layer.get_config()["scale"] == [1.0, 0.5]
    keras_style = {"class_name": "__numpy__", "config": {"value": [2.0, 3.0], "dtype": "float64"}}
    assert Rescaling(keras_style).get_config()["scale"] == [2.0, 3.0]
    with pytest.raises(TypeError, match="scale must be a number or an array of numbers"):
        Rescaling("half")


def test_rescaling_channels_first_aligns_per_channel_scale():
    previous = config.image_data_format()
    config.set_image_data_format("channels_first")
    try:
        layer = Rescaling([1.0, 10.0], offset=[0.0, 1.0])
        out = layer(torch.ones(1, 2, 3, 3))
    finally:
        config.set_image_data_format(previous)
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([1.0, 11.0]))


def test_normalization_adapt_sources_and_invert():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 4)).astype("float32")
    expected_mean, expected_var = data.mean(0), data.var(0)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(data), torch.zeros(100))
    loader = torch.utils.data.DataLoader(dataset, batch_size=32)
    for source in (data, torch.from_numpy(data), loader, (b for b in np.split(data, 4))):
        layer = Normalization()
        layer.adapt(source)
        mean, var, count = layer.get_weights()
        np.testing.assert_allclose(mean, expected_mean, rtol=1e-5)
        np.testing.assert_allclose(var, expected_var, rtol=1e-4)
        assert count.dtype == np.int32
    x = torch.from_numpy(data[:5])
    y = layer(x)
    restore = Normalization(mean=mean, variance=var, invert=True)
    torch.testing.assert_close(restore(y), x, rtol=1e-5, atol=1e-5)
    ints = Normalization(axis=None)
    ints.adapt(torch.tensor([[1], [3]]))
    np.testing.assert_allclose(ints.get_weights()[:2], [2.0, 1.0])


def test_normalization_errors():
    with pytest.raises(ValueError, match="Give both mean and variance, or neither"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match=r"at most as many axes as axis \(1 for axis=\(-1,\)\)"):
        Normalization(mean=np.ones((2, 2)), variance=np.ones((2, 2)))
    with pytest.raises(ValueError, match="variance must be non-negative"):
        Normalization(mean=0.0, variance=-1.0)
    with pytest.raises(TypeError, match="axis must be an int, a tuple of ints or None"):
        Normalization(axis="x")
    with pytest.raises(ValueError, match=r"axis \(3,\) is out of range for inputs of rank 2"):
        Normalization(axis=3).build((None, 4))
    with pytest.raises(ValueError, match="kept axes .* must have known sizes"):
        Normalization().build((None, None))
    with pytest.raises(ValueError, match="do not broadcast to the kept axes"):
        Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0])(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="was given mean and variance; adapt"):
        Normalization(mean=0.0, variance=1.0).adapt(np.zeros((2, 3)))
    layer = Normalization()
    layer.adapt(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(4, 3\).*data of shape "
                                         r"\(4, 5\)"):
        layer.adapt(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="empty iterable"):
        Normalization().adapt([])
    with pytest.raises(TypeError, match="iterable of arrays or tensors with a .shape"):
        Normalization().adapt([1.0, 2.0])
    with pytest.raises(TypeError, match="got int"):
        Normalization().adapt(3)


# ------------------------------------------------------------------------------- activations
@pytest.mark.parametrize("kwargs,match", [
    (dict(max_value=-1.0), "max_value must be a non-negative number"),
    (dict(negative_slope=None), "negative_slope must be a non-negative number"),
    (dict(threshold=-0.5), "threshold must be a non-negative number"),
])
def test_relu_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReLU(**kwargs)


def test_leaky_relu_alpha_is_deprecated_alias():
    with pytest.warns(UserWarning, match="alpha is deprecated"):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1
    with pytest.raises(ValueError, match="negative_slope must be a non-negative number"):
        LeakyReLU(-0.2)


def test_prelu_errors_and_weight_layout():
    with pytest.raises(TypeError, match="shared_axes must be an int or a list of ints"):
        PReLU(shared_axes="1")
    with pytest.raises(ValueError, match=r"shared_axes entries must be non-batch axes"):
        PReLU(shared_axes=[0]).build((None, 3))
    with pytest.raises(ValueError, match="needs every non-shared input axis to have a known"):
        PReLU().build((None, None, 3))
    layer = PReLU(shared_axes=[-2])  # negative axes count from the end
    layer.build((None, 4, 3))
    assert layer.alpha.shape == (1, 3)
    layer.set_weights([np.array([[0.5, 1.0, 2.0]], "float32")])
    out = layer(torch.full((2, 4, 3), -1.0))
    torch.testing.assert_close(out[0, 0], torch.tensor([-0.5, -1.0, -2.0]))
    with pytest.raises(ValueError, match=r"built for samples of shape \(1, 3\)"):
        layer(torch.zeros(2, 4, 5))
    full = PReLU()
    full.build((None, 3, 2))
    with pytest.raises(ValueError, match=r"received input shape \(2, 1, 2\)"):
        full(torch.zeros(2, 1, 2))  # would broadcast silently


def test_softmax_mask_from_the_input_and_errors():
    x = torch.zeros(2, 4)
    x._keras_mask = torch.tensor([[True, True, False, False], [True] * 4])
    out = Softmax()(x)
    torch.testing.assert_close(out, torch.tensor([[0.5, 0.5, 0, 0], [0.25] * 4]))
    assert torch.equal(out._keras_mask, x._keras_mask)
    with pytest.raises(ValueError, match="mask must be broadcastable to the inputs"):
        Softmax()(torch.zeros(2, 4), mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="axis must be an int"):
        Softmax(axis="last")


def test_elu_and_leaky_relu_values():
    x = torch.tensor([-1.0, 2.0])
    torch.testing.assert_close(ELU(0.5)(x), torch.tensor([0.5 * (math.exp(-1) - 1), 2.0]))
    torch.testing.assert_close(LeakyReLU()(x), torch.tensor([-0.3, 2.0]))
    with pytest.raises(TypeError, match="alpha must be a number"):
        ELU("1")


def test_masks_pass_through_these_layers():
    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for layer in (LayerNormalization(), BatchNormalization(), GaussianNoise(0.1),
                      ReLU(), PReLU(), Rescaling(2.0), UnitNormalization()):
            assert torch.equal(layer(x)._keras_mask, x._keras_mask)
