import types

import mxnet as mx
import numpy as np
import pytest
from mxnet import nd
from mxnet.gluon import rnn

from d2lrnn.models import RNNModel, count_params
from d2lrnn.stacking import CellStackLM
from d2lrnn.training import train


def _max_diff(a, b):
    return nd.abs(a - b).max().asscalar()


def _tokens(vocab_size, batch_size, num_steps, seed=0):
    return nd.array(np.random.RandomState(seed).randint(0, vocab_size, (batch_size, num_steps)))


def _lstm_stack(num_layers, num_hiddens, input_size):
    stack = rnn.HybridSequentialRNNCell()
    for layer in range(num_layers):
        stack.add(rnn.LSTMCell(num_hiddens, input_size=input_size if layer == 0 else num_hiddens))
    return stack


def _cell_model_of(fused_model):
    """A CellStackLM computing what ``fused_model`` (an RNNModel) computes: the fused layer's
    own cells (``_unfuse`` shares its parameters) and copies of the embedding and Dense."""
    model = CellStackLM(fused_model.rnn._unfuse(), fused_model.vocab_size,
                        fused_model.num_hiddens, embed_size=fused_model.embed_size)
    for name in ('embedding', 'dense'):
        ours, theirs = getattr(model, name), getattr(fused_model, name)
        if ours is None:
            continue
        ours.initialize()
        for param, source in zip(ours.collect_params().values(),
                                 theirs.collect_params().values()):
            param.set_data(source.data())
    return model


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
@pytest.mark.parametrize('embed_size', [None, 5])
def test_cell_stack_equals_fused_model(cell, embed_size):
    mx.random.seed(0)
    V, H, L, N, T = 11, 6, 3, 4, 7
    fused = RNNModel(cell, V, H, L, embed_size=embed_size)
    fused.initialize(mx.init.Uniform(0.5))
    model = _cell_model_of(fused)
    assert count_params(model) == count_params(fused)
    X = _tokens(V, N, T)
    fused_state = [nd.random.normal(shape=s.shape) for s in fused.begin_state(N)]
    # the fused state is (L, N, H) per kind; the cells' is [h_1, (c_1,) h_2, ...]
    cell_state = [s[layer] for layer in range(L) for s in fused_state]
    logits_f, state_f = fused(X, fused_state)
    logits_c, state_c = model(X, cell_state)
    assert logits_c.shape == (T * N, V)
    assert _max_diff(logits_f, logits_c) <= 1e-5
    kinds = len(fused_state)
    for kind, stacked in enumerate(state_f):
        assert _max_diff(stacked, nd.stack(*state_c[kind::kinds])) <= 1e-5


def test_hybridized_equals_imperative_when_num_steps_changes():
    mx.random.seed(1)
    V, H = 9, 8
    model = CellStackLM(_lstm_stack(2, H, 4), V, H, embed_size=4)
    model.initialize(mx.init.Xavier())
    inputs = [_tokens(V, 3, T, seed=T) for T in (5, 1, 5, 2)]
    imperative = [model(X, model.begin_state(3))[0] for X in inputs]
    model.hybridize(static_alloc=True, static_shape=True)
    for X, expected in zip(inputs, imperative):  # T: 5, then 1, 5 and 2 rebuild the graph
        logits, state = model(X, model.begin_state(3))
        assert logits.shape == (X.shape[1] * 3, V)
        assert _max_diff(logits, expected) <= 1e-6
        assert [s.shape for s in state] == [(3, H)] * 4


def test_carried_state_continues_the_sequence():
    mx.random.seed(2)
    V, H = 7, 5
    model = CellStackLM(_lstm_stack(2, H, V), V, H)
    model.initialize(mx.init.Xavier())
    model.hybridize()
    X = _tokens(V, 2, 6)
    whole, whole_state = model(X, model.begin_state(2))
    first, state = model(X[:, :4], model.begin_state(2))
    second, state = model(X[:, 4:], state)
    assert _max_diff(whole, nd.concat(first, second, dim=0)) <= 1e-6
    assert max(_max_diff(a, b) for a, b in zip(whole_state, state)) <= 1e-6


def test_one_cell_added_twice_counts_once():
    H = 6
    cell = rnn.LSTMCell(H, input_size=H)
    shared = rnn.HybridSequentialRNNCell()
    shared.add(cell)
    shared.add(cell)
    model = CellStackLM(shared, 10, H, embed_size=H)
    model.initialize()
    separate = CellStackLM(_lstm_stack(2, H, H), 10, H, embed_size=H)
    separate.initialize()
    assert len(model.begin_state(3)) == 4  # each layer keeps its own (h, c)
    assert count_params(separate) - count_params(model) == count_params(cell)
    assert count_params(cell) == 4 * (H * H + H * H + 2 * H)


def test_learns_a_periodic_sequence_with_the_book_loop():
    mx.random.seed(3)
    text = [0, 1, 2, 3, 4, 3, 2, 1] * 125  # the next token needs the previous two
    corpus = types.SimpleNamespace(train=text[:800], valid=text[800:])
    model = CellStackLM(_lstm_stack(2, 16, 8), 5, 16, embed_size=8)
    model.initialize(mx.init.Xavier())
    model.hybridize(static_alloc=True, static_shape=True)
    history = train(model, corpus, 4.0, 6, mx.cpu(), batch_size=4, num_steps=10, plot=False)
    assert [h['epoch'] for h in history] == list(range(1, 7))
    assert history[0]['val_ppl'] > 2 and history[-1]['val_ppl'] < 1.2


def test_invalid_configuration_and_calls():
    with pytest.raises(TypeError, match='stack must be a gluon HybridRecurrentCell'):
        CellStackLM(rnn.LSTM(4), 10, 4)
    with pytest.raises(ValueError, match='vocab_size must be an integer >= 1, got 0'):
        CellStackLM(_lstm_stack(1, 4, 4), 0, 4)
    with pytest.raises(ValueError, match='num_hiddens must be an integer >= 1, got 0'):
        CellStackLM(_lstm_stack(1, 4, 4), 10, 0)
    with pytest.raises(ValueError, match='embed_size must be an integer >= 1'):
        CellStackLM(_lstm_stack(1, 4, 4), 10, 4, embed_size=0)
    model = CellStackLM(_lstm_stack(2, 4, 10), 10, 4)
    model.initialize()
    state = model.begin_state(2)
    with pytest.raises(ValueError, match=r"a list of 4 arrays \(see begin_state\); got 2"):
        model(_tokens(10, 2, 3), state[:2])
    with pytest.raises(ValueError, match=r'shape \(batch_size, num_steps\); got \(2, 3, 1\)'):
        model(nd.zeros((2, 3, 1)), state)
