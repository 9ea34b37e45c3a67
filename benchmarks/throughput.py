"""Training throughput: the from-scratch LSTM against the fused ``gluon.rnn.LSTM``.

d2l's configuration: 2 layers x 256 hidden units, vocabulary 28, batch 32, 35 steps. One
training step is exactly the book's ``train_step``: forward, loss, backward, global-norm
clipping, update. The variants run side by side in one process, interleaved repetition by
repetition, after a warm-up; each prints one JSON object with the median tokens per second,
and the last line is ``scratch/fused = R``. A benchmark, not a test: run it by hand.

    python benchmarks/throughput.py [--repeats 5] [--steps 20]
"""
import argparse
import json
import os
import statistics
import time

import d2lrnn  # before MXNet: the thread count and the instruction-set pins
import mxnet as mx
import numpy as np

from d2lrnn.models import RNNLMScratch, RNNModel
from d2lrnn.scratch import make_scratch
from d2lrnn.training import Updater, detach, train_step

VOCAB, HIDDENS, LAYERS, BATCH, STEPS = 28, 256, 2, 32, 35


def build(variant, ctx):
    if variant == 'scratch':
        return RNNLMScratch(make_scratch('lstm', VOCAB, HIDDENS, LAYERS, ctx=ctx), VOCAB)
    model = RNNModel('lstm', VOCAB, HIDDENS, LAYERS)
    model.initialize(mx.init.Xavier(), ctx=ctx)
    if variant == 'fused-hybridized':
        model.hybridize(static_alloc=True, static_shape=True)
    return model


def time_steps(model, updater, batches, ctx):
    """Seconds for one pass of train_step over ``batches``, state carried and detached."""
    state = model.begin_state(BATCH, ctx)
    start = time.perf_counter()
    for X, Y in batches:
        _, state = train_step(model, updater, X, Y, detach(state), ctx, clip_theta=1.0)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5, help='timed repetitions (median)')
    parser.add_argument('--steps', type=int, default=20, help='training steps per repetition')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    args = parser.parse_args()
    d2lrnn.seed_everything(0)
    ctx = mx.cpu()
    rng = np.random.RandomState(0)
    batches = [(X, (X + 1) % VOCAB) for X in rng.randint(0, VOCAB, (args.steps, BATCH, STEPS))]
    variants = ['scratch', 'fused', 'fused-hybridized']
    models = {v: build(v, ctx) for v in variants}
    updaters = {v: Updater(models[v], lr=1.0, ctx=ctx) for v in variants}
    for v in variants:
        time_steps(models[v], updaters[v], batches[:args.warmup], ctx)
    seconds = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v in variants:
            seconds[v].append(time_steps(models[v], updaters[v], batches, ctx))
    tokens = args.steps * BATCH * STEPS
    speed = {}
    for v in variants:
        speed[v] = tokens / statistics.median(seconds[v])
        print(json.dumps({
            'variant': v, 'tokens_per_s': round(speed[v]), 'cell': 'lstm',
            'num_layers': LAYERS, 'num_hiddens': HIDDENS, 'vocab_size': VOCAB,
            'batch_size': BATCH, 'num_steps': STEPS, 'repeats': args.repeats,
            'steps_per_repeat': args.steps, 'omp_num_threads': os.environ['OMP_NUM_THREADS'],
            'runs_tokens_per_s': [round(tokens / s) for s in seconds[v]]}))
    print(f"scratch/fused = {speed['scratch'] / speed['fused']:.3f}")


if __name__ == '__main__':
    main()
