"""Deep RNN, GRU and LSTM bodies written with ``mx.nd`` ops, and their parity with fused layers.

Taught in chapter 02. Every body maps time-major inputs of shape (T, N, D) and a state tuple
with one entry per layer to the top layer's outputs, shape (T, N, H), and the new state tuple.
Layer l reads the outputs of layer l - 1: H_t^(l) = cell(H_t^(l-1), H_{t-1}^(l)), H_t^(0) = X_t.
"""
import collections

import mxnet as mx
from mxnet import nd
from mxnet.gluon import rnn

from .checks import check_number


class DeepScratchBase:
    """What the three bodies share: parameters per layer, the state, the loop over layers.

    Taught in chapter 02.
    A subclass lists its ``GATES``; gate ``g`` of every layer owns ``W_x<g>`` (D, H) in layer 0
    and (H, H) above, ``W_h<g>`` (H, H) and the biases ``bias_names(g)``, each (H,). ``params``
    lists them layer by layer, gate by gate, in that order. The subclass writes ``step``, one
    time step of one layer.
    """
    GATES = ()
    PAIRED_STATE = False  # True when a layer's state is an (H, C) pair, as in the LSTM
    FUSED = None          # the matching fused gluon.rnn layer class

    def __init__(self, num_inputs, num_hiddens, num_layers=1, sigma=0.01, ctx=None,
                 dtype='float32'):
        for name, value in (('num_inputs', num_inputs), ('num_hiddens', num_hiddens),
                            ('num_layers', num_layers)):
            check_number(name, value, integer=True, low=1)
        self.num_inputs, self.num_hiddens, self.num_layers = num_inputs, num_hiddens, num_layers
        self.dtype = dtype
        ctx = ctx or mx.current_context()
        self.layers = []  # one ordered dict name -> NDArray per layer
        for layer in range(num_layers):
            fan_in = num_inputs if layer == 0 else num_hiddens
            params = collections.OrderedDict()
            for gate in self.GATES:
                params[f'W_x{gate}'] = nd.random.normal(
                    scale=sigma, shape=(fan_in, num_hiddens), ctx=ctx, dtype=dtype)
                params[f'W_h{gate}'] = nd.random.normal(
                    scale=sigma, shape=(num_hiddens, num_hiddens), ctx=ctx, dtype=dtype)
                for bias in self.bias_names(gate):
                    params[bias] = nd.zeros(num_hiddens, ctx=ctx, dtype=dtype)
            for param in params.values():
                param.attach_grad()
            self.layers.append(params)

    def bias_names(self, gate):
        """The names of a gate's biases: one, ``b_<gate>``."""
        return [f'b_{gate}']

    def named_params(self):
        """Ordered dict ``l<layer>_<name>`` -> NDArray, e.g. ``l0_W_xh``; layers count from 0."""
        return collections.OrderedDict((f'l{layer}_{name}', param)
                                       for layer, params in enumerate(self.layers)
                                       for name, param in params.items())

    @property
    def params(self):
        """All parameters as a flat list, in the order of ``named_params``."""
        return list(self.named_params().values())

    def begin_state(self, batch_size, ctx=None):
        """Zeros: one (batch_size, H) array per layer, or an (H, C) pair of them for the LSTM."""
        ctx = ctx or self.params[0].context

        def zeros():
            return nd.zeros((batch_size, self.num_hiddens), ctx=ctx, dtype=self.dtype)
        return tuple((zeros(), zeros()) if self.PAIRED_STATE else zeros()
                     for _ in range(self.num_layers))

    def check_inputs(self, inputs, state):
        """Raise ValueError unless inputs are (T, N, D) and the state fits N, H and the layers."""
        if inputs.ndim != 3 or inputs.shape[2] != self.num_inputs:
            raise ValueError(f'expected inputs of shape (T, N, {self.num_inputs}); '
                             f'got {inputs.shape}')
        shape = (inputs.shape[1], self.num_hiddens)
        entry = f'an (H, C) pair of {shape} arrays' if self.PAIRED_STATE else f'a {shape} array'
        if not isinstance(state, (tuple, list)) or len(state) != self.num_layers:
            got = (f'{len(state)} entries' if isinstance(state, (tuple, list))
                   else type(state).__name__)
            raise ValueError(f'expected a state tuple of {self.num_layers} entries (one per '
                             f'layer), each {entry}; got {got}')
        for layer, layer_state in enumerate(state):
            arrays = (tuple(layer_state) if self.PAIRED_STATE
                      and isinstance(layer_state, (tuple, list)) else (layer_state,))
            got = [getattr(array, 'shape', type(array).__name__) for array in arrays]
            if len(arrays) != (2 if self.PAIRED_STATE else 1) or any(g != shape for g in got):
                raise ValueError(f'state of layer {layer}: expected {entry}; '
                                 f'got {", ".join(map(str, got))}')

    def forward(self, inputs, state):
        """inputs (T, N, D), state tuple -> top layer's outputs (T, N, H), new state tuple."""
        self.check_inputs(inputs, state)
        new_state = []
        for params, layer_state in zip(self.layers, state):
            outputs = []
            for X in inputs:  # X: (N, D) in layer 0, the layer below's H_t (N, H) above
                H, layer_state = self.step(params, X, layer_state)
                outputs.append(H)
            inputs = outputs  # the list of this layer's T outputs feeds the next layer
            new_state.append(layer_state)
        return nd.stack(*inputs), tuple(new_state)

    def __call__(self, inputs, state):
        return self.forward(inputs, state)

    @staticmethod
    def gate_input(params, gate, X, H):
        """X W_x<g> + H W_h<g> + b_<g>, shape (N, H)."""
        return (nd.dot(X, params[f'W_x{gate}']) + nd.dot(H, params[f'W_h{gate}'])
                + params[f'b_{gate}'])


