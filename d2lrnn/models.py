"""Language models: a recurrent body, token inputs, and an output layer over the vocabulary.

Taught in chapter 02 (the scratch wrapper) and chapter 04 (the gluon model).
"""
from mxnet import gluon, nd
from mxnet.gluon import nn, rnn

from .checks import check_number, check_rate


class RNNLMScratch:
    """A scratch language model: one-hot inputs -> deep RNN body -> O_t = H_t^(L) W_hq + b_q.

    Taught in chapter 02. ``body`` is a scratch ``RNNScratch``/``GRUScratch``/``LSTMScratch``
    whose ``num_inputs`` equals ``vocab_size``. Calling the model on ``X`` of shape
    (batch_size, num_steps) returns logits of shape (num_steps * batch_size, vocab_size), time
    major, and the new state.
    """

    def __init__(self, body, vocab_size, sigma=0.01):
        if body.num_inputs != vocab_size:
            raise ValueError(f'the body reads {body.num_inputs} inputs but the vocabulary has '
                             f'{vocab_size} tokens; build it with num_inputs=vocab_size')
        self.body, self.vocab_size = body, vocab_size
        dtype = body.params[0].dtype
        ctx = body.params[0].context
        self.W_hq = nd.random.normal(scale=sigma, shape=(body.num_hiddens, vocab_size),
                                     ctx=ctx, dtype=dtype)
        self.b_q = nd.zeros(vocab_size, ctx=ctx, dtype=dtype)
        for param in (self.W_hq, self.b_q):
            param.attach_grad()

    @property
    def params(self):
        """The body's parameters, then ``W_hq`` and ``b_q``."""
        return self.body.params + [self.W_hq, self.b_q]

    def begin_state(self, batch_size, ctx=None):
        return self.body.begin_state(batch_size, ctx)

    def __call__(self, X, state):
        inputs = nd.one_hot(X.T, self.vocab_size, dtype=self.W_hq.dtype)  # (T, N, V)
        outputs, state = self.body(inputs, state)                         # (T, N, H)
        logits = nd.dot(outputs.reshape((-1, self.body.num_hiddens)), self.W_hq) + self.b_q
        return logits, state


FUSED_LAYERS = {'rnn': rnn.RNN, 'gru': rnn.GRU, 'lstm': rnn.LSTM}


def check_sizes(vocab_size, num_hiddens, embed_size=None, **more_sizes):
    """Raise ValueError naming the first size below 1 (``embed_size=None`` means one-hot).

    Taught in chapter 04. ``more_sizes`` are further named sizes, e.g. ``num_layers``.
    """
    for name, value in (('vocab_size', vocab_size), ('num_hiddens', num_hiddens),
                        *more_sizes.items()):
        check_number(name, value, integer=True, low=1)
    if embed_size is not None:
        check_number('embed_size', embed_size, integer=True, low=1, note=' (or None: one-hot)')


def check_lm_args(cell, vocab_size, num_hiddens, num_layers, embed_size=None):
    """Raise ValueError naming a bad language-model argument and the values that are valid.

    Taught in chapter 04.
    """
    if cell not in FUSED_LAYERS:
        raise ValueError(f'unknown cell type {cell!r}; valid: {", ".join(sorted(FUSED_LAYERS))}')
    check_sizes(vocab_size, num_hiddens, embed_size, num_layers=num_layers)


class RNNModel(gluon.HybridBlock):
    """A gluon language model: one-hot or embedded tokens -> fused ``gluon.rnn`` layer -> Dense.

    Taught in chapter 04. ``cell`` is one of ``rnn``, ``gru``, ``lstm``; the fused layer stacks
    ``num_layers`` layers of ``num_hiddens`` units with ``dropout`` between layers (not on the
    recurrent path), but on the CPU MXNet 1.9.1's oneDNN kernel ignores ``dropout`` (chapter
    04 measures it; ``RegularizedRNNModel`` drops on any device); the plain RNN uses tanh, as
    in chapter 02 (gluon's default is ReLU).
    ``embed_size=None`` feeds one-hot vectors. Call it as ``model(X, state)`` with ``X`` of
    shape (batch_size, num_steps); it returns logits of shape (num_steps * batch_size,
    vocab_size) and the new state. Hybridizable.
    """

    def __init__(self, cell, vocab_size, num_hiddens, num_layers=1, embed_size=None,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        check_lm_args(cell, vocab_size, num_hiddens, num_layers, embed_size)
        check_rate('dropout', dropout)
        self.cell, self.vocab_size, self.embed_size = cell, vocab_size, embed_size
        self.num_hiddens, self.num_layers, self.dropout = num_hiddens, num_layers, dropout
        with self.name_scope():
            self.embedding = (nn.Embedding(vocab_size, embed_size) if embed_size else None)
            extra = {'activation': 'tanh'} if cell == 'rnn' else {}
            self.rnn = FUSED_LAYERS[cell](num_hiddens, num_layers, dropout=dropout,
                                          input_size=embed_size or vocab_size, **extra)
            self.dense = nn.Dense(vocab_size, in_units=num_hiddens)

    def hybrid_forward(self, F, X, state):
        if self.embedding is None:
            inputs = F.one_hot(F.transpose(X), self.vocab_size)   # (T, N, V)
        else:
            inputs = self.embedding(F.transpose(X))               # (T, N, E)
        outputs, state = self.rnn(inputs, state)                  # (T, N, H)
        return self.dense(F.reshape(outputs, shape=(-3, 0))), state

    def begin_state(self, batch_size, ctx=None):
        return self.rnn.begin_state(batch_size=batch_size, ctx=ctx)


def count_params(model):
    """Number of trainable numbers in a scratch model or a gluon block.

    Taught in chapter 02.
    """
    if isinstance(model, gluon.Block):
        return sum(p.data().size for p in model.collect_params().values())
    return sum(p.size for p in model.params)
