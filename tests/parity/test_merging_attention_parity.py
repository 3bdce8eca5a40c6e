"""Merge and attention layers against real Keras 3: forward passes, masks, output shapes and
gradients from Keras's own weights.

Tolerances: atol 1e-5. Our projections are matmuls where Keras runs einsum, and our fused
attention scales q·k inside torch's kernel where Keras's explicit path scales q first; these
agree to float32 rounding (~1e-7 relative), well inside 1e-5 for the unit-scale data used here.
"""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers

ATOL = 1e-5


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _rand(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def _with_mask(array, mask):
    """A fresh torch tensor carrying ``mask`` as its Keras mask (None: no mask)."""
    t = torch.from_numpy(array.copy())
    if mask is not None:
        t._keras_mask = torch.from_numpy(mask)
    return t


def _mask_of(x):
    m = getattr(x, "_keras_mask", None)
    return None if m is None else _np(m)


# ------------------------------------------------------------------------------ merges
ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
SHAPE_SETS = {
    "2d": [(4, 5), (4, 5), (4, 5)],
    "3d": [(2, 3, 4), (2, 3, 4), (2, 3, 4)],
    "broadcast": [(2, 3, 4), (2, 1, 4), (2, 3, 1)],
    "lower_rank": [(2, 3, 4), (2, 4), (2, 3, 4)],
}


@pytest.mark.parametrize("name,n", [(name, n) for name in ELEMENTWISE for n in (2, 3)
                                    if not (name == "Subtract" and n == 3)])
@pytest.mark.parametrize("shapes", list(SHAPE_SETS))
def test_elementwise_merge_matches_keras(K, name, shapes, n):
    rng = np.random.default_rng(0)
    xs = [_rand(rng, *s) for s in SHAPE_SETS[shapes][:n]]
    expected = _np(getattr(K.layers, name)()([torch.from_numpy(x) for x in xs]))
    ours = getattr(layers, name)()([torch.from_numpy(x) for x in xs])
    np.testing.assert_allclose(_np(ours), expected, atol=ATOL, rtol=1e-6)
    none_batch = [(None,) + s[1:] for s in SHAPE_SETS[shapes][:n]]
    assert getattr(layers, name)().compute_output_shape(none_batch) == \
        tuple(getattr(K.layers, name)().compute_output_shape(none_batch))


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("masked", ["all", "first", "second"])
def test_elementwise_merge_masks_match_keras(K, name, masked):
    rng = np.random.default_rng(1)
    xs = [_rand(rng, 2, 5, 3) for _ in range(2)]
    masks = [rng.random((2, 5)) > 0.4 for _ in range(2)]
    if masked == "first":
        masks[1] = None
    elif masked == "second":
        masks[0] = None
    kout = getattr(K.layers, name)()([_with_mask(x, m) for x, m in zip(xs, masks)])
    ours = getattr(layers, name)()([_with_mask(x, m) for x, m in zip(xs, masks)])
    np.testing.assert_allclose(_np(ours), _np(kout), atol=ATOL, rtol=1e-6)
    expected_mask = _mask_of(kout)
    if expected_mask is None:
        assert _mask_of(ours) is None
    else:
        np.testing.assert_array_equal(_mask_of(ours), expected_mask)


@pytest.mark.parametrize("axis,shapes", [
    (-1, [(2, 3, 4), (2, 3, 2), (2, 3, 1)]),
    (1, [(2, 3, 4), (2, 5, 4)]),
    (2, [(2, 3, 4), (2, 3, 6)]),
    (-2, [(2, 1, 4), (2, 2, 4)]),
    (0, [(2, 3), (5, 3)]),
    (1, [(4, 2), (4, 7)]),
])
def test_concatenate_matches_keras(K, axis, shapes):
    rng = np.random.default_rng(2)
    xs = [_rand(rng, *s) for s in shapes]
    expected = _np(K.layers.Concatenate(axis=axis)([torch.from_numpy(x) for x in xs]))
    ours = layers.Concatenate(axis=axis)([torch.from_numpy(x) for x in xs])
    np.testing.assert_array_equal(_np(ours), expected)
    for batch in (None, shapes[0][0]):
        query = [(batch,) + s[1:] for s in shapes] if axis != 0 else shapes
        assert layers.Concatenate(axis=axis).compute_output_shape(query) == \
            tuple(K.layers.Concatenate(axis=axis).compute_output_shape(query))


@pytest.mark.parametrize("axis", [-1, 1])
@pytest.mark.parametrize("masked", ["all", "first"])
def test_concatenate_masks_match_keras(K, axis, masked):
    rng = np.random.default_rng(3)
    xs = [_rand(rng, 2, 4, 3), _rand(rng, 2, 4, 2)] if axis == -1 else \
        [_rand(rng, 2, 4, 3), _rand(rng, 2, 2, 3)]
    masks = [rng.random(x.shape[:2]) > 0.5 for x in xs]
    if masked == "first":
        masks[1] = None
    kout = K.layers.Concatenate(axis=axis)([_with_mask(x, m) for x, m in zip(xs, masks)])
    ours = layers.Concatenate(axis=axis)([_with_mask(x, m) for x, m in zip(xs, masks)])
    np.testing.assert_array_equal(_np(ours), _np(kout))
    np.testing.assert_array_equal(_mask_of(ours), _mask_of(kout))


@pytest.mark.parametrize("axes,shapes", [
    (1, [(4, 5), (4, 5)]),
    (-1, [(4, 5), (4, 5)]),
    (2, [(2, 3, 4), (2, 5, 4)]),
    (1, [(2, 3, 4), (2, 3, 6)]),
    ((1, 2), [(2, 3, 4), (2, 5, 3)]),
    ((2, 1), [(2, 3, 4), (2, 4, 5)]),
    ((-1, 1), [(2, 3, 4), (2, 4)]),
    ((1, 2), [(2, 4), (2, 3, 4)]),
    ((2, 1), [(2, 3, 4, 5), (2, 4, 6)]),
    ((1, 3), [(2, 3, 4), (2, 2, 5, 3)]),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(K, axes, shapes, normalize):
    rng = np.random.default_rng(4)
    xs = [_rand(rng, *s) for s in shapes]
    expected = _np(K.layers.Dot(axes=axes, normalize=normalize)([torch.from_numpy(x)
                                                                  for x in xs]))
    ours = layers.Dot(axes=axes, normalize=normalize)([torch.from_numpy(x) for x in xs])
    np.testing.assert_allclose(_np(ours), expected, atol=ATOL, rtol=1e-5)
    none_batch = [(None,) + s[1:] for s in shapes]
    assert layers.Dot(axes=axes).compute_output_shape(none_batch) == \
        tuple(K.layers.Dot(axes=axes).compute_output_shape(none_batch))


@pytest.mark.parametrize("make,shapes", [
    (lambda m: m.Dot(axes=(2, 2), normalize=True), [(2, 3, 4), (2, 5, 4)]),
    (lambda m: m.Concatenate(axis=1), [(2, 3, 4), (2, 5, 4)]),
    (lambda m: m.Maximum(), [(2, 3, 4), (2, 3, 4)]),
    (lambda m: m.Multiply(), [(2, 3, 4), (2, 1, 4)]),
])
def test_merge_gradients_match_keras(K, make, shapes):
    rng = np.random.default_rng(5)
    arrays = [_rand(rng, *s) for s in shapes]
    grads = []
    for module in (K.layers, layers):
        xs = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
        out = make(module)(xs)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        grads.append([_np(x.grad) for x in xs])
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, atol=ATOL)


# --------------------------------------------------------------------------- attention
def _mha_pair(K, rng, q_shape, v_shape, k_shape=None, **options):
    klayer = K.layers.MultiHeadAttention(**options)
    kargs = [_rand(rng, *q_shape), _rand(rng, *v_shape)]
    if k_shape is not None:
        kargs.append(_rand(rng, *k_shape))
    klayer(*[torch.from_numpy(a) for a in kargs])  # builds
    # Non-zero biases, so that a misplaced bias would show.
    klayer.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype("float32")
                        for w in klayer.get_weights()])
    ours = layers.MultiHeadAttention(**options)
    ours.build(q_shape, v_shape, k_shape)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in klayer.get_weights()]
    ours.set_weights(klayer.get_weights())
    return klayer, ours, kargs