class RNNScratch(DeepScratchBase):
    """Deep RNN: H_t^(l) = phi(H_t^(l-1) W_xh^(l) + H_{t-1}^(l) W_hh^(l) + b_h^(l)).

    Taught in chapter 02.
    Parameters per layer: ``W_xh``, ``W_hh``, ``b_h``. ``activation`` is 'tanh' or 'relu'.
    """
    GATES = ('h',)
    FUSED = rnn.RNN
    ACTIVATIONS = {'tanh': nd.tanh, 'relu': nd.relu}

    def __init__(self, num_inputs, num_hiddens, num_layers=1, activation='tanh', sigma=0.01,
                 ctx=None, dtype='float32'):
        if activation not in self.ACTIVATIONS:
            raise ValueError(f'unknown activation {activation!r}; '
                             f'valid: {", ".join(sorted(self.ACTIVATIONS))}')
        self.activation = activation
        super().__init__(num_inputs, num_hiddens, num_layers, sigma, ctx, dtype)

    def step(self, params, X, H):
        """X (N, D), H (N, H) -> the new H, twice (output and state)."""
        phi = self.ACTIVATIONS[self.activation]
        H = phi(nd.dot(X, params['W_xh']) + nd.dot(H, params['W_hh']) + params['b_h'])
        return H, H


class GRUScratch(DeepScratchBase):
    """Deep GRU: reset gate r, update gate z, candidate n; H_new = z * H + (1 - z) * n.

    Taught in chapter 03.
    ``reset_after=True`` (cuDNN's and MXNet's fused form):
    n = tanh(X W_xn + b_xn + r * (H W_hn + b_hn)); parameters per layer ``W_xr, W_hr, b_r,
    W_xz, W_hz, b_z, W_xn, W_hn, b_xn, b_hn``. ``reset_after=False`` (Cho et al., the usual
    textbook form): n = tanh(X W_xn + (r * H) W_hn + b_n), with ``b_n`` in place of the pair.
    """
    GATES = ('r', 'z', 'n')
    FUSED = rnn.GRU

    def __init__(self, num_inputs, num_hiddens, num_layers=1, sigma=0.01, ctx=None,
                 dtype='float32', reset_after=True):
        self.reset_after = reset_after
        super().__init__(num_inputs, num_hiddens, num_layers, sigma, ctx, dtype)

    def bias_names(self, gate):
        """``b_<gate>``; the reset-after candidate has two, ``b_xn`` and ``b_hn``."""
        return ['b_xn', 'b_hn'] if gate == 'n' and self.reset_after else [f'b_{gate}']

    def step(self, params, X, H):
        """X (N, D), H (N, H) -> the new H, twice (output and state)."""
        R = nd.sigmoid(self.gate_input(params, 'r', X, H))
        Z = nd.sigmoid(self.gate_input(params, 'z', X, H))
        if self.reset_after:
            N = nd.tanh(nd.dot(X, params['W_xn']) + params['b_xn']
                        + R * (nd.dot(H, params['W_hn']) + params['b_hn']))
        else:
            N = nd.tanh(nd.dot(X, params['W_xn']) + nd.dot(R * H, params['W_hn'])
                        + params['b_n'])
        H = Z * H + (1 - Z) * N
        return H, H


class LSTMScratch(DeepScratchBase):
    """Deep LSTM: gates i, f, o (sigmoid), candidate g (tanh); C = f*C + i*g, H = o*tanh(C).

    Taught in chapter 03.
    Parameters per layer ``W_x<g>, W_h<g>, b_<g>`` for g in i, f, g, o; state per layer (H, C).
    """
    GATES = ('i', 'f', 'g', 'o')
    PAIRED_STATE = True
    FUSED = rnn.LSTM

    def step(self, params, X, state):
        """X (N, D), state (H, C) each (N, H) -> H, the new (H, C)."""
        H, C = state
        I = nd.sigmoid(self.gate_input(params, 'i', X, H))
        F = nd.sigmoid(self.gate_input(params, 'f', X, H))
        G = nd.tanh(self.gate_input(params, 'g', X, H))
        O = nd.sigmoid(self.gate_input(params, 'o', X, H))
        C = F * C + I * G
        H = O * nd.tanh(C)
        return H, (H, C)


CELLS = {'rnn': RNNScratch, 'gru': GRUScratch, 'lstm': LSTMScratch}


def make_scratch(cell, num_inputs, num_hiddens, num_layers, **kwargs):
    """A scratch body of kind ``cell`` ('rnn', 'gru' or 'lstm'); ``kwargs`` go to its class.

    Taught in chapter 03.
    """
    if cell not in CELLS:
        raise ValueError(f'unknown cell type {cell!r}; valid: {", ".join(sorted(CELLS))}')
    return CELLS[cell](num_inputs, num_hiddens, num_layers, **kwargs)


