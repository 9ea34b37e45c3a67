"""The scratch deep RNN/GRU/LSTM bodies: parity with MXNet's fused layers, the textbook GRU
against NumPy, finite-difference gradients, and every error message."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd
from mxnet.gluon import rnn

from d2lrnn.parity import copy_scratch_to_fused, fused_layer_like, fused_parity
from d2lrnn.scratch import CELLS, GRUScratch, LSTMScratch, RNNScratch, make_scratch

NUM_INPUTS, NUM_HIDDENS, SEQ_LEN, BATCH_SIZE = 3, 5, 5, 3

# (cell, constructor keywords): every body the fused layers can reproduce
FUSED_CASES = [('rnn', {'activation': 'tanh'}), ('rnn', {'activation': 'relu'}),
               ('gru', {'reset_after': True}), ('lstm', {})]
# every body, the textbook GRU included, for the gradient check
ALL_CASES = FUSED_CASES + [('gru', {'reset_after': False})]


def case_id(case):
    cell, kwargs = case
    return '-'.join([cell] + [f'{k}={v}' for k, v in kwargs.items()])


def randomize_biases(body, rng):
    """Random biases, so that a bias in the wrong place changes the result."""
    for param in body.params:
        if param.ndim == 1:
            param[:] = nd.array(rng.normal(size=param.shape), dtype=param.dtype)


def random_state(body, rng, dtype, batch_size=BATCH_SIZE):
    """A random state with the structure of ``body.begin_state(batch_size)``."""
    def rand():
        return nd.array(rng.normal(size=(batch_size, body.num_hiddens)), dtype=dtype)
    return tuple((rand(), rand()) if isinstance(body, LSTMScratch) else rand()
                 for _ in range(body.num_layers))


@pytest.mark.parametrize('num_layers', [1, 2, 3])
@pytest.mark.parametrize('case', FUSED_CASES, ids=case_id)
def test_scratch_matches_fused_layer(case, num_layers):
    cell, kwargs = case
    mx.random.seed(1)
    body = make_scratch(cell, NUM_INPUTS, NUM_HIDDENS, num_layers, sigma=0.5, **kwargs)
    diffs = fused_parity(body, seq_len=SEQ_LEN, batch_size=BATCH_SIZE, seed=0)
    assert set(diffs) == {'outputs', 'state', 'grad_input', 'grad_params'}
    assert all(diff <= 1e-5 for diff in diffs.values()), diffs


def test_fused_parity_detects_a_wrong_gate_order():
    class SwappedLSTM(LSTMScratch):
        GATES = ('i', 'f', 'o', 'g')  # the fused layer's order is i, f, g, o
    mx.random.seed(1)
    diffs = fused_parity(SwappedLSTM(NUM_INPUTS, NUM_HIDDENS, 2, sigma=0.5))
    assert min(diffs.values()) > 1e-2, diffs


def test_fused_parity_is_deterministic():
    mx.random.seed(2)
    body = make_scratch('lstm', NUM_INPUTS, NUM_HIDDENS, 2, sigma=0.5)
    assert fused_parity(body, seed=3) == fused_parity(body, seed=3)


def test_parameter_names_order_and_shapes():
    gru = GRUScratch(NUM_INPUTS, NUM_HIDDENS, num_layers=2)
    names = list(gru.named_params())
    assert names[:10] == ['l0_W_xr', 'l0_W_hr', 'l0_b_r', 'l0_W_xz', 'l0_W_hz', 'l0_b_z',
                          'l0_W_xn', 'l0_W_hn', 'l0_b_xn', 'l0_b_hn']
    assert names[10:] == [name.replace('l0_', 'l1_') for name in names[:10]]
    assert gru.params == list(gru.named_params().values())
    shapes = {name: param.shape for name, param in gru.named_params().items()}
    assert shapes['l0_W_xr'] == (NUM_INPUTS, NUM_HIDDENS)
    assert shapes['l1_W_xr'] == shapes['l1_W_hn'] == (NUM_HIDDENS, NUM_HIDDENS)
    assert shapes['l1_b_hn'] == (NUM_HIDDENS,)
    assert 'l0_b_n' in GRUScratch(NUM_INPUTS, NUM_HIDDENS, reset_after=False).named_params()
    assert list(RNNScratch(NUM_INPUTS, NUM_HIDDENS).named_params()) == ['l0_W_xh', 'l0_W_hh',
                                                                        'l0_b_h']
    lstm = LSTMScratch(NUM_INPUTS, NUM_HIDDENS, num_layers=3)
    assert len(lstm.params) == 3 * 4 * 3
    state = lstm.begin_state(BATCH_SIZE)
    assert len(state) == 3 and all(h.shape == c.shape == (BATCH_SIZE, NUM_HIDDENS)
                                   for h, c in state)
    outputs, new_state = lstm(nd.ones((SEQ_LEN, BATCH_SIZE, NUM_INPUTS)), state)
    assert outputs.shape == (SEQ_LEN, BATCH_SIZE, NUM_HIDDENS) and len(new_state) == 3
    assert set(CELLS) == {'rnn', 'gru', 'lstm'}


def numpy_textbook_gru(params, X, state):
    """Cho et al.'s GRU in float64 NumPy: n = tanh(x W_xn + (r * h) W_hn + b_n)."""
    def sigmoid(a):
        return 1 / (1 + np.exp(-a))
    layer_inputs, final_state = X, []
    for layer, H in enumerate(state):
        p = {name[len(f'l{layer}_'):]: value for name, value in params.items()
             if name.startswith(f'l{layer}_')}
        outputs = []
        for x in layer_inputs:
            r = sigmoid(x @ p['W_xr'] + H @ p['W_hr'] + p['b_r'])
            z = sigmoid(x @ p['W_xz'] + H @ p['W_hz'] + p['b_z'])
            n = np.tanh(x @ p['W_xn'] + (r * H) @ p['W_hn'] + p['b_n'])
            H = z * H + (1 - z) * n
            outputs.append(H)
        layer_inputs = np.stack(outputs)
        final_state.append(H)
    return layer_inputs, final_state


