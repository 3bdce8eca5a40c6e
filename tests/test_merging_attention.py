"""Merge and attention layers: errors, configs, lazy builds, masks, dropout and helpers."""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers
from torchkeras_lite.layers import (Add, AdditiveAttention, Attention, Average, Concatenate, Dot,
                                    Maximum, Minimum, MultiHeadAttention, Multiply, Subtract)
from torchkeras_lite.layers import attention, merging

ELEMENTWISE = [Add, Subtract, Multiply, Average, Maximum, Minimum]


# ------------------------------------------------------------------------------ merges
def test_merge_layers_are_in_the_catalog_and_helpers_are_listed_apart():
    assert set(merging.__all__) == {"Add", "Subtract", "Multiply", "Average", "Maximum",
                                    "Minimum", "Concatenate", "Dot"}
    assert all(isinstance(getattr(merging, n), type) for n in merging.__all__)
    assert set(merging.FUNCTIONS) == {"add", "subtract", "multiply", "average", "maximum",
                                      "minimum", "concatenate", "dot"}
    assert set(attention.__all__) == {"MultiHeadAttention", "Attention", "AdditiveAttention"}
    for module in (merging, attention):
        for name in module.__all__:
            assert layers.ALL_LAYERS[name] is getattr(module, name)


@pytest.mark.parametrize("cls", ELEMENTWISE + [Concatenate])
def test_merge_layers_build_lazily_from_a_list(cls):
    layer = cls()
    assert not layer.built
    out = layer([torch.ones(2, 3), torch.ones(2, 3)])
    assert layer.built and out.shape == ((2, 6) if cls is Concatenate else (2, 3))
    assert layer.get_weights() == []


def test_elementwise_values():
    a, b, c = torch.tensor([[1.0, 5.0]]), torch.tensor([[3.0, 2.0]]), torch.tensor([[2.0, 2.0]])
    torch.testing.assert_close(Add()([a, b, c]), a + b + c)
    torch.testing.assert_close(Subtract()([a, b]), a - b)
    torch.testing.assert_close(Multiply()([a, b, c]), a * b * c)
    torch.testing.assert_close(Average()([a, b, c]), (a + b + c) / 3)
    torch.testing.assert_close(Maximum()([a, b, c]), torch.tensor([[3.0, 5.0]]))
    torch.testing.assert_close(Minimum()([a, b, c]), torch.tensor([[1.0, 2.0]]))


def test_lower_rank_inputs_broadcast_after_the_batch_axis():
    x, y = torch.randn(2, 3, 4), torch.randn(2, 4)
    torch.testing.assert_close(Add()([x, y]), x + y[:, None, :])
    assert Add().compute_output_shape([(None, 3, 4), (None, 4)]) == (None, 3, 4)
    assert Add().compute_output_shape([(None, 3, 4), (5, 1, 4)]) == (5, 3, 4)


@pytest.mark.parametrize("cls", ELEMENTWISE)
def test_merge_needs_a_list_of_at_least_two(cls):
    x = torch.ones(2, 3)
    with pytest.raises(ValueError, match="must be called on a list of tensors"):
        cls()(x)
    with pytest.raises(ValueError, match=r"needs (a list of at least 2|exactly 2) inputs, got 1"):
        cls()([x])


def test_subtract_takes_exactly_two():
    x = torch.ones(2, 3)
    with pytest.raises(ValueError, match="needs exactly 2 inputs, got 3"):
        Subtract()([x, x, x])
    layer = Subtract()
    layer([x, x])
    with pytest.raises(ValueError, match="needs exactly 2 inputs, got 3"):
        layer([x, x, x])


def test_incompatible_shapes_name_both():
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(3, 4\) and \(3, 2\)"):
        Add()([torch.ones(2, 3, 4), torch.ones(2, 3, 2)])
    layer = Add()
    layer([torch.ones(2, 3, 4), torch.ones(2, 3, 4)])  # built; a later bad call still explains
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(3, 4\) and \(3, 2\)"):
        layer([torch.ones(2, 3, 4), torch.ones(2, 3, 2)])
    with pytest.raises(ValueError, match="incompatible shapes"):
        Add().compute_output_shape([(None, 3), (None, 4)])


