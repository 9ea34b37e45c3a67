"""Training speed where readers spend their time, side by side (``make bench``).

Workloads (``benchmarks/steps.py`` defines them):

    ptb-seed    the seed's PTB model: 2 x 650 LSTM, tied embedding, dropout 0.5,
                vocabulary 10,000, batch 20 x 35 (chapter 07)
    ptb-small   Zaremba et al.'s small model as ``benchmarks/ptb.py`` trains it: 2 x 200,
                tied, dropout 0.2, batch 20 x 20
    char-d2l    d2l's character model: 2 x 256, one-hot over 28 characters, batch 32 x 35;
                also as a bare loop (``steps.py``'s ``bare-loop``): the training loop's overhead
    scratch     the character workload for RNN, GRU and LSTM: the scratch model as taught
                (chapters 02-03), FastRNNLM (chapter 09), the fused layer imperative and
                hybridized

Every measurement runs in its own process (``steps.py``): MXNet and PyTorch never share one.
The processes take turns: each of ``--rounds`` rounds runs every measurement once, so a
machine that slows down slows every implementation alike. A process runs ``--warmup``
untimed steps, then times ``--steps`` steps one by one. Reported: the median step over every
timed step of every round, as tokens per second, and the spread of the per-round medians
(min-max); ratios are of medians, with the min-max of the per-round ratios. oneDNN's matrix
product is measured in the same run (first and last, the best shape's median kept): with the
workload's matrix products per token (``steps.flops_per_token``, 3 x the forward's) it gives
the GEMM ceiling, the speed at which the step would do nothing but matrix products at that
rate; "% of ceiling" is the measured speed's share of it.

The last two lines: ``scratch/fused = R1`` (FastRNNLM / fused hybridized, LSTM 2 x 256 on
characters) and ``fused/pytorch = R2`` (the book's PTB seed model / PyTorch). A benchmark,
not a test: run it on a quiet machine.

    OMP_NUM_THREADS=2 python benchmarks/suite.py [--rounds 3] [--only ptb-seed char-d2l]

``--smoke`` runs every process at tiny sizes (``steps.py --smoke``): a check of the plumbing
in seconds, whose speeds mean nothing.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from steps import WORKLOADS, flops_per_token

HERE = os.path.dirname(os.path.abspath(__file__))
CELLS = ('rnn', 'gru', 'lstm')


def measurements(cells=CELLS):
    """Group -> [(workload, implementation, cell)]; ``cells``: those of the scratch group."""
    return {
        'ptb-seed': [('ptb-seed', 'fused-hybridized', 'lstm'), ('ptb-seed', 'pytorch', 'lstm')],
        'ptb-small': [('ptb-small', 'fused-hybridized', 'lstm'),
                      ('ptb-small', 'pytorch', 'lstm')],
        'char-d2l': [('char-d2l', 'fused-hybridized', 'lstm'), ('char-d2l', 'pytorch', 'lstm'),
                     ('char-d2l', 'bare-loop', 'lstm')],
        'scratch': [('char-d2l', implementation, cell) for cell in cells
                    for implementation in ('scratch', 'fast', 'fused', 'fused-hybridized',
                                           'pytorch')],
    }


GROUPS = list(measurements())
# oneDNN with every instruction set of the processor: the fastest path (the chapters pin AVX2
# so that their numbers repeat on other processors; benchmarks/isa.py measures the cost)
ENV = dict(os.environ, DNNL_MAX_CPU_ISA=os.environ.get('DNNL_MAX_CPU_ISA', 'ALL'))
STEPS = {'ptb-seed': (3, 10), 'ptb-small': (3, 20), 'char-d2l': (3, 20)}  # warm-up, timed


def torch_installed():
    try:
        import torch  # noqa: F401  (only to know whether the reference can run)
    except ImportError:
        return False
    return True


def run_child(args, env=ENV, timeout=900):
    """The JSON object ``steps.py`` prints for ``args`` in a process with environment
    ``env``; a failure ends the benchmark."""
    done = subprocess.run([sys.executable, os.path.join(HERE, 'steps.py'), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode:
        sys.exit(f'benchmarks/steps.py {" ".join(args)} failed:\n{done.stderr.strip()}')
    return json.loads(done.stdout.splitlines()[-1])


def spread(values, digits=0):
    return f'{min(values):,.{digits}f}-{max(values):,.{digits}f}'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=3, help='turns of every measurement')
    parser.add_argument('--only', nargs='+', choices=GROUPS, metavar='GROUP',
                        help=f'measure only these groups: {", ".join(GROUPS)}')
    parser.add_argument('--cells', nargs='+', choices=CELLS, default=list(CELLS),
                        help='the cells of the scratch group (default: all)')
    parser.add_argument('--smoke', action='store_true',
                        help='tiny sizes: a check of the plumbing, not a measurement')
    parser.add_argument('--steps-scale', type=float, default=1.0,
                        help='multiply the timed steps (0.2 for a quick try)')
    args = parser.parse_args()
    if args.rounds < 1 or args.steps_scale <= 0:
        parser.error(f'--rounds must be >= 1 and --steps-scale > 0, got {args.rounds}, '
                     f'{args.steps_scale}')
    threads = os.environ.get('OMP_NUM_THREADS')
    groups, planned = args.only or GROUPS, measurements(args.cells)
    has_torch = torch_installed()
    if not has_torch:
        print('pytorch: skipped (torch is not installed; pip install torch==2.13.0)')
    plan = list(dict.fromkeys(m for group in groups for m in planned[group]
                              if has_torch or m[1] != 'pytorch'))  # once each, in order
    smoke = ['--smoke'] if args.smoke else []
    if args.smoke:
        from steps import smoke as shrink
        shrink()  # the FLOP counts of the tiny sizes

    gemm = [run_child(['gemm', *smoke])['gflops']]
    seconds = {m: [] for m in plan}  # measurement -> per round, list of step seconds
    for _ in range(args.rounds):
        for workload, implementation, cell in plan:
            warmup, steps = STEPS[workload]
            result = run_child([workload, implementation, '--cell', cell,
                                '--warmup', str(warmup),
                                '--steps', str(max(1, round(steps * args.steps_scale))),
                                *smoke])
            seconds[(workload, implementation, cell)].append(result['seconds'])
    gemm.append(run_child(['gemm', *smoke])['gflops'])
    best_shape = max(gemm[0], key=lambda shape: max(rates[shape] for rates in gemm))
    ceiling = max(rates[best_shape] for rates in gemm)  # GFLOP/s
    print(json.dumps({'measurement': 'gemm', 'gflops': gemm, 'ceiling_gflops': ceiling,
                      'threads': threads, 'isa': ENV['DNNL_MAX_CPU_ISA']}))

    speed = {}  # measurement -> (median tokens/s, per-round median tokens/s)
    for (workload, implementation, cell), rounds in seconds.items():
        w = WORKLOADS[workload]
        tokens = w['batch'] * w['steps']
        pooled = [s for steps in rounds for s in steps]
        speed[(workload, implementation, cell)] = (
            tokens / statistics.median(pooled), [tokens / statistics.median(s) for s in rounds])
        print(json.dumps({'workload': workload, 'implementation': implementation, 'cell': cell,
                          'tokens_per_s': round(tokens / statistics.median(pooled)),
                          'step_seconds': rounds, 'threads': threads}))

    def ratio(a, b):
        """'median ratio (per-round min-max)' of two measurements, or None."""
        if a not in speed or b not in speed:
            return None
        rounds = [x / y for x, y in zip(speed[a][1], speed[b][1])]
        return speed[a][0] / speed[b][0], rounds

    def ratio_text(r):
        return 'n/a' if r is None else f'{r[0]:.2f} ({spread(r[1], 2)})'

    print(f'\noneDNN matrix product: {ceiling:.0f} GFLOP/s at {best_shape} (M x K x N), '
          f'{threads} threads, DNNL_MAX_CPU_ISA={ENV["DNNL_MAX_CPU_ISA"]}')
    print('\n| workload | cell | implementation | tokens/s (median) | per-round medians '
          '| vs pytorch | % of GEMM ceiling |\n|---|---|---|---:|---:|---:|---:|')
    for (workload, implementation, cell), (median, rounds) in speed.items():
        top = ceiling * 1e9 / flops_per_token(workload, cell)
        versus = ratio((workload, implementation, cell), (workload, 'pytorch', cell))
        print(f'| {workload} | {cell} | {implementation} | {median:,.0f} | {spread(rounds)} '
              f'| {ratio_text(versus) if implementation != "pytorch" else ""} '
              f'| {100 * median / top:.0f} % |')
    print(f'\ntokens/s of training steps (train_step; PyTorch the same step), each '
          f'implementation in its own process, {args.rounds} rounds taking turns, medians '
          f'after the warm-up steps; GEMM ceiling = {ceiling:.0f} GFLOP/s / the step\'s matrix '
          'FLOPs per token (3 x forward)')
    loop = ratio(('char-d2l', 'bare-loop', 'lstm'), ('char-d2l', 'fused-hybridized', 'lstm'))
    if loop is not None:
        print(f'\ntraining-loop overhead (char-d2l LSTM): train_step takes {loop[0] - 1:+.1%} '
              f'more time per step than a bare loop of the same arithmetic (per-round '
              f'{spread([r - 1 for r in loop[1]], 3)})')
    print()
    for label, a, b in (('scratch/fused', ('char-d2l', 'fast', 'lstm'),
                         ('char-d2l', 'fused-hybridized', 'lstm')),
                        ('fused/pytorch', ('ptb-seed', 'fused-hybridized', 'lstm'),
                         ('ptb-seed', 'pytorch', 'lstm'))):
        r = ratio(a, b)
        print(f'{label} = ' + ('n/a (not measured)' if r is None else f'{r[0]:.3f}'))


if __name__ == '__main__':
    main()
