"""Normalization, regularization, preprocessing and activation layers against real Keras 3.

Weights are copied from the Keras layer into ours, then forward passes (inference and, where
deterministic, training), gradients, moving statistics, output shapes and weight shapes are
compared. Tolerances: 1e-5 absolute; where Keras and torch compute the same formula with
different kernels (e.g. Keras's E[x^2] - E[x]^2 batch variance vs torch's Welford), the float32
results differ by a few ulps, far below that.
"""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers

ATOL = 1e-5

# Keras's own numpy-2 noise, not ours.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # Tiny tensors: threads do not help, and on a busy machine spinning threads slow the run.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _rand(shape, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale + shift).astype("float32")


def _keras(K, klayer, x, **kwargs):
    return K.ops.convert_to_numpy(klayer(x, **kwargs))


def _ours(layer, x, **kwargs):
    return layer(torch.from_numpy(x), **kwargs).detach().numpy()


def _copy(klayer, ours, input_shape):
    ours.build(input_shape)
    kweights = klayer.get_weights()
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in kweights]
    ours.set_weights(kweights)


def _randomize(klayer, seed=1):
    """Random gamma/beta/alpha and positive variances, so that no weight is a trivial 1 or 0."""
    rng = np.random.default_rng(seed)
    new = []
    for w, v in zip(klayer.get_weights(), klayer.weights):
        if "variance" in v.name or "stddev" in v.name:
            new.append(rng.uniform(0.5, 2.0, size=w.shape).astype(w.dtype))
        elif w.dtype.kind == "f":
            new.append(rng.normal(size=w.shape).astype(w.dtype))
        else:
            new.append(w)
    klayer.set_weights(new)


def _grads(layer_call, x, weights, seed=3):
    """Gradients of a random projection of the output w.r.t. the input and ``weights``."""
    xt = torch.tensor(x, requires_grad=True)
    y = layer_call(xt)
    proj = torch.from_numpy(_rand(tuple(y.shape), seed=seed))
    (y * proj).sum().backward()
    return [xt.grad.numpy()] + [w.grad.detach().numpy().copy() for w in weights]


def _keras_trainable_params(klayer):
    return [v.value for v in klayer.trainable_weights]


# --------------------------------------------------------------------------- BatchNormalization
BN_CASES = [((6, 4), -1), ((4, 5, 3), -1), ((4, 5, 3), 1), ((2, 3, 4, 5), -1),
            ((2, 3, 4, 5), 1), ((2, 3, 4, 5), 2), ((3, 2, 2, 3, 4), -1)]


@pytest.mark.parametrize("shape,axis", BN_CASES)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False),
                                          (False, False)])
def test_batch_norm_inference_and_training_match_keras(K, shape, axis, center, scale):
    x = _rand(shape, shift=0.5, scale=2.0)
    kwargs = dict(axis=axis, center=center, scale=scale)
    klayer = K.layers.BatchNormalization(**kwargs)
    klayer.build(shape)
    _randomize(klayer)
    ours = layers.BatchNormalization(**kwargs)
    _copy(klayer, ours, shape)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)
    np.testing.assert_allclose(_ours(ours, x, training=True),
                               _keras(K, klayer, x, training=True), atol=ATOL)
    for ours_w, keras_w in zip(ours.get_weights(), klayer.get_weights()):
        np.testing.assert_allclose(ours_w, keras_w, atol=1e-6)
    assert ours.compute_output_shape((None,) + shape[1:]) == \
        tuple(klayer.compute_output_shape((None,) + shape[1:]))


@pytest.mark.parametrize("shape,axis", [((16, 3), -1), ((8, 4, 4, 3), -1), ((8, 3, 4, 4), 1)])
@pytest.mark.parametrize("momentum,epsilon", [(0.99, 1e-3), (0.9, 1e-5)])
def test_batch_norm_moving_statistics_after_five_steps_match_keras(K, shape, axis, momentum,
                                                                    epsilon):
    klayer = K.layers.BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon)
    klayer.build(shape)
    ours = layers.BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon)
    _copy(klayer, ours, shape)
    ours.train()
    for step in range(5):
        x = _rand(shape, seed=step, scale=1.0 + step, shift=step - 2.0)
        np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x, training=True),
                                   atol=ATOL)
    for ours_w, keras_w in zip(ours.get_weights(), klayer.get_weights()):
        # moving stats of order 1-10: a few float32 ulps of accumulated rounding
        np.testing.assert_allclose(ours_w, keras_w, rtol=1e-6, atol=1e-6)
    # Not torch's BatchNorm: the variance moves towards the biased batch variance.
    assert not np.allclose(ours.get_weights()[3], 1.0)
    ours.eval()
    x = _rand(shape, seed=9)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)


