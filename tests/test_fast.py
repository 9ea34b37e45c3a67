"""The fast scratch deep RNN/GRU/LSTM: parity with the fused layers (imperative and
hybridized), equality with the taught scratch bodies, the language model, errors, training;
the timing helpers of chapter 09; the benchmark suite's output format."""
import time

import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from d2lrnn.fast import FastDeepRNN, FastRNNLM, time_interleaved, training_job
from d2lrnn.parity import copy_scratch_to_fast, fast_parity
from d2lrnn.scratch import make_scratch
from d2lrnn.training import Updater, detach, train_step

NUM_INPUTS, NUM_HIDDENS, SEQ_LEN, BATCH_SIZE, VOCAB = 3, 5, 5, 3, 7
CELLS = ['rnn', 'gru', 'lstm']


def fast_block(cell, num_layers, hybridize):
    mx.random.seed(1)
    block = FastDeepRNN(cell, NUM_INPUTS, NUM_HIDDENS, num_layers)
    block.initialize(mx.init.Normal(0.5))
    if hybridize:
        block.hybridize(static_alloc=True, static_shape=True)
    return block


@pytest.mark.parametrize('hybridize', [False, True], ids=['imperative', 'hybridized'])
@pytest.mark.parametrize('num_layers', [1, 2, 3])
@pytest.mark.parametrize('cell', CELLS)
def test_fast_matches_fused_layer(cell, num_layers, hybridize):
    diffs = fast_parity(fast_block(cell, num_layers, hybridize), SEQ_LEN, BATCH_SIZE, seed=0)
    assert set(diffs) == {'outputs', 'state', 'grad_input', 'grad_params'}
    assert all(diff <= 1e-5 for diff in diffs.values()), diffs


@pytest.mark.parametrize('cell', CELLS)
def test_fast_computes_the_taught_scratch_body(cell):
    mx.random.seed(2)
    scratch = make_scratch(cell, NUM_INPUTS, NUM_HIDDENS, 2, sigma=0.5)
    for param in scratch.params:
        if param.ndim == 1:
            param[:] = nd.random.normal(shape=param.shape)
    fast = fast_block(cell, 2, hybridize=True)
    copy_scratch_to_fast(scratch, fast)
    inputs = nd.random.normal(shape=(SEQ_LEN, BATCH_SIZE, NUM_INPUTS))
    state = tuple((s + 0.3, s - 0.2) if cell == 'lstm' else s + 0.3
                  for s in nd.random.normal(shape=(2, BATCH_SIZE, NUM_HIDDENS)))
    out_s, state_s = scratch(inputs, state)
    out_f, state_f = fast(inputs, state)
    assert type(state_f) is tuple and len(state_f) == 2
    assert all(type(s) is tuple for s in state_f) == (cell == 'lstm')
    np.testing.assert_allclose(out_f.asnumpy(), out_s.asnumpy(), atol=1e-5)
    def flat(state):
        return [array for entry in state for array in (entry if cell == 'lstm' else [entry])]
    for a, b in zip(flat(state_s), flat(state_f)):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), atol=1e-5)


def test_language_model_hybridized_equals_imperative_when_T_changes():
    models = []
    for hybridize in (False, True):
        mx.random.seed(3)
        model = FastRNNLM('lstm', VOCAB, 8, num_layers=2)
        model.initialize(mx.init.Xavier())
        if hybridize:
            model.hybridize(static_alloc=True, static_shape=True)
        models.append(model)
    for num_steps in (4, 1, 4):  # a new T rebuilds the unrolled graph
        X = nd.array(np.random.RandomState(num_steps).randint(0, VOCAB, (2, num_steps)))
        (logits_a, state_a), (logits_b, state_b) = [m(X, m.begin_state(2)) for m in models]
        assert logits_b.shape == (num_steps * 2, VOCAB)
        assert type(state_b) is tuple and all(type(s) is tuple for s in state_b)
        np.testing.assert_allclose(logits_a.asnumpy(), logits_b.asnumpy(), atol=1e-6)


