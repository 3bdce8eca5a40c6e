"""Embedding, SimpleRNN/LSTM/GRU, Bidirectional and TimeDistributed: errors, configs, building,
state handling and which execution path runs. Numbers against Keras: tests/parity."""
import numpy as np
import pytest
import torch

from torchkeras_lite import layers
from torchkeras_lite.layers import (GRU, LSTM, Bidirectional, Dense, Dropout, Embedding,
                                    SimpleRNN, TimeDistributed)
from torchkeras_lite.models import Sequential

RNN_CLASSES = [SimpleRNN, LSTM, GRU]


# ------------------------------------------------------------------------ Embedding
@pytest.mark.parametrize("args,match", [
    ((0, 3), "input_dim must be a positive integer, got 0"),
    ((2.5, 3), "input_dim must be a positive integer, got 2.5"),
    ((5, -1), "output_dim must be a positive integer, got -1"),
    ((5, True), "output_dim must be a positive integer, got True"),
])
def test_embedding_rejects_bad_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        Embedding(*args)


def test_embedding_rejects_lora():
    with pytest.raises(ValueError, match="lora_rank and lora_alpha are not supported"):
        Embedding(5, 2, lora_rank=4)


def test_embedding_out_of_range_index_names_layer_index_and_input_dim():
    layer = Embedding(10, 3, name="words")
    with pytest.raises(IndexError, match=r"'words' received index 12 .*input_dim=10"):
        layer(torch.tensor([[1, 12, 3]]))
    with pytest.raises(IndexError, match=r"received index -11 .*input_dim=10"):
        layer(torch.tensor([[-11, 0]]))


def test_embedding_lookup_mask_and_shapes():
    layer = Embedding(6, 4, mask_zero=True)
    ids = torch.tensor([[1, 0, 5], [0, 0, 2]])
    out = layer(ids)
    assert out.shape == (2, 3, 4) and layer.built
    torch.testing.assert_close(out, layer.embeddings[ids])
    assert out._keras_mask.tolist() == [[True, False, True], [False, False, True]]
    assert not hasattr(Embedding(6, 4)(ids), "_keras_mask")
    assert layer.compute_output_shape((None, None)) == (None, None, 4)
    assert layer(torch.tensor([-1])).equal(layer.embeddings[5:6])  # Keras wraps negatives


def test_embedding_weights_argument_and_input_length():
    value = np.arange(6, dtype="float32").reshape(3, 2)
    layer = Embedding(3, 2, weights=value)
    assert layer.built
    np.testing.assert_array_equal(layer.get_weights()[0], value)
    with pytest.warns(UserWarning, match="input_length"):
        Embedding(3, 2, input_length=7)


def test_embedding_gradient_reaches_rows_used():
    layer = Embedding(5, 2)
    layer(torch.tensor([[1, 1, 3]])).sum().backward()
    grad = layer.embeddings.grad
    assert grad[1].tolist() == [2.0, 2.0] and grad[3].tolist() == [1.0, 1.0]
    assert grad[[0, 2, 4]].abs().sum() == 0


# ------------------------------------------------------------------------ RNN arguments
@pytest.mark.parametrize("cls", RNN_CLASSES)
@pytest.mark.parametrize("kwargs,match", [
    ({"units": 0}, "units must be a positive integer, got 0"),
    ({"units": 2.0}, "units must be a positive integer, got 2.0"),
    ({"units": 3, "dropout": 1.0}, r"dropout must be a float in \[0, 1\)"),
    ({"units": 3, "recurrent_dropout": -0.1}, r"recurrent_dropout must be a float in \[0, 1\)"),
    ({"units": 3, "seed": "a"}, "seed must be an integer or None"),
])
def test_rnn_rejects_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_use_cudnn_is_checked(cls):
    with pytest.raises(ValueError, match="use_cudnn must be 'auto', True or False, got 'yes'"):
        cls(3, use_cudnn="yes")


