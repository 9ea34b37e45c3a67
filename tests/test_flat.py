"""The flat fused layer equals gluon's fused layer: initial numbers, outputs, states, gradients,
and whole training steps of ``RegularizedRNNModel``."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, nd

import d2lrnn
from d2lrnn.depth import DeepRNNModel
from d2lrnn.flat import FlatFusedLayer, PiecewiseInit, copy_fused_to_flat, with_gluon_layers
from d2lrnn.models import FUSED_LAYERS
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.training import Updater, detach, train_step

CELLS = ('rnn', 'gru', 'lstm')
H, D, T, N = 5, 3, 4, 2


def gluon_layer(cell, num_hiddens=H, input_size=D, **kwargs):
    extra = {'activation': 'tanh'} if cell == 'rnn' else {}
    return FUSED_LAYERS[cell](num_hiddens, 1, input_size=input_size, **extra, **kwargs)


def gluon_pieces(layer):
    """{'i2h_weight': NDArray, ...} of a one-layer gluon fused layer."""
    return {name[len(layer.prefix) + len('l0_'):]: param.data()
            for name, param in layer.collect_params().items()}


def assert_pieces_equal(flat_layer, vector, arrays):
    for name, view in flat_layer.pieces(vector).items():
        np.testing.assert_array_equal(view.asnumpy(), arrays[name].asnumpy(), err_msg=name)


@pytest.mark.parametrize('cell', CELLS)
@pytest.mark.parametrize('init', [None, mx.init.Xavier(), mx.init.Normal(0.5)])
def test_seeded_initial_numbers_are_gluons(cell, init):
    args = [init] if init is not None else []  # initialize()'s default: Uniform(0.07)
    d2lrnn.seed_everything(3)
    reference = gluon_layer(cell)
    reference.initialize(*args)
    d2lrnn.seed_everything(3)
    flat = FlatFusedLayer(cell, H, D)
    flat.initialize(*args)
    assert_pieces_equal(flat, flat.flat.data(), gluon_pieces(reference))


def test_a_bias_initialiser_fills_its_piece_as_gluons_does():
    d2lrnn.seed_everything(0)
    reference = gluon_layer('lstm', i2h_bias_initializer=mx.init.LSTMBias(1.0))
    reference.initialize(mx.init.Xavier())
    d2lrnn.seed_everything(0)
    flat = FlatFusedLayer('lstm', H, D)
    flat.set_bias_init('i2h_bias', mx.init.LSTMBias(1.0))
    flat.initialize(mx.init.Xavier())
    bias = flat.pieces(flat.flat.data())['i2h_bias'].asnumpy()
    assert (bias[H:2 * H] == 1).all() and not np.delete(bias, range(H, 2 * H)).any()
    assert_pieces_equal(flat, flat.flat.data(), gluon_pieces(reference))


@pytest.mark.parametrize('cell', CELLS)
@pytest.mark.parametrize('hybridize', [False, True])
def test_outputs_states_and_gradients_are_gluons_to_the_bit(cell, hybridize):
    reference, flat = gluon_layer(cell), FlatFusedLayer(cell, H, D)
    reference.initialize(mx.init.Normal(0.5))
    flat.initialize()
    copy_fused_to_flat(reference, flat)
    rng = np.random.RandomState(0)
    inputs = nd.array(rng.normal(size=(T, N, D)))
    state = [nd.array(rng.normal(size=(1, N, H))) for _ in range(2 if cell == 'lstm' else 1)]
    weights = nd.array(rng.normal(size=(T, N, H)))
    results = []
    for layer in (reference, flat):
        if hybridize:
            layer.hybridize()
        x = inputs.copy()
        x.attach_grad()
        with autograd.record():
            outputs, new_state = layer(x, state)
            loss = (outputs * weights).sum() + sum(s.sum() for s in new_state)
        loss.backward()
        results.append((outputs, new_state, x.grad))
    for ours, theirs in zip(results[1], results[0]):
        for a, b in zip(ours if isinstance(ours, list) else [ours],
                        theirs if isinstance(theirs, list) else [theirs]):
            np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
    reference_grads = {name[len(reference.prefix) + len('l0_'):]: param.grad()
                       for name, param in reference.collect_params().items()}
    assert_pieces_equal(flat, flat.flat.grad(), reference_grads)


@pytest.mark.parametrize('clip_theta, exact', [(1e9, True), (0.1, False)])
def test_training_the_model_follows_gluons_layers(clip_theta, exact):
    """Same seed, same numbers at the start and, without clipping, after every step. Clipping
    scales by the global norm, whose float32 sum of squares over one vector rounds otherwise
    than four sums over its pieces (by about 1e-6 relative at the book's sizes; equal at
    these): that case is compared to 1e-6."""
    options = dict(cell='lstm', vocab_size=20, num_hiddens=H, num_layers=2, embed_size=H,
                   tie_weights=True)
    models = []
    for build in (lambda: RegularizedRNNModel(**options),
                  lambda: with_gluon_layers(RegularizedRNNModel(**options))):
        d2lrnn.seed_everything(0)
        model = build()
        model.initialize(mx.init.Xavier())
        models.append(model)
    ours, theirs = models
    rng = np.random.RandomState(0)
    batches = [(rng.randint(0, 20, (N, T)), rng.randint(0, 20, (N, T))) for _ in range(3)]
    updaters = [Updater(model, 1.0, mx.cpu()) for model in models]
    states = [model.begin_state(N) for model in models]
    for step in range(len(batches) + 1):
        for flat, reference in zip(ours.rnn, theirs.rnn):
            for name, view in flat.pieces(flat.flat.data()).items():
                a, b = view.asnumpy(), gluon_pieces(reference)[name].asnumpy()
                if exact or step == 0:
                    np.testing.assert_array_equal(a, b, err_msg=f'after {step} steps: {name}')
                else:
                    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        if step < len(batches):
            for index, model in enumerate(models):
                states[index] = train_step(model, updaters[index], *batches[step],
                                           detach(states[index]), mx.cpu(), clip_theta)[1]


def test_deep_model_forget_bias_lands_in_every_layers_i2h_piece():
    model = DeepRNNModel('lstm', 20, H, 3, embed_size=4, forget_bias=1.0, residual=True)
    model.initialize(mx.init.Xavier())
    layers = [model.rnn[0]] + [residual.layer for residual in list(model.rnn)[1:]]
    for layer in layers:
        pieces = layer.pieces(layer.flat.data())
        assert pieces['i2h_bias'].asnumpy()[H:2 * H].tolist() == [1.0] * H
        assert not pieces['h2h_bias'].asnumpy().any()


def test_bad_input_says_what_is_valid():
    with pytest.raises(ValueError, match="unknown cell type 'tree'; valid: gru, lstm, rnn"):
        FlatFusedLayer('tree', H, D)
    with pytest.raises(ValueError, match="no bias piece 'bias'; valid: i2h_bias, h2h_bias"):
        FlatFusedLayer('lstm', H, D).set_bias_init('bias', 'ones')
    flat, other = FlatFusedLayer('gru', H, D), gluon_layer('gru', num_hiddens=H + 1)
    flat.initialize()
    other.initialize()
    before = flat.flat.data().copy()
    with pytest.raises(ValueError, match=r'no l0_i2h_weight of shape \(15, 3\)'):
        copy_fused_to_flat(other, flat)
    np.testing.assert_array_equal(flat.flat.data().asnumpy(), before.asnumpy())
    layer = FlatFusedLayer('lstm', H, D)
    with pytest.raises(ValueError, match='pass another one there'):
        layer.initialize(PiecewiseInit(layer.layout))
