"""Regularising deep recurrent language models: dropout, variational dropout, weight tying.

Taught in chapter 07. Dropout goes on the *vertical* connections only: the inputs of every
recurrent layer (the embedded tokens, then each layer's outputs) and the top layer's outputs
before the output layer; the recurrent path H_{t-1} -> H_t is left alone, so the state
carried across time steps and minibatches is never corrupted. Standard dropout draws a fresh
mask at every time step; *variational* dropout draws one mask per sequence (per row of a
minibatch) and reuses it at every time step. Embedding dropout removes whole words: every
occurrence of a dropped word in the minibatch reads a zero vector. Weight tying makes the
output layer use the embedding matrix, which requires ``embed_size == num_hiddens``.
"""
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

from .checks import check_rate
from .flat import FlatFusedLayer
from .models import check_lm_args, check_sizes


def sequence_dropout(inputs, rate, variational=False):
    """Dropout on time-major ``inputs`` (T, N, D), only while training (``autograd.record``).

    Taught in chapter 07. Kept entries are scaled by 1 / (1 - rate). ``variational=True``
    draws one (N, D) mask and multiplies every time step by it; otherwise each time step gets
    its own mask. Outside training the inputs are returned unchanged.
    """
    check_rate('rate', rate)
    if rate == 0 or not autograd.is_training():
        return inputs
    shape = (1,) + inputs.shape[1:] if variational else inputs.shape
    mask = (nd.random.uniform(shape=shape, ctx=inputs.context, dtype=inputs.dtype) >= rate)
    return nd.broadcast_mul(inputs, mask / (1 - rate))


class DropoutScratch:
    """A scratch body of ``d2lrnn.scratch`` with dropout between its layers.

    Taught in chapter 07. ``sequence_dropout`` is applied to the inputs of every layer and to
    the top layer's outputs, never to the state; ``variational=True`` reuses one mask per
    sequence at every time step. Same interface as the wrapped body: inputs (T, N, D) and a
    state tuple -> outputs (T, N, H) and the new state tuple.
    """

    def __init__(self, body, dropout, variational=False):
        check_rate('dropout', dropout)
        self.body, self.dropout, self.variational = body, dropout, variational
        self.num_inputs, self.num_hiddens = body.num_inputs, body.num_hiddens
        self.num_layers = body.num_layers

    @property
    def params(self):
        return self.body.params

    def begin_state(self, batch_size, ctx=None):
        return self.body.begin_state(batch_size, ctx)

    def __call__(self, inputs, state):
        self.body.check_inputs(inputs, state)
        new_state = []
        for params, layer_state in zip(self.body.layers, state):
            inputs = sequence_dropout(inputs, self.dropout, self.variational)
            outputs = []
            for X in inputs:
                H, layer_state = self.body.step(params, X, layer_state)
                outputs.append(H)
            inputs = nd.stack(*outputs)
            new_state.append(layer_state)
        return sequence_dropout(inputs, self.dropout, self.variational), tuple(new_state)


class WordDropoutEmbedding(nn.Embedding):
    """``nn.Embedding`` that, while training, drops whole words with probability ``rate``.

    Taught in chapter 07. One Bernoulli draw per row of the (vocab_size, embed_size) weight
    and minibatch: a dropped word reads zeros wherever it occurs, the others are scaled by
    1 / (1 - rate). The parameter is the usual ``weight``, so it can be tied to the output.
    """

    def __init__(self, input_dim, output_dim, rate=0.0, **kwargs):
        check_rate('embed_dropout', rate)
        super().__init__(input_dim, output_dim, **kwargs)
        self.rate = rate

    def hybrid_forward(self, F, x, weight):
        if self.rate > 0:
            weight = F.Dropout(weight, p=self.rate, axes=(1,))  # one draw per row (word)
        return super().hybrid_forward(F, x, weight)


class EmbeddingLMScratch:
    """A scratch language model with an embedding: embedding dropout and weight tying.

    Taught in chapter 07. Token ``i`` reads row ``i`` of ``W_emb`` (vocab_size, E), with E
    the ``num_inputs`` of ``body`` (a scratch body of ``d2lrnn.scratch``, plain or wrapped in
    ``DropoutScratch``); O_t = H_t W_hq + b_q, and ``tie_weights=True`` uses ``W_emb``
    transposed as W_hq (one array; needs E == num_hiddens). While training, ``embed_dropout``
    drops whole words: one Bernoulli draw per row of ``W_emb`` and minibatch, kept rows scaled
    by 1 / (1 - rate), for the lookup only. Called like ``RNNLMScratch``: X (batch_size,
    num_steps) -> logits (num_steps * batch_size, vocab_size), time major, and the new state.
    """

    def __init__(self, body, vocab_size, embed_dropout=0.0, tie_weights=False, sigma=0.01):
        check_sizes(vocab_size, body.num_hiddens, body.num_inputs)
        check_rate('embed_dropout', embed_dropout)
        if tie_weights and body.num_inputs != body.num_hiddens:
            raise ValueError('weight tying shares one (vocab_size, size) matrix between the '
                             'embedding and the output layer, so the body must read '
                             f'num_inputs == num_hiddens; got {body.num_inputs} and '
                             f'{body.num_hiddens}')
        self.body, self.vocab_size = body, vocab_size
        self.embed_dropout, self.tie_weights = embed_dropout, tie_weights
        ctx, dtype = body.params[0].context, body.params[0].dtype
        self.W_emb = nd.random.normal(scale=sigma, shape=(vocab_size, body.num_inputs),
                                      ctx=ctx, dtype=dtype)
        self.W_hq = None if tie_weights else nd.random.normal(
            scale=sigma, shape=(body.num_hiddens, vocab_size), ctx=ctx, dtype=dtype)
        self.b_q = nd.zeros(vocab_size, ctx=ctx, dtype=dtype)
        for param in self.params[len(body.params):]:
            param.attach_grad()

    @property
    def params(self):
        """The body's parameters, then ``W_emb``, ``W_hq`` (unless tied) and ``b_q``."""
        own = [self.W_emb] + ([] if self.tie_weights else [self.W_hq]) + [self.b_q]
        return self.body.params + own

    def begin_state(self, batch_size, ctx=None):
        return self.body.begin_state(batch_size, ctx)

    def __call__(self, X, state):
        W_emb = self.W_emb
        if self.embed_dropout:  # one draw per row (word), only while training
            W_emb = nd.Dropout(W_emb, p=self.embed_dropout, axes=(1,))
        inputs = nd.Embedding(X.T, W_emb, input_dim=self.vocab_size,
                              output_dim=self.body.num_inputs)                 # (T, N, E)
        outputs, state = self.body(inputs, state)                              # (T, N, H)
        outputs = outputs.reshape((-1, self.body.num_hiddens))
        logits = (nd.dot(outputs, self.W_emb, transpose_b=True) if self.tie_weights
                  else nd.dot(outputs, self.W_hq))
        return logits + self.b_q, state