@pytest.mark.parametrize("cls", RNN_CLASSES)
def test_rnn_input_errors(cls):
    layer = cls(3, name="rec")
    with pytest.raises(ValueError, match=r"expects a 3D input \(batch, timesteps, features\), "
                                         r"got shape \(2, 5\)"):
        layer(torch.zeros(2, 5))
    layer(torch.zeros(2, 5, 4))
    with pytest.raises(ValueError, match=r"'rec' was built for 4 features, received input shape "
                                         r"\(2, 5, 6\)"):
        layer(torch.zeros(2, 5, 6))
    with pytest.raises(ValueError, match="needs at least one timestep"):
        layer(torch.zeros(2, 0, 4))


def test_initial_state_errors():
    layer = LSTM(3, name="enc")
    x = torch.zeros(2, 4, 5)
    with pytest.raises(ValueError, match="'enc' takes 2 initial state tensor\\(s\\), received 1"):
        layer(x, initial_state=[torch.zeros(2, 3)])
    with pytest.raises(ValueError, match=r"shape \(batch, units\) = \(2, 3\), received \(2, 4\)"):
        layer(x, initial_state=[torch.zeros(2, 4), torch.zeros(2, 4)])


def test_mask_shape_is_checked():
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\) = \(2, 4\), "
                                         r"received \(2, 5\)"):
        GRU(3)(torch.zeros(2, 4, 5), mask=torch.ones(2, 5, dtype=torch.bool))


def test_layer_follows_module_dtype_changes():
    for layer in (LSTM(3, return_sequences=True), Bidirectional(GRU(3))):
        layer(torch.zeros(2, 4, 5))
        layer.double()
        assert layer(torch.zeros(2, 4, 5)).dtype == torch.float64
        assert layer(torch.zeros(2, 4, 5), mask=torch.ones(2, 4)).dtype == torch.float64


def test_use_cudnn_true_with_a_mask_raises():
    layer = GRU(3, use_cudnn=True)
    with pytest.raises(ValueError, match="use_cudnn=True, but this configuration needs"):
        layer(torch.zeros(2, 4, 5), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="use_cudnn=True"):
        GRU(3, use_cudnn=True, reset_after=False)(torch.zeros(2, 4, 5))


# ------------------------------------------------------------------------ RNN weights/paths
def test_weight_layouts_and_keras_initialisation():
    lstm = LSTM(4, input_shape=(7, 3))
    assert lstm.built
    kernel, recurrent, bias = lstm.get_weights()
    assert kernel.shape == (3, 16) and recurrent.shape == (4, 16) and bias.shape == (16,)
    np.testing.assert_array_equal(bias, [0] * 4 + [1] * 4 + [0] * 8)  # unit_forget_bias
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)  # orthogonal
    assert LSTM(4, unit_forget_bias=False, input_shape=(7, 3)).get_weights()[2].sum() == 0
    assert [w.shape for w in GRU(4, input_shape=(7, 3)).get_weights()] == \
        [(3, 12), (4, 12), (2, 12)]
    assert [w.shape for w in GRU(4, reset_after=False, input_shape=(7, 3)).get_weights()] == \
        [(3, 12), (4, 12), (12,)]
    assert [w.shape for w in SimpleRNN(4, use_bias=False, input_shape=(7, 3)).get_weights()] == \
        [(3, 4), (4, 4)]
    assert list(dict(lstm.named_parameters())) == ["kernel", "recurrent_kernel", "bias"]
    assert set(lstm.state_dict()) == {"kernel", "recurrent_kernel", "bias"}


@pytest.mark.parametrize("cls", RNN_CLASSES)
def test_lazy_build_on_first_call(cls):
    layer = cls(5, return_sequences=True)
    assert not layer.built
    out = layer(torch.zeros(3, 4, 2))
    assert layer.built and out.shape == (3, 4, 5)
    assert layer.compute_output_shape((None, None, 2)) == (None, None, 5)


def _no_loop(*args, **kwargs):
    raise AssertionError("the step-by-step loop ran where the fused kernel should")