@pytest.mark.parametrize("shape,axis", [((6, 4), -1), ((2, 3, 4, 5), 1)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients_match_keras(K, shape, axis, training):
    x = _rand(shape, shift=1.0)
    klayer = K.layers.BatchNormalization(axis=axis)
    klayer.build(shape)
    _randomize(klayer)
    ours = layers.BatchNormalization(axis=axis)
    _copy(klayer, ours, shape)
    expected = _grads(lambda t: klayer(t, training=training), x,
                      _keras_trainable_params(klayer))
    got = _grads(lambda t: ours(t, training=training), x, ours.trainable_weights)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


def test_batch_norm_frozen_runs_in_inference_mode_like_keras(K):
    shape = (8, 3)
    x = _rand(shape, shift=3.0)
    klayer = K.layers.BatchNormalization()
    klayer.build(shape)
    _randomize(klayer)
    klayer.trainable = False
    ours = layers.BatchNormalization()
    _copy(klayer, ours, shape)
    ours.trainable = False
    before = ours.get_weights()
    np.testing.assert_allclose(_ours(ours, x, training=True),
                               _keras(K, klayer, x, training=True), atol=ATOL)
    np.testing.assert_allclose(_ours(ours, x, training=True), _ours(ours, x), atol=0)
    for a, b in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ours.trainable_weights == []


@pytest.mark.parametrize("clipping", [None, {"rmax": 1.5, "rmin": 0.7, "dmax": 0.5}])
def test_batch_norm_renorm_matches_keras(K, clipping):
    shape = (16, 5)
    kwargs = dict(renorm=True, renorm_clipping=clipping, renorm_momentum=0.9, momentum=0.8)
    klayer = K.layers.BatchNormalization(**kwargs)
    klayer.build(shape)
    ours = layers.BatchNormalization(**kwargs)
    _copy(klayer, ours, shape)
    assert [w.name for w in klayer.weights] == ours._weight_names
    for step in range(4):
        x = _rand(shape, seed=step, scale=1.0 + step, shift=step)
        np.testing.assert_allclose(_ours(ours, x, training=True),
                                   _keras(K, klayer, x, training=True), atol=ATOL)
    for ours_w, keras_w in zip(ours.get_weights(), klayer.get_weights()):
        np.testing.assert_allclose(ours_w, keras_w, rtol=1e-6, atol=1e-6)
    x = _rand(shape, seed=7)
    klayer.set_weights(ours.get_weights())
    got = _grads(lambda t: ours(t, training=True), x, ours.trainable_weights)
    expected = _grads(lambda t: klayer(t, training=True), x, _keras_trainable_params(klayer))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


def test_batch_norm_mask_excludes_positions_like_keras(K):
    shape = (4, 6, 3)
    x = _rand(shape, shift=1.0, scale=2.0)
    mask = np.random.default_rng(5).uniform(size=shape[:2]) > 0.4
    klayer = K.layers.BatchNormalization()
    klayer.build(shape)
    ours = layers.BatchNormalization()
    _copy(klayer, ours, shape)
    expected = _keras(K, klayer, x, training=True, mask=mask)
    got = _ours(ours, x, training=True, mask=torch.from_numpy(mask))
    np.testing.assert_allclose(got, expected, atol=ATOL)
    for ours_w, keras_w in zip(ours.get_weights(), klayer.get_weights()):
        np.testing.assert_allclose(ours_w, keras_w, atol=1e-6)


# --------------------------------------------------------------------------- LayerNormalization
LN_KERAS_AXES = [((4, 6), -1), ((3, 4, 5), -1), ((3, 4, 5), [-2, -1]), ((2, 3, 4, 5), [1, 2, 3]),
                 ((2, 3, 4, 5), [1, 3])]


@pytest.mark.parametrize("shape,axis", LN_KERAS_AXES)
@pytest.mark.parametrize("center,scale", [(True, True), (False, True), (True, False)])
def test_layer_norm_matches_keras(K, shape, axis, center, scale):
    x = _rand(shape, shift=2.0, scale=3.0)
    kwargs = dict(axis=axis, center=center, scale=scale, epsilon=1e-3)
    klayer = K.layers.LayerNormalization(**kwargs)
    klayer.build(shape)
    _randomize(klayer)
    ours = layers.LayerNormalization(**kwargs)
    _copy(klayer, ours, shape)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)
    got = _grads(ours, x, ours.trainable_weights)
    expected = _grads(klayer, x, _keras_trainable_params(klayer))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)
    out_shape = (None,) + shape[1:]
    assert ours.compute_output_shape(out_shape) == tuple(klayer.compute_output_shape(out_shape))


