"""Dropout between layers, variational dropout, embedding dropout and weight tying."""
import types

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd

import d2lrnn
from d2lrnn.models import RNNModel, count_params
from d2lrnn.registry import build_model, load_parameters_checked, model_config
from d2lrnn.regularization import (DropoutScratch, EmbeddingLMScratch, RegularizedRNNModel,
                                   WordDropoutEmbedding, sequence_dropout)
from d2lrnn.flat import copy_fused_to_flat
from d2lrnn.parity import copy_scratch_to_fused, fused_layer_like
from d2lrnn.scratch import LSTMScratch
from d2lrnn.training import train

V, H, L, N, T = 30, 8, 2, 6, 7


def make(seed=0, **kwargs):
    d2lrnn.seed_everything(seed)
    options = dict(cell='lstm', vocab_size=V, num_hiddens=H, num_layers=L, embed_size=H)
    options.update(kwargs)
    model = RegularizedRNNModel(**options)
    model.initialize(mx.init.Xavier())
    return model


def tokens(seed=0):
    return nd.array(np.random.RandomState(seed).randint(0, V, (N, T)))


def dropout_calls(model, train_mode=True):
    """(input, output) of every call of the model's dropout block in one forward pass."""
    calls = []
    handle = model.drop.register_forward_hook(
        lambda block, inputs, output: calls.append((inputs[0].asnumpy(), output.asnumpy())))
    with autograd.record(train_mode=train_mode):
        model(tokens(), model.begin_state(N))
    handle.detach()
    return calls


def assert_one_mask_per_sequence(dropped):
    """``dropped`` (T, N, D) booleans: the same at every time step, not the same in every row."""
    assert (dropped == dropped[:1]).all(), 'the mask changed between time steps'
    assert (dropped[0] != dropped[0, :1]).any(), 'every sequence got the same mask'
    assert 0.2 < dropped.mean() < 0.8


@pytest.mark.parametrize('variational', [True, False])
def test_dropout_acts_on_every_vertical_connection(variational):
    model = make(dropout=0.5, variational=variational)
    calls = dropout_calls(model)
    # the embedded tokens (T, N, E), the outputs of layer 1, the outputs of the top layer
    assert [inputs.shape for inputs, _ in calls] == [(T, N, H)] * (L + 1)
    for inputs, outputs in calls:
        dropped = outputs == 0
        assert (inputs[dropped] != 0).all()
        np.testing.assert_allclose(outputs[~dropped], inputs[~dropped] * 2, rtol=1e-6)
        if variational:
            assert_one_mask_per_sequence(dropped)
        else:
            assert (dropped != dropped[:1]).any(), 'standard dropout draws a mask per step'
    for inputs, outputs in dropout_calls(model, train_mode=False):
        np.testing.assert_array_equal(outputs, inputs)  # nothing dropped when predicting


def test_no_dropout_in_prediction_and_hybridized_model_agrees():
    model = make(dropout=0.5, variational=True, embed_dropout=0.3, tie_weights=True)
    X = tokens()
    logits, state = model(X, model.begin_state(N))
    again, _ = model(X, model.begin_state(N))
    np.testing.assert_array_equal(logits.asnumpy(), again.asnumpy())
    model.hybridize(static_alloc=True, static_shape=True)
    hybrid, hybrid_state = model(X, model.begin_state(N))
    np.testing.assert_allclose(hybrid.asnumpy(), logits.asnumpy(), atol=1e-6)
    assert [s.shape for s in hybrid_state] == [(L, N, H)] * 2


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_without_dropout_it_computes_what_rnn_model_computes(cell):
    """One flat one-layer block per layer is the same function as one fused L-layer block."""
    ours = make(cell=cell, embed_size=5)
    d2lrnn.seed_everything(1)
    theirs = RNNModel(cell, V, H, L, embed_size=5)
    theirs.initialize(mx.init.Uniform(0.3))
    params = ours._collect_params_with_prefix()
    for name, param in theirs._collect_params_with_prefix().items():
        if name.startswith('rnn._unfused.'):  # rnn._unfused.<l>.<piece>: layer l's vector
            layer, piece = name[len('rnn._unfused.'):].split('.', 1)
            flat = ours.rnn[int(layer)]
            flat.pieces(flat.flat.data())[piece][:] = param.data()
        else:
            params[name].set_data(param.data())
    state = [nd.random.normal(shape=(L, N, H)) for _ in theirs.begin_state(N)]
    logits_o, state_o = ours(tokens(), state)
    logits_t, state_t = theirs(tokens(), state)
    np.testing.assert_allclose(logits_o.asnumpy(), logits_t.asnumpy(), atol=1e-5)
    for a, b in zip(state_o, state_t):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), atol=1e-5)