def test_textbook_gru_matches_numpy():
    rng = np.random.RandomState(0)
    mx.random.seed(0)
    gru = GRUScratch(NUM_INPUTS, NUM_HIDDENS, num_layers=2, sigma=0.5, dtype='float64',
                     reset_after=False)
    randomize_biases(gru, rng)
    X = nd.array(rng.normal(size=(SEQ_LEN, BATCH_SIZE, NUM_INPUTS)), dtype='float64')
    state = random_state(gru, rng, 'float64')
    outputs, new_state = gru(X, state)
    params = {name: param.asnumpy() for name, param in gru.named_params().items()}
    expected_outputs, expected_state = numpy_textbook_gru(
        params, X.asnumpy(), [s.asnumpy() for s in state])
    np.testing.assert_allclose(outputs.asnumpy(), expected_outputs, rtol=0, atol=1e-12)
    for got, expected in zip(new_state, expected_state):
        np.testing.assert_allclose(got.asnumpy(), expected, rtol=0, atol=1e-12)


def test_textbook_gru_differs_from_fused_gru():
    """With the same weights (b_xn = b_n, b_hn = 0) the reset-after GRU matches the fused GRU
    and the textbook GRU does not: the two forms are different functions."""
    rng = np.random.RandomState(1)
    mx.random.seed(1)
    textbook = GRUScratch(NUM_INPUTS, NUM_HIDDENS, num_layers=2, sigma=0.5, reset_after=False)
    randomize_biases(textbook, rng)
    with pytest.raises(ValueError, match='fused GRU computes the reset-after form'):
        fused_layer_like(textbook)
    fused = rnn.GRU(NUM_HIDDENS, 2, layout='TNC', input_size=NUM_INPUTS)
    fused.initialize()
    copy_scratch_to_fused(textbook, fused)

    reset_after = GRUScratch(NUM_INPUTS, NUM_HIDDENS, num_layers=2, reset_after=True)
    for name, param in reset_after.named_params().items():
        source = textbook.named_params().get(name.replace('b_xn', 'b_n'))
        param[:] = source if source is not None else 0  # b_hn = 0

    X = nd.array(rng.normal(size=(SEQ_LEN, BATCH_SIZE, NUM_INPUTS)))
    state = random_state(textbook, rng, 'float32')
    fused_outputs, (fused_state,) = fused(X, [nd.stack(*state)])
    for body, should_match in ((reset_after, True), (textbook, False)):
        outputs, new_state = body(X, state)
        output_diff = nd.abs(outputs - fused_outputs).max().asscalar()
        state_diff = nd.abs(nd.stack(*new_state) - fused_state).max().asscalar()
        if should_match:
            assert output_diff < 1e-5 and state_diff < 1e-5
        else:
            assert output_diff > 1e-2 and state_diff > 1e-2