def test_layer_norm_rms_scaling_matches_keras(K):
    shape = (3, 4, 5)
    x = _rand(shape, shift=1.0)
    with pytest.warns(UserWarning):
        klayer = K.layers.LayerNormalization(rms_scaling=True)
    klayer.build(shape)
    _randomize(klayer)
    with pytest.warns(UserWarning, match="deprecated"):
        ours = layers.LayerNormalization(rms_scaling=True)
    _copy(klayer, ours, shape)
    assert [w.name for w in klayer.weights] == ["gamma"]
    with pytest.warns(UserWarning):  # Keras warns again on every call
        expected = _keras(K, klayer, x)
    np.testing.assert_allclose(_ours(ours, x), expected, atol=ATOL)


@pytest.mark.parametrize("shape,axis", [((3, 4, 5), 1), ((2, 3, 4, 5), [1, 2]),
                                        ((2, 3, 4, 5), [0, 2])])
def test_layer_norm_non_trailing_axes_match_numpy(shape, axis):
    # Keras's torch backend sends contiguous non-trailing axes to F.layer_norm, which
    # normalizes the trailing axes instead (it raises, or is silently wrong when the sizes
    # coincide); we normalize the requested axes. Reference: the textbook formula.
    x = _rand(shape, shift=1.0, scale=2.0)
    layer = layers.LayerNormalization(axis=axis)
    layer.build(shape)
    gamma = _rand(layer.gamma.shape, seed=4)
    beta = _rand(layer.beta.shape, seed=5)
    layer.set_weights([gamma, beta])
    axes = tuple(sorted(a % len(shape) for a in np.atleast_1d(axis)))
    bshape = [shape[d] if d in axes else 1 for d in range(len(shape))]
    mean = x.astype("float64").mean(axis=axes, keepdims=True)
    var = x.astype("float64").var(axis=axes, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-3) * gamma.reshape(bshape) + beta.reshape(bshape)
    np.testing.assert_allclose(_ours(layer, x), expected, atol=ATOL)


# ----------------------------------------------------------------- Group/RMS/Unit normalization
@pytest.mark.parametrize("shape,groups,axis", [
    ((4, 6), 2, -1), ((3, 5, 8), 4, -1), ((3, 5, 8), -1, -1), ((3, 5, 8), 1, -1),
    ((2, 4, 4, 6), 3, -1), ((2, 6, 4, 4), 3, 1), ((2, 4, 6, 5), 2, 2),
])
@pytest.mark.parametrize("center,scale", [(True, True), (False, False)])
def test_group_norm_matches_keras(K, shape, groups, axis, center, scale):
    x = _rand(shape, shift=1.0, scale=2.0)
    kwargs = dict(groups=groups, axis=axis, center=center, scale=scale)
    klayer = K.layers.GroupNormalization(**kwargs)
    klayer.build(shape)
    _randomize(klayer)
    ours = layers.GroupNormalization(**kwargs)
    _copy(klayer, ours, shape)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)
    got = _grads(ours, x, ours.trainable_weights)
    expected = _grads(klayer, x, _keras_trainable_params(klayer))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)
    out_shape = (None,) + shape[1:]
    assert ours.compute_output_shape(out_shape) == tuple(klayer.compute_output_shape(out_shape))


@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((3, 4, 5), [-2, -1]),
                                        ((2, 3, 4, 5), [1, 2, 3])])
def test_rms_norm_matches_keras(K, shape, axis):
    x = _rand(shape, shift=0.5)
    klayer = K.layers.RMSNormalization(axis=axis, epsilon=1e-5)
    klayer.build(shape)
    _randomize(klayer)
    ours = layers.RMSNormalization(axis=axis, epsilon=1e-5)
    _copy(klayer, ours, shape)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)
    got = _grads(ours, x, ours.trainable_weights)
    expected = _grads(klayer, x, _keras_trainable_params(klayer))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-4)


