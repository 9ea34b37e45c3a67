"""A fused recurrent layer whose weights are one vector, in the ``RNN`` operator's layout.

Taught in chapter 07. gluon's fused layers (``rnn.LSTM`` and the others) keep four arrays
per layer (``l0_i2h_weight`` (G*H, D), ``l0_h2h_weight`` (G*H, H), ``l0_i2h_bias`` and
``l0_h2h_bias`` (G*H,), G gate blocks) and on every call concatenate them into the one vector
MXNet's ``RNN`` operator reads; the backward pass splits that vector's gradient back into
four. ``FlatFusedLayer`` keeps the vector itself as its only parameter, so neither copy is
made. ``PiecewiseInit`` starts it from the numbers gluon's layer would start from, and
``pieces`` names the four parts of the vector, or of its gradient; ``with_gluon_layers``
builds the same model with gluon's layers, to compare the two.
"""
import mxnet as mx
import numpy as np
from mxnet import gluon, nd

from .models import FUSED_LAYERS

NUM_GATES = {'rnn': 1, 'gru': 3, 'lstm': 4}  # weight blocks per layer of each fused cell
MODES = {'rnn': 'rnn_tanh', 'gru': 'gru', 'lstm': 'lstm'}  # the RNN operator's names


def flat_layout(cell, num_hiddens, input_size):
    """[(name, shape)] of the pieces of a one-layer fused layer, in the order the ``RNN``
    operator reads them: the two weights, then the two biases.

    Taught in chapter 07.
    """
    rows = NUM_GATES[cell] * num_hiddens
    return [('i2h_weight', (rows, input_size)), ('h2h_weight', (rows, num_hiddens)),
            ('i2h_bias', (rows,)), ('h2h_bias', (rows,))]


class PiecewiseInit(mx.init.Initializer):
    """Initialise a flat vector piece by piece, as gluon initialises a layer's four arrays.

    Taught in chapter 07. ``layout`` is ``flat_layout``'s list. Each weight piece, in order,
    goes to the initialiser given to ``initialize`` on an array of the piece's own shape, so a
    seeded model draws exactly the numbers gluon's layer draws; each bias piece goes to
    ``bias_inits[name]`` (default ``'zeros'``, gluon's default too).
    """

    def __init__(self, layout, bias_inits=None):
        super().__init__()
        self.layout, self.bias_inits = layout, dict(bias_inits or {})

    def _init_weight(self, desc, arr):
        if desc.global_init is None or desc.global_init is self:
            raise ValueError('PiecewiseInit initialises the weights with the initialiser given '
                             'to initialize(); pass another one there (e.g. mx.init.Xavier())')
        offset = 0
        for name, shape in self.layout:
            piece = nd.zeros(shape, ctx=arr.context, dtype=arr.dtype)
            if name.endswith('weight'):
                desc.global_init(mx.init.InitDesc(name), piece)
            else:
                mx.init.create(self.bias_inits.get(name, 'zeros'))._init_weight(name, piece)
            arr[offset:offset + piece.size] = piece.reshape((-1,))
            offset += piece.size


class FlatFusedLayer(gluon.HybridBlock):
    """One fused recurrent layer (``'rnn'`` with tanh, ``'gru'`` or ``'lstm'``) holding its
    weights as one vector, ``flat``, that the ``RNN`` operator reads as it is.

    Taught in chapter 07. Computes what ``gluon.rnn.LSTM(num_hiddens, 1,
    input_size=input_size)`` (or GRU, RNN) computes, from the same initial numbers:
    ``(inputs (T, N, D), state [H] or [H, C], each (1, N, num_hiddens))`` -> ``(outputs
    (T, N, num_hiddens), new state)``.
    """

    def __init__(self, cell, num_hiddens, input_size, **kwargs):
        super().__init__(**kwargs)
        if cell not in MODES:
            raise ValueError(f'unknown cell type {cell!r}; valid: {", ".join(sorted(MODES))}')
        self.cell, self.num_hiddens, self.input_size = cell, num_hiddens, input_size
        self.layout = flat_layout(cell, num_hiddens, input_size)
        size = sum(int(np.prod(shape)) for _, shape in self.layout)
        self.flat = self.params.get('flat', shape=(size,), init=PiecewiseInit(self.layout))

    def set_bias_init(self, name, init):
        """Initialise the bias piece ``name`` (``'i2h_bias'`` or ``'h2h_bias'``) with ``init``
        (an ``mx.init`` initialiser or its name) instead of zeros; call before ``initialize``."""
        if name not in ('i2h_bias', 'h2h_bias'):
            raise ValueError(f'no bias piece {name!r}; valid: i2h_bias, h2h_bias')
        self.flat.init = PiecewiseInit(self.layout, {**self.flat.init.bias_inits, name: init})

    def pieces(self, array):
        """{name: view} of ``array`` (this layer's vector: ``flat.data()`` or ``flat.grad()``),
        each piece in its own shape; writing into a view writes into ``array``."""
        views, offset = {}, 0
        for name, shape in self.layout:
            size = int(np.prod(shape))
            views[name] = array[offset:offset + size].reshape(shape)
            offset += size
        return views

    def hybrid_forward(self, F, inputs, state, flat):
        outputs = F.RNN(inputs, flat, *state, state_size=self.num_hiddens, num_layers=1,
                        mode=MODES[self.cell], state_outputs=True)
        return outputs[0], list(outputs[1:])


def copy_fused_to_flat(fused, flat_layer):
    """Copy a one-layer gluon fused layer's four arrays into ``flat_layer``'s vector.

    Taught in chapter 07. With it, the proofs of chapter 03 (``copy_scratch_to_fused``) reach
    the flat layer.
    """
    arrays = {name[len(fused.prefix) + len('l0_'):]: param.data()
              for name, param in fused.collect_params().items()}
    for name, shape in flat_layer.layout:
        if name not in arrays or arrays[name].shape != shape:
            raise ValueError(f'the fused layer has no l0_{name} of shape {shape}; it must be a '
                             f'one-layer {flat_layer.cell} layer with num_hiddens='
                             f'{flat_layer.num_hiddens}, input_size={flat_layer.input_size}')
    for vector in flat_layer.flat.list_data():  # one copy per device
        for name, view in flat_layer.pieces(vector).items():
            view[:] = arrays[name].as_in_context(view.context)


def with_gluon_layers(model):
    """``model`` (a ``RegularizedRNNModel``, not yet initialised) with each of its
    ``FlatFusedLayer``s replaced by gluon's one-layer fused layer of the same sizes: the same
    function from the same seeded numbers, with four arrays per layer.

    Taught in chapter 07, which times the two.
    """
    extra = {'activation': 'tanh'} if model.cell == 'rnn' else {}
    layers = gluon.nn.HybridSequential(prefix=model.rnn.prefix)
    for flat in model.rnn:
        layers.add(FUSED_LAYERS[flat.cell](flat.num_hiddens, 1, input_size=flat.input_size,
                                           **extra))
    model.rnn = layers
    return model