def test_different_batch_sizes_are_an_error_not_a_broadcast():
    layer = Multiply()
    layer([torch.ones(2, 3), torch.ones(2, 3)])
    with pytest.raises(ValueError, match="different batch sizes"):
        layer([torch.ones(2, 3), torch.ones(1, 3)])
    with pytest.raises(ValueError, match="different batch sizes"):
        Add().build([(2, 3), (4, 3)])


def test_merge_mask_is_the_or_of_all_masks_else_none():
    x, y = torch.ones(2, 3, 4), torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, False, False], [True, True, False]])
    y._keras_mask = torch.tensor([[False, True, False], [True, False, False]])
    out = Add()([x, y])
    assert out._keras_mask.tolist() == [[True, True, False], [True, True, False]]
    assert getattr(Add()([x, torch.ones(2, 3, 4)]), "_keras_mask", None) is None
    assert Add().compute_mask([x, y], [None, y._keras_mask]) is None
    with pytest.raises(ValueError, match="got 1 masks for 2 inputs"):
        Add().compute_mask([x, y], [x._keras_mask])


def test_multiply_treats_masked_entries_as_one_and_zeroes_fully_masked():
    x, y = torch.full((1, 2, 1), 3.0), torch.full((1, 2, 1), 2.0)
    x._keras_mask = torch.tensor([[True, False]])
    y._keras_mask = torch.tensor([[False, False]])
    assert Multiply()([x, y]).flatten().tolist() == [3.0, 0.0]


def test_concatenate_errors():
    with pytest.raises(ValueError, match="axis must be an integer"):
        Concatenate(axis=1.5)
    with pytest.raises(ValueError, match=r"axis=3 is out of range for inputs of rank 3"):
        Concatenate(axis=3)([torch.ones(2, 3, 4), torch.ones(2, 3, 4)])
    with pytest.raises(ValueError, match=r"differ on axis 1 \(3 vs 5\)"):
        Concatenate()([torch.ones(2, 3, 4), torch.ones(2, 5, 4)])
    with pytest.raises(ValueError, match="same rank"):
        Concatenate()([torch.ones(2, 3, 4), torch.ones(2, 4)])
    layer = Concatenate(axis=1)
    layer([torch.ones(2, 3, 4), torch.ones(2, 5, 4)])
    with pytest.raises(ValueError, match=r"differ on axis 2 \(4 vs 2\)"):
        layer([torch.ones(2, 3, 4), torch.ones(2, 5, 2)])


def test_concatenate_mask_counts_unmasked_inputs_as_visible():
    x, y = torch.ones(1, 3, 2), torch.ones(1, 2, 2)
    x._keras_mask = torch.tensor([[True, False, True]])
    assert Concatenate(axis=1)([x, y])._keras_mask.tolist() == [[True, False, True, True, True]]


def test_dot_errors():
    x = torch.ones(2, 3, 4)
    with pytest.raises(TypeError, match="axes must be an integer or a pair"):
        Dot(axes="1")
    with pytest.raises(ValueError, match="axes must be an integer or a pair"):
        Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError,
                       match=r"axes=3 is out of range for input 0 of shape \(2, 3, 4\)"):
        Dot(axes=3)([x, x])
    with pytest.raises(ValueError, match="includes the batch axis 0"):
        Dot(axes=0)([x, x])
    with pytest.raises(ValueError, match=r"axis 1 of the first has size 3 but axis 2 of the "
                                         r"second has size 4"):
        Dot(axes=(1, 2))([x, x])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        Dot(axes=1)([x, x, x])
    with pytest.raises(ValueError, match="rank >= 2"):
        Dot(axes=1).build([(2,), (2,)])


def test_dot_normalize_gives_cosine_similarity():
    a, b = torch.randn(5, 7), torch.randn(5, 7)
    out = Dot(axes=1, normalize=True)([a, b])
    torch.testing.assert_close(out[:, 0], torch.nn.functional.cosine_similarity(a, b))
    assert out.shape == (5, 1)


def test_functional_helpers_apply_the_layer():
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    torch.testing.assert_close(merging.add([a, b]), a + b)
    torch.testing.assert_close(merging.subtract([a, b]), a - b)
    torch.testing.assert_close(merging.multiply([a, b]), a * b)
    torch.testing.assert_close(merging.average([a, b]), (a + b) / 2)
    torch.testing.assert_close(merging.maximum([a, b]), torch.maximum(a, b))
    torch.testing.assert_close(merging.minimum([a, b]), torch.minimum(a, b))
    torch.testing.assert_close(merging.concatenate([a, b], axis=0), torch.cat([a, b]))
    torch.testing.assert_close(merging.dot([a, b]), (a * b).sum(1, keepdim=True))
    assert merging.dot([a, b], axes=1, normalize=True).abs().max() <= 1 + 1e-6