@pytest.mark.parametrize("make", [
    lambda: LSTM(3), lambda: GRU(3, go_backwards=True), lambda: SimpleRNN(3, activation="relu"),
    lambda: LSTM(3, dropout=0.5),
])
def test_default_configurations_use_the_fused_kernel(monkeypatch, make):
    layer = make()
    monkeypatch.setattr(type(layer), "_run_loop", _no_loop)
    layer.train()
    out = layer(torch.randn(2, 4, 5))
    out.sum().backward()
    assert all(w.grad is not None for w in layer.trainable_weights)


def test_bidirectional_runs_one_fused_call(monkeypatch):
    layer = Bidirectional(GRU(3, return_sequences=True))
    monkeypatch.setattr(Bidirectional, "_call_each", _no_loop)
    assert layer(torch.randn(2, 4, 5)).shape == (2, 4, 6)


@pytest.mark.parametrize("make", [
    lambda: LSTM(3, use_cudnn=False), lambda: GRU(3, reset_after=False),
    lambda: SimpleRNN(3, activation="sigmoid"), lambda: LSTM(3, activation="relu"),
])
def test_other_configurations_loop(monkeypatch, make):
    layer = make()
    monkeypatch.setattr(type(layer), "_run_fused", _no_loop)
    assert layer(torch.randn(2, 4, 5)).shape == (2, 3)


def test_loop_and_fused_paths_agree():
    x = torch.randn(3, 6, 4)
    for fused, looped in [(LSTM(5, return_sequences=True), LSTM(5, return_sequences=True,
                                                                 use_cudnn=False)),
                          (GRU(5, go_backwards=True), GRU(5, go_backwards=True,
                                                          use_cudnn=False))]:
        fused.build(x.shape)
        looped.build(x.shape)
        looped.set_weights(fused.get_weights())
        torch.testing.assert_close(fused(x), looped(x), atol=1e-6, rtol=0)


# ------------------------------------------------------------------------ masks, dropout, state
def test_mask_from_embedding_flows_through_sequential():
    ids = torch.tensor([[3, 1, 0, 0], [2, 2, 2, 1]])
    model = Sequential([Embedding(5, 3, mask_zero=True), LSTM(4)])
    out = model(ids)
    embedded = model.layers[0](ids)
    expected = model.layers[1](embedded, mask=ids != 0)
    torch.testing.assert_close(out, expected)
    # Masked trailing steps are skipped: the output is the state after step 2.
    torch.testing.assert_close(out[0], model.layers[1](embedded[:1, :2]).squeeze(0))


def test_masked_steps_repeat_previous_output_or_zero():
    x = torch.randn(1, 4, 2)
    mask = torch.tensor([[False, True, False, True]])
    layer = SimpleRNN(3, return_sequences=True)
    out = layer(x, mask=mask)[0]
    assert out[0].abs().sum() == 0 and torch.equal(out[2], out[1])
    layer.zero_output_for_mask = True
    out = layer(x, mask=mask)[0]
    assert out[2].abs().sum() == 0 and out[3].abs().sum() > 0


def test_dropout_only_in_training_and_seeded():
    x = torch.randn(4, 5, 6)
    for options in ({"dropout": 0.5}, {"recurrent_dropout": 0.5}):
        a, b = GRU(3, seed=1, **options), GRU(3, seed=1, **options)
        a.build(x.shape)
        b.build(x.shape)
        b.set_weights(a.get_weights())
        assert torch.equal(a(x), b(x))
        assert torch.equal(a(x, training=True), b(x, training=True))
        assert not torch.allclose(a(x, training=True), a(x))
        a(x, training=True).sum().backward()
        assert a.kernel.grad is not None and a.recurrent_kernel.grad is not None


