"""What each speed lever is worth: the book's training step with one change at a time.

Every variant runs ``benchmarks/steps.py`` in its own process, the variants taking turns for
``--rounds`` rounds (as ``suite.py``); each reports the median step over every timed step as
tokens per second and its ratio to ``book`` (the current code, default settings), with the
min-max of the per-round ratios. Variants:

    book                  the package as it is
    baseline              the package of another checkout (``--baseline PATH``, e.g. a
                          ``git worktree`` of an older commit): what the code levers gained
    flat layer            (characters) RNNModel with one flat parameter vector, as chapter
                          07's FlatFusedLayer (``steps.py``'s ``flat-hybridized``)
    without the flat layer  (words) the book's model with gluon's fused layers instead of
                          its flat ones (``gluon-layers-hybridized``): its ratio to ``book``
                          is below 1 by what the flat layer pays
    <VARIABLE>=<value>    the book with one environment variable set (``ENV_LEVERS``)

    OMP_NUM_THREADS=2 python benchmarks/levers.py [--baseline PATH] [--workloads ptb-seed]
"""
import argparse
import os
import statistics

from steps import WORKLOADS
from suite import ENV, run_child

ENV_LEVERS = [  # one at a time, on top of the book's settings
    ('MXNET_USE_MKLDNN_RNN', '0'),               # MXNet's own RNN kernel instead of oneDNN's
    ('OMP_WAIT_POLICY', 'PASSIVE'),              # idle OpenMP threads sleep at once
    ('OMP_WAIT_POLICY', 'ACTIVE'),               # ... or spin
    ('OMP_PROC_BIND', 'true'),                   # OpenMP threads pinned to cores
    ('MXNET_OPTIMIZER_AGGREGATION_SIZE', '64'),  # every parameter in one multi-tensor update
    ('MXNET_CPU_WORKER_NTHREADS', '2'),          # two engine threads instead of one
    ('DNNL_MAX_CPU_ISA', 'AVX2'),                # the chapters' pin (the bench runs with ALL)
]
STEPS = {'ptb-seed': (3, 10), 'ptb-small': (3, 20), 'char-d2l': (3, 20)}


def tokens_per_s(workload, env, warmup, steps, implementation='fused-hybridized'):
    seconds = run_child([workload, implementation, '--warmup', str(warmup), '--steps',
                         str(steps)], env)['seconds']
    w = WORKLOADS[workload]
    return [w['batch'] * w['steps'] / s for s in seconds]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--baseline', help='a checkout whose d2lrnn is the "baseline" variant')
    parser.add_argument('--workloads', nargs='+', default=['ptb-seed', 'char-d2l'],
                        choices=list(WORKLOADS))
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    if args.baseline and not os.path.isdir(os.path.join(args.baseline, 'd2lrnn')):
        parser.error(f'--baseline {args.baseline}: no d2lrnn package there')
    base = ENV
    for workload in args.workloads:
        variants = {'book': (base, 'fused-hybridized')}
        if args.baseline:
            variants['baseline'] = (dict(base, PYTHONPATH=os.path.abspath(args.baseline)),
                                    'fused-hybridized')
        if WORKLOADS[workload]['tied']:
            variants['without the flat layer'] = (base, 'gluon-layers-hybridized')
        else:
            variants['flat layer'] = (base, 'flat-hybridized')
        for name, value in ENV_LEVERS:
            variants[f'{name}={value}'] = (dict(base, **{name: value}), 'fused-hybridized')
        warmup, steps = STEPS[workload]
        rounds = {label: [] for label in variants}
        for _ in range(args.rounds):
            for label, (env, implementation) in variants.items():
                rounds[label].append(tokens_per_s(workload, env, warmup, steps, implementation))
        medians = {label: statistics.median([s for r in runs for s in r])
                   for label, runs in rounds.items()}
        print(f'\n{workload} ({args.rounds} rounds, {warmup} warm-up + {steps} '
              f'timed steps each; threads {os.environ.get("OMP_NUM_THREADS")})\n'
              '| variant | tokens/s | vs book (per-round min-max) |\n|---|---:|---:|')
        for label, runs in rounds.items():
            per_round = [statistics.median(r) / statistics.median(b)
                         for r, b in zip(runs, rounds['book'])]
            print(f'| {label} | {medians[label]:,.0f} | {medians[label] / medians["book"]:.3f} '
                  f'({min(per_round):.3f}-{max(per_round):.3f}) |', flush=True)


if __name__ == '__main__':
    main()
