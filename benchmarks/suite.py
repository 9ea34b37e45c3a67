"""Training throughput of every deep RNN in the book, side by side (``make bench``).

One training step is the book's ``train_step`` (forward, loss, backward, global-norm
clipping, update) on vocabulary 28, batch 32, 35 steps, for RNN, GRU and LSTM with L layers
of H hidden units. Variants:

    fused             RNNModel (fused gluon.rnn layer), imperative
    fused-hybridized  the same, hybridize(static_alloc=True, static_shape=True)
    scratch           RNNLMScratch over make_scratch, the scratch body as taught
    fast              FastRNNLM (d2lrnn.fast), hybridized likewise
    pytorch           nn.RNN/GRU/LSTM + nn.Linear, SGD, clip_grad_norm_: an outside reference,
                      when torch is installed (pip install torch==2.13.0)

Per configuration the variants run in one process, interleaved repetition by repetition,
after a warm-up; tokens per second are medians over the repetitions. MXNet and PyTorch use
OMP_NUM_THREADS threads each (d2lrnn's default: every core); here both load the same
libgomp, so one OpenMP pool serves both. It also times ``train_epoch`` against a bare loop
of ``train_step`` over the same batches (fused LSTM 2 x 256): the training loop's overhead.

Output: one JSON object per measurement, a Markdown table, and as the last two lines, for
LSTM 2 x 256, ``scratch/fused = R1`` (fast / fused imperative) and ``fused/pytorch = R2``
(fused-hybridized / pytorch). A benchmark, not a test: run it by hand on a quiet machine.

    python benchmarks/suite.py [--cells lstm] [--layers 2] [--hiddens 256] [--repeats 5]
"""
import argparse
import itertools
import json
import os
import statistics
import time

import d2lrnn  # noqa: F401  (sets OMP_NUM_THREADS before MXNet starts)
import mxnet as mx
import numpy as np

from d2lrnn.fast import FastRNNLM
from d2lrnn.models import RNNLMScratch, RNNModel
from d2lrnn.scratch import make_scratch
from d2lrnn.training import Updater, detach, train_epoch, train_step

try:
    import torch
except ImportError:
    torch = None

VOCAB, BATCH, STEPS, LR = 28, 32, 35, 1.0
MXNET_VARIANTS = ['fused', 'fused-hybridized', 'scratch', 'fast']
REFERENCE = ('lstm', 2, 256)  # the configuration of the last two lines


class MXNetRunner:
    """One MXNet model and its updater; ``run(batches)`` -> seconds of train_step over them."""

    def __init__(self, variant, cell, num_layers, num_hiddens, ctx):
        if variant == 'scratch':
            self.model = RNNLMScratch(make_scratch(cell, VOCAB, num_hiddens, num_layers,
                                                   ctx=ctx), VOCAB)
        else:
            model_class = FastRNNLM if variant == 'fast' else RNNModel
            self.model = model_class(cell, VOCAB, num_hiddens, num_layers)
            self.model.initialize(mx.init.Xavier(), ctx=ctx)
            if variant != 'fused':
                self.model.hybridize(static_alloc=True, static_shape=True)
        self.updater, self.ctx = Updater(self.model, LR, ctx), ctx

    def run(self, batches):
        state = self.model.begin_state(BATCH, self.ctx)
        start = time.perf_counter()
        for X, Y in batches:
            _, state = train_step(self.model, self.updater, X, Y, detach(state), self.ctx)
        return time.perf_counter() - start


class TorchRunner:
    """The same workload in PyTorch: one-hot -> nn.RNN/GRU/LSTM -> nn.Linear, SGD, clipping."""

    def __init__(self, cell, num_layers, num_hiddens):
        layer_class = {'rnn': torch.nn.RNN, 'gru': torch.nn.GRU, 'lstm': torch.nn.LSTM}[cell]
        self.rnn = layer_class(VOCAB, num_hiddens, num_layers)  # (T, N, D), tanh for nn.RNN
        self.dense = torch.nn.Linear(num_hiddens, VOCAB)
        self.params = list(self.rnn.parameters()) + list(self.dense.parameters())
        self.optimizer = torch.optim.SGD(self.params, lr=LR)
        self.cell, self.shape = cell, (num_layers, BATCH, num_hiddens)

    def begin_state(self):
        if self.cell == 'lstm':
            return torch.zeros(self.shape), torch.zeros(self.shape)
        return torch.zeros(self.shape)

    def step(self, X, Y, state):
        """train_step's work: forward, mean loss, backward, clipping, finite check, update."""
        inputs = torch.nn.functional.one_hot(torch.from_numpy(X.T).long(), VOCAB).float()
        outputs, state = self.rnn(inputs, state)
        logits = self.dense(outputs.reshape(-1, outputs.shape[-1]))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(Y.T.reshape(-1)).long())
        self.optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        if not (np.isfinite(loss.item()) and np.isfinite(norm.item())):
            raise FloatingPointError('the loss or the gradient norm is not finite')
        self.optimizer.step()
        return state

    def run(self, batches):
        state = self.begin_state()
        start = time.perf_counter()
        for X, Y in batches:
            detached = tuple(s.detach() for s in state) if self.cell == 'lstm' else state.detach()
            state = self.step(X, Y, detached)
        return time.perf_counter() - start


