"""A language model around a stack of gluon recurrent cells, open to changes between layers.

Taught in chapter 06. The fused ``gluon.rnn`` layers (``d2lrnn.models.RNNModel``) run every
layer and time step in one operator; a stack of cells runs one step of one layer at a time,
so anything can be put between the layers or on the recurrent state: dropout, a different
wiring of the states, one cell reused for several layers.
"""
from mxnet import gluon, nd
from mxnet.gluon import nn, rnn

from .models import check_sizes


class CellStackLM(gluon.HybridBlock):
    """A language model: one-hot or embedded tokens -> a stack of cells, unrolled -> Dense.

    Taught in chapter 06. ``stack`` is a gluon recurrent cell, usually an
    ``rnn.HybridSequentialRNNCell`` holding one cell per layer, whose top layer has
    ``num_hiddens`` units; ``embed_size=None`` feeds one-hot vectors. Call it as
    ``model(X, state)`` with ``X`` of shape (batch_size, num_steps); it returns logits of shape
    (num_steps * batch_size, vocab_size), time major, and the new state: the stack's flat list
    (``[h_1, c_1, h_2, c_2, ...]`` for LSTM cells). Hybridizable: the unrolled graph depends on
    num_steps, which is read from ``X`` at each call; a new value rebuilds the graph.
    """

    def __init__(self, stack, vocab_size, num_hiddens, embed_size=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(stack, rnn.HybridRecurrentCell):
            raise TypeError('stack must be a gluon HybridRecurrentCell (e.g. an '
                            f'rnn.HybridSequentialRNNCell of cells); got {type(stack).__name__}')
        check_sizes(vocab_size, num_hiddens, embed_size)
        self.vocab_size, self.num_hiddens, self.embed_size = vocab_size, num_hiddens, embed_size
        self.num_steps = None  # T of the unrolled graph, read from X at each call
        with self.name_scope():
            self.embedding = nn.Embedding(vocab_size, embed_size) if embed_size else None
            self.dense = nn.Dense(vocab_size, in_units=num_hiddens)
        self.stack = stack

    def begin_state(self, batch_size, ctx=None):
        """Zeros in the stack's layout: a flat list of (batch_size, H) arrays."""
        ctx = ctx or self.dense.weight.list_ctx()[0]
        return self.stack.begin_state(batch_size=batch_size, func=nd.zeros, ctx=ctx)

    def forward(self, X, state):
        if isinstance(X, nd.NDArray):
            if X.ndim != 2:
                raise ValueError('expected token indices of shape (batch_size, num_steps); '
                                 f'got {X.shape}')
            expected = len(self.stack.state_info())
            if not isinstance(state, (list, tuple)) or len(state) != expected:
                got = len(state) if isinstance(state, (list, tuple)) else type(state).__name__
                raise ValueError(f'expected the stack\'s state, a list of {expected} arrays '
                                 f'(see begin_state); got {got}')
            if X.shape[1] != self.num_steps:
                self.num_steps = X.shape[1]
                self._clear_cached_op()  # the cached graph holds the old T's unrolled loop
        return super().forward(X, list(state))

    def hybrid_forward(self, F, X, state):
        if self.num_steps is None:
            raise ValueError('num_steps is unknown: call the model on NDArrays first')
        tokens = F.transpose(X)                                   # (T, N)
        inputs = (F.one_hot(tokens, self.vocab_size) if self.embedding is None
                  else self.embedding(tokens))                    # (T, N, V) or (T, N, E)
        outputs, state = self.stack.unroll(self.num_steps, inputs, begin_state=state,
                                           layout='TNC', merge_outputs=True)  # (T, N, H)
        return self.dense(F.reshape(outputs, shape=(-3, 0))), state


class ChainedStateStack(rnn.HybridSequentialRNNCell):
    """The Keras question's wiring: layer l + 1 starts from layer l's final state.

    Taught in chapter 06. Its state is one layer's: layer 1 starts from the state it is given,
    every further layer from the final state of the layer below, and the top layer's final
    state is returned. Chapter 10 trains it for longer.
    """

    def state_info(self, batch_size=0):
        return self[0].state_info(batch_size)

    def begin_state(self, **kwargs):
        return self[0].begin_state(**kwargs)

    def unroll(self, length, inputs, begin_state, layout='TNC', merge_outputs=True):
        self.reset()
        state = begin_state
        for cell in self._children.values():
            inputs, state = cell.unroll(length, inputs, begin_state=state, layout=layout,
                                        merge_outputs=merge_outputs)
        return inputs, state
