"""ONNX export of the embedding, recurrent, wrapper, merging and attention layers: every case
exports, passes the full checker, and onnxruntime matches ``predict`` at batch 1 and 37.

``CASES`` maps every layer class name of these families to small built models covering the
important arguments. Masks come from ``Embedding(VOCAB, ..., mask_zero=True)`` with a small
vocabulary, so that ``random_inputs`` (integers below the vocabulary size) gives many zeros
(masked steps).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from torchkeras_lite import layers as L
from torchkeras_lite.export import UnsupportedLayerError, export_onnx
from torchkeras_lite.models import Model, Sequential

from conftest import assert_exports

VOCAB = 5  # small, so that index 0 (masked) is common


def seq(*layers, shape=(6, 3), dtype=None):
    return Sequential([L.Input(shape=shape, dtype=dtype), *layers])


def tokens(*layers, steps=7, dim=3):
    """Token ids -> Embedding(mask_zero=True) -> layers."""
    return Sequential([L.Input(shape=(steps,)), L.Embedding(VOCAB, dim, mask_zero=True),
                       *layers])


def functional(build, *shapes):
    inputs = [L.Input(shape=s) for s in shapes]
    return Model(inputs if len(inputs) > 1 else inputs[0], build(*inputs))


def masked_pair(steps=6, dim=4, steps2=None):
    """Two token inputs, each embedded with mask_zero=True: (inputs, embedded)."""
    a, b = L.Input(shape=(steps,)), L.Input(shape=(steps2 or steps,))
    ea = L.Embedding(VOCAB, dim, mask_zero=True)(a)
    eb = L.Embedding(VOCAB, dim, mask_zero=True)(b)
    return [a, b], ea, eb


def rnn_cases(cls, **extra):
    """The shared variants of a recurrent layer class."""
    def state_model(**kw):
        return functional(lambda x: cls(4, return_state=True, **kw, **extra)(x), (6, 3))

    def initial_state_model():
        def build(x, *states):
            return cls(4, return_sequences=True, **extra)(x, initial_state=list(states))
        count = 2 if cls is L.LSTM else 1
        return functional(build, (6, 3), *[(4,)] * count)

    def masked_state_model(**kw):
        inp = L.Input(shape=(7,))
        x = L.Embedding(VOCAB, 3, mask_zero=True)(inp)
        return Model(inp, cls(4, return_sequences=True, return_state=True, **kw, **extra)(x))

    return [
        lambda: seq(cls(4, **extra)),
        lambda: seq(cls(4, return_sequences=True, **extra)),
        lambda: seq(cls(4, return_sequences=True, **extra), shape=(None, 3)),  # dynamic time
        lambda: seq(cls(4, go_backwards=True, return_sequences=True, **extra)),
        lambda: state_model(),
        lambda: state_model(go_backwards=True, return_sequences=True),
        lambda: seq(cls(4, activation="relu", **extra)),
        lambda: seq(cls(4, activation=None, return_sequences=True, **extra)),  # Scan path
        lambda: seq(cls(4, use_bias=False, **extra)),
        lambda: seq(cls(4, use_bias=False, activation=None, **extra)),
        lambda: initial_state_model(),
        lambda: tokens(cls(4, return_sequences=True, **extra), cls(3, **extra)),
        lambda: tokens(cls(4, go_backwards=True, **extra)),
        lambda: tokens(cls(4, return_sequences=True, go_backwards=True, activation="relu",
                           **extra)),
        lambda: tokens(cls(4, return_sequences=True, zero_output_for_mask=True, **extra)),
        lambda: tokens(cls(4, zero_output_for_mask=True, **extra)),
        lambda: masked_state_model(),
        lambda: masked_state_model(go_backwards=True, zero_output_for_mask=True),
    ]


def _mha_masked(**kw):
    def build():
        inp = L.Input(shape=(6,))
        x = L.Embedding(VOCAB, 8, mask_zero=True)(inp)
        return Model(inp, L.MultiHeadAttention(2, 4, **kw)(x, x))
    return build


def _mha_scores_masked():
    inp = L.Input(shape=(6,))
    x = L.Embedding(VOCAB, 8, mask_zero=True)(inp)
    out, scores = L.MultiHeadAttention(2, 4)(x, x, return_attention_scores=True)
    return Model(inp, [out, scores])


def _mha_attention_mask(scores=False):
    """A float (batch, T, S) attention mask input; the Embedding makes random_inputs draw
    integers below VOCAB for every input, so about a fifth of the mask entries are 0."""
    def build():
        q_ids, v_ids, m = L.Input(shape=(5,)), L.Input(shape=(6,)), L.Input(shape=(5, 6))
        q, v = L.Embedding(VOCAB, 8)(q_ids), L.Embedding(VOCAB, 8)(v_ids)
        out = L.MultiHeadAttention(2, 4)(q, v, attention_mask=m,
                                         return_attention_scores=scores)
        return Model([q_ids, v_ids, m], list(out) if scores else out)
    return build


def _mha_cross_key():
    q, v, k = L.Input(shape=(5, 8)), L.Input(shape=(6, 3)), L.Input(shape=(6, 7))
    return Model([q, v, k], L.MultiHeadAttention(2, 4, value_dim=3)(q, v, k))


def _mha_causal_scores():
    x = L.Input(shape=(6, 8))
    out, scores = L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True,
                                             return_attention_scores=True)
    return Model(x, [out, scores])


def _mha_self(**kw):
    call = {k: kw.pop(k) for k in ("use_causal_mask",) if k in kw}
    return lambda: functional(lambda x: L.MultiHeadAttention(2, 4, **kw)(x, x, **call), (6, 8))


def _attention_masked(cls, **kw):
    def build():
        (a, b), ea, eb = masked_pair(steps=5, steps2=6)
        return Model([a, b], cls(**kw)([ea, eb]))
    return build


def _attention_scores(cls, **kw):
    def build():
        (a, b), ea, eb = masked_pair(steps=5, steps2=6)
        out, weights = cls()([ea, eb], return_attention_scores=True, **kw)
        return Model([a, b], [out, weights])
    return build


def _attention(**layer_kw):
    def build(**call):
        def make():
            q, v = L.Input(shape=(5, 4)), L.Input(shape=(6, 3))
            k = L.Input(shape=(6, 4))
            return Model([q, v, k], L.Attention(**layer_kw)([q, v, k], **call))
        return make
    return build


def _merge(cls, count=2, shapes=None, **kw):
    shapes = shapes or [(4,)] * count
    return lambda: functional(lambda *xs: cls(**kw)(list(xs)), *shapes)


def _merge_masked(cls, one_unmasked=False, then_lstm=False, **kw):
    def build():
        (a, b), ea, eb = masked_pair()
        if one_unmasked:
            eb = L.Embedding(VOCAB, 4)(b)
        out = cls(**kw)([ea, eb])
        if then_lstm:
            out = L.LSTM(3)(out)
        return Model([a, b], out)
    return build


def _bidirectional(inner, **kw):
    return lambda: seq(L.Bidirectional(inner(), **kw))


def _bidirectional_masked(inner, **kw):
    return lambda: tokens(L.Bidirectional(inner(), **kw))


def _bidirectional_initial_state():
    x, *states = [L.Input(shape=s) for s in [(6, 3)] + [(4,)] * 4]
    out = L.Bidirectional(L.LSTM(4, return_sequences=True))(x, initial_state=states)
    return Model([x, *states], out)


def _bidirectional_functional(inner, masked=False, **kw):
    def build():
        if masked:
            inp = L.Input(shape=(7,))
            x = L.Embedding(VOCAB, 3, mask_zero=True)(inp)
        else:
            inp = x = L.Input(shape=(6, 3))
        return Model(inp, L.Bidirectional(inner(), **kw)(x))
    return build


CASES: dict[str, list] = {
    "Embedding": [
        lambda: seq(L.Embedding(VOCAB, 4), shape=(6,)),
        lambda: seq(L.Embedding(VOCAB, 4), shape=(6,), dtype="int64"),
        lambda: seq(L.Embedding(VOCAB, 4), shape=(6,), dtype="int32"),
        lambda: seq(L.Embedding(VOCAB, 4, mask_zero=True), shape=(3, 4)),
        lambda: tokens(L.LSTM(3)),  # the mask reaches the LSTM
    ],
    "SimpleRNN": rnn_cases(L.SimpleRNN),
    "LSTM": rnn_cases(L.LSTM) + [
        lambda: seq(L.LSTM(4, recurrent_activation="relu", return_sequences=True)),
        lambda: seq(L.LSTM(4, recurrent_activation=None)),  # Scan path
    ],
    "GRU": rnn_cases(L.GRU) + rnn_cases(L.GRU, reset_after=False) + [
        lambda: seq(L.GRU(4, recurrent_activation="relu", return_sequences=True)),
    ],
    "Bidirectional": [
        _bidirectional(lambda: L.LSTM(4)),
        _bidirectional(lambda: L.LSTM(4, return_sequences=True)),
        _bidirectional(lambda: L.GRU(4, return_sequences=True), merge_mode="sum"),
        _bidirectional(lambda: L.SimpleRNN(4, return_sequences=True), merge_mode="mul"),
        _bidirectional(lambda: L.GRU(4, reset_after=False), merge_mode="ave"),
        _bidirectional(lambda: L.LSTM(4, activation=None, return_sequences=True)),
        _bidirectional_functional(lambda: L.LSTM(4, return_sequences=True), merge_mode=None),
        _bidirectional_functional(lambda: L.LSTM(4, return_state=True)),
        _bidirectional_functional(lambda: L.GRU(4, return_sequences=True, return_state=True),
                                  merge_mode=None),
        _bidirectional_masked(lambda: L.LSTM(4, return_sequences=True)),
        _bidirectional_masked(lambda: L.GRU(4)),
        _bidirectional_masked(lambda: L.SimpleRNN(4, return_sequences=True), merge_mode="ave"),
        _bidirectional_functional(lambda: L.LSTM(4, return_sequences=True, return_state=True),
                                  masked=True, merge_mode=None),
        lambda: tokens(L.Bidirectional(L.LSTM(4, return_sequences=True)), L.LSTM(3)),
        _bidirectional_initial_state,
        _bidirectional(lambda: L.LSTM(4, return_sequences=True), merge_mode="sum",
                       backward_layer=None),
        lambda: seq(L.Bidirectional(L.GRU(3, return_sequences=True), backward_layer=L.GRU(
            3, go_backwards=True, return_sequences=True, reset_after=False))),
    ],
    "TimeDistributed": [
        lambda: seq(L.TimeDistributed(L.Dense(4))),
        lambda: seq(L.TimeDistributed(L.Dense(4, activation="relu")), shape=(5, 2, 3)),
        lambda: seq(L.TimeDistributed(L.Dense(4)), shape=(None, 3)),
        lambda: seq(L.TimeDistributed(L.LSTM(3)), shape=(5, 4, 2)),
        lambda: seq(L.TimeDistributed(L.GRU(3, return_sequences=True)), shape=(None, 4, 2)),
        lambda: tokens(L.TimeDistributed(L.Dense(4)), L.LSTM(3)),  # the mask passes through
        # (batch, 5, 4) token ids: the inner LSTM gets the folded (batch*5, 4) mask
        lambda: seq(L.Embedding(VOCAB, 3, mask_zero=True), L.TimeDistributed(L.LSTM(3)),
                    shape=(5, 4)),
    ],
    "Add": [
        _merge(L.Add),
        _merge(L.Add, count=3),
        _merge(L.Add, shapes=[(4,), (3, 4)]),
        _merge(L.Add, shapes=[(3, 1), (3, 4)]),
        _merge_masked(L.Add, then_lstm=True),
    ],
    "Subtract": [
        _merge(L.Subtract),
        _merge(L.Subtract, shapes=[(3, 4), (4,)]),
        _merge_masked(L.Subtract, then_lstm=True),
    ],
    "Multiply": [
        _merge(L.Multiply, count=3),
        _merge(L.Multiply, shapes=[(4,), (3, 4)]),
        _merge_masked(L.Multiply),
        _merge_masked(L.Multiply, one_unmasked=True),
        _merge_masked(L.Multiply, then_lstm=True),
    ],
    "Average": [
        _merge(L.Average, count=3),
        _merge(L.Average, shapes=[(3, 4), (1, 4)]),
        _merge_masked(L.Average, then_lstm=True),
    ],
    "Maximum": [
        _merge(L.Maximum, count=3),
        _merge(L.Maximum, shapes=[(4,), (3, 4)]),
        _merge_masked(L.Maximum),
        _merge_masked(L.Maximum, one_unmasked=True),
    ],
    "Minimum": [
        _merge(L.Minimum),
        _merge_masked(L.Minimum),
        _merge_masked(L.Minimum, one_unmasked=True),
    ],
    "Concatenate": [
        _merge(L.Concatenate, shapes=[(4,), (2,)]),
        _merge(L.Concatenate, shapes=[(3, 4), (5, 4)], axis=1),
        _merge(L.Concatenate, shapes=[(2, 3, 4), (2, 3, 1)], axis=-1),
        _merge_masked(L.Concatenate, then_lstm=True),
        _merge_masked(L.Concatenate, one_unmasked=True, then_lstm=True),
        _merge_masked(L.Concatenate, one_unmasked=True, then_lstm=True, axis=1),
    ],
    "Dot": [
        _merge(L.Dot, axes=1),
        _merge(L.Dot, axes=1, normalize=True),
        _merge(L.Dot, shapes=[(3, 4), (5, 4)], axes=(2, 2)),
        _merge(L.Dot, shapes=[(3, 4), (3, 5)], axes=1),
        _merge(L.Dot, shapes=[(3, 4), (4, 5)], axes=(-1, 1), normalize=True),
        _merge(L.Dot, shapes=[(2, 3, 4), (4,)], axes=(3, 1)),
    ],
    "MultiHeadAttention": [
        _mha_self(),
        _mha_self(use_causal_mask=True),
        _mha_self(output_shape=(3,)),
        _mha_self(output_shape=(2, 5), use_bias=False),
        _mha_self(value_dim=3, use_gate=True),
        _mha_self(sliding_window=2),
        _mha_cross_key,
        _mha_causal_scores,
        _mha_masked(),
        _mha_masked(dropout=0.3),  # inference: dropout off, fully masked rows zeroed
        _mha_scores_masked,
        _mha_attention_mask(),
        _mha_attention_mask(scores=True),
        lambda: functional(lambda x: L.MultiHeadAttention(2, 3)(x, x), (3, 4, 5)),
        lambda: functional(lambda x: L.MultiHeadAttention(2, 3, attention_axes=2)(x, x),
                           (3, 4, 5)),
        lambda: functional(lambda x: L.MultiHeadAttention(2, 3)(x, x), (None, 5)),
        lambda: functional(lambda x: L.MultiHeadAttention(2, 3, sliding_window=2)(x, x),
                           (None, 5)),
    ],
    "Attention": [
        _attention()(),
        _attention(use_scale=True)(use_causal_mask=True),
        _attention(score_mode="concat")(),
        _attention(score_mode="concat", use_scale=True)(use_causal_mask=True),
        lambda: functional(lambda q, v: L.Attention()([q, v]), (5, 4), (6, 4)),
        lambda: functional(lambda q, v: L.Attention()([q, v], use_causal_mask=True),
                           (None, 4), (None, 4)),
        _attention_masked(L.Attention),
        _attention_masked(L.Attention, score_mode="concat"),
        _attention_scores(L.Attention),
        _attention_scores(L.Attention, use_causal_mask=True),
    ],
    "AdditiveAttention": [
        lambda: functional(lambda q, v: L.AdditiveAttention()([q, v]), (5, 4), (6, 4)),
        lambda: functional(lambda q, v, k: L.AdditiveAttention(use_scale=False)([q, v, k]),
                           (5, 4), (6, 3), (6, 4)),
        _attention_masked(L.AdditiveAttention),
        _attention_scores(L.AdditiveAttention, use_causal_mask=True),
    ],
}

PARAMS = [pytest.param(fn, id=f"{name}-{i}") for name, fns in CASES.items()
          for i, fn in enumerate(fns)]


def test_cases_cover_every_layer_of_these_families():
    from torchkeras_lite.layers import attention, embedding, merging, recurrent, wrappers
    names = {n for module in (embedding, recurrent, wrappers, merging, attention)
             for n in module.__all__}
    assert names == set(CASES)
    assert all(name in L.ALL_LAYERS for name in CASES)


@pytest.mark.parametrize("build", PARAMS)
def test_layer_exports(build, tmp_path):
    torch.manual_seed(0)
    model = build()
    assert_exports(model, tmp_path)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "Bidirectional", "MultiHeadAttention",
                                  "Concatenate", "Attention"])
def test_opset_17(name, tmp_path):
    for build in CASES[name][:: max(1, len(CASES[name]) // 4)]:
        torch.manual_seed(0)
        assert_exports(build(), tmp_path, opset=17)


def test_embedding_lstm_text_model_with_dynamic_time(tmp_path):
    torch.manual_seed(0)
    inp = L.Input(shape=(None,))
    x = L.Embedding(VOCAB, 4, mask_zero=True)(inp)
    x = L.LSTM(5, return_sequences=True)(x)
    x = L.Bidirectional(L.GRU(3))(x)
    model = Model(inp, L.Dense(2)(x))
    rng = np.random.default_rng(0)

    def feeds(batch):  # two different sequence lengths
        steps = 3 if batch == 1 else 11
        return {name: rng.integers(0, VOCAB, (batch, steps)).astype(np.float32)
            for name in model.input_names}

    proto = assert_exports(model, tmp_path, feeds=feeds)
    time_dim = proto.graph.input[0].type.tensor_type.shape.dim[1]
    assert time_dim.dim_param and not time_dim.HasField("dim_value")
    # the same file also runs at a third length
    assert_exports(model, tmp_path, batches=(4,),
                           feeds=lambda b: {n: rng.integers(0, VOCAB, (b, 20)).astype(
                               np.float32) for n in model.input_names})


@pytest.mark.parametrize("layer", [
    lambda: L.LSTM(3, stateful=True),
    lambda: L.GRU(3, stateful=True),
    lambda: L.SimpleRNN(3, stateful=True),
    lambda: L.Bidirectional(L.LSTM(3, stateful=True)),
])
def test_stateful_is_refused_by_name(layer, tmp_path):
    model = Sequential([L.Input(shape=(4, 2), batch_size=2), layer()])
    with pytest.raises(UnsupportedLayerError, match="stateful"):
        export_onnx(model, tmp_path / "m.onnx")
