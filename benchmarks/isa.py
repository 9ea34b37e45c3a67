"""What pinning oneDNN to AVX2 costs: training-step speed with ``DNNL_MAX_CPU_ISA=AVX2`` (the
book's default, set by ``import d2lrnn``) against ``ALL`` (every instruction set the processor
has), for the seed's PTB model and the d2l character model.

Each setting runs in its own process (oneDNN reads the variable once); the processes take
turns, ``--pairs`` times. A process builds the model, runs ``--warmup`` untimed steps of
``train_step`` (forward, loss, backward, clipping, SGD, state carried) and then times
``--steps`` steps one by one; it reports the median. The last line is
``avx2/all = R`` (median over the pairs of the per-pair ratio of tokens per second). On a
processor without AVX-512 both settings run the same kernels and R is about 1.

    OMP_NUM_THREADS=2 python benchmarks/isa.py
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = {  # vocabulary, units, layers, batch, steps, embedding (tied) or one-hot
    'ptb-seed 2x650': dict(vocab=10000, hiddens=650, layers=2, batch=20, steps=35, embed=True),
    'char 2x256': dict(vocab=28, hiddens=256, layers=2, batch=32, steps=35, embed=False),
}
CHILD = r'''
import json, sys, time, statistics
import d2lrnn
import mxnet as mx, numpy as np
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.training import Updater, detach, train_step
w, warmup, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
d2lrnn.seed_everything(0)
ctx = mx.cpu()
model = RegularizedRNNModel('lstm', w['vocab'], w['hiddens'], w['layers'],
                            embed_size=w['hiddens'] if w['embed'] else None,
                            tie_weights=w['embed'])
model.initialize(mx.init.Xavier(), ctx=ctx)
model.hybridize(static_alloc=True, static_shape=True)
updater = Updater(model, 1.0, ctx)
rng = np.random.RandomState(0)
state, seconds = model.begin_state(w['batch'], ctx), []
for i in range(warmup + steps):
    X = rng.randint(0, w['vocab'], (w['batch'], w['steps']))
    Y = rng.randint(0, w['vocab'], (w['batch'], w['steps']))
    start = time.perf_counter()
    _, state = train_step(model, updater, X, Y, detach(state), ctx, 0.25)
    if i >= warmup:
        seconds.append(time.perf_counter() - start)
print(json.dumps(w['batch'] * w['steps'] / statistics.median(seconds)))
'''


def tokens_per_s(workload, isa, warmup, steps):
    env = dict(os.environ, DNNL_MAX_CPU_ISA=isa)
    out = subprocess.run([sys.executable, '-c', CHILD, json.dumps(workload), str(warmup),
                          str(steps)], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=10)
    args = parser.parse_args()
    ratios = []
    for name, workload in WORKLOADS.items():
        speeds = {'AVX2': [], 'ALL': []}
        for _ in range(args.pairs):
            for isa in speeds:
                speeds[isa].append(tokens_per_s(workload, isa, args.warmup, args.steps))
        pair_ratios = [a / b for a, b in zip(speeds['AVX2'], speeds['ALL'])]
        ratios += pair_ratios
        print(json.dumps(dict(workload=name, threads=os.environ.get('OMP_NUM_THREADS'),
                              avx2_tokens_per_s=[round(s) for s in speeds['AVX2']],
                              all_tokens_per_s=[round(s) for s in speeds['ALL']],
                              avx2_over_all=round(statistics.median(pair_ratios), 3))),
              flush=True)
    print(f'avx2/all = {statistics.median(ratios):.3f}')


if __name__ == '__main__':
    main()