# --------------------------------------------------------------------------- attention
def test_mha_builds_on_first_call_with_keras_layout():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5)
    assert not layer.built
    out = layer(torch.randn(4, 6, 7), torch.randn(4, 9, 8))
    assert layer.built and out.shape == (4, 6, 7)
    assert [w.shape for w in layer.get_weights()] == [
        (7, 2, 3), (2, 3), (8, 2, 3), (2, 3), (8, 2, 5), (2, 5), (2, 5, 7), (7,)]
    assert layer.count_params() == sum(w.size for w in layer.get_weights())


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_heads=0, key_dim=2), "num_heads must be a positive integer, got 0"),
    (dict(num_heads=2, key_dim=-1), "key_dim must be a positive integer, got -1"),
    (dict(num_heads=2, key_dim=2, value_dim=0), "value_dim must be a positive integer or None"),
    (dict(num_heads=2, key_dim=2, dropout=1.0), r"dropout must be a float in \[0, 1\)"),
    (dict(num_heads=2, key_dim=2, output_shape=(3, 0)), "output_shape must be a positive"),
    (dict(num_heads=2, key_dim=2, attention_axes="1"), "attention_axes must be None"),
    (dict(num_heads=2, key_dim=2, sliding_window=0), "sliding_window must be None or a pos"),
    (dict(num_heads=2, key_dim=2, flash_attention=True, dropout=0.1),
     "flash_attention=True does not support dropout"),
    (dict(num_heads=2, key_dim=2, seed=1.5), "seed must be an integer or None"),
])
def test_mha_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiHeadAttention(**kwargs)


def test_mha_shape_errors():
    with pytest.raises(ValueError, match=r"rank >= 3 .* got shape \(2, 4\)"):
        MultiHeadAttention(2, 3)(torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="same rank"):
        MultiHeadAttention(2, 3)(torch.randn(2, 4, 5), torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="value and key must have equal shapes"):
        MultiHeadAttention(2, 3)(torch.randn(2, 4, 5), torch.randn(2, 6, 5), torch.randn(2, 7, 5))
    with pytest.raises(ValueError, match=r"attention_axes=\(3,\) must name distinct axes"):
        MultiHeadAttention(2, 3, attention_axes=3)(torch.randn(2, 4, 5), torch.randn(2, 4, 5))
    layer = MultiHeadAttention(2, 3)
    layer(torch.randn(2, 4, 5), torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"built for a query of 5 features, got query of shape "
                                         r"\(2, 4, 6\)"):
        layer(torch.randn(2, 4, 6), torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="return_attention_scores=True is not available"):
        MultiHeadAttention(2, 3, flash_attention=True)(
            torch.randn(2, 4, 5), torch.randn(2, 4, 5), return_attention_scores=True)


def test_mha_explicit_query_mask_is_honoured_and_kept_on_the_output():
    torch.manual_seed(0)
    layer = MultiHeadAttention(2, 3)
    x = torch.randn(2, 4, 5)
    query_mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    plain = layer(x, x)
    masked = layer(x, x, query_mask=query_mask)
    assert masked._keras_mask is query_mask
    torch.testing.assert_close(masked[1], plain[1])
    assert not torch.allclose(masked[0, 2:], plain[0, 2:])
    carried = x.clone()
    carried._keras_mask = query_mask
    torch.testing.assert_close(layer(carried, x), masked)


def test_mha_causal_mask_hides_the_future():
    layer = MultiHeadAttention(1, 4)
    x = torch.randn(1, 5, 4)
    _, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    assert torch.all(scores[0, 0].triu(1) == 0)
    torch.testing.assert_close(scores.sum(-1), torch.ones(1, 1, 5))
    # The fused path (no scores asked) gives the same output.
    torch.testing.assert_close(layer(x, x, use_causal_mask=True),
                               layer(x, x, use_causal_mask=True, return_attention_scores=True)[0])


