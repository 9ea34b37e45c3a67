import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from d2lrnn.models import RNNLMScratch, RNNModel, count_params
from d2lrnn.parity import copy_scratch_to_fused
from d2lrnn.scratch import make_scratch


@pytest.mark.parametrize('cell', ['rnn', 'gru', 'lstm'])
def test_scratch_lm_equals_gluon_model_with_copied_weights(cell):
    mx.random.seed(0)
    V, H, L = 11, 6, 2
    scratch = RNNLMScratch(make_scratch(cell, V, H, L, sigma=0.3), V, sigma=0.3)
    concise = RNNModel(cell, V, H, L)
    concise.initialize()
    copy_scratch_to_fused(scratch.body, concise.rnn)
    concise.dense.weight.set_data(scratch.W_hq.T)
    concise.dense.bias.set_data(scratch.b_q)
    # the fused layer has a second (h2h) bias for every gate; the scratch GRU already has
    # two biases in its candidate, so only its r and z gates lack one
    extra_biases_per_layer = {'rnn': 1, 'gru': 2, 'lstm': 4}[cell]
    assert count_params(concise) - count_params(scratch) == L * H * extra_biases_per_layer
    X = nd.array(np.random.RandomState(0).randint(0, V, (3, 5)))
    logits_s, _ = scratch(X, scratch.begin_state(3))
    logits_c, _ = concise(X, concise.begin_state(3))
    assert logits_c.shape == (15, V)
    assert nd.abs(logits_s - logits_c).max().asscalar() <= 1e-5


def test_hybridized_model_computes_the_same():
    model = RNNModel('gru', 9, 8, 2, embed_size=4)
    model.initialize(mx.init.Xavier())
    X = nd.array(np.random.RandomState(1).randint(0, 9, (2, 6)))
    imperative, _ = model(X, model.begin_state(2))
    model.hybridize()
    hybrid, state = model(X, model.begin_state(2))
    assert nd.abs(imperative - hybrid).max().asscalar() <= 1e-6
    assert [s.shape for s in state] == [(2, 2, 8)]


def test_parameter_count_of_fused_lstm():
    model = RNNModel('lstm', 28, 256, 2)
    model.initialize()
    per_layer = lambda d, h: 4 * (d * h + h * h + 2 * h)  # noqa: E731 (two biases per gate)
    assert count_params(model) == per_layer(28, 256) + per_layer(256, 256) + 256 * 28 + 28


@pytest.mark.parametrize('kwargs, message', [
    (dict(cell='transformer'), "unknown cell type 'transformer'; valid: gru, lstm, rnn"),
    (dict(num_layers=0), 'num_layers must be an integer >= 1, got 0'),
    (dict(num_hiddens=0), 'num_hiddens must be an integer >= 1, got 0'),
    (dict(embed_size=0), r'embed_size must be an integer >= 1 \(or None: one-hot\), got 0'),
    (dict(dropout=1.5), r'dropout must be a number in \[0, 1\), got 1.5'),
])
def test_bad_configuration(kwargs, message):
    config = dict(cell='lstm', vocab_size=10, num_hiddens=4, num_layers=1)
    config.update(kwargs)
    with pytest.raises(ValueError, match=message):
        RNNModel(**config)


def test_scratch_lm_refuses_mismatched_body():
    with pytest.raises(ValueError, match='reads 5 inputs but the vocabulary has 7'):
        RNNLMScratch(make_scratch('rnn', 5, 4, 1), 7)


def test_the_fused_layers_dropout_is_ignored_on_the_cpu_and_ours_is_not():
    """MXNet 1.9.1 runs the fused layers with oneDNN on the CPU, whose kernel accepts
    ``dropout`` and ignores it (chapter 04, exercise 2, says so): should a new MXNet drop, the
    chapter and RNNModel's docstring must change. RegularizedRNNModel drops everywhere."""
    from mxnet import autograd
    from d2lrnn.regularization import RegularizedRNNModel
    from d2lrnn.runtime import seed_everything

    X = nd.array(np.random.RandomState(0).randint(0, 12, (4, 9)))
    for model, drops in ((RNNModel('lstm', 12, 16, 2, dropout=0.5), False),
                         (RegularizedRNNModel('lstm', 12, 16, 2, dropout=0.5), True)):
        seed_everything(0)
        model.initialize(mx.init.Xavier(), ctx=mx.cpu())
        with autograd.record():  # training mode
            training = model(X, model.begin_state(4, mx.cpu()))[0]
        predicting = model(X, model.begin_state(4, mx.cpu()))[0]
        assert bool((nd.abs(training - predicting).max() > 1e-4).asscalar()) == drops