@pytest.mark.parametrize('variational', [True, False])
def test_scratch_dropout_reuses_one_mask_per_sequence(variational):
    d2lrnn.seed_everything(0)
    D = 5
    body = DropoutScratch(LSTMScratch(D, H, L, sigma=0.5), dropout=0.5, variational=variational)
    X = nd.ones((T, N, D))
    X.attach_grad()
    weights = nd.random.normal(shape=(T, N, H))
    with autograd.record():
        outputs, state = body(X, body.begin_state(N))
        loss = (outputs * weights).sum()
    loss.backward()
    # dropped outputs are exact zeros; dropped inputs receive no gradient
    for dropped in ((outputs == 0).asnumpy(), (X.grad == 0).asnumpy()):
        if variational:
            assert_one_mask_per_sequence(dropped)
        else:
            assert (dropped != dropped[:1]).any()
    plain, _ = body.body(X, body.begin_state(N))
    predicted, _ = body(X, body.begin_state(N))  # not recording: no dropout
    np.testing.assert_array_equal(predicted.asnumpy(), plain.asnumpy())
    assert len(state) == L and body.params == body.body.params


def test_sequence_dropout_scales_and_checks_its_rate():
    X = nd.ones((4, 3, 50))
    with autograd.record():
        Y = sequence_dropout(X, 0.25, variational=True).asnumpy()
    np.testing.assert_allclose(np.unique(Y), [0, 1 / 0.75], rtol=1e-6)
    assert_one_mask_per_sequence(Y == 0)
    with pytest.raises(ValueError, match=r'rate must be a number in \[0, 1\), got 1'):
        sequence_dropout(X, 1)


def test_embedding_dropout_drops_whole_words():
    d2lrnn.seed_everything(0)
    embedding = WordDropoutEmbedding(V, 4, rate=0.5)
    embedding.initialize(mx.init.Uniform(1))
    X = nd.array(np.tile(np.arange(V), (3, 2)))  # every word six times
    weight = embedding.weight.data().asnumpy()
    with autograd.record():
        rows = embedding(X).asnumpy().reshape(-1, 4)
    dropped = (rows == 0).all(axis=1)
    words = X.asnumpy().reshape(-1).astype(int)
    for word in range(V):
        assert len(set(dropped[words == word])) == 1, 'a word is dropped everywhere or nowhere'
    assert 0 < dropped.mean() < 1
    np.testing.assert_allclose(rows[~dropped], weight[words[~dropped]] * 2, rtol=1e-6)
    np.testing.assert_array_equal(embedding(X).asnumpy().reshape(-1, 4), weight[words])


