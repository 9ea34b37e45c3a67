"""Where one training step's time goes: MXNet's profiler over a few steps of one workload.

Builds the book's model for a workload of ``steps.py`` (default: the seed's PTB model), runs
``--warmup`` untimed steps, then profiles ``--steps`` steps and prints, per operator (or fused
segment of the hybridized graph), its total and mean time per step, with the workload's
matrix-product operations per token for reference. The profiler itself slows the step a little.

    OMP_NUM_THREADS=2 python benchmarks/profile_step.py [ptb-seed] [--steps 5]
"""
import argparse
import json
import os
import tempfile
import time

os.environ.setdefault('DNNL_MAX_CPU_ISA', 'ALL')  # as make bench runs it

from steps import WORKLOADS, batches, flops_per_token, mxnet_step  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('workload', nargs='?', default='ptb-seed', choices=list(WORKLOADS))
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--steps', type=int, default=5)
    args = parser.parse_args()
    step = mxnet_step(args.workload, 'fused-hybridized', 'lstm')
    import mxnet as mx
    from mxnet import profiler

    data = batches(args.workload, args.warmup + args.steps)
    for X, Y in data[:args.warmup]:
        step(X, Y)
    mx.nd.waitall()
    profiler.set_config(profile_all=True, aggregate_stats=True,
                        filename=os.path.join(tempfile.gettempdir(), 'd2lrnn-profile.json'))
    profiler.set_state('run')
    start = time.perf_counter()
    for X, Y in data[args.warmup:]:
        step(X, Y)
    mx.nd.waitall()
    seconds = (time.perf_counter() - start) / args.steps
    profiler.set_state('stop')
    stats = json.loads(profiler.dumps(format='json'))
    w = WORKLOADS[args.workload]
    tokens = w['batch'] * w['steps']
    print(f'{args.workload}: {seconds * 1e3:.1f} ms per step profiled ({tokens / seconds:,.0f} '
          f'tokens/s), {flops_per_token(args.workload) * tokens / 1e9:.1f} GFLOP of matrix '
          f'products per step; DNNL_MAX_CPU_ISA={os.environ["DNNL_MAX_CPU_ISA"]}, '
          f'{os.environ.get("OMP_NUM_THREADS")} threads')
    operators = stats['Time']['operator']
    print('\n| operator (or fused segment) | calls per step | ms per step |\n|---|---:|---:|')
    for name, entry in sorted(operators.items(), key=lambda item: -item[1]['Total']):
        per_step = entry['Total'] / args.steps
        if per_step >= 0.5:
            print(f'| {name[:90]} | {entry["Count"] / args.steps:g} | {per_step:.1f} |')


if __name__ == '__main__':
    main()