def _call_both(klayer, ours, arrays, masks=(None, None, None), **kwargs):
    kt = [_with_mask(a, m) for a, m in zip(arrays, masks)]
    ot = [_with_mask(a, m) for a, m in zip(arrays, masks)]
    return klayer(*kt, **kwargs), ours(*ot, **kwargs)


def _assert_outputs(kout, ours):
    if isinstance(kout, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(kout)
        for a, b in zip(ours, kout):
            np.testing.assert_allclose(_np(a), _np(b), atol=ATOL, rtol=1e-5)
    else:
        np.testing.assert_allclose(_np(ours), _np(kout), atol=ATOL, rtol=1e-5)


MHA_CASES = {
    "self": dict(q=(2, 5, 8), v=(2, 5, 8), opts=dict(num_heads=2, key_dim=4)),
    "cross": dict(q=(2, 4, 6), v=(2, 7, 10), opts=dict(num_heads=3, key_dim=5)),
    "cross_key": dict(q=(2, 4, 6), v=(2, 7, 10), k=(2, 7, 3),
                      opts=dict(num_heads=2, key_dim=3)),
    "value_dim": dict(q=(2, 4, 6), v=(2, 5, 6), opts=dict(num_heads=2, key_dim=3, value_dim=7)),
    "output_shape_int": dict(q=(2, 4, 6), v=(2, 5, 6),
                             opts=dict(num_heads=2, key_dim=3, output_shape=9)),
    "output_shape_tuple": dict(q=(2, 4, 6), v=(2, 5, 6),
                               opts=dict(num_heads=2, key_dim=3, output_shape=(3, 2))),
    "no_bias": dict(q=(2, 4, 6), v=(2, 5, 6), opts=dict(num_heads=2, key_dim=3, use_bias=False)),
    "gate": dict(q=(2, 4, 6), v=(2, 5, 6), opts=dict(num_heads=2, key_dim=3, use_gate=True)),
    "sliding": dict(q=(2, 6, 6), v=(2, 6, 6), opts=dict(num_heads=2, key_dim=3,
                                                       sliding_window=2)),
    "dropout_inference": dict(q=(2, 4, 6), v=(2, 5, 6),
                              opts=dict(num_heads=2, key_dim=3, dropout=0.3)),
}


@pytest.mark.parametrize("case", list(MHA_CASES))
@pytest.mark.parametrize("scores", [False, True])
def test_mha_forward_matches_keras(K, case, scores):
    spec = MHA_CASES[case]
    rng = np.random.default_rng(6)
    klayer, ours, arrays = _mha_pair(K, rng, spec["q"], spec["v"], spec.get("k"), **spec["opts"])
    kout, oout = _call_both(klayer, ours, arrays, return_attention_scores=scores)
    _assert_outputs(kout, oout)
    shapes = [(None,) + tuple(a.shape[1:]) for a in arrays]
    assert ours.compute_output_shape(*shapes) == tuple(klayer.compute_output_shape(*shapes))


def _masks(rng, batch, t, s):
    query_mask = np.ones((batch, t), bool)
    query_mask[0, -2:] = False  # padded query positions: rows with no visible key
    value_mask = np.ones((batch, s), bool)
    value_mask[1, -3:] = False
    attention_mask = rng.random((batch, t, s)) > 0.3
    attention_mask[0, 0] = False  # one row fully masked by attention_mask alone
    return query_mask, value_mask, attention_mask


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("which", ["attention_mask", "tensor_masks", "both", "none"])
@pytest.mark.parametrize("scores,dropout", [(False, 0.0), (True, 0.0), (False, 0.25)])
def test_mha_masks_match_keras(K, causal, which, scores, dropout):
    rng = np.random.default_rng(7)
    klayer, ours, arrays = _mha_pair(K, rng, (2, 5, 6), (2, 6, 4), None,
                                     num_heads=2, key_dim=3, dropout=dropout)
    query_mask, value_mask, attention_mask = _masks(rng, 2, 5, 6)
    masks = (query_mask, value_mask, None) if which in ("tensor_masks", "both") else \
        (None, None, None)
    kwargs = dict(use_causal_mask=causal, return_attention_scores=scores)
    if which in ("attention_mask", "both"):
        kwargs["attention_mask"] = torch.from_numpy(attention_mask)
    kout, oout = _call_both(klayer, ours, arrays, masks, **kwargs)
    _assert_outputs(kout, oout)
    kfirst = kout[0] if scores else kout
    ofirst = oout[0] if scores else oout
    if _mask_of(kfirst) is None:
        assert _mask_of(ofirst) is None
    else:
        np.testing.assert_array_equal(_mask_of(ofirst), _mask_of(kfirst))


@pytest.mark.parametrize("attention_axes,shape", [((1, 2), (2, 3, 4, 6)), (2, (2, 3, 4, 6)),
                                                  ((2, 1), (2, 3, 4, 6)), (-2, (2, 3, 4, 6)),
                                                  (-2, (2, 5, 6)), ((1,), (2, 3, 4, 6))])
def test_mha_attention_axes_match_keras(K, attention_axes, shape):
    rng = np.random.default_rng(8)
    klayer, ours, arrays = _mha_pair(K, rng, shape, shape, None, num_heads=2, key_dim=3,
                                     attention_axes=attention_axes)
    for scores in (False, True):
        kout, oout = _call_both(klayer, ours, arrays, return_attention_scores=scores)
        _assert_outputs(kout, oout)


@pytest.mark.parametrize("causal,scores", [(False, False), (True, False), (False, True)])
def test_mha_gradients_match_keras(K, causal, scores):
    rng = np.random.default_rng(9)
    klayer, ours, arrays = _mha_pair(K, rng, (2, 4, 6), (2, 5, 6), None,
                                     num_heads=2, key_dim=3, value_dim=4)
    value_mask = np.ones((2, 5), bool)
    value_mask[0, -2:] = False
    results = []
    for layer in (klayer, ours):
        q, v = (torch.from_numpy(a.copy()).requires_grad_() for a in arrays)
        out = layer(q, v, value_mask=torch.from_numpy(value_mask), use_causal_mask=causal,
                    return_attention_scores=scores)
        out = out[0] if scores else out
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        weights = [w.value if hasattr(w, "value") else w for w in layer.weights]
        results.append([_np(q.grad), _np(v.grad)] + [_np(w.grad) for w in weights])
    for ours_grad, keras_grad in zip(results[1], results[0]):
        np.testing.assert_allclose(ours_grad, keras_grad, atol=ATOL)


# -------------------------------------------------------- Attention / AdditiveAttention
def _attention_pair(K, rng, name, shapes, **options):
    klayer = getattr(K.layers, name)(**options)
    arrays = [_rand(rng, *s) for s in shapes]
    klayer([torch.from_numpy(a) for a in arrays])
    klayer.set_weights([w + rng.normal(scale=0.3, size=w.shape).astype("float32")
                        for w in klayer.get_weights()])
    ours = getattr(layers, name)(**options)
    ours.build(shapes)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in klayer.get_weights()]
    ours.set_weights(klayer.get_weights())
    return klayer, ours, arrays


