"""When depth pays: the remedies that let deep stacks train, and what reaches each layer.

Taught in chapter 10. ``DeepRNNModel`` is chapter 07's ``RegularizedRNNModel`` with two
remedies for deep stacks: an LSTM forget-gate bias that starts at ``forget_bias`` (gluon's
fused layers start every bias at 0, so the forget gate starts half closed: sigmoid(0) = 0.5)
and ``residual`` connections, which add each layer's input to its output from the second
layer on, so the gradient reaches the lower layers through an identity path as well.
``ProjectedResidualLayer`` gives the first layer one too (chapter 10's exercise 2).
``param_count`` and ``width_for_budget`` size a stack to a parameter budget;
``layer_gradient_norms`` measures the gradient that reaches each layer.
"""
import math

import mxnet as mx
from mxnet import gluon
from mxnet.gluon import nn

from .checks import check_number
from .flat import NUM_GATES
from .regularization import RegularizedRNNModel


class ResidualLayer(gluon.HybridBlock):
    """A one-layer fused layer (``FlatFusedLayer``) whose output is its output plus its input.

    Taught in chapter 10; ``gluon.rnn.ResidualCell`` does this around a cell, this does it
    around a fused layer. ``(inputs (T, N, H), state) -> (outputs + inputs, new state)``.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def hybrid_forward(self, F, inputs, state):
        outputs, state = self.layer(inputs, state)
        return outputs + inputs, state


class ProjectedResidualLayer(gluon.HybridBlock):
    """A one-layer fused layer whose output is its output plus a learned projection of its
    input, for a first layer whose input is not as wide as its output.

    Taught in chapter 10 (exercise 2). ``(inputs (T, N, D), state) -> (outputs + inputs W_p,
    new state)``, W_p a (D, H) matrix without bias (``Dense`` stores it (H, D)).
    """

    def __init__(self, layer, input_size, num_hiddens, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer
        with self.name_scope():
            self.projection = nn.Dense(num_hiddens, in_units=input_size, use_bias=False,
                                       flatten=False)

    def hybrid_forward(self, F, inputs, state):
        outputs, state = self.layer(inputs, state)
        return outputs + self.projection(inputs), state


class DeepRNNModel(RegularizedRNNModel):
    """``RegularizedRNNModel`` with a forget-gate bias and residual connections.

    Taught in chapter 10. ``forget_bias`` (LSTM only) initialises the forget-gate block of
    each layer's input-to-hidden bias (gate order i, f, g, o: entries H..2H-1) to that value,
    the rest to 0 (``mx.init.LSTMBias``); the hidden-to-hidden bias stays 0, so the gate's
    total bias starts at ``forget_bias``. ``residual=True`` wraps layers 2..L in
    ``ResidualLayer``: layer l computes H^(l) = f(D(H^(l-1))) + D(H^(l-1)), D the dropout
    the model applies to every layer's input; ``input_projection=True`` (with ``residual``)
    gives the first layer one too, through ``ProjectedResidualLayer`` (exercise 2 of
    chapter 10). Calls, shapes and state as ``RegularizedRNNModel``; the defaults build the
    same network.
    """

    def __init__(self, cell, vocab_size, num_hiddens, num_layers=1, embed_size=None,
                 dropout=0.0, variational=False, embed_dropout=0.0, tie_weights=False,
                 residual=False, forget_bias=0.0, input_projection=False, **kwargs):
        super().__init__(cell, vocab_size, num_hiddens, num_layers, embed_size, dropout,
                         variational, embed_dropout, tie_weights, **kwargs)
        check_number('forget_bias', forget_bias)
        if forget_bias and cell != 'lstm':
            raise ValueError(f'forget_bias needs an LSTM (only it has a forget gate), got '
                             f'cell={cell!r}')
        if input_projection and not residual:
            raise ValueError('input_projection gives the first layer a residual connection '
                             'like the others\'; it needs residual=True')
        self.residual, self.forget_bias = bool(residual), forget_bias
        self.input_projection = bool(input_projection)
        if forget_bias:
            for layer in self.rnn:
                layer.set_bias_init('i2h_bias', mx.init.LSTMBias(forget_bias))
        if residual and (num_layers > 1 or input_projection):
            layers = list(self.rnn)
            with self.name_scope():
                self.rnn = gluon.nn.HybridSequential()
                for index, layer in enumerate(layers):
                    if index:
                        layer = ResidualLayer(layer)
                    elif input_projection:
                        layer = ProjectedResidualLayer(layer, embed_size or vocab_size,
                                                       num_hiddens)
                    self.rnn.add(layer)


def param_count(cell, vocab_size, num_hiddens, num_layers=1, embed_size=None,
                tie_weights=False, input_projection=False):
    """Number of parameters of ``DeepRNNModel`` (or ``RegularizedRNNModel``) with these sizes,
    without building it: per layer G (H (D + H) + 2 H) with G gates (1, 3, 4) and D the
    layer's input size, plus the embedding (V E) and the output layer (H V, shared when
    tied, + V), and with ``input_projection`` the first layer's projection (D H).

    Taught in chapter 10.
    """
    gates, hidden = NUM_GATES[cell], num_hiddens
    inputs = [embed_size or vocab_size] + [hidden] * (num_layers - 1)
    stack = sum(gates * (hidden * (size + hidden) + 2 * hidden) for size in inputs)
    embedding = vocab_size * embed_size if embed_size else 0
    output = (0 if tie_weights else hidden * vocab_size) + vocab_size
    projection = inputs[0] * hidden if input_projection else 0
    return stack + embedding + output + projection


def width_for_budget(budget, cell, vocab_size, num_layers, embed_size=None, tie_weights=False,
                     input_projection=False):
    """The width H whose model comes closest to ``budget`` parameters (``param_count``).

    Taught in chapter 10. With ``tie_weights`` the embedding is H wide too (``embed_size`` is
    ignored): the study's tied word models keep E = H.
    """
    check_number('budget', budget, integer=True, low=1)

    def count(hidden):
        embed = hidden if tie_weights else embed_size
        return param_count(cell, vocab_size, hidden, num_layers, embed, tie_weights,
                           input_projection)
    hidden = 1
    while count(hidden) < budget:  # count grows with H: the first H at or above the budget
        hidden *= 2
    low, high = hidden // 2, hidden
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < budget else (low, middle)
    return min((max(low, 1), high), key=lambda h: (abs(count(h) - budget), h))


def layer_gradient_norms(model):
    """The L2 norm of the gradient of each recurrent layer's parameters, bottom first.

    Taught in chapter 10. Read after ``backward`` (or after an update: the gradients stay
    until the next ``backward``); a list of ``num_layers`` floats.
    """
    norms = []
    for layer in model.rnn:
        squares = [(param.grad() ** 2).sum() for param in layer.collect_params().values()]
        norms.append(math.sqrt(sum(square.asscalar() for square in squares)))
    return norms