class RegularizedRNNModel(gluon.HybridBlock):
    """``RNNModel`` with dropout between layers, variational dropout and weight tying.

    Taught in chapter 07. Tokens (one-hot, or embedded when ``embed_size`` is given) go
    through ``num_layers`` one-layer ``FlatFusedLayer``s (each computes what a one-layer
    ``gluon.rnn`` layer computes) and a ``Dense`` output layer. ``dropout`` acts on the
    inputs of every layer and on the top layer's outputs, never on the recurrent path;
    ``variational=True`` shares each sequence's mask over all time steps; ``embed_dropout``
    drops whole words from the embedding; ``tie_weights=True`` makes the output layer reuse
    the embedding's weight (one Parameter; needs ``embed_size == num_hiddens``).
    ``model(X, state)`` with ``X`` (batch_size, num_steps) returns logits (num_steps *
    batch_size, vocab_size) and the new state, whose layout ([H] or [H, C], each (num_layers,
    batch_size, num_hiddens)) is ``RNNModel``'s. Hybridizable.
    """

    def __init__(self, cell, vocab_size, num_hiddens, num_layers=1, embed_size=None,
                 dropout=0.0, variational=False, embed_dropout=0.0, tie_weights=False,
                 **kwargs):
        super().__init__(**kwargs)
        check_lm_args(cell, vocab_size, num_hiddens, num_layers, embed_size)
        check_rate('dropout', dropout)
        check_rate('embed_dropout', embed_dropout)
        if embed_dropout and embed_size is None:
            raise ValueError('embed_dropout needs an embedding: give embed_size')
        if tie_weights and embed_size != num_hiddens:
            raise ValueError('weight tying shares one (vocab_size, size) matrix between the '
                             'embedding and the output layer, so embed_size must equal '
                             f'num_hiddens; got embed_size={embed_size}, num_hiddens={num_hiddens}')
        self.cell, self.vocab_size, self.embed_size = cell, vocab_size, embed_size
        self.num_hiddens, self.num_layers = num_hiddens, num_layers
        self.dropout, self.variational = dropout, variational
        self.embed_dropout, self.tie_weights = embed_dropout, tie_weights
        with self.name_scope():
            self.embedding = (WordDropoutEmbedding(vocab_size, embed_size, embed_dropout)
                              if embed_size else None)
            self.rnn = nn.HybridSequential()
            for layer in range(num_layers):
                input_size = (embed_size or vocab_size) if layer == 0 else num_hiddens
                self.rnn.add(FlatFusedLayer(cell, num_hiddens, input_size))
            # one stateless block, called before every layer and after the last one
            self.drop = nn.Dropout(dropout, axes=(0,) if variational else ()) if dropout else None
            shared = self.embedding.params if tie_weights else None
            self.dense = nn.Dense(vocab_size, in_units=num_hiddens, params=shared)

    def hybrid_forward(self, F, X, state):
        if self.embedding is None:
            inputs = F.one_hot(F.transpose(X), self.vocab_size)   # (T, N, V)
        else:
            inputs = self.embedding(F.transpose(X))               # (T, N, E)
        # state: [H] or [H, C], each (L, N, H) -> per layer [H_l] or [H_l, C_l], each (1, N, H)
        per_kind = [[kind] if self.num_layers == 1 else
                    list(F.split(kind, num_outputs=self.num_layers, axis=0)) for kind in state]
        new_state = []
        for layer, layer_state in zip(self.rnn, zip(*per_kind)):
            if self.drop is not None:
                inputs = self.drop(inputs)
            inputs, layer_state = layer(inputs, list(layer_state))  # (T, N, H)
            new_state.append(layer_state)
        if self.drop is not None:
            inputs = self.drop(inputs)
        state = [F.concat(*kind, dim=0) for kind in zip(*new_state)]
        return self.dense(F.reshape(inputs, shape=(-3, 0))), state

    def begin_state(self, batch_size, ctx=None):
        num_kinds = 2 if self.cell == 'lstm' else 1
        return [nd.zeros((self.num_layers, batch_size, self.num_hiddens), ctx=ctx)
                for _ in range(num_kinds)]