def test_tied_weights_are_one_parameter():
    tied, untied = make(tie_weights=True), make()
    assert tied.dense.weight is tied.embedding.weight
    assert count_params(untied) - count_params(tied) == V * H
    # the shared matrix's gradient is the sum of what its two uses receive
    untied.dense.weight.set_data(untied.embedding.weight.data())
    tied_params = tied._collect_params_with_prefix()
    for name, param in untied._collect_params_with_prefix().items():
        if name != 'dense.weight':  # the tied model's dense.weight is its embedding.weight
            tied_params[name].set_data(param.data())
    X, Y = tokens(1), tokens(2)
    for model in (tied, untied):
        with autograd.record():
            logits, _ = model(X, model.begin_state(N))
            loss = nd.pick(nd.log_softmax(logits), Y.T.reshape(-1)).sum()
        loss.backward()
    np.testing.assert_allclose(tied.embedding.weight.grad().asnumpy(),
                               (untied.embedding.weight.grad() + untied.dense.weight.grad()
                                ).asnumpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('kwargs, message', [
    (dict(embed_size=4, tie_weights=True), 'embed_size must equal num_hiddens; got '
                                           'embed_size=4, num_hiddens=8'),
    (dict(embed_size=None, tie_weights=True), 'got embed_size=None, num_hiddens=8'),
    (dict(dropout=1.0), r'dropout must be a number in \[0, 1\), got 1.0'),
    (dict(dropout=-0.1), r'dropout must be a number in \[0, 1\), got -0.1'),
    (dict(embed_dropout=0.2, embed_size=None), 'embed_dropout needs an embedding'),
    (dict(cell='cnn'), "unknown cell type 'cnn'; valid: gru, lstm, rnn"),
])
def test_bad_configuration(kwargs, message):
    options = dict(cell='lstm', vocab_size=V, num_hiddens=H, num_layers=L)
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        RegularizedRNNModel(**options)


def test_the_model_configuration_round_trip_keeps_the_tying(tmp_path):
    model = make(dropout=0.5, variational=True, embed_dropout=0.1, tie_weights=True)
    config = model_config(model)
    assert config == {'class': 'RegularizedRNNModel', 'kwargs': dict(
        cell='lstm', vocab_size=V, num_hiddens=H, num_layers=L, embed_size=H, dropout=0.5,
        variational=True, embed_dropout=0.1, tie_weights=True)}
    path = str(tmp_path / 'model.params')
    model.save_parameters(path)
    loaded = build_model(config)
    load_parameters_checked(loaded, path, mx.cpu(), config)
    assert loaded.dense.weight is loaded.embedding.weight and loaded.variational
    X = tokens()
    np.testing.assert_array_equal(loaded(X, loaded.begin_state(N))[0].asnumpy(),
                                  model(X, model.begin_state(N))[0].asnumpy())
    with pytest.raises(ValueError, match='kwargs.tie_weights: saved True vs now False'):
        load_parameters_checked(make(), path, config=config)
    with pytest.raises(ValueError, match='checkpoint has 2 recurrent layer.* model has 3'):
        load_parameters_checked(make(num_layers=3, tie_weights=True), path)


def scratch_lm(seed=0, **kwargs):
    d2lrnn.seed_everything(seed)
    return EmbeddingLMScratch(LSTMScratch(H, H, L, sigma=0.3), V, sigma=0.3, **kwargs)


def test_tied_scratch_lm_equals_the_tied_gluon_model():
    """Same weights: same logits, states and gradients (W_emb's sums both of its uses)."""
    ours, theirs = scratch_lm(tie_weights=True), make(tie_weights=True)
    theirs.embedding.weight.set_data(ours.W_emb)
    theirs.dense.bias.set_data(ours.b_q)
    for params, flat in zip(ours.body.layers, theirs.rnn):
        one_layer = LSTMScratch(H, H, 1)
        one_layer.layers = [params]
        fused = fused_layer_like(one_layer)
        copy_scratch_to_fused(one_layer, fused)
        copy_fused_to_flat(fused, flat)
    X, Y = tokens(1), tokens(2)
    state = [nd.random.normal(shape=(L, N, H)) for _ in range(2)]  # [H, C]
    results = []
    for model, begin in ((ours, tuple(zip(*[list(kind) for kind in state]))), (theirs, state)):
        with autograd.record():
            logits, new_state = model(X, begin)
            loss = nd.pick(nd.log_softmax(logits), Y.T.reshape(-1)).sum()
        loss.backward()
        results.append((logits, new_state))
    (logits_o, state_o), (logits_t, state_t) = results
    np.testing.assert_allclose(logits_o.asnumpy(), logits_t.asnumpy(), atol=1e-5)
    for kind, stacked in enumerate(state_t):  # H, then C
        np.testing.assert_allclose(nd.stack(*[s[kind] for s in state_o]).asnumpy(),
                                   stacked.asnumpy(), atol=1e-5)
    np.testing.assert_allclose(ours.W_emb.grad.asnumpy(),
                               theirs.embedding.weight.grad().asnumpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.b_q.grad.asnumpy(), theirs.dense.bias.grad().asnumpy(),
                               rtol=1e-4, atol=1e-5)


class RecordingBody:
    """A scratch body that keeps the inputs of every call (NumPy)."""

    def __init__(self, body):
        self.body, self.inputs = body, []
        self.num_inputs, self.num_hiddens, self.params = (body.num_inputs, body.num_hiddens,
                                                          body.params)

    def begin_state(self, batch_size, ctx=None):
        return self.body.begin_state(batch_size, ctx)

    def __call__(self, inputs, state):
        self.inputs.append(inputs.asnumpy())
        return self.body(inputs, state)


def test_scratch_lm_tying_and_word_dropout():
    tied, untied = scratch_lm(tie_weights=True), scratch_lm()
    assert count_params(untied) - count_params(tied) == V * H
    assert tied.W_hq is None and tied.params[-2:] == [tied.W_emb, tied.b_q]
    lm = scratch_lm(embed_dropout=0.5)
    lm.body = RecordingBody(lm.body)
    X = nd.array(np.tile(np.arange(V), (3, 2)))  # every word six times
    words = X.T.asnumpy().reshape(-1).astype(int)
    with autograd.record():
        lm(X, lm.begin_state(X.shape[0]))
    rows = lm.body.inputs[-1].reshape(-1, H)
    dropped = (rows == 0).all(axis=1)
    for word in range(V):
        assert len(set(dropped[words == word])) == 1, 'a word is dropped everywhere or nowhere'
    assert 0 < dropped.mean() < 1
    W_emb = lm.W_emb.asnumpy()
    np.testing.assert_allclose(rows[~dropped], W_emb[words[~dropped]] * 2, rtol=1e-6)
    lm(X, lm.begin_state(X.shape[0]))  # not recording: no dropout
    np.testing.assert_array_equal(lm.body.inputs[-1].reshape(-1, H), W_emb[words])


def test_regularized_scratch_lm_learns_with_the_book_loop():
    d2lrnn.seed_everything(3)
    text = [0, 1, 2, 3, 4, 3, 2, 1] * 125  # the next token needs the previous two
    corpus = types.SimpleNamespace(train=text[:800], valid=text[800:])
    body = DropoutScratch(LSTMScratch(16, 16, 2, sigma=0.3), 0.1, variational=True)
    model = EmbeddingLMScratch(body, 5, embed_dropout=0.1, tie_weights=True, sigma=0.3)
    history = train(model, corpus, 2.0, 4, mx.cpu(), batch_size=4, num_steps=10, plot=False)
    assert history[0]['val_ppl'] > 2 and history[-1]['val_ppl'] < 1.5


@pytest.mark.parametrize('kwargs, message', [
    (dict(body=LSTMScratch(4, H, L), tie_weights=True),
     'the body must read num_inputs == num_hiddens; got 4 and 8'),
    (dict(body=LSTMScratch(H, H, L), embed_dropout=1.0),
     r'embed_dropout must be a number in \[0, 1\), got 1.0'),
    (dict(body=LSTMScratch(H, H, L), vocab_size=0), 'vocab_size must be an integer >= 1, got 0'),
])
def test_scratch_lm_bad_configuration(kwargs, message):
    options = dict(vocab_size=V)
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EmbeddingLMScratch(**options)
