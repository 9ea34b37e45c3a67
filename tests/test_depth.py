"""Chapter 10's deep model: residual connections (with and without the first layer's
projection), the parameter count and its errors."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

import d2lrnn
from d2lrnn.depth import DeepRNNModel, param_count
from d2lrnn.models import count_params
from d2lrnn.regularization import RegularizedRNNModel

V, H, N, T = 10, 6, 4, 7


def by_hand(model, reference, X):
    """The logits of ``model`` computed from ``reference``'s layers (the same parameters) with
    every residual connection added by hand."""
    inputs, state = nd.one_hot(X.T, V), reference.begin_state(N)
    for index, layer in enumerate(reference.rnn):
        outputs, _ = layer(inputs, [kind[index:index + 1] for kind in state])
        if index:
            outputs = outputs + inputs
        elif model.input_projection:
            weight = model.rnn[0].projection.weight.data()  # (H, V)
            outputs = outputs + nd.dot(inputs, weight, transpose_b=True)
        inputs = outputs
    return reference.dense(inputs.reshape((-3, 0)))


@pytest.mark.parametrize('input_projection', [False, True])
def test_residual_model_adds_each_layers_input(input_projection):
    d2lrnn.seed_everything(0)
    model = DeepRNNModel('lstm', V, H, 3, residual=True, input_projection=input_projection)
    model.initialize(mx.init.Xavier())
    reference = RegularizedRNNModel('lstm', V, H, 3)
    reference.initialize()
    layers = [model.rnn[0].layer if input_projection else model.rnn[0]] + [
        residual.layer for residual in list(model.rnn)[1:]]
    for mine, theirs in zip(layers, reference.rnn):
        theirs.flat.set_data(mine.flat.data())
    reference.dense.weight.set_data(model.dense.weight.data())
    reference.dense.bias.set_data(model.dense.bias.data())
    X = nd.array(np.random.RandomState(0).randint(0, V, (N, T)))
    logits, _ = model(X, model.begin_state(N))
    np.testing.assert_allclose(logits.asnumpy(), by_hand(model, reference, X).asnumpy(),
                               atol=1e-6)


@pytest.mark.parametrize('options', [
    dict(cell='lstm', num_layers=1), dict(cell='gru', num_layers=3),
    dict(cell='lstm', num_layers=4, residual=True, input_projection=True),
    dict(cell='rnn', num_layers=2, embed_size=5, tie_weights=False)])
def test_param_count_counts_what_the_model_holds(options):
    model = DeepRNNModel(vocab_size=V, num_hiddens=H, **options)
    model.initialize()
    model(nd.zeros((1, 2)), model.begin_state(1))
    expected = param_count(options['cell'], V, H, options['num_layers'],
                           options.get('embed_size'), options.get('tie_weights', False),
                           options.get('input_projection', False))
    assert count_params(model) == expected


def test_bad_options_say_what_is_needed():
    with pytest.raises(ValueError, match='input_projection .* needs residual=True'):
        DeepRNNModel('lstm', V, H, 2, input_projection=True)
    with pytest.raises(ValueError, match='forget_bias needs an LSTM'):
        DeepRNNModel('gru', V, H, 2, forget_bias=1.0)
