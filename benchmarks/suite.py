"""Training throughput of every deep RNN in the book, side by side (``make bench``).

One training step is the book's ``train_step`` (forward, mean cross-entropy, backward,
global-norm clipping at 1, the finite check, SGD update) on one-hot inputs over a vocabulary
of 28, minibatches of 32 x 35, the state carried, for RNN, GRU and LSTM with L layers of H
hidden units. Variants:

    fused             RNNModel (fused gluon.rnn layer, oneDNN kernel), imperative
    fused-hybridized  the same, hybridize(static_alloc=True, static_shape=True)
    scratch           RNNLMScratch over make_scratch: the scratch body as taught (ch. 02/03)
    fast              FastRNNLM (d2lrnn.fast, chapter 09), hybridized likewise
    pytorch           nn.RNN/GRU/LSTM + nn.Linear, SGD, clip_grad_norm_, the same finite
                      check: an outside reference, when torch is installed
                      (pip install torch==2.13.0; skipped with a message otherwise)

Per configuration every MXNet variant runs in this one process, the variants taking turns
repetition by repetition after a warm-up (``d2lrnn.fast.time_interleaved``); tokens per second
are medians over the repetitions. MXNet and PyTorch both use OMP_NUM_THREADS threads (d2lrnn's
default: every core) and load the same libgomp. Once PyTorch has run in a process, MXNet's
graphs of many small operators run slower there (the fast model by about a quarter on two
cores, the fused layer much less), so PyTorch runs only after every MXNet measurement: in a
second phase, per configuration, taking turns with new fused-hybridized and fast models. Their
speeds in that phase are reported as ``... beside pytorch`` (against the first phase, they
show what PyTorch's presence costs) and give ``fused-h / pytorch``. For the fused LSTM 2 x 256
the first phase also measures the training loop's overhead: ``train_epoch`` (the book's loop:
NumPy minibatches copied in, the loss read back and checked every step, the state detached)
against a bare loop of forward, loss, backward, clipping and update on minibatches already on
the device, with one wait at the end.

Output: one JSON object per measurement, a Markdown table of speeds and ratios, and as the last
two lines, for LSTM 2 x 256, ``scratch/fused = R1`` (fast / fused-hybridized: the from-scratch
model as fast as this book makes it, against the fused layer as fast as MXNet makes it) and
``fused/pytorch = R2`` (fused-hybridized / pytorch, both from the second phase). A benchmark,
not a test: run it by hand, ideally on a quiet machine.

    python benchmarks/suite.py [--cells lstm] [--layers 2] [--hiddens 256] [--repeats 5]
"""
import argparse
import itertools
import json
import os
import statistics

import d2lrnn  # noqa: F401  (before MXNet: the thread count and the instruction-set pins)
import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd

from d2lrnn.fast import FastRNNLM, time_interleaved, training_job
from d2lrnn.models import RNNLMScratch, RNNModel
from d2lrnn.scratch import make_scratch
from d2lrnn.training import Updater, detach, train_epoch

try:
    import torch
except ImportError:
    torch = None

VOCAB, BATCH, STEPS, LR, CLIP = 28, 32, 35, 1.0, 1.0
MXNET_VARIANTS = ['fused', 'fused-hybridized', 'scratch', 'fast']
BESIDE_PYTORCH = ['fused-hybridized', 'fast']  # timed again in turns with PyTorch (phase 2)
REFERENCE = ('lstm', 2, 256)  # the configuration of the last two lines


def mxnet_model(variant, cell, num_layers, num_hiddens, ctx):
    """A freshly initialised language model of one of ``MXNET_VARIANTS``."""
    if variant == 'scratch':
        return RNNLMScratch(make_scratch(cell, VOCAB, num_hiddens, num_layers, ctx=ctx), VOCAB)
    model_class = FastRNNLM if variant == 'fast' else RNNModel
    model = model_class(cell, VOCAB, num_hiddens, num_layers)
    model.initialize(mx.init.Xavier(), ctx=ctx)
    if variant != 'fused':
        model.hybridize(static_alloc=True, static_shape=True)
    return model


