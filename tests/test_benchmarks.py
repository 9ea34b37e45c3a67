"""``make bench``'s plumbing at tiny sizes (``--smoke``): one process per measurement, the
JSON lines, the table and the two ratio lines. Speeds at these sizes mean nothing."""
import contextlib
import importlib.util
import io
import json
import os
import re
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), '..', 'benchmarks')


def load_suite():
    sys.path.insert(0, BENCHMARKS)  # suite.py imports steps.py
    spec = importlib.util.spec_from_file_location('bench_suite', os.path.join(BENCHMARKS,
                                                                            'suite.py'))
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    return suite


@pytest.mark.parametrize('with_torch', [True, False], ids=['torch', 'no-torch'])
def test_suite_prints_json_lines_a_table_and_the_two_ratio_lines(monkeypatch, with_torch):
    suite = load_suite()
    if with_torch and not suite.torch_installed():
        pytest.skip('torch is not installed (optional benchmark dependency)')
    monkeypatch.setattr(suite, 'torch_installed', lambda: with_torch)
    groups = ['ptb-seed', 'scratch'] if with_torch else ['ptb-seed']
    monkeypatch.setattr(sys, 'argv', ['suite.py', '--smoke', '--rounds', '2', '--only', *groups,
                                      '--cells', 'lstm'])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        suite.main()
    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines if line.startswith('{')]
    gemm = [r for r in records if r.get('measurement') == 'gemm']
    assert len(gemm) == 1 and len(gemm[0]['gflops']) == 2 and gemm[0]['ceiling_gflops'] > 0
    measured = sorted((r['workload'], r['implementation']) for r in records if 'workload' in r)
    expected = [('ptb-seed', 'fused-hybridized')]
    if with_torch:
        expected += [('ptb-seed', 'pytorch')] + [
            ('char-d2l', i) for i in ('scratch', 'fast', 'fused', 'fused-hybridized', 'pytorch')]
    assert measured == sorted(expected)
    assert all(len(r['step_seconds']) == 2 for r in records if 'workload' in r)  # two rounds
    assert any(line.startswith('| ptb-seed | lstm | fused-hybridized |') for line in lines)
    if with_torch:
        assert re.fullmatch(r'scratch/fused = \d+\.\d{3}', lines[-2]), lines[-2]
        assert re.fullmatch(r'fused/pytorch = \d+\.\d{3}', lines[-1]), lines[-1]
    else:
        assert lines[0] == 'pytorch: skipped (torch is not installed; pip install torch==2.13.0)'
        assert lines[-2:] == ['scratch/fused = n/a (not measured)',
                              'fused/pytorch = n/a (not measured)']


def test_a_bad_group_is_refused_naming_the_valid_ones(monkeypatch, capsys):
    suite = load_suite()
    monkeypatch.setattr(sys, 'argv', ['suite.py', '--only', 'ptb-huge'])
    with pytest.raises(SystemExit):
        suite.main()
    error = capsys.readouterr().err.splitlines()[-1]
    assert "invalid choice: 'ptb-huge'" in error and 'ptb-seed' in error and 'scratch' in error


def test_ptb_seed_preset_prints_its_settings_a_projection_and_the_result():
    """``ptb.py --preset seed`` on the first 2,000 tokens: the seed's recipe in per-token units,
    the instruction set it ran with, one projection line after the first epoch, and a result
    with the median speed over the epochs and the time in seconds and minutes."""
    import subprocess
    done = subprocess.run(
        [sys.executable, os.path.join(BENCHMARKS, 'ptb.py'), '--preset', 'seed',
         '--max-tokens', '2000', '--epochs', '2'],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS='2'))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    config = records[0]
    assert (config['preset'], config['num_hiddens'], config['dropout'], config['epochs']) == \
        ('seed', 650, 0.5, 2)
    assert config['mean_loss_lr'] == pytest.approx(20.0) and config['decay_start'] is None
    assert config['mean_loss_clip'] == pytest.approx(0.25) and config['isa']
    kinds = [next(iter(record)) for record in records[1:]]
    assert kinds == ['epoch', 'projection', 'epoch', 'best_epoch']
    projection = records[2]['projection']
    assert projection['epochs'] == 2 and projection['hours'] >= 0
    result, speeds = records[-1], [records[1]['tokens_per_s'], records[3]['tokens_per_s']]
    assert result['median_tokens_per_s'] == pytest.approx(sum(speeds) / 2)
    assert result['minutes'] == pytest.approx(result['seconds'] / 60)


def test_levers_refuses_a_baseline_without_the_package(tmp_path):
    import subprocess
    done = subprocess.run([sys.executable, os.path.join(BENCHMARKS, 'levers.py'),
                           '--baseline', str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert f'--baseline {tmp_path}: no d2lrnn package there' in done.stderr.splitlines()[-1]


def steps_py(*args):
    import subprocess
    return subprocess.run([sys.executable, os.path.join(BENCHMARKS, 'steps.py'), *args,
                           '--smoke', '--warmup', '1', '--steps', '2'],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('workload, lever, other', [
    ('ptb-small', 'gluon-layers-hybridized', 'flat-hybridized'),
    ('char-d2l', 'flat-hybridized', 'gluon-layers-hybridized')])
def test_the_flat_layer_lever_runs_where_it_applies_and_is_refused_elsewhere(workload, lever,
                                                                              other):
    done = steps_py(workload, lever)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)['seconds']) == 2
    refused = steps_py(workload, other)
    assert refused.returncode == 1
    assert 'measures it with' in refused.stderr or 'measures it without' in refused.stderr
