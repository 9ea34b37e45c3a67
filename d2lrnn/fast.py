"""A fast deep RNN, GRU and LSTM written from scratch: the taught maths, near fused speed.

Taught in chapter 09. The scratch bodies of ``d2lrnn.scratch`` spend their time on many small
operators, each dispatched one by one from Python. ``FastDeepRNN`` computes exactly the same
function (GRU in the reset-after form, LSTM gates in the order i, f, g, o), with the same
state tuple, but

(a) layer-major: per layer, ONE matrix product projects the inputs of all T time steps,
    (T*N, D) x (D, G*H), X W_x^T, cut into steps by one ``split`` (T slices would each
    backpropagate a full-size gradient); only the recurrent product H_{t-1} W_h^T stays
    inside the time loop;
(b) gates fused: a layer keeps one W_x (G*H, D) and one W_h (G*H, H) holding the G gates'
    matrices stacked, so one product computes every gate; the result is reshaped to
    (N, G, H) and split along the middle axis, which is cheaper than cutting the last axis;
(c) ``F.Activation(act_type='sigmoid'/'tanh')`` (oneDNN kernels) instead of ``sigmoid`` and
    ``tanh``, MXNet's generic element-wise kernels (faster for tanh on large arrays, not on
    one gate of d2l's 32 x 256 LSTM: chapter 09 measures both);
(d) hybridizable: only ``F`` operators, so ``hybridize()`` records the whole unrolled
    computation once and replays it without Python in the loop.

Weights are stored (G*H, D) and (G*H, H), the (outputs, inputs) layout of ``FullyConnected``
and of the fused layer, so a layer computes X W_x^T with ``FullyConnected`` (oneDNN's matrix
product, the bias added in the same call). Chapter 09 measures each of these steps.
"""
import time

from mxnet import gluon, nd
from mxnet.gluon import nn

from .checks import check_number
from .scratch import CELLS
from .training import Updater, detach, train_step

GATES = {cell: body.GATES for cell, body in CELLS.items()}  # gate order of the fused layers


def as_state_tuple(state):
    """A state in any nesting of lists (a hybridized block returns lists) -> tuples.

    Taught in chapter 09.
    """
    if isinstance(state, (list, tuple)):
        return tuple(as_state_tuple(s) for s in state)
    return state


def _unstack(F, x, num):
    """x (num, ...) -> the list [x[0], ..., x[num - 1]]; ``split`` with one output is no list."""
    parts = F.split(x, num_outputs=num, axis=0, squeeze_axis=True)
    return [parts] if num == 1 else list(parts)


