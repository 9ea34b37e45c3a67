"""Time the training steps of one implementation of one workload, alone in this process.

``benchmarks/suite.py`` starts one process per measurement, so MXNet and PyTorch never share
a process (they load the same libgomp, and MXNet's graphs slow by about a quarter once
PyTorch has run beside them). A process builds the model, runs ``--warmup`` untimed steps
(memory, graphs, kernel choice), then times ``--steps`` steps one by one and prints one JSON
object: ``{"seconds": [...]}``. ``gemm`` instead measures oneDNN's single-precision matrix
product (``nd.FullyConnected``) on the workloads' shapes and one large square, and prints
``{"gflops": {shape: GFLOP/s}}``.

A step is the book's ``train_step`` for MXNet: the minibatch copied in from NumPy, forward,
mean cross-entropy, backward, clipping to a global norm, the loss and the norm read back and
checked, SGD; and the same for PyTorch: ``torch.nn`` layers, ``clip_grad_norm_``,
``optimizer.step()``. The state is carried from step to step and detached.

    python benchmarks/steps.py WORKLOAD IMPLEMENTATION [--cell lstm] [--warmup 3] [--steps 10]
    python benchmarks/steps.py gemm

``--smoke`` shrinks every workload (8 units, batch 2 x 5) and the matrix products: seconds
that check the plumbing (the tests use it), not a measurement.
"""
import argparse
import json
import statistics
import time

import numpy as np

WORKLOADS = {  # the seed's PTB model, Zaremba's small one, d2l's character model
    'ptb-seed': dict(vocab=10000, hiddens=650, layers=2, batch=20, steps=35, tied=True,
                     dropout=0.5, lr=20.0, clip=0.25),
    'ptb-small': dict(vocab=10000, hiddens=200, layers=2, batch=20, steps=20, tied=True,
                      dropout=0.2, lr=20.0, clip=0.25),
    'char-d2l': dict(vocab=28, hiddens=256, layers=2, batch=32, steps=35, tied=False,
                     dropout=0.0, lr=1.0, clip=1.0),
}
# fused: the book's default model, imperative: RNNModel (chapter 04's fused gluon.rnn layer)
# on characters, RegularizedRNNModel (chapter 07's FlatFusedLayer per layer) on words;
# fused-hybridized: the same, hybridized; flat-hybridized: RNNModel whose fused layer holds
# one flat parameter vector (characters only); gluon-layers-hybridized: RegularizedRNNModel
# with gluon's one-layer fused layers instead of its flat ones (words only): the two are
# levers.py's measure of the flat layer; scratch: the scratch model as taught (chapters
# 02-03); fast: FastRNNLM (chapter 09)
IMPLEMENTATIONS = ('fused', 'fused-hybridized', 'flat-hybridized', 'gluon-layers-hybridized',
                   'scratch', 'fast', 'pytorch', 'bare-loop')
# bare-loop: the fused-hybridized model trained without train_step's per-step work around the
# arithmetic (minibatches on the device beforehand, nothing read back or checked, one wait at
# the end): the floor under the book's loop. Timed as a whole and divided by its steps.
# d2lrnn.flat.NUM_GATES again: importing d2lrnn would load MXNet into the PyTorch process
NUM_GATES = {'rnn': 1, 'gru': 3, 'lstm': 4}
SMOKE = dict(hiddens=8, batch=2, steps=5)


def smoke():
    """Shrink every workload to ``SMOKE`` sizes (``--smoke``)."""
    for workload in WORKLOADS.values():
        workload.update(SMOKE)


def flops_per_token(workload, cell='lstm'):
    """Floating-point operations of one training step per token: 3 x the forward's matrix
    products (forward, and the two products of the backward), the embedding a lookup."""
    w, gates = WORKLOADS[workload], NUM_GATES[cell]
    inputs = [w['hiddens'] if w['tied'] else w['vocab']] + [w['hiddens']] * (w['layers'] - 1)
    forward = sum(2 * gates * w['hiddens'] * (size + w['hiddens']) for size in inputs)
    return 3 * (forward + 2 * w['hiddens'] * w['vocab'])


def batches(workload, count, seed=0):
    """``count`` random (X, Y) NumPy minibatches, each (batch, steps) token indices."""
    w, rng = WORKLOADS[workload], np.random.RandomState(seed)
    shape = (count, w['batch'], w['steps'])
    return list(zip(rng.randint(0, w['vocab'], shape), rng.randint(0, w['vocab'], shape)))