class FixedLoader:
    """A loader for ``train_epoch`` that yields a fixed list of sequential batches."""
    use_random_iter = False

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def median_speeds(runners, batches, args):
    """Warm every runner up, then time them interleaved: name -> list of tokens/s."""
    if args.warmup:
        for runner in runners.values():
            runner.run(batches[:args.warmup])
    tokens = len(batches) * BATCH * STEPS
    speeds = {name: [] for name in runners}
    for _ in range(args.repeats):
        for name, runner in runners.items():
            speeds[name].append(tokens / runner.run(batches))
    return speeds


def loop_overhead(batches, args, ctx):
    """train_epoch vs a bare train_step loop over the same batches, fused LSTM 2 x 256."""
    runner = MXNetRunner('fused', *REFERENCE, ctx)

    class EpochRunner:
        def run(self, run_batches):
            start = time.perf_counter()
            train_epoch(runner.model, FixedLoader(run_batches), runner.updater, ctx)
            return time.perf_counter() - start
    return median_speeds({'bare': runner, 'train_epoch': EpochRunner()}, batches, args)


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
    parser.add_argument('--steps', type=int, default=10, help='training steps per repetition')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    args = parser.parse_args()
    if min(args.layers + args.hiddens + [args.repeats, args.steps]) < 1 or args.warmup < 0:
        parser.error('layers, hiddens, repeats and steps must be >= 1, warmup >= 0')
    threads = int(os.environ['OMP_NUM_THREADS'])
    if torch is None:
        print('pytorch: skipped (torch is not installed; pip install torch==2.13.0)')
    else:
        torch.set_num_threads(threads)
    d2lrnn.seed_everything(0)
    ctx = mx.cpu()
    rng = np.random.RandomState(0)
    batches = [(X, (X + 1) % VOCAB)
               for X in rng.randint(0, VOCAB, (max(args.steps, args.warmup), BATCH, STEPS))]
    timed, common = batches[:args.steps], {
        'vocab_size': VOCAB, 'batch_size': BATCH, 'num_steps': STEPS,
        'repeats': args.repeats, 'steps_per_repeat': args.steps, 'threads': threads}

    table = {}  # (cell, L, H) -> variant -> median tokens/s
    for cell, num_layers, num_hiddens in itertools.product(args.cells, args.layers,
                                                           args.hiddens):
        runners = {v: MXNetRunner(v, cell, num_layers, num_hiddens, ctx)
                   for v in MXNET_VARIANTS}
        if torch is not None:
            torch.manual_seed(0)
            runners['pytorch'] = TorchRunner(cell, num_layers, num_hiddens)
        speeds = median_speeds(runners, timed, args)
        table[cell, num_layers, num_hiddens] = {}
        for variant, runs in speeds.items():
            median = table[cell, num_layers, num_hiddens][variant] = statistics.median(runs)
            print(json.dumps({'variant': variant, 'cell': cell, 'num_layers': num_layers,
                              'num_hiddens': num_hiddens, 'tokens_per_s': round(median),
                              'runs_tokens_per_s': [round(s) for s in runs], **common}))

    loop = None
    if REFERENCE in table:
        loop = {k: statistics.median(v) for k, v in loop_overhead(timed, args, ctx).items()}
        loop['overhead'] = 100 * (loop['bare'] / loop['train_epoch'] - 1)  # extra time, %
        print(json.dumps({'measurement': 'training-loop overhead', 'cell': 'lstm',
                          'num_layers': 2, 'num_hiddens': 256, 'variant': 'fused',
                          'bare_tokens_per_s': round(loop['bare']),
                          'train_epoch_tokens_per_s': round(loop['train_epoch']),
                          'overhead_percent': round(loop['overhead'], 2), **common}))

    columns = MXNET_VARIANTS + ['pytorch']
    print('\n| cell | L | H | ' + ' | '.join(columns)
          + ' | scratch/fused | fast/fused | fused-hybridized/pytorch |')
    print('|---' * (3 + len(columns) + 3) + '|')
    for (cell, num_layers, num_hiddens), speed in table.items():
        cells = [f'{speed[v]:.0f}' if v in speed else 'n/a' for v in columns]
        ratios = [ratio(speed['scratch'], speed['fused']), ratio(speed['fast'], speed['fused']),
                  ratio(speed['fused-hybridized'], speed.get('pytorch'))]
        print(f'| {cell} | {num_layers} | {num_hiddens} | ' + ' | '.join(cells + ratios) + ' |')
    if loop is not None:
        print('\n| training loop, fused LSTM 2 x 256 | bare train_step | train_epoch | overhead |'
              f"\n|---|---|---|---|\n| tokens/s | {loop['bare']:.0f} | "
              f"{loop['train_epoch']:.0f} | {loop['overhead']:+.1f}% |")
    print('tokens/s, medians of interleaved repetitions; scratch = as taught, fast = '
          'FastRNNLM hybridized, fused = RNNModel imperative\n')

    reference = table.get(REFERENCE)
    if reference is None:
        print('scratch/fused = n/a (LSTM 2 x 256 not measured)')
        print('fused/pytorch = n/a (LSTM 2 x 256 not measured)')
        return
    print(f"scratch/fused = {ratio(reference['fast'], reference['fused'])}")
    print('fused/pytorch = ' + (ratio(reference['fused-hybridized'], reference['pytorch'])
                                if 'pytorch' in reference else 'n/a (torch not installed)'))


if __name__ == '__main__':
    main()
