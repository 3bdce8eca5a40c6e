"""Embedding, recurrent layers and wrappers against real Keras 3 (torch backend).

Method: build the Keras layer, call it on random data, copy ``klayer.get_weights()`` into ours
and compare outputs (and, for LSTM/GRU, gradients). On the CPU Keras runs its LSTM/GRU as a
Python loop over timesteps (its cuDNN path is CUDA-only) and SimpleRNN, masks and GRU
``reset_after=False`` through its generic cell loop; we run torch's fused kernels where the
result is the same. The float32 ops are the same up to summation order, so outputs agree to a
few ulps (measured: < 2e-7); atol 1e-5 leaves room for longer reductions on other machines.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import layers

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

ATOL = 1e-5
RNNS = ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"]
# Padded id sequences: post-padding, pre-padding, a gap in the middle, fully masked.
IDS = np.array([[1, 2, 3, 0, 0, 0],
                [0, 0, 4, 4, 1, 2],
                [3, 0, 2, 0, 1, 0],
                [0, 0, 0, 0, 0, 0]])


def _make(module, name, units=5, **kwargs):
    if name == "GRU_reset_before":
        return module.GRU(units, reset_after=False, **kwargs)
    return getattr(module, name)(units, **kwargs)


def _np(t):
    return t.detach().cpu().numpy()


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _assert_outputs_equal(K, kout, out):
    kout, out = _as_list(kout), _as_list(out)
    assert len(kout) == len(out)
    for k, o in zip(kout, out):
        np.testing.assert_allclose(_np(o), K.ops.convert_to_numpy(k), rtol=0, atol=ATOL)


def _copy_weights(K, klayer, layer, input_shape):
    if not layer.built:
        layer.build(input_shape)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in klayer.get_weights()]
    layer.set_weights(klayer.get_weights())


def _sequences(shape=(3, 6, 4), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --------------------------------------------------------------------------- Embedding
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("mask_zero", [False, True])
def test_embedding_matches_keras(K, shape, mask_zero):
    ids = np.random.default_rng(0).integers(0, 7, size=shape)
    klayer = K.layers.Embedding(7, 3, mask_zero=mask_zero)
    kout = klayer(ids)
    layer = layers.Embedding(7, 3, mask_zero=mask_zero)
    _copy_weights(K, klayer, layer, shape)
    out = layer(torch.from_numpy(ids))
    _assert_outputs_equal(K, kout, out)
    kmask = getattr(kout, "_keras_mask", None)
    if mask_zero:
        np.testing.assert_array_equal(_np(out._keras_mask), K.ops.convert_to_numpy(kmask))
    else:
        assert kmask is None and getattr(out, "_keras_mask", None) is None
    assert layer.compute_output_shape((None,) + shape[1:]) == \
        tuple(klayer.compute_output_shape((None,) + shape[1:]))


def test_embedding_negative_and_float_indices_match_keras(K):
    klayer = K.layers.Embedding(6, 2)
    ids = np.array([[-1, 0, 5, -6]])
    kout = klayer(ids)
    layer = layers.Embedding(6, 2)
    _copy_weights(K, klayer, layer, ids.shape)
    _assert_outputs_equal(K, kout, layer(torch.from_numpy(ids)))
    floats = np.array([[1.7, 3.2]], dtype="float32")  # truncated to ints by both
    _assert_outputs_equal(K, klayer(floats), layer(torch.from_numpy(floats)))


def test_embedding_default_initialisation_is_keras_uniform(K):
    ours = layers.Embedding(300, 200)
    ours.build(None)
    (w,) = ours.get_weights()
    klayer = K.layers.Embedding(300, 200)
    klayer.build(None)
    (kw,) = klayer.get_weights()
    assert np.abs(w).max() <= 0.05 and w.shape == kw.shape
    # std of U(-0.05, 0.05) is 0.0289; 60k samples: ~0.3% relative error, allow 2%.
    np.testing.assert_allclose(w.std(), kw.std(), rtol=0.02)


# --------------------------------------------------------------------------- RNN forward
@pytest.mark.parametrize("name", RNNS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_rnn_forward_matches_keras(K, name, return_sequences, go_backwards, return_state):
    x = _sequences()
    options = dict(return_sequences=return_sequences, go_backwards=go_backwards,
                   return_state=return_state)
    klayer = _make(K.layers, name, **options)
    kout = klayer(x)
    layer = _make(layers, name, **options)
    _copy_weights(K, klayer, layer, x.shape)
    _assert_outputs_equal(K, kout, layer(torch.from_numpy(x)))
    assert layer.compute_output_shape((None, 6, 4)) == klayer.compute_output_shape((None, 6, 4))


@pytest.mark.parametrize("name,options", [
    ("SimpleRNN", dict(use_bias=False)),
    ("LSTM", dict(use_bias=False)),
    ("GRU", dict(use_bias=False)),
    ("GRU_reset_before", dict(use_bias=False)),
    ("SimpleRNN", dict(activation="relu")),          # fused rnn_relu
    ("SimpleRNN", dict(activation=None)),            # loop
    ("LSTM", dict(activation="relu")),               # loop
    ("LSTM", dict(recurrent_activation="hard_sigmoid", unit_forget_bias=False)),
    ("GRU", dict(activation="softsign")),
    ("LSTM", dict(use_cudnn=False)),                 # loop forced
    ("GRU", dict(use_cudnn=False, return_sequences=True)),
    ("LSTM", dict(recurrent_dropout=0.3, dropout=0.2)),  # inference: no dropout, loop path
])
def test_rnn_options_match_keras(K, name, options):
    x = _sequences(seed=1)
    klayer = _make(K.layers, name, **options)
    kout = klayer(x)
    layer = _make(layers, name, **options)
    _copy_weights(K, klayer, layer, x.shape)
    _assert_outputs_equal(K, kout, layer(torch.from_numpy(x)))


@pytest.mark.parametrize("name", RNNS)
def test_rnn_initial_state_matches_keras(K, name):
    x = _sequences(seed=2)
    rng = np.random.default_rng(3)
    count = 2 if name == "LSTM" else 1
    states = [rng.normal(size=(3, 5)).astype("float32") for _ in range(count)]
    klayer = _make(K.layers, name, return_sequences=True, return_state=True)
    kout = klayer(x, initial_state=[K.ops.convert_to_tensor(s) for s in states])
    layer = _make(layers, name, return_sequences=True, return_state=True)
    _copy_weights(K, klayer, layer, x.shape)
    out = layer(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in states])
    _assert_outputs_equal(K, kout, out)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_rnn_stateful_matches_keras(K, name):
    x1, x2 = _sequences(seed=4), _sequences(seed=5)
    klayer = _make(K.layers, name, stateful=True, return_state=True)
    layer = _make(layers, name, stateful=True, return_state=True)
    kfirst = klayer(x1)
    _copy_weights(K, klayer, layer, x1.shape)
    _assert_outputs_equal(K, kfirst, layer(torch.from_numpy(x1)))
    _assert_outputs_equal(K, klayer(x2), layer(torch.from_numpy(x2)))
    klayer.reset_states()
    layer.reset_states()
    _assert_outputs_equal(K, klayer(x2), layer(torch.from_numpy(x2)))


# --------------------------------------------------------------------------- masks
def _masked_pair(K, klayer, layer):
    """Run Embedding(mask_zero=True) -> layer in both libraries on IDS."""
    kembed = K.layers.Embedding(5, 4, mask_zero=True)
    kout = klayer(kembed(IDS))
    embed = layers.Embedding(5, 4, mask_zero=True)
    _copy_weights(K, kembed, embed, IDS.shape)
    _copy_weights(K, klayer, layer, IDS.shape + (4,))
    return kout, layer(embed(torch.from_numpy(IDS)))


@pytest.mark.parametrize("name", RNNS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
def test_rnn_masks_match_keras(K, name, return_sequences, go_backwards, return_state):
    options = dict(return_sequences=return_sequences, go_backwards=go_backwards,
                   return_state=return_state)
    kout, out = _masked_pair(K, _make(K.layers, name, **options), _make(layers, name, **options))
    _assert_outputs_equal(K, kout, out)
    kmask = getattr(_as_list(kout)[0], "_keras_mask", None)
    mask = getattr(_as_list(out)[0], "_keras_mask", None)
    assert (kmask is None) == (mask is None)
    if mask is not None:
        np.testing.assert_array_equal(_np(mask), K.ops.convert_to_numpy(kmask))


# --------------------------------------------------------------------------- Bidirectional
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU", "GRU_reset_before"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(K, name, merge_mode, return_sequences):
    x = _sequences(seed=6)
    klayer = K.layers.Bidirectional(_make(K.layers, name, 3, return_sequences=return_sequences),
                                    merge_mode=merge_mode)
    kout = klayer(x)
    layer = layers.Bidirectional(_make(layers, name, 3, return_sequences=return_sequences),
                                 merge_mode=merge_mode)
    _copy_weights(K, klayer, layer, x.shape)
    _assert_outputs_equal(K, kout, layer(torch.from_numpy(x)))
    assert layer.compute_output_shape((None, 6, 4)) == klayer.compute_output_shape((None, 6, 4))


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
@pytest.mark.parametrize("merge_mode", ["concat", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_return_state_matches_keras(K, name, merge_mode, return_sequences):
    x = _sequences(seed=7)
    options = dict(return_sequences=return_sequences, return_state=True)
    klayer = K.layers.Bidirectional(_make(K.layers, name, 3, **options), merge_mode=merge_mode)
    kout = klayer(x)
    layer = layers.Bidirectional(_make(layers, name, 3, **options), merge_mode=merge_mode)
    _copy_weights(K, klayer, layer, x.shape)
    _assert_outputs_equal(K, kout, layer(torch.from_numpy(x)))
    assert layer.compute_output_shape((None, 6, 4)) == klayer.compute_output_shape((None, 6, 4))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("merge_mode", ["concat", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_masks_match_keras(K, name, merge_mode, return_sequences):
    kout, out = _masked_pair(
        K,
        K.layers.Bidirectional(_make(K.layers, name, 3, return_sequences=return_sequences),
                               merge_mode=merge_mode),
        layers.Bidirectional(_make(layers, name, 3, return_sequences=return_sequences),
                             merge_mode=merge_mode))
    _assert_outputs_equal(K, kout, out)
    for k, o in zip(_as_list(kout), _as_list(out)):
        assert (getattr(k, "_keras_mask", None) is None) == \
            (getattr(o, "_keras_mask", None) is None)


def test_bidirectional_initial_state_and_backward_layer_match_keras(K):
    x = _sequences(seed=8)
    rng = np.random.default_rng(9)
    states = [rng.normal(size=(3, 3)).astype("float32") for _ in range(4)]
    klayer = K.layers.Bidirectional(
        K.layers.LSTM(3, return_sequences=True),
        backward_layer=K.layers.LSTM(3, return_sequences=True, go_backwards=True,
                                     activation="relu"))
    kout = klayer(x, initial_state=[K.ops.convert_to_tensor(s) for s in states])
    layer = layers.Bidirectional(
        layers.LSTM(3, return_sequences=True),
        backward_layer=layers.LSTM(3, return_sequences=True, go_backwards=True,
                                   activation="relu"))
    _copy_weights(K, klayer, layer, x.shape)
    out = layer(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in states])
    _assert_outputs_equal(K, kout, out)
    # Same with the fused bidirectional path (both directions alike).
    klayer = K.layers.Bidirectional(K.layers.GRU(3, return_sequences=True))
    kout = klayer(x, initial_state=[K.ops.convert_to_tensor(s) for s in states[:2]])
    layer = layers.Bidirectional(layers.GRU(3, return_sequences=True))
    _copy_weights(K, klayer, layer, x.shape)
    out = layer(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in states[:2]])
    _assert_outputs_equal(K, kout, out)


# --------------------------------------------------------------------------- TimeDistributed
@pytest.mark.parametrize("shape", [(3, 5, 4), (2, 3, 4, 6)])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_time_distributed_dense_matches_keras(K, shape, activation):
    x = _sequences(shape, seed=10)
    klayer = K.layers.TimeDistributed(K.layers.Dense(7, activation=activation))
    kout = klayer(x)
    layer = layers.TimeDistributed(layers.Dense(7, activation=activation))
    _copy_weights(K, klayer, layer, shape)
    _assert_outputs_equal(K, kout, layer(torch.from_numpy(x)))
    none_shape = (None,) + shape[1:]
    assert layer.compute_output_shape(none_shape) == \
        tuple(klayer.compute_output_shape(none_shape))


def test_time_distributed_keeps_the_mask_like_keras(K):
    kout, out = _masked_pair(K, K.layers.TimeDistributed(K.layers.Dense(2)),
                             layers.TimeDistributed(layers.Dense(2)))
    _assert_outputs_equal(K, kout, out)
    np.testing.assert_array_equal(_np(out._keras_mask),
                                  K.ops.convert_to_numpy(kout._keras_mask))


# --------------------------------------------------------------------------- gradients
def _gradients(K, klayer, layer, x_np, embed_mask):
    """d(sum of outputs * fixed weights)/d(input, weights) in both libraries."""
    x_k = torch.tensor(x_np, requires_grad=True)
    x_o = torch.tensor(x_np, requires_grad=True)
    mask = torch.from_numpy(IDS[:, :x_np.shape[1]] != 0) if embed_mask else None
    kout = _as_list(klayer(x_k, mask=mask) if embed_mask else klayer(x_k))
    _copy_weights(K, klayer, layer, x_np.shape)
    out = _as_list(layer(x_o, mask=mask) if embed_mask else layer(x_o))
    probes = [torch.from_numpy(np.random.default_rng(i).normal(size=tuple(o.shape))
                               .astype("float32")) for i, o in enumerate(out)]
    kloss = sum((K.ops.convert_to_tensor(k) * p).sum() for k, p in zip(kout, probes))
    loss = sum((o * p).sum() for o, p in zip(out, probes))
    kweights = [v.value for v in klayer.trainable_variables]
    kgrads = torch.autograd.grad(kloss, [x_k] + kweights)
    grads = torch.autograd.grad(loss, [x_o] + layer.trainable_weights)
    assert len(kgrads) == len(grads)
    for kg, g in zip(kgrads, grads):
        np.testing.assert_allclose(_np(g), _np(kg), rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "GRU_reset_before"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_rnn_gradients_match_keras(K, name, masked, return_sequences):
    x = _sequences((4, 6, 4), seed=11)
    options = dict(return_sequences=return_sequences, return_state=True, go_backwards=masked)
    _gradients(K, _make(K.layers, name, **options), _make(layers, name, **options), x, masked)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_bidirectional_gradients_match_keras(K, name):
    x = _sequences((4, 6, 4), seed=12)
    _gradients(K, K.layers.Bidirectional(_make(K.layers, name, 3, return_sequences=True)),
               layers.Bidirectional(_make(layers, name, 3, return_sequences=True)), x, False)


# --------------------------------------------------------------------------- configs
@pytest.mark.parametrize("make", [
    lambda m: m.Embedding(10, 3, mask_zero=True),
    lambda m: m.SimpleRNN(4),
    lambda m: m.LSTM(4, return_sequences=True),
    lambda m: m.GRU(4, reset_after=False),
    lambda m: m.Bidirectional(m.LSTM(4)),
    lambda m: m.TimeDistributed(m.Dense(4)),
])
def test_config_has_keras_keys(K, make):
    ours, theirs = make(layers).get_config(), make(K.layers).get_config()
    # The base Layer writes activity_regularizer only when set; quantization is not supported.
    missing = set(theirs) - set(ours) - {"quantization_config", "activity_regularizer"}
    assert not missing