@pytest.mark.parametrize("shape,axis", [((3, 4, 5), 1), ((2, 3, 4, 5), [1, 3])])
def test_rms_norm_non_trailing_axes_match_numpy(shape, axis):
    # Keras's torch backend handles only trailing axes here (F.rms_norm on the wrong axes, or
    # an unreshaped scale); we normalize the requested axes. Reference: the formula.
    x = _rand(shape, shift=0.5)
    layer = layers.RMSNormalization(axis=axis)
    layer.build(shape)
    scale = _rand(layer.scale.shape, seed=4)
    layer.set_weights([scale])
    axes = tuple(sorted(a % len(shape) for a in np.atleast_1d(axis)))
    bshape = [shape[d] if d in axes else 1 for d in range(len(shape))]
    ms = np.square(x.astype("float64")).mean(axis=axes, keepdims=True)
    expected = x / np.sqrt(ms + 1e-6) * scale.reshape(bshape)
    np.testing.assert_allclose(_ours(layer, x), expected, atol=ATOL)


@pytest.mark.parametrize("shape,axis", [((4, 6), -1), ((3, 4, 5), 1), ((2, 3, 4, 5), [1, 2])])
def test_unit_norm_matches_keras(K, shape, axis):
    x = _rand(shape)
    x[0] = 0.0  # an all-zero sample stays zero
    klayer = K.layers.UnitNormalization(axis=axis)
    ours = layers.UnitNormalization(axis=axis)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)
    x[0] = 1.0
    got = _grads(ours, x, [])
    expected = _grads(klayer, x, [])
    np.testing.assert_allclose(got[0], expected[0], atol=1e-4)
    assert ours.compute_output_shape((None,) + shape[1:]) == \
        tuple(klayer.compute_output_shape((None,) + shape[1:]))


# ----------------------------------------------------------------------------- activation layers
@pytest.mark.parametrize("max_value", [None, 6.0, 1.5])
@pytest.mark.parametrize("negative_slope", [0.0, 0.1])
@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_relu_matches_keras(K, max_value, negative_slope, threshold):
    x = _rand((4, 7), scale=4.0)
    kwargs = dict(max_value=max_value, negative_slope=negative_slope, threshold=threshold)
    np.testing.assert_allclose(_ours(layers.ReLU(**kwargs), x),
                               _keras(K, K.layers.ReLU(**kwargs), x), atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda m: m.LeakyReLU(), lambda m: m.LeakyReLU(negative_slope=0.05),
    lambda m: m.ELU(), lambda m: m.ELU(alpha=0.4),
    lambda m: m.Softmax(), lambda m: m.Softmax(axis=1), lambda m: m.Softmax(axis=[1, 2]),
    lambda m: m.Softmax(axis=[2]),
])
def test_parameter_free_activation_layers_match_keras(K, make):
    x = _rand((3, 4, 5), scale=3.0)
    np.testing.assert_allclose(_ours(make(layers), x), _keras(K, make(K.layers), x), atol=1e-6)
    got = _grads(make(layers), x, [])
    expected = _grads(make(K.layers), x, [])
    np.testing.assert_allclose(got[0], expected[0], atol=1e-5)


@pytest.mark.parametrize("mask_shape", [(3, 4, 5), (3, 1, 5), (5,)])
def test_softmax_mask_matches_keras(K, mask_shape):
    x = _rand((3, 4, 5))
    mask = np.random.default_rng(2).uniform(size=mask_shape) > 0.4
    mask[..., 0] = False
    if len(mask_shape) == 3:
        mask[0, 0] = False  # a fully masked row gives zeros, not a uniform distribution
    expected = _keras(K, K.layers.Softmax(), x, mask=mask)
    got = _ours(layers.Softmax(), x, mask=torch.from_numpy(mask))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    float_mask = mask.astype("float32")
    np.testing.assert_allclose(_ours(layers.Softmax(), x, mask=torch.from_numpy(float_mask)),
                               expected, atol=1e-6)


@pytest.mark.parametrize("shape,shared_axes", [((4, 6), None), ((3, 4, 5), None),
                                               ((3, 4, 5), [1]), ((2, 3, 4, 5), [1, 2]),
                                               ((2, 3, 4, 5), 3)])
def test_prelu_matches_keras(K, shape, shared_axes):
    x = _rand(shape, scale=2.0)
    klayer = K.layers.PReLU(shared_axes=shared_axes)
    klayer.build(shape)
    _randomize(klayer)
    ours = layers.PReLU(shared_axes=shared_axes)
    _copy(klayer, ours, shape)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=1e-6)
    got = _grads(ours, x, ours.trainable_weights)
    expected = _grads(klayer, x, _keras_trainable_params(klayer))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-5)