def flat_layers(model):
    """Replace the fused gluon layer of an ``RNNModel`` by one that keeps its weights in one
    flat Parameter and calls the ``RNN`` operator on it directly, as chapter 07's
    ``FlatFusedLayer`` does for one layer: what gluon's layer costs by concatenating its
    arrays on every call and splitting the gradient back. Same shapes, calls and state;
    initialised uniformly (speed only)."""
    import mxnet as mx
    from mxnet import gluon, nd

    class FlatLayer(gluon.HybridBlock):
        def __init__(self, mode, hidden, input_size, num_layers, **kwargs):
            super().__init__(**kwargs)
            gates = NUM_GATES[model.cell]
            self.mode, self.hidden, self.num_layers = mode, hidden, num_layers
            size = sum(gates * hidden * (inputs + hidden + 2)
                       for inputs in [input_size] + [hidden] * (num_layers - 1))
            self.flat = self.params.get('flat', init=mx.init.Uniform(0.05), shape=(size,))

        def begin_state(self, batch_size, ctx=None):
            shape = (self.num_layers, batch_size, self.hidden)
            return [nd.zeros(shape, ctx=ctx) for _ in range(2 if self.mode == 'lstm' else 1)]

        def hybrid_forward(self, F, inputs, state, flat):
            out = F.RNN(inputs, flat, *state, state_size=self.hidden,
                        num_layers=self.num_layers, mode=self.mode, state_outputs=True)
            return out[0], list(out[1:])

    mode = {'rnn': 'rnn_tanh', 'gru': 'gru', 'lstm': 'lstm'}[model.cell]
    layer = FlatLayer(mode, model.num_hiddens, model.embed_size or model.vocab_size,
                      model.num_layers, prefix=model.rnn.prefix)
    # gluon refuses to change an attribute's type: register the child by hand
    model.register_child(layer, 'rnn')
    object.__setattr__(model, 'rnn', layer)


def mxnet_step(workload, implementation, cell):
    """A function doing one MXNet training step on a given (X, Y), the state carried."""
    import d2lrnn  # noqa: F401  (before MXNet: the thread count and the instruction-set pins)
    import mxnet as mx
    from d2lrnn.fast import FastRNNLM
    from d2lrnn.flat import with_gluon_layers
    from d2lrnn.models import RNNLMScratch, RNNModel
    from d2lrnn.regularization import RegularizedRNNModel
    from d2lrnn.scratch import make_scratch
    from d2lrnn.training import Updater, detach, train_step

    w, ctx = WORKLOADS[workload], mx.cpu()
    d2lrnn.seed_everything(0)
    if implementation == 'scratch':
        if w['tied']:
            raise SystemExit(f'scratch models read one-hot characters; {workload} embeds words')
        model = RNNLMScratch(make_scratch(cell, w['vocab'], w['hiddens'], w['layers'], ctx=ctx),
                             w['vocab'])
    else:
        if implementation == 'fast':
            if w['tied']:
                raise SystemExit(f'FastRNNLM reads one-hot characters; {workload} embeds words')
            model = FastRNNLM(cell, w['vocab'], w['hiddens'], w['layers'])
        elif w['tied']:
            model = RegularizedRNNModel(cell, w['vocab'], w['hiddens'], w['layers'],
                                        embed_size=w['hiddens'], dropout=w['dropout'],
                                        tie_weights=True)
        else:
            model = RNNModel(cell, w['vocab'], w['hiddens'], w['layers'])
        if implementation == 'flat-hybridized':
            if w['tied']:
                raise SystemExit(f'the book\'s word model ({workload}) holds flat layers '
                                 'already; gluon-layers-hybridized measures it without them')
            flat_layers(model)
        elif implementation == 'gluon-layers-hybridized':
            if not w['tied']:
                raise SystemExit(f'RNNModel ({workload}) holds a gluon layer already; '
                                 'flat-hybridized measures it with a flat one')
            with_gluon_layers(model)
        model.initialize(mx.init.Xavier(), ctx=ctx)
        if implementation != 'fused':
            model.hybridize(static_alloc=True, static_shape=True)
    updater = Updater(model, w['lr'], ctx)
    state = [model.begin_state(w['batch'], ctx)]
    if implementation == 'bare-loop':
        return bare_loop(model, updater, state, w, ctx)

    def step(X, Y):
        _, state[0] = train_step(model, updater, X, Y, detach(state[0]), ctx, w['clip'])
    return step


def bare_loop(model, updater, state, w, ctx):
    """A function training on a list of (X, Y) minibatches, already copied to ``ctx``, with
    forward, loss, backward, clipping and update only; returns the seconds of each step (the
    loop's total divided evenly)."""
    from mxnet import autograd, gluon, nd
    from d2lrnn.training import clip_factor, detach

    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def loop(minibatches):
        data = [(nd.array(X, ctx=ctx), nd.array(Y.T.reshape(-1), ctx=ctx)) for X, Y in minibatches]
        nd.waitall()
        start = time.perf_counter()
        for X, y in data:
            with autograd.record():
                logits, state[0] = model(X, detach(state[0]))
                loss = loss_fn(logits, y).mean()
            loss.backward()
            norm = updater.gradient_norm()  # the factor needs it on the host: one wait
            updater.step(clip_factor(norm.asscalar(), w['clip']))
        nd.waitall()
        return [(time.perf_counter() - start) / len(data)] * len(data)
    return loop