def weighted_sum_loss(body, rng, seq_len, batch_size):
    """(X, state) -> a fixed random-weighted sum of the outputs and every final state array."""
    def rand(*shape):
        return nd.array(rng.normal(size=shape), dtype='float64')
    out_weight = rand(seq_len, batch_size, body.num_hiddens)
    arrays_per_layer = 2 if isinstance(body, LSTMScratch) else 1
    state_weights = [rand(batch_size, body.num_hiddens)
                     for _ in range(arrays_per_layer * body.num_layers)]

    def loss(X, state):
        outputs, new_state = body(X, state)
        arrays = [a for s in new_state for a in (s if isinstance(s, tuple) else (s,))]
        return (outputs * out_weight).sum() + sum((a * w).sum()
                                                  for a, w in zip(arrays, state_weights))
    return loss


@pytest.mark.parametrize('case', ALL_CASES, ids=case_id)
def test_gradients_match_finite_differences(case):
    """float64 autograd gradients of every parameter and the inputs vs central differences."""
    cell, kwargs = case
    seq_len, batch_size, eps = 4, 2, 1e-6
    rng = np.random.RandomState(4)
    mx.random.seed(4)
    body = make_scratch(cell, 2, 3, 2, sigma=0.5, dtype='float64', **kwargs)
    randomize_biases(body, rng)
    X = nd.array(rng.normal(size=(seq_len, batch_size, 2)), dtype='float64')
    state = random_state(body, rng, 'float64', batch_size)
    loss = weighted_sum_loss(body, rng, seq_len, batch_size)
    X.attach_grad()
    with autograd.record():
        value = loss(X, state)
    value.backward()
    for array in [X] + body.params:
        analytic, numeric = array.grad.asnumpy(), np.zeros(array.shape)
        original = array.asnumpy()
        for index in np.ndindex(*array.shape):
            for sign in (1, -1):
                shifted = original.copy()
                shifted[index] += sign * eps
                array[:] = nd.array(shifted, dtype='float64')
                numeric[index] += sign * loss(X, state).asscalar() / (2 * eps)
            array[:] = nd.array(original, dtype='float64')
        error = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic)
                                                      + np.linalg.norm(numeric))
        assert error < 1e-7, (array.shape, error)


@pytest.mark.parametrize('kwargs, message', [
    ({'num_layers': 0}, 'num_layers must be an integer >= 1, got 0'),
    ({'num_hiddens': 0}, 'num_hiddens must be an integer >= 1, got 0'),
    ({'num_inputs': 0}, 'num_inputs must be an integer >= 1, got 0'),
    ({'activation': 'sigmoid'}, "unknown activation 'sigmoid'; valid: relu, tanh"),
])
def test_constructor_errors(kwargs, message):
    arguments = {'num_inputs': NUM_INPUTS, 'num_hiddens': NUM_HIDDENS, **kwargs}
    with pytest.raises(ValueError, match=message):
        RNNScratch(**arguments)


@pytest.mark.parametrize('cls', [GRUScratch, LSTMScratch])
def test_gated_constructors_check_sizes(cls):
    with pytest.raises(ValueError, match='num_layers must be an integer >= 1, got 0'):
        cls(NUM_INPUTS, NUM_HIDDENS, num_layers=0)


def test_unknown_cell_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown cell type 'transformer'; valid: gru, lstm, rnn"):
        make_scratch('transformer', NUM_INPUTS, NUM_HIDDENS, 1)


def test_state_errors():
    X = nd.zeros((SEQ_LEN, BATCH_SIZE, NUM_INPUTS))
    deep = RNNScratch(NUM_INPUTS, NUM_HIDDENS, num_layers=2)
    with pytest.raises(ValueError, match=r'expected a state tuple of 2 entries \(one per layer\), '
                                         r'each a \(3, 5\) array; got 1 entries'):
        deep(X, RNNScratch(NUM_INPUTS, NUM_HIDDENS).begin_state(BATCH_SIZE))
    with pytest.raises(ValueError, match=r'state of layer 0: expected a \(3, 5\) array; '
                                         r'got \(4, 5\)'):
        deep(X, deep.begin_state(4))
    lstm = LSTMScratch(NUM_INPUTS, NUM_HIDDENS)
    with pytest.raises(ValueError, match=r'state of layer 0: expected an \(H, C\) pair of '
                                         r'\(3, 5\) arrays; got \(3, 5\)$'):
        lstm(X, RNNScratch(NUM_INPUTS, NUM_HIDDENS).begin_state(BATCH_SIZE))
    with pytest.raises(ValueError, match=r'expected inputs of shape \(T, N, 3\); got \(5, 3, 4\)'):
        deep(nd.zeros((SEQ_LEN, BATCH_SIZE, 4)), deep.begin_state(BATCH_SIZE))