def test_training_lowers_the_loss():
    mx.random.seed(4)
    model = FastRNNLM('gru', VOCAB, 16, num_layers=2)
    model.initialize(mx.init.Xavier())
    model.hybridize(static_alloc=True, static_shape=True)
    updater, ctx = Updater(model, lr=2.0, ctx=mx.cpu()), mx.cpu()
    corpus = np.arange(4 * 9 * 8) % VOCAB  # a periodic sequence: the next token is predictable
    rows = corpus.reshape(4, -1)
    state, losses = model.begin_state(4, ctx), []
    for start in range(0, 8 * 8, 8):
        X, Y = rows[:, start:start + 8], rows[:, start + 1:start + 9]
        loss, state = train_step(model, updater, X, Y, detach(state), ctx)
        losses.append(loss)
    assert losses[-1] < 0.9 * losses[0] and losses == sorted(losses, reverse=True), losses


def test_errors():
    with pytest.raises(ValueError, match="unknown cell type 'cnn'; valid: gru, lstm, rnn"):
        FastDeepRNN('cnn', NUM_INPUTS, NUM_HIDDENS)
    with pytest.raises(ValueError, match='num_layers must be an integer >= 1, got 0'):
        FastDeepRNN('gru', NUM_INPUTS, NUM_HIDDENS, 0)
    fast = fast_block('lstm', 2, hybridize=False)
    with pytest.raises(ValueError, match=r'expected inputs of shape \(T, N, 3\); got \(5, 3, 4\)'):
        fast(nd.zeros((5, 3, 4)), fast.begin_state(3))
    with pytest.raises(ValueError, match='expected a state tuple of 2 entries'):
        fast(nd.zeros((5, 3, 3)), fast.begin_state(3)[:1])
    with pytest.raises(ValueError, match='expected a LSTMScratch body; got GRUScratch'):
        copy_scratch_to_fast(make_scratch('gru', NUM_INPUTS, NUM_HIDDENS, 2), fast)
    with pytest.raises(ValueError, match='differ in D, H or L'):
        copy_scratch_to_fast(make_scratch('lstm', NUM_INPUTS, NUM_HIDDENS, 1), fast)
    for cell, kwargs in (('rnn', {'activation': 'relu'}), ('gru', {'reset_after': False})):
        with pytest.raises(ValueError, match='tanh RNN and the reset-after GRU only'):
            copy_scratch_to_fast(make_scratch(cell, NUM_INPUTS, NUM_HIDDENS, 1, **kwargs),
                                 fast_block(cell, 1, hybridize=False))
    symbolic = FastDeepRNN('rnn', NUM_INPUTS, NUM_HIDDENS)
    with pytest.raises(ValueError, match=r'T is unknown: call the block on NDArrays'):
        symbolic(mx.sym.var('inputs'), (mx.sym.var('state'),))


def test_time_interleaved_warms_up_then_takes_turns():
    calls = []
    jobs = {name: (lambda name=name: calls.append(name)) for name in ('a', 'b')}
    seconds = time_interleaved(jobs, repeats=3, warmup=2)
    assert calls == ['a', 'a', 'b', 'b'] + ['a', 'b'] * 3
    assert {label: len(s) for label, s in seconds.items()} == {'a': 3, 'b': 3}


def test_time_interleaved_times_each_call():
    seconds = time_interleaved({'sleep': lambda: time.sleep(0.02), 'nothing': lambda: None},
                               repeats=2, warmup=0)
    assert min(seconds['sleep']) >= 0.02 > max(seconds['nothing'])
    with pytest.raises(ValueError, match='repeats must be an integer >= 1, got 0'):
        time_interleaved({}, repeats=0)


def test_training_job_trains_from_a_fresh_state_each_call():
    mx.random.seed(5)
    model = FastRNNLM('lstm', VOCAB, 8, num_layers=2)
    model.initialize(mx.init.Xavier())
    rows = (np.arange(2 * 3 * 4) % VOCAB).reshape(2, -1)
    batches = [(rows[:, i:i + 4], rows[:, i + 1:i + 5]) for i in (0, 4)]
    begun = []
    begin_state = model.begin_state
    model.begin_state = lambda *args: begun.append(args) or begin_state(*args)
    before = model.dense.weight.data().copy()
    job = training_job(model, batches, mx.cpu(), lr=0.5)
    job()
    job()
    assert [args[0] for args in begun] == [2, 2]  # once per call, batch size 2
    assert float(nd.abs(model.dense.weight.data() - before).max().asscalar()) > 0
    with pytest.raises(ValueError, match='batches is empty'):
        training_job(model, [], mx.cpu())