def test_prelu_default_alpha_is_zero_like_keras(K):
    klayer = K.layers.PReLU()
    klayer.build((None, 3, 2))
    ours = layers.PReLU()
    ours.build((None, 3, 2))
    np.testing.assert_array_equal(ours.get_weights()[0], klayer.get_weights()[0])


# ------------------------------------------------------------------------- regularization layers
@pytest.mark.parametrize("make,shape", [
    (lambda m: m.SpatialDropout1D(0.5), (2, 3, 4)),
    (lambda m: m.SpatialDropout2D(0.5), (2, 3, 4, 5)),
    (lambda m: m.SpatialDropout2D(0.5, data_format="channels_first"), (2, 3, 4, 5)),
    (lambda m: m.SpatialDropout3D(0.5), (2, 3, 4, 5, 2)),
    (lambda m: m.GaussianNoise(0.5), (2, 3)),
    (lambda m: m.GaussianDropout(0.5), (2, 3)),
    (lambda m: m.AlphaDropout(0.5), (2, 3)),
    (lambda m: m.ActivityRegularization(0.1, 0.2), (2, 3)),
])
def test_regularization_layers_are_identity_at_inference_like_keras(K, make, shape):
    x = _rand(shape)
    np.testing.assert_array_equal(_ours(make(layers), x), _keras(K, make(K.layers), x))
    none_shape = (None,) + shape[1:]
    assert tuple(make(layers).compute_output_shape(none_shape)) == \
        tuple(make(K.layers).compute_output_shape(none_shape))


@pytest.mark.parametrize("l1,l2", [(0.1, 0.0), (0.0, 0.2), (0.05, 0.3)])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_activity_regularization_penalty_matches_keras(K, l1, l2, shape):
    x = _rand(shape)
    klayer = K.layers.ActivityRegularization(l1=l1, l2=l2)
    klayer(x)
    ours = layers.ActivityRegularization(l1=l1, l2=l2)
    ours(torch.from_numpy(x))
    assert len(ours.losses) == len(klayer.losses) == 1
    np.testing.assert_allclose(ours.losses[0].numpy(),
                               K.ops.convert_to_numpy(klayer.losses[0]), rtol=1e-6)


def test_alpha_dropout_training_moments_match_keras(K):
    # Masks cannot coincide; both keep the mean and variance of unit-normal inputs.
    x = _rand((400, 500))
    expected = _keras(K, K.layers.AlphaDropout(0.2, seed=1), x, training=True)
    got = _ours(layers.AlphaDropout(0.2, seed=1), x, training=True)
    np.testing.assert_allclose(got.mean(), expected.mean(), atol=0.01)
    np.testing.assert_allclose(got.std(), expected.std(), atol=0.01)
    alpha_value = np.unique(np.round(got[got < -1.5], 5))
    np.testing.assert_allclose(alpha_value, np.unique(np.round(expected[expected < -1.5], 5))
                               [:len(alpha_value)], atol=1e-5)


# -------------------------------------------------------------------------- preprocessing layers
@pytest.mark.parametrize("scale,offset", [(1 / 255, 0.0), (2.0, -1.0),
                                          (np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0]))])
def test_rescaling_matches_keras(K, scale, offset):
    x = np.random.default_rng(0).integers(0, 255, size=(2, 4, 4, 3)).astype("uint8")
    expected = _keras(K, K.layers.Rescaling(scale, offset), x)
    got = layers.Rescaling(scale, offset)(torch.from_numpy(x))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis,shape", [(-1, (50, 3)), (None, (50, 3)), ((1, 2), (40, 3, 4)),
                                        (1, (40, 3, 4)), ((0, 1), (4, 3))])
@pytest.mark.parametrize("kind", ["numpy", "tensor", "batches"])
def test_normalization_adapt_matches_keras(K, axis, shape, kind):
    data = _rand(shape, shift=5.0, scale=3.0)
    k_data = data
    if kind == "numpy":
        our_data = data
    elif kind == "tensor":
        k_data = our_data = torch.from_numpy(data)
    else:
        if axis == (0, 1):
            pytest.skip("batches split the kept batch axis")
        # Keras's adapt() on an iterable needs TensorFlow installed; the merged batch
        # statistics equal those of the whole array, which Keras computes directly.
        our_data = [(torch.from_numpy(data[i:i + 7]), None) for i in range(0, len(data), 7)]
    klayer = K.layers.Normalization(axis=axis)
    klayer.adapt(k_data)
    ours = layers.Normalization(axis=axis)
    ours.adapt(our_data)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in klayer.get_weights()]
    for ours_w, keras_w in zip(ours.get_weights(), klayer.get_weights()):
        np.testing.assert_allclose(ours_w, keras_w, rtol=1e-5, atol=1e-5)
    x = _rand(shape, seed=3, shift=5.0)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), atol=ATOL)