def test_stateful_carries_and_resets_states():
    layer = LSTM(3, stateful=True, return_state=True)
    x1, x2 = torch.randn(2, 4, 5), torch.randn(2, 4, 5)
    _, h1, c1 = layer(x1)
    carried, _, _ = layer(x2)
    explicit, _, _ = layer(x2, initial_state=[h1, c1])
    torch.testing.assert_close(carried, explicit)
    assert all(not s.requires_grad for s in layer.states)
    with pytest.raises(ValueError, match="stateful with batch size 2, received a batch of 3"):
        layer(torch.randn(3, 4, 5))
    layer.reset_states()
    fresh = LSTM(3, return_state=True)
    fresh.build(x1.shape)
    fresh.set_weights(layer.get_weights())
    torch.testing.assert_close(layer(x1)[0], fresh(x1)[0])


def test_return_state_shapes_and_output_shape():
    out = LSTM(4, return_sequences=True, return_state=True)(torch.zeros(2, 3, 5))
    assert isinstance(out, list) and [tuple(t.shape) for t in out] == [(2, 3, 4), (2, 4), (2, 4)]
    assert LSTM(4, return_state=True).compute_output_shape((None, 3, 5)) == \
        ((None, 4), (None, 4), (None, 4))
    assert GRU(4, return_state=True, return_sequences=True).compute_output_shape(
        (None, 3, 5)) == ((None, 3, 4), (None, 4))


def test_regularizers_and_constraints_apply():
    layer = LSTM(2, kernel_regularizer="l2", recurrent_regularizer="l1", bias_regularizer="l2",
                 kernel_constraint="non_neg", input_shape=(3, 4))
    assert len(layer.regularization_losses()) == 3
    with torch.no_grad():
        layer.kernel.fill_(-1.0)
    layer.apply_constraints()
    assert torch.all(layer.kernel == 0)


# ------------------------------------------------------------------------ Bidirectional
def test_bidirectional_errors():
    with pytest.raises(ValueError, match="needs a recurrent layer instance"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match="different go_backwards values"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="must agree on return_sequences"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True,
                                                    return_sequences=True))
    layer = Bidirectional(LSTM(3))
    with pytest.raises(ValueError, match="received 3 tensors, an odd number"):
        layer(torch.zeros(2, 4, 5), initial_state=[torch.zeros(2, 3)] * 3)
    with pytest.raises(AttributeError, match="is not stateful"):
        layer.reset_states()


def test_bidirectional_builds_copies_with_keras_names_and_weight_order():
    template = LSTM(3, name="enc")
    layer = Bidirectional(template)
    assert layer.forward_layer is not template and layer.forward_layer.name == "forward_enc"
    assert layer.backward_layer.name == "backward_enc" and layer.backward_layer.go_backwards
    out = layer(torch.zeros(2, 4, 5))
    assert out.shape == (2, 6) and len(layer.get_weights()) == 6
    assert layer.weights[:3] == layer.forward_layer.weights
    assert layer.weights[3:] == layer.backward_layer.weights


def test_bidirectional_weights_argument():
    source = Bidirectional(GRU(2), input_shape=(4, 3))
    copy = Bidirectional(GRU(2), weights=source.get_weights())
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(copy(x), source(x))


def test_bidirectional_fused_and_separate_paths_agree():
    x = torch.randn(3, 5, 4)
    for options in ({"return_sequences": True}, {"return_state": True}):
        for merge_mode in ("concat", "mul", None):
            fused = Bidirectional(LSTM(3, **options), merge_mode=merge_mode)
            separate = Bidirectional(LSTM(3, use_cudnn=False, **options), merge_mode=merge_mode)
            fused.build(x.shape)
            separate.build(x.shape)
            separate.set_weights(fused.get_weights())
            for a, b in zip(fused(x) if isinstance(fused(x), list) else [fused(x)],
                            separate(x) if isinstance(separate(x), list) else [separate(x)]):
                torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_bidirectional_stateful_reset():
    layer = Bidirectional(GRU(2, stateful=True))
    x = torch.randn(2, 3, 4)
    first = layer(x)
    assert layer.states is not None and len(layer.states) == 2
    assert not torch.allclose(layer(x), first)
    layer.reset_states()
    torch.testing.assert_close(layer(x), first)