def test_mha_dropout_only_in_training_and_seeded_dropout_repeats():
    x = torch.randn(3, 5, 8)
    layer = MultiHeadAttention(2, 4, dropout=0.5)
    torch.testing.assert_close(layer(x, x), layer(x, x))
    assert not torch.allclose(layer(x, x, training=True), layer(x, x))
    layer.train()
    assert not torch.allclose(layer(x, x), layer(x, x, training=False))
    seeded = [MultiHeadAttention(2, 4, dropout=0.5, seed=7) for _ in range(2)]
    seeded[0].build(x.shape, x.shape)
    seeded[1].build(x.shape, x.shape)
    seeded[1].set_weights(seeded[0].get_weights())
    torch.testing.assert_close(seeded[0](x, x, training=True), seeded[1](x, x, training=True))


def test_mha_fully_masked_rows_with_dropout_are_zero_in_training_too():
    torch.manual_seed(0)
    layer = MultiHeadAttention(2, 4, dropout=0.3, use_bias=False)
    x = torch.randn(2, 3, 8)
    mask = torch.ones(2, 3, 3, dtype=torch.bool)
    mask[0, 1] = False
    # Without biases, a zero attention output projects to exactly zero.
    out = layer(x, x, attention_mask=mask, training=True)
    assert torch.all(out[0, 1] == 0) and torch.all(out[0, 0] != 0)


def test_mha_regularizers_constraints_and_trainable():
    layer = MultiHeadAttention(2, 3, kernel_regularizer="l2", bias_regularizer="l1",
                               activity_regularizer="l2", kernel_constraint="non_neg")
    x = torch.randn(2, 4, 5)
    layer(x, x)
    # 4 kernels + 4 biases, and one activity penalty per projection (as Keras's sublayers).
    assert len(layer.losses) == 12
    layer.apply_constraints()
    assert all(np.all(w >= 0) for w in layer.get_weights()[0::2])
    frozen = MultiHeadAttention(2, 3, trainable=False)
    frozen(x, x)
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 8


def test_mha_grad_flows_to_every_weight():
    layer = MultiHeadAttention(2, 3, use_gate=True, dropout=0.1)
    x = torch.randn(2, 4, 5, requires_grad=True)
    layer(x, x, training=True).sum().backward()
    assert x.grad is not None and all(w.grad is not None for w in layer.weights)
    assert len(layer.weights) == 10


def test_mha_float64():
    layer = MultiHeadAttention(2, 3, dtype="float64")
    x = torch.randn(2, 4, 5, dtype=torch.float64)
    out, scores = layer(x, x, return_attention_scores=True)
    assert out.dtype == scores.dtype == torch.float64
    assert layer(x, x, attention_mask=torch.ones(2, 4, 4)).dtype == torch.float64


def test_attention_errors():
    with pytest.raises(ValueError, match="score_mode must be one of"):
        Attention(score_mode="add")
    with pytest.raises(ValueError, match=r"dropout must be a float in \[0, 1\)"):
        Attention(dropout=2)
    with pytest.raises(ValueError, match=r"must be called on a list \[query, value\]"):
        Attention()(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="list of 2 or 3 inputs"):
        Attention()([torch.ones(2, 3, 4)])
    with pytest.raises(ValueError, match="same feature size"):
        Attention()([torch.ones(2, 3, 4), torch.ones(2, 5, 4), torch.ones(2, 5, 3)])
    with pytest.raises(ValueError, match="same number of steps"):
        Attention()([torch.ones(2, 3, 4), torch.ones(2, 5, 4), torch.ones(2, 6, 4)])
    with pytest.raises(ValueError, match=r"mask must be a list \[query_mask, value_mask\]"):
        Attention()([torch.ones(2, 3, 4), torch.ones(2, 5, 4)],
                    mask=torch.ones(2, 5, dtype=torch.bool))


def test_attention_errors_after_build():
    layer = Attention()
    q, v = torch.ones(2, 3, 4), torch.ones(2, 5, 4)
    layer([q, v])
    with pytest.raises(ValueError, match=r"got a single input of shape \(2, 3, 4\)"):
        layer(q)
    with pytest.raises(ValueError, match="list of 2 or 3 inputs"):
        layer([q])
    with pytest.raises(ValueError, match=r"value_mask must have shape \(2, 5\).* got \(2, 3\)"):
        layer([q, v], mask=[None, torch.ones(2, 3, dtype=torch.bool)])
    with pytest.raises(ValueError, match=r"query_mask must have shape \(2, 3\).* got \(2, 5\)"):
        layer([q, v], mask=[torch.ones(2, 5, dtype=torch.bool), None])