@pytest.mark.parametrize("axis,mean,variance,shape", [
    (-1, 2.0, 4.0, (3, 5)),
    (-1, [1.0, 2.0, 3.0], [1.0, 4.0, 9.0], (2, 4, 3)),
    ((1, 2), [1.0, 2.0, 3.0], [1.0, 4.0, 0.0], (2, 4, 3)),
    ((1, 2), np.arange(12.0).reshape(4, 3), np.ones((4, 3)) * 2, (2, 4, 3)),
    (None, 3.0, 2.0, (2, 4, 3)),
])
@pytest.mark.parametrize("invert", [False, True])
def test_normalization_given_statistics_matches_keras(K, axis, mean, variance, shape, invert):
    x = _rand(shape, shift=1.0)
    kwargs = dict(axis=axis, mean=mean, variance=variance, invert=invert)
    klayer = K.layers.Normalization(**kwargs)
    ours = layers.Normalization(**kwargs)
    np.testing.assert_allclose(_ours(ours, x), _keras(K, klayer, x), rtol=1e-6, atol=ATOL)
    assert ours.get_weights() == klayer.get_weights() == []


# ------------------------------------------------------------------------------- output shapes
@pytest.mark.parametrize("make", [
    lambda m: m.BatchNormalization(), lambda m: m.BatchNormalization(axis=1),
    lambda m: m.LayerNormalization(axis=[-2, -1]), lambda m: m.GroupNormalization(groups=2),
    lambda m: m.UnitNormalization(), lambda m: m.RMSNormalization(),
    lambda m: m.ReLU(), lambda m: m.LeakyReLU(), lambda m: m.PReLU(), lambda m: m.ELU(),
    lambda m: m.Softmax(), lambda m: m.Rescaling(0.5), lambda m: m.Normalization(),
])
def test_output_shapes_match_keras(K, make):
    for shape in [(None, 3, 4), (2, None, 4)]:
        assert tuple(make(layers).compute_output_shape(shape)) == \
            tuple(make(K.layers).compute_output_shape(shape))


# ------------------------------------------------------------------------- inside a model's fit
def _fit_pair(K, make_middle, epochs=2):
    """The same small model trained by Keras and by us (SGD, shuffle=False) from Keras's
    initial weights; returns both histories' losses and both final weights."""
    from torchkeras_lite.models import Sequential

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype("float32") * 2 + 1
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 40)]

    def stack(m, Model, Input):
        return Model([Input((8,)), m.Dense(6), *make_middle(m), m.Dense(3, activation="softmax")])

    kmodel = stack(K.layers, K.Sequential, K.Input)
    model = stack(layers, Sequential, layers.Input)
    model.set_weights(kmodel.get_weights())
    kmodel.compile(optimizer=K.optimizers.SGD(0.1), loss="categorical_crossentropy")
    model.compile(optimizer="sgd", loss="categorical_crossentropy", device="cpu")
    model.optimizer.learning_rate = 0.1
    khist = kmodel.fit(x, y, batch_size=10, epochs=epochs, shuffle=False, verbose=0)
    hist = model.fit(x, y, batch_size=10, epochs=epochs, shuffle=False, verbose=0)
    return khist.history["loss"], hist.history["loss"], kmodel.get_weights(), model.get_weights()


@pytest.mark.parametrize("make_middle", [
    lambda m: [m.BatchNormalization()],
    lambda m: [m.BatchNormalization(momentum=0.5, trainable=False)],
    lambda m: [m.LayerNormalization(), m.PReLU()],
    lambda m: [m.ActivityRegularization(l1=0.01, l2=0.02)],
], ids=["batchnorm", "frozen-batchnorm", "layernorm-prelu", "activity-regularization"])
def test_fit_with_these_layers_matches_keras(K, make_middle):
    kloss, loss, kweights, weights = _fit_pair(K, make_middle)
    np.testing.assert_allclose(loss, kloss, rtol=1e-5)
    for w, kw in zip(weights, kweights):
        np.testing.assert_allclose(w, kw, rtol=1e-5, atol=1e-6)