def pytorch_step(workload, cell):
    """The same step in PyTorch: embedding (tied) or one-hot, dropout into every layer and
    out of the top one, ``nn.RNN/GRU/LSTM``, ``nn.Linear``, SGD, ``clip_grad_norm_``."""
    import os
    import torch

    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', os.cpu_count())))
    torch.manual_seed(0)
    w = WORKLOADS[workload]
    layer_class = {'rnn': torch.nn.RNN, 'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM}[cell]
    embedding = torch.nn.Embedding(w['vocab'], w['hiddens']) if w['tied'] else None
    rnn = layer_class(w['hiddens'] if w['tied'] else w['vocab'], w['hiddens'], w['layers'],
                      dropout=w['dropout'])  # (T, N, D); dropout between layers
    drop = torch.nn.Dropout(w['dropout'])
    dense = torch.nn.Linear(w['hiddens'], w['vocab'])
    if embedding is not None:
        dense.weight = embedding.weight
    modules = torch.nn.ModuleList([m for m in (embedding, rnn, dense) if m is not None])
    modules.train()
    params = list(modules.parameters())
    optimizer = torch.optim.SGD(params, lr=w['lr'])
    shape = (w['layers'], w['batch'], w['hiddens'])
    state = [(torch.zeros(shape), torch.zeros(shape)) if cell == 'lstm' else torch.zeros(shape)]

    def step(X, Y):
        X, y = torch.from_numpy(X.T.copy()).long(), torch.from_numpy(Y.T.reshape(-1)).long()
        inputs = (embedding(X) if embedding is not None
                  else torch.nn.functional.one_hot(X, w['vocab']).float())
        old = tuple(s.detach() for s in state[0]) if cell == 'lstm' else state[0].detach()
        outputs, state[0] = rnn(drop(inputs), old)
        logits = dense(drop(outputs).reshape(-1, w['hiddens']))
        loss = torch.nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, w['clip'])
        if not (np.isfinite(loss.item()) and np.isfinite(norm.item())):
            raise FloatingPointError('the loss or the gradient norm is not finite')
        optimizer.step()
    return step


def gemm_rates(repeats=10, largest=2048):
    """GFLOP/s of oneDNN's matrix product (``nd.FullyConnected``, no bias) on the shapes the
    workloads' forward passes use, (batch * steps) x H times H x 4H and H x V, and on a
    2048-square; the median of ``repeats`` products after two warm-up ones."""
    import d2lrnn  # noqa: F401
    import mxnet as mx
    from mxnet import nd

    shapes = {(largest, largest, largest)}
    for w in WORKLOADS.values():
        rows = w['batch'] * w['steps']
        shapes |= {(rows, w['hiddens'], 4 * w['hiddens']), (rows, w['hiddens'], w['vocab'])}
    rates = {}
    for m, k, n in sorted(shapes):
        x, weight = nd.random.uniform(shape=(m, k)), nd.random.uniform(shape=(n, k))
        seconds = []
        for i in range(repeats + 2):
            start = time.perf_counter()
            nd.FullyConnected(x, weight, no_bias=True, num_hidden=n).wait_to_read()
            if i >= 2:
                seconds.append(time.perf_counter() - start)
        rates[f'{m}x{k}x{n}'] = 2 * m * k * n / statistics.median(seconds) / 1e9
    mx.nd.waitall()
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workload', choices=list(WORKLOADS) + ['gemm'])
    parser.add_argument('implementation', nargs='?', choices=IMPLEMENTATIONS)
    parser.add_argument('--cell', default='lstm', choices=list(NUM_GATES))
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument('--steps', type=int, default=10, help='timed steps')
    parser.add_argument('--smoke', action='store_true', help='tiny sizes: a plumbing check')
    args = parser.parse_args()
    if args.smoke:
        smoke()
    if args.workload == 'gemm':
        print(json.dumps({'gflops': gemm_rates(2, 64) if args.smoke else gemm_rates()}))
        return
    if args.implementation is None:
        parser.error(f'give an implementation: {", ".join(IMPLEMENTATIONS)}')
    if args.warmup < 0 or args.steps < 1:
        parser.error(f'--warmup must be >= 0 and --steps >= 1, got {args.warmup}, {args.steps}')
    step = (pytorch_step(args.workload, args.cell) if args.implementation == 'pytorch'
            else mxnet_step(args.workload, args.implementation, args.cell))
    minibatches = batches(args.workload, args.warmup + args.steps)
    if args.implementation == 'bare-loop':  # the loop is timed as a whole
        step(minibatches[:args.warmup])
        print(json.dumps({'seconds': step(minibatches[args.warmup:])}))
        return
    seconds = []
    for index, (X, Y) in enumerate(minibatches):
        start = time.perf_counter()
        step(X, Y)
        if index >= args.warmup:
            seconds.append(time.perf_counter() - start)
    print(json.dumps({'seconds': seconds}))


if __name__ == '__main__':
    main()