@pytest.mark.parametrize("kwargs", [
    dict(value_mask=torch.ones(2, 4, dtype=torch.bool)),
    dict(attention_mask=torch.ones(2, 4, 4, dtype=torch.bool)),
    dict(attention_mask=torch.ones(2, 4, 4, dtype=torch.bool), return_attention_scores=True),
    dict(query_mask=torch.ones(2, 6, dtype=torch.bool), use_causal_mask=True),
])
def test_mha_mask_shape_errors(kwargs):
    layer = MultiHeadAttention(2, 3)
    with pytest.raises(ValueError, match=r"masks whose shapes do not fit .* attention_mask "
                                         r"\(2, 4, 6\)"):
        layer(torch.randn(2, 4, 5), torch.randn(2, 6, 5), **kwargs)


def test_attention_weights_and_masks():
    layer = Attention(use_scale=True, score_mode="concat")
    q, v = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    q_mask = torch.tensor([[True, True, False], [True, True, True]])
    v_mask = torch.tensor([[True, True, True, False, False], [True] * 5])
    out, scores = layer([q, v], mask=[q_mask, v_mask], return_attention_scores=True)
    assert [w.shape for w in layer.get_weights()] == [(), ()]
    assert out.shape == (2, 3, 4) and scores.shape == (2, 3, 5)
    assert torch.all(out[0, 2] == 0) and out._keras_mask is q_mask
    assert torch.all(scores[0, :, 3:] == 0)
    additive = AdditiveAttention()
    additive([q, v])
    assert [w.shape for w in additive.get_weights()] == [(4,)]
    assert AdditiveAttention(use_scale=False)([q, v]).shape == (2, 3, 4)


def test_attention_dropout_only_in_training():
    layer = Attention(dropout=0.5, seed=1)
    q = torch.randn(2, 3, 4)
    torch.testing.assert_close(layer([q, q]), layer([q, q]))
    assert not torch.allclose(layer([q, q], training=True), layer([q, q]))


# ------------------------------------------------------------------------------ configs
@pytest.mark.parametrize("layer", [
    Add(), Subtract(name="diff"), Multiply(), Average(), Maximum(), Minimum(),
    Concatenate(axis=1), Dot(axes=(1, 2), normalize=True), Dot(axes=-1),
    MultiHeadAttention(2, 3), MultiHeadAttention(
        4, 8, value_dim=5, dropout=0.1, use_bias=False, output_shape=(3, 2),
        attention_axes=(1, 2), sliding_window=3, kernel_initializer="he_normal",
        kernel_regularizer="l2", activity_regularizer="l1", bias_constraint="non_neg",
        use_gate=True, seed=4),
    Attention(), Attention(use_scale=True, score_mode="concat", dropout=0.2, seed=3),
    AdditiveAttention(), AdditiveAttention(use_scale=False, dropout=0.1, seed=2),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = layers.deserialize({"class_name": type(layer).__name__, "config": config})
    assert restored.get_config() == config


def test_functional_attention_returns_scores_with_symbolic_shapes():
    """return_attention_scores=True gives two symbolic outputs (values and scores), also with
    unknown time axes, as in Keras."""
    from torchkeras_lite.layers import Attention, Input, MultiHeadAttention
    from torchkeras_lite.models import Model
    q, v = Input((None, 8)), Input((None, 8))
    out, scores = Attention()([q, v], return_attention_scores=True, use_causal_mask=True)
    assert out.shape == (None, None, 8) and scores.shape == (None, None, None)
    mha_out, mha_scores = MultiHeadAttention(2, 4)(q, v, return_attention_scores=True,
                                                   use_causal_mask=True)
    assert mha_out.shape == (None, None, 8) and mha_scores.shape == (None, 2, None, None)
    model = Model([q, v], [out, scores, mha_out, mha_scores])
    a, b, c, d = model([torch.randn(3, 5, 8), torch.randn(3, 5, 8)])
    assert b.shape == (3, 5, 5) and d.shape == (3, 2, 5, 5)
    q4 = Input((3, 5, 8))
    _, s4 = MultiHeadAttention(2, 4, attention_axes=(2,))(q4, q4, return_attention_scores=True)
    assert s4.shape == (None, 3, 2, 5, 5)