ATTENTION_OPTIONS = [
    ("Attention", dict()),
    ("Attention", dict(use_scale=True)),
    ("Attention", dict(score_mode="concat")),
    ("Attention", dict(score_mode="concat", use_scale=True)),
    ("AdditiveAttention", dict()),
    ("AdditiveAttention", dict(use_scale=False)),
]


@pytest.mark.parametrize("name,options", ATTENTION_OPTIONS)
@pytest.mark.parametrize("with_key", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_keras(K, name, options, with_key, masked, causal):
    rng = np.random.default_rng(10)
    shapes = [(2, 4, 3), (2, 6, 5)] + ([(2, 6, 3)] if with_key else [])
    if not with_key:
        shapes[1] = (2, 6, 3)
    klayer, ours, arrays = _attention_pair(K, rng, name, shapes, **options)
    kwargs = dict(use_causal_mask=causal, return_attention_scores=True)
    if masked:
        query_mask = np.array([[1, 1, 1, 0], [1, 0, 1, 1]], bool)
        value_mask = np.array([[1, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]], bool)  # a fully
        # masked value row: Keras subtracts 1e9 and the softmax stays finite
        kwargs["mask"] = [torch.from_numpy(query_mask), torch.from_numpy(value_mask)]
    kout = klayer([torch.from_numpy(a) for a in arrays], **kwargs)
    oout = ours([torch.from_numpy(a) for a in arrays], **kwargs)
    _assert_outputs(kout, oout)
    if masked:
        np.testing.assert_array_equal(_mask_of(oout[0]), _mask_of(kout[0]))
    none_batch = [(None,) + s[1:] for s in shapes]
    assert ours.compute_output_shape(none_batch) == \
        tuple(klayer.compute_output_shape(none_batch))


def test_attention_reads_masks_from_tensors_like_keras(K):
    rng = np.random.default_rng(11)
    klayer, ours, arrays = _attention_pair(K, rng, "Attention", [(2, 4, 3), (2, 5, 3)])
    masks = [rng.random((2, 4)) > 0.3, rng.random((2, 5)) > 0.3]
    kout = klayer([_with_mask(a, m) for a, m in zip(arrays, masks)])
    oout = ours([_with_mask(a, m) for a, m in zip(arrays, masks)])
    _assert_outputs(kout, oout)
    np.testing.assert_array_equal(_mask_of(oout), _mask_of(kout))


def test_attention_gradients_match_keras(K):
    rng = np.random.default_rng(12)
    for name, options in (("Attention", dict(use_scale=True, score_mode="concat")),
                          ("AdditiveAttention", {})):
        klayer, ours, arrays = _attention_pair(K, rng, name, [(2, 4, 3), (2, 6, 3)], **options)
        results = []
        for layer in (klayer, ours):
            xs = [torch.from_numpy(a.copy()).requires_grad_() for a in arrays]
            out = layer(xs)
            (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
            weights = [w.value if hasattr(w, "value") else w for w in layer.weights]
            results.append([_np(x.grad) for x in xs] + [_np(w.grad) for w in weights])
        for ours_grad, keras_grad in zip(results[1], results[0]):
            np.testing.assert_allclose(ours_grad, keras_grad, atol=ATOL)


def test_mha_key_mask_carried_by_the_key_matches_keras(K):
    rng = np.random.default_rng(13)
    klayer, ours, arrays = _mha_pair(K, rng, (2, 4, 6), (2, 5, 6), (2, 5, 3),
                                     num_heads=2, key_dim=3)
    key_mask = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 0, 1]], bool)
    for scores in (False, True):
        kout, oout = _call_both(klayer, ours, arrays, (None, None, key_mask),
                                return_attention_scores=scores)
        _assert_outputs(kout, oout)


@pytest.mark.parametrize("make", [
    lambda m: m.Add(), lambda m: m.Concatenate(axis=1), lambda m: m.Dot(axes=(1, 2)),
    lambda m: m.MultiHeadAttention(2, 3, value_dim=4, output_shape=5),
    lambda m: m.Attention(score_mode="concat"), lambda m: m.AdditiveAttention(),
])
def test_config_has_every_keras_key(K, make):
    theirs, ours = make(K.layers).get_config(), make(layers).get_config()
    assert set(theirs) <= set(ours)
    for key in set(theirs) - {"name", "dtype"}:
        if not isinstance(theirs[key], dict):  # serialized objects differ in format only
            assert ours[key] == theirs[key], key