def torch_job(cell, num_layers, num_hiddens, batches):
    """The same workload in PyTorch: one-hot -> nn.RNN/GRU/LSTM -> nn.Linear, SGD, clipping."""
    layer_class = {'rnn': torch.nn.RNN, 'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM}[cell]
    rnn = layer_class(VOCAB, num_hiddens, num_layers)  # (T, N, D); nn.RNN uses tanh
    dense = torch.nn.Linear(num_hiddens, VOCAB)
    params = list(rnn.parameters()) + list(dense.parameters())
    optimizer = torch.optim.SGD(params, lr=LR)
    shape = (num_layers, BATCH, num_hiddens)

    def job():
        state = ((torch.zeros(shape), torch.zeros(shape)) if cell == 'lstm'
                 else torch.zeros(shape))
        for X, Y in batches:  # NumPy (N, T), converted every step as train_step does
            X, y = torch.from_numpy(X.T.copy()).long(), torch.from_numpy(Y.T.reshape(-1)).long()
            state = (tuple(s.detach() for s in state) if cell == 'lstm' else state.detach())
            outputs, state = rnn(torch.nn.functional.one_hot(X, VOCAB).float(), state)
            loss = torch.nn.functional.cross_entropy(dense(outputs.reshape(-1, num_hiddens)), y)
            optimizer.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
            if not (np.isfinite(loss.item()) and np.isfinite(norm.item())):
                raise FloatingPointError('the loss or the gradient norm is not finite')
            optimizer.step()
    return job


def bare_job(model, batches, ctx):
    """Forward, loss, backward, clipping, update: minibatches already on the device, no
    read-back inside the loop, one wait at the end. The floor under ``train_epoch``."""
    updater = Updater(model, LR, ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    data = [(nd.array(X, ctx=ctx), nd.array(Y.T.reshape(-1), ctx=ctx)) for X, Y in batches]

    def job():
        state = model.begin_state(BATCH, ctx)
        for X, y in data:
            with autograd.record():
                logits, state = model(X, detach(state))
                loss = loss_fn(logits, y).mean()
            loss.backward()
            gluon.utils.clip_global_norm(updater.grads, CLIP, check_isfinite=False)
            updater.step()
        nd.waitall()
    return job


class FixedLoader:
    """A loader for ``train_epoch`` that yields a fixed list of sequential minibatches."""
    use_random_iter = False

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def epoch_job(model, batches, ctx):
    """``train_epoch`` over the minibatches: the book's training loop."""
    updater, loader = Updater(model, LR, ctx), FixedLoader(batches)
    return lambda: train_epoch(model, loader, updater, ctx, CLIP)


def median_speeds(jobs, batches, args):
    """label -> (median tokens/s, tokens/s of every repetition), the jobs interleaved."""
    tokens = len(batches) * BATCH * STEPS
    seconds = time_interleaved(jobs, repeats=args.repeats, warmup=args.warmup)
    return {label: (tokens / statistics.median(s), [tokens / x for x in s])
            for label, s in seconds.items()}


def report(speeds, config, common):
    """Print one JSON line per variant of ``median_speeds``; return variant -> median."""
    for variant, (median, runs) in speeds.items():
        print(json.dumps({'variant': variant, **dict(zip(('cell', 'num_layers', 'num_hiddens'),
                                                         config)),
                          'tokens_per_s': round(median),
                          'runs_tokens_per_s': [round(s) for s in runs], **common}), flush=True)
    return {variant: median for variant, (median, _) in speeds.items()}


def ratio(numerator, denominator):
    return f'{numerator / denominator:.3f}' if numerator and denominator else 'n/a'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cells', nargs='+', default=['rnn', 'gru', 'lstm'],
                        choices=['rnn', 'gru', 'lstm'], help='cell types (default: all)')
    parser.add_argument('--layers', nargs='+', type=int, default=[1, 2, 3],
                        help='numbers of layers L (default: 1 2 3)')
    parser.add_argument('--hiddens', nargs='+', type=int, default=[256, 650],
                        help='hidden sizes H (default: 256 650)')
    parser.add_argument('--repeats', type=int, default=5, help='timed repetitions (median)')
    parser.add_argument('--steps', type=int, default=5, help='training steps per repetition')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed repetitions first (default: 1)')
    args = parser.parse_args()
    if min(args.layers + args.hiddens + [args.repeats, args.steps]) < 1 or args.warmup < 0:
        parser.error('layers, hiddens, repeats and steps must be >= 1, warmup >= 0')
    threads = int(os.environ['OMP_NUM_THREADS'])
    if torch is None:
        print('pytorch: skipped (torch is not installed; pip install torch==2.13.0)')
    else:
        torch.set_num_threads(threads)
    ctx = mx.cpu()
    rng = np.random.RandomState(0)
    batches = [(X, (X + 1) % VOCAB) for X in rng.randint(0, VOCAB, (args.steps, BATCH, STEPS))]
    common = {'vocab_size': VOCAB, 'batch_size': BATCH, 'num_steps': STEPS,
              'repeats': args.repeats, 'steps_per_repeat': args.steps, 'threads': threads}

    configs = list(itertools.product(args.cells, args.layers, args.hiddens))
    table = {}  # (cell, L, H) -> variant -> median tokens/s
    for config in configs:  # phase 1: MXNet only
        d2lrnn.seed_everything(0)
        jobs = {v: training_job(mxnet_model(v, *config, ctx), batches, ctx, LR, CLIP)
                for v in MXNET_VARIANTS}
        table[config] = report(median_speeds(jobs, batches, args), config, common)

    loop = None
    if REFERENCE in table:
        d2lrnn.seed_everything(0)
        model = mxnet_model('fused-hybridized', *REFERENCE, ctx)
        loop = {label: median for label, (median, _) in median_speeds(
            {'bare': bare_job(model, batches, ctx), 'train_epoch': epoch_job(model, batches, ctx)},
            batches, args).items()}
        loop['overhead'] = 100 * (loop['bare'] / loop['train_epoch'] - 1)  # extra time, %
        print(json.dumps({'measurement': 'training-loop overhead', 'variant': 'fused-hybridized',
                          **dict(zip(('cell', 'num_layers', 'num_hiddens'), REFERENCE)),
                          'bare_tokens_per_s': round(loop['bare']),
                          'train_epoch_tokens_per_s': round(loop['train_epoch']),
                          'overhead_percent': round(loop['overhead'], 2), **common}))

    for config in configs if torch is not None else []:  # phase 2: beside PyTorch
        d2lrnn.seed_everything(0)
        torch.manual_seed(0)
        jobs = {f'{v} beside pytorch': training_job(mxnet_model(v, *config, ctx), batches, ctx,
                                                     LR, CLIP) for v in BESIDE_PYTORCH}
        jobs['pytorch'] = torch_job(*config, batches)
        table[config].update(report(median_speeds(jobs, batches, args), config, common))

    columns = MXNET_VARIANTS + [f'{v} beside pytorch' for v in BESIDE_PYTORCH] + ['pytorch']
    print('\n| cell | L | H | ' + ' | '.join(columns) + ' | scratch / fused-h | fast / fused-h '
          '| fast / fused | fused-h / fused | fused-h / pytorch |')
    print('|---|---:|---:|' + '---:|' * (len(columns) + 5))
    for (cell, num_layers, num_hiddens), speed in table.items():
        cells = [f'{speed[v]:.0f}' if v in speed else 'n/a' for v in columns]
        ratios = [ratio(speed['scratch'], speed['fused-hybridized']),
                  ratio(speed['fast'], speed['fused-hybridized']),
                  ratio(speed['fast'], speed['fused']),
                  ratio(speed['fused-hybridized'], speed['fused']),
                  ratio(speed.get('fused-hybridized beside pytorch'), speed.get('pytorch'))]
        print(f'| {cell} | {num_layers} | {num_hiddens} | ' + ' | '.join(cells + ratios) + ' |')
    print(f'\ntraining tokens/s, medians of {args.repeats} interleaved repetitions of '
          f'{args.steps} steps, {threads} threads; scratch = as taught, fast = FastRNNLM '
          'hybridized, fused-h = RNNModel hybridized, fused = RNNModel imperative; '
          '"... beside pytorch": new models of the same variants, timed in turns with PyTorch '
          'after every MXNet measurement')
    if loop is not None:
        print(f'\n| training loop, fused-h {REFERENCE[0].upper()} {REFERENCE[1]} x {REFERENCE[2]} '
              '| bare step | train_epoch | overhead |'
              f"\n|---|---:|---:|---:|\n| tokens/s | {loop['bare']:.0f} | "
              f"{loop['train_epoch']:.0f} | {loop['overhead']:+.1f}% |")
    print()

    reference = table.get(REFERENCE)
    if reference is None:
        print('scratch/fused = n/a (LSTM 2 x 256 not measured)')
        print('fused/pytorch = n/a (LSTM 2 x 256 not measured)')
        return
    print(f"scratch/fused = {ratio(reference['fast'], reference['fused-hybridized'])}")
    print('fused/pytorch = ' + (
        ratio(reference['fused-hybridized beside pytorch'], reference['pytorch'])
        if 'pytorch' in reference else 'n/a (torch not installed)'))


if __name__ == '__main__':
    main()