# ------------------------------------------------------------------------ TimeDistributed
def test_time_distributed_errors():
    with pytest.raises(ValueError, match="needs a layer instance"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        TimeDistributed(Dense(2))(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="must return a single tensor"):
        TimeDistributed(LSTM(2, return_state=True))(torch.zeros(2, 3, 4, 5))


def test_time_distributed_shares_weights_across_timesteps():
    layer = TimeDistributed(Dense(3))
    x = torch.randn(2, 5, 4)
    out = layer(x)
    assert out.shape == (2, 5, 3) and layer.get_weights()[0].shape == (4, 3)
    torch.testing.assert_close(out[:, 2], layer.layer(x[:, 2]))
    assert layer.compute_output_shape((None, None, 4)) == (None, None, 3)


def test_time_distributed_inner_layer_follows_training_mode():
    layer = TimeDistributed(Dropout(0.5))
    x = torch.ones(4, 3, 10)
    assert torch.equal(layer(x), x)
    assert (layer(x, training=True) == 0).any()


def test_time_distributed_wraps_a_recurrent_layer_with_mask():
    layer = TimeDistributed(LSTM(2))
    x = torch.randn(2, 3, 4, 5)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    assert layer(x, mask=mask).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="mask's first two dimensions"):
        layer(x, mask=torch.ones(3, 3, 4, dtype=torch.bool))


# ------------------------------------------------------------------------ configs
@pytest.mark.parametrize("make", [
    lambda: Embedding(10, 4, mask_zero=True, embeddings_regularizer="l2", name="emb"),
    lambda: SimpleRNN(3, activation="relu", dropout=0.1, seed=3, go_backwards=True),
    lambda: LSTM(3, return_sequences=True, return_state=True, unit_forget_bias=False,
                 kernel_constraint="max_norm", use_cudnn=False, stateful=True),
    lambda: GRU(3, reset_after=False, recurrent_activation="hard_sigmoid",
                zero_output_for_mask=True, input_shape=(5, 2)),
    lambda: Bidirectional(LSTM(3, return_sequences=True), merge_mode="ave"),
    lambda: Bidirectional(GRU(3), backward_layer=GRU(3, go_backwards=True),
                          merge_mode=None),
    lambda: TimeDistributed(Dense(4, activation="relu")),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = layers.deserialize({"class_name": type(layer).__name__, "config": config})
    assert again.get_config() == config


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_paths_match_cpu():
    x = torch.randn(3, 6, 4)
    for make in (lambda: LSTM(5, return_sequences=True), lambda: GRU(5),
                 lambda: Bidirectional(GRU(5, return_sequences=True)),
                 lambda: Embedding(7, 4)):
        layer = make()
        inputs = torch.tensor([[1, -1, 6]]) if isinstance(layer, Embedding) else x
        expected = layer(inputs)
        layer.to("cuda")
        torch.testing.assert_close(layer(inputs.cuda()).cpu(), expected, atol=1e-5, rtol=1e-5)


def test_bidirectional_output_shape_with_a_wider_backward_layer():
    from torchkeras_lite.layers import GRU, LSTM, Bidirectional, Input
    from torchkeras_lite.models import Model
    x = Input((7, 4))
    layer = Bidirectional(LSTM(3, return_sequences=True),
                          backward_layer=LSTM(5, return_sequences=True, go_backwards=True))
    y = layer(x)
    assert y.shape == (None, 7, 8)
    out = Model(x, y)(torch.randn(2, 7, 4))
    assert tuple(out.shape) == (2, 7, 8)
    states = Bidirectional(GRU(3, return_state=True),
                           backward_layer=GRU(5, return_state=True, go_backwards=True),
                           merge_mode=None)(x)
    assert [t.shape for t in states] == [(None, 3), (None, 5), (None, 3), (None, 5)]