class FastDeepRNN(gluon.HybridBlock):
    """Deep RNN (tanh), GRU or LSTM: inputs (T, N, D), state -> outputs (T, N, H), state.

    Taught in chapter 09.
    ``cell`` is 'rnn', 'gru' or 'lstm'. The state is a tuple with one entry per layer, an
    (N, H) array or, for the LSTM, an (H, C) pair of them, as in ``d2lrnn.scratch``.
    Parameters of layer l: ``l<l>_W_x`` (G*H, D) (D = H above layer 0), ``l<l>_W_h``
    (G*H, H), ``l<l>_b`` (G*H,), the G gates' blocks stacked in ``GATES[cell]`` order, and
    for the GRU ``l<l>_b_hn`` (H,), the bias inside the reset: n = tanh(x_n + r*(h_n + b_hn)).

    The time loop is a Python loop over T, which hybridization unrolls, so the graph depends
    on T. MXNet 1.9 cannot read a shape while building a symbolic graph, so T is taken from
    the NDArray inputs when the block is called (``unroll``); a new T rebuilds the graph.
    """

    def __init__(self, cell, num_inputs, num_hiddens, num_layers=1, **kwargs):
        if cell not in GATES:
            raise ValueError(f'unknown cell type {cell!r}; valid: {", ".join(sorted(GATES))}')
        for name, value in (('num_inputs', num_inputs), ('num_hiddens', num_hiddens),
                            ('num_layers', num_layers)):
            check_number(name, value, integer=True, low=1)
        super().__init__(**kwargs)
        self.cell, self.num_inputs = cell, num_inputs
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.num_steps = None  # T of the graph; set by unroll
        width = len(GATES[cell]) * num_hiddens
        with self.name_scope():
            for layer in range(num_layers):
                fan_in = num_inputs if layer == 0 else num_hiddens
                shapes = {'W_x': (width, fan_in), 'W_h': (width, num_hiddens), 'b': (width,)}
                if cell == 'gru':
                    shapes['b_hn'] = (num_hiddens,)
                for name, shape in shapes.items():
                    init = 'zeros' if name.startswith('b') else None
                    setattr(self, f'l{layer}_{name}',
                            self.params.get(f'l{layer}_{name}', shape=shape, init=init))

    def begin_state(self, batch_size, ctx=None):
        """Zeros: one (batch_size, H) array per layer, or an (H, C) pair of them for the LSTM."""
        ctx = ctx or self.l0_W_x.list_ctx()[0]

        def zeros():
            return nd.zeros((batch_size, self.num_hiddens), ctx=ctx)
        return tuple((zeros(), zeros()) if self.cell == 'lstm' else zeros()
                     for _ in range(self.num_layers))

    def unroll(self, num_steps):
        """Build the graph for T = ``num_steps``; True if that changed T (graph cleared)."""
        if num_steps == self.num_steps:
            return False
        self.num_steps = num_steps
        self._clear_cached_op()  # the cached graph holds the old T's unrolled loop
        return True

    def forward(self, inputs, state):
        """inputs (T, N, D), state tuple -> outputs (T, N, H), new state tuple."""
        if isinstance(inputs, nd.NDArray):
            if inputs.ndim != 3 or inputs.shape[2] != self.num_inputs:
                raise ValueError(f'expected inputs of shape (T, N, {self.num_inputs}); '
                                 f'got {inputs.shape}')
            if len(state) != self.num_layers:
                raise ValueError(f'expected a state tuple of {self.num_layers} entries '
                                 f'(one per layer); got {len(state)}')
            self.unroll(inputs.shape[0])
        outputs, state = super().forward(inputs, state)
        return outputs, as_state_tuple(state)

    def hybrid_forward(self, F, inputs, state, **params):
        if self.num_steps is None:
            raise ValueError('T is unknown: call the block on NDArrays, or call unroll(T) '
                             'before using it inside a symbolic graph')
        num_gates = len(GATES[self.cell])
        step = getattr(self, f'{self.cell}_step')
        new_state = []
        for layer, layer_state in enumerate(state):
            p = {name: params[f'l{layer}_{name}'] for name in ('W_x', 'W_h', 'b', 'b_hn')
                 if f'l{layer}_{name}' in params}
            # (a) the input projections of all T steps in one product: (T, N, G*H)
            projected = F.FullyConnected(inputs, p['W_x'], p['b'], flatten=False,
                                         num_hidden=num_gates * self.num_hiddens)
            outputs = []
            for x_gates in _unstack(F, projected, self.num_steps):  # each (N, G*H)
                H, layer_state = step(F, x_gates, layer_state, p)
                outputs.append(H)
            inputs = F.stack(*outputs, axis=0)  # (T, N, H), the next layer's inputs
            new_state.append(layer_state)
        return inputs, tuple(new_state)

    def recurrent(self, F, H, W_h, num_gates):
        """(b) H W_h^T for all G gates in one product, (N, G*H): the loop's only product."""
        return F.FullyConnected(H, W_h, no_bias=True, num_hidden=num_gates * self.num_hiddens)

    @staticmethod
    def split_gates(F, gates, num_gates):
        """(N, G*H) -> G arrays (N, H), one per gate in stacking order.

        Reshaping to (N, G, H) and splitting axis 1 is cheaper than slicing the last axis.
        """
        return list(F.split(F.reshape(gates, shape=(0, num_gates, -1)), num_outputs=num_gates,
                            axis=1, squeeze_axis=True))

    def rnn_step(self, F, x_h, H, p):
        """x_h = X_t W_xh^T + b_h (N, H), H (N, H) -> the new H, twice (output and state)."""
        H = F.Activation(x_h + self.recurrent(F, H, p['W_h'], 1), act_type='tanh')
        return H, H

    def gru_step(self, F, x_gates, H, p):
        """x_gates = X_t W_x^T + b (N, 3H), H (N, H) -> the new H, twice (reset-after GRU)."""
        x_r, x_z, x_n = self.split_gates(F, x_gates, 3)
        h_r, h_z, h_n = self.split_gates(F, self.recurrent(F, H, p['W_h'], 3), 3)
        R = F.Activation(x_r + h_r, act_type='sigmoid')
        Z = F.Activation(x_z + h_z, act_type='sigmoid')
        N = F.Activation(x_n + R * F.broadcast_add(h_n, p['b_hn']), act_type='tanh')
        H = N + Z * (H - N)  # = Z * H + (1 - Z) * N, one operator fewer
        return H, H

    def lstm_step(self, F, x_gates, state, p):
        """x_gates = X_t W_x^T + b (N, 4H), state (H, C) -> H, the new (H, C)."""
        H, C = state
        gates = x_gates + self.recurrent(F, H, p['W_h'], 4)
        i, f, g, o = self.split_gates(F, gates, 4)
        C = (F.Activation(f, act_type='sigmoid') * C
             + F.Activation(i, act_type='sigmoid') * F.Activation(g, act_type='tanh'))
        H = F.Activation(o, act_type='sigmoid') * F.Activation(C, act_type='tanh')
        return H, (H, C)


class FastRNNLM(gluon.HybridBlock):
    """Language model: one-hot tokens -> ``FastDeepRNN`` -> Dense, like ``RNNModel``.

    Taught in chapter 09.
    ``model(X, state)`` with X (N, T) returns logits (T*N, vocab_size), time major, and the
    new state; T is read from X when called (see ``FastDeepRNN``). Hybridizable.
    """

    def __init__(self, cell, vocab_size, num_hiddens, num_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        with self.name_scope():
            self.body = FastDeepRNN(cell, vocab_size, num_hiddens, num_layers)
            self.dense = nn.Dense(vocab_size, in_units=num_hiddens)

    def begin_state(self, batch_size, ctx=None):
        return self.body.begin_state(batch_size, ctx)

    def forward(self, X, state):
        if isinstance(X, nd.NDArray) and self.body.unroll(X.shape[1]):
            self._clear_cached_op()  # this block's graph contains the body's unrolled loop
        logits, state = super().forward(X, state)
        return logits, as_state_tuple(state)

    def hybrid_forward(self, F, X, state):
        outputs, state = self.body(F.one_hot(F.transpose(X), self.vocab_size), state)
        return self.dense(F.reshape(outputs, shape=(-3, 0))), state


def time_interleaved(jobs, repeats=5, warmup=1):
    """Seconds taken by each call of each job, the jobs taking turns: label -> list of floats.

    Taught in chapter 09. ``jobs`` maps a label to a callable that does some work and waits
    for its result. Every job first runs ``warmup`` times untimed (memory, caches, graphs);
    then each of the ``repeats`` rounds runs every job once, so a machine that slows down or
    speeds up (other programs, clock changes) affects all jobs alike. Compare medians.
    """
    check_number('repeats', repeats, integer=True, low=1)
    check_number('warmup', warmup, integer=True, low=0)
    for job in jobs.values():
        for _ in range(warmup):
            job()
    seconds = {label: [] for label in jobs}
    for _ in range(repeats):
        for label, job in jobs.items():
            start = time.perf_counter()
            job()
            seconds[label].append(time.perf_counter() - start)
    return seconds


def training_job(model, batches, ctx, lr=1.0, clip_theta=1.0):
    """A job for ``time_interleaved``: ``train_step`` over ``batches``, the state carried.

    Taught in chapter 09. ``batches`` is a list of (X, Y) NumPy pairs, each (batch_size,
    num_steps); every call starts from ``model.begin_state`` and updates the model, exactly
    as ``train_epoch`` does (``train_step`` reads the loss back, so the work is finished).
    """
    if not batches:
        raise ValueError('batches is empty: give at least one (X, Y) pair')
    updater = Updater(model, lr, ctx)

    def job():
        state = model.begin_state(batches[0][0].shape[0], ctx)
        for X, Y in batches:
            _, state = train_step(model, updater, X, Y, detach(state), ctx, clip_theta)
    return job
