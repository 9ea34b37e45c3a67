"""Data parallelism (``d2lrnn.parallel``) and the launcher (``d2lrnn.launch``): the proofs of
chapter 11. Network tests use 127.0.0.1 only, each bounded by a timeout, and check that no
process of a job is left behind."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import nd

from d2lrnn import runs
from d2lrnn.launch import LaunchError, launch
from d2lrnn.parallel import DataParallel, ParallelUpdater, parse_devices, row_blocks
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.runtime import seed_everything
from d2lrnn.training import Updater, train_step

CTXS = [mx.cpu(0), mx.cpu(1)]
TRAIN = ['--corpus', 'timemachine', '--max-tokens', '3000', '--cell', 'lstm', '--num-layers',
         '2', '--num-hiddens', '8', '--batch-size', '4', '--num-steps', '5', '--epochs', '2',
         '--lr', '1', '--clip', '0.5', '--seed', '3', '--device', 'cpu']


def parameters(model):
    return {name: p.data(mx.cpu(0)).asnumpy()
            for name, p in model._collect_params_with_prefix().items()}


LR = {'sgd': 0.5, 'adam': 0.002}


def trained(ctxs, optimizer, steps=4):
    """A 2-layer LSTM after ``steps`` updates on the same minibatches, state carried."""
    seed_everything(0)
    model = RegularizedRNNModel('lstm', 11, 8, 2, embed_size=6)
    model.initialize(mx.init.Xavier(), ctx=ctxs)
    model.hybridize(static_alloc=True, static_shape=True)
    if len(ctxs) == 1:
        net, updater = model, Updater(model, LR[optimizer], ctxs[0], optimizer)
    else:
        net = DataParallel(model, ctxs)
        updater = ParallelUpdater(model, LR[optimizer], ctxs, optimizer, 'device')
    rng, state = np.random.default_rng(1), net.begin_state(6, ctxs[0])
    for _ in range(steps):
        X, Y = rng.integers(0, 11, (6, 5)), rng.integers(0, 11, (6, 5))
        _, state = train_step(net, updater, X, Y, state, ctxs[0], clip_theta=0.3)
    return parameters(model)


@pytest.mark.parametrize('optimizer', ['sgd', 'adam'])
def test_two_contexts_train_as_one_context_with_the_whole_minibatch(optimizer):
    one, two = trained(CTXS[:1], optimizer), trained(CTXS, optimizer)
    assert one.keys() == two.keys()
    moved = max(np.abs(trained(CTXS[:1], optimizer, 0)[name] - one[name]).max() for name in one)
    assert moved > 1e-3  # the updates did something
    assert max(np.abs(one[name] - two[name]).max() for name in one) <= 1e-6


def test_rows_and_devices_are_checked():
    assert row_blocks(6, 2) == [(0, 3), (3, 6)]
    with pytest.raises(ValueError, match='a multiple of 4'):
        row_blocks(6, 4)
    assert parse_devices('cpu:0,cpu:1') == CTXS
    with pytest.raises(ValueError, match="'tpu:0' is not a device"):
        parse_devices('cpu:0,tpu:0')
    with pytest.raises(ValueError, match='twice'):
        parse_devices('cpu:0,cpu:0')
    if mx.context.num_gpus() == 0:
        with pytest.raises(ValueError, match='gpu:0: no usable GPU'):
            parse_devices('gpu:0')


def run_cli(args, env=None, timeout=240):
    return subprocess.run([sys.executable, '-m', 'd2lrnn', *args], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


def test_bad_distributed_options_get_one_line(mirror, tmp_path):
    env = {'D2LRNN_DATA_MIRROR': mirror}
    cases = [
        (TRAIN + ['--kvstore', 'dist_sync', '--out', str(tmp_path / 'a')], 1,
         'runs in processes started by a launcher'),
        (['launch', '-n', '2', '--', 'train'] + TRAIN + ['--out', str(tmp_path / 'b')], 2,
         'add --kvstore dist_sync'),
        (TRAIN + ['--batch-size', '5', '--devices', 'cpu:0,cpu:1', '--out', str(tmp_path / 'c')],
         1, 'a multiple of 2'),
        (TRAIN + ['--devices', 'gpu:0,gpu:1', '--out', str(tmp_path / 'd')], 1, 'GPU'),
    ]
    for args, status, message in cases:
        if 'gpu:0,gpu:1' in args and mx.context.num_gpus():
            continue
        result = run_cli(args if args[0] == 'launch' else ['train'] + args, env)
        assert result.returncode == status, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, \
            result.stderr
        assert not any((tmp_path / name).exists() for name in 'abcd')


def no_process_left(marker):
    found = subprocess.run(['pgrep', '-f', marker], capture_output=True, text=True).stdout
    return found.strip() == ''


@pytest.mark.launch
def test_dist_sync_launch_equals_two_contexts(mirror, tmp_path):
    """2 workers + 1 server on 127.0.0.1 (with a stray PORT in the environment, which ps-lite
    would read) train what one process on 2 contexts trains; generate reads the result."""
    env = {'D2LRNN_DATA_MIRROR': mirror, 'PORT': '8'}
    launched, local = str(tmp_path / 'launched'), str(tmp_path / 'local')
    result = run_cli(['launch', '-n', '2', '-s', '1', '--timeout', '200', '--', 'train', *TRAIN,
                      '--kvstore', 'dist_sync', '--out', launched], env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert no_process_left(launched)
    result = run_cli(['train', *TRAIN, '--devices', 'cpu:0,cpu:1', '--out', local], env)
    assert result.returncode == 0, result.stderr[-2000:]
    a = {k: v.asnumpy() for k, v in nd.load(os.path.join(launched, runs.PARAMS)).items()}
    b = {k: v.asnumpy() for k, v in nd.load(os.path.join(local, runs.PARAMS)).items()}
    assert a.keys() == b.keys()
    assert max(np.abs(a[k] - b[k]).max() for k in a) <= 1e-6
    sample = run_cli(['generate', '--run', launched, '--prefix', 'the ', '--length', '10'], env)
    assert sample.returncode == 0 and sample.stdout.startswith('the '), sample.stderr


@pytest.mark.launch
def test_a_job_with_compressed_gradients_trains(mirror, tmp_path):
    """2-bit gradients are not equal to one device's, but the model learns."""
    env, out = {'D2LRNN_DATA_MIRROR': mirror}, str(tmp_path / 'run')
    result = run_cli(['launch', '-n', '2', '-s', '1', '--timeout', '200', '--', 'train', *TRAIN,
                      '--epochs', '1', '--kvstore', 'dist_sync', '--compression', '2bit',
                      '--out', out], env)
    assert result.returncode == 0, result.stderr[-2000:]
    with open(os.path.join(out, runs.RESULT)) as f:
        assert 1 < json.load(f)['best_val_ppl'] < 40  # a character model that learned
    assert no_process_left(out)


# Worker 1 kills itself (SIGKILL) at its third minibatch of epoch 2.
KILL_WORKER_1 = '''
import os, signal, sys
from d2lrnn import cli, training
train_step, count = training.train_step, []

def killing_step(*args, **kwargs):
    count.append(1)
    if os.environ.get('DMLC_ROLE') == 'worker' and os.environ['DMLC_TASK_ID'] == '1' \\
            and len(count) == STEPS_PER_EPOCH + 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return train_step(*args, **kwargs)

training.train_step = killing_step
cli.main(sys.argv[1:])
'''


@pytest.mark.launch
def test_a_killed_worker_stops_the_job_and_the_run_resumes(mirror, tmp_path, monkeypatch):
    """Worker 1 dies in epoch 2: every process stops, the run folder holds epoch 1 whole, and
    the launched job resumed from it ends where one process on 2 contexts ends."""
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    out, local = str(tmp_path / 'run'), str(tmp_path / 'local')
    steps = (3000 - 6) // (4 * 5)  # fewest minibatches in an epoch of the 3,000-token split
    script = KILL_WORKER_1.replace('STEPS_PER_EPOCH', str(steps))
    with pytest.raises(LaunchError, match=r'worker 1 failed \(exit status -9\)'):
        launch([sys.executable, '-c', script, 'train', *TRAIN, '--kvstore', 'dist_sync',
                '--out', out], 2, 1, timeout=200)
    assert no_process_left(out)
    config, _ = runs.load_config(out)
    state = runs._read(out, runs.STATE, runs._check_state)
    assert state['epoch'] == 1 and config['training']['kvstore'] == 'dist_sync'
    assert not os.path.exists(os.path.join(out, runs.RESULT))

    launch([sys.executable, '-m', 'd2lrnn', 'train', '--resume', out, '--kvstore', 'dist_sync'],
           2, 1, timeout=200)
    result = run_cli(['train', *TRAIN, '--devices', 'cpu:0,cpu:1', '--out', local])
    assert result.returncode == 0, result.stderr[-2000:]
    a = {k: v.asnumpy() for k, v in nd.load(os.path.join(out, runs.PARAMS)).items()}
    b = {k: v.asnumpy() for k, v in nd.load(os.path.join(local, runs.PARAMS)).items()}
    assert max(np.abs(a[k] - b[k]).max() for k in a) <= 1e-6
    assert os.path.exists(os.path.join(out, runs.RESULT))


@pytest.mark.launch
def test_an_unreachable_scheduler_is_a_message_not_a_hang(mirror, tmp_path):
    import socket
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    env = {'D2LRNN_DATA_MIRROR': mirror, 'DMLC_ROLE': 'worker', 'DMLC_PS_ROOT_URI': '127.0.0.1',
           'DMLC_PS_ROOT_PORT': str(port), 'DMLC_NUM_WORKER': '1', 'DMLC_NUM_SERVER': '1'}
    result = run_cli(['train', *TRAIN, '--kvstore', 'dist_sync', '--out', str(tmp_path / 'r')],
                     env, timeout=120)
    assert result.returncode == 1
    assert f'the scheduler at 127.0.0.1:{port} cannot be reached' in result.stderr
    assert not (tmp_path / 'r').exists()


@pytest.mark.launch
def test_workers_with_different_options_stop_the_job(mirror, tmp_path, monkeypatch):
    """Worker 1 gets another learning rate: both workers refuse, the job stops."""
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    out, log = str(tmp_path / 'run'), tmp_path / 'job.log'
    train = ' '.join([sys.executable, '-m', 'd2lrnn', 'train', *TRAIN, '--kvstore', 'dist_sync',
                      '--out', out])
    command = ['bash', '-c', f'if [ "$DMLC_TASK_ID" = 1 ]; then exec {train} --lr 3; '
                             f'else exec {train}; fi']
    with open(log, 'w') as output, pytest.raises(LaunchError, match=r'worker \d failed'):
        launch(command, 2, 1, timeout=200, output=output)
    assert 'the workers were started with different options' in log.read_text()
    assert no_process_left(out)


@pytest.mark.launch
def test_an_interrupted_launch_stops_every_process(mirror, tmp_path):
    """Ctrl-C (SIGINT) to `launch` while the workers train: one line, nothing left running."""
    import signal
    import time
    out = str(tmp_path / 'run')
    process = subprocess.Popen([sys.executable, '-m', 'd2lrnn', 'launch', '-n', '2', '-s', '1',
                                '--', 'train', *TRAIN, '--epochs', '50', '--kvstore', 'dist_sync',
                                '--out', out], stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, D2LRNN_DATA_MIRROR=mirror))
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(out, runs.STATE)) and time.time() < deadline:
        time.sleep(0.2)  # an epoch has been committed: the job is training
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert stderr.strip().splitlines()[-1] == ('d2lrnn launch: error: interrupted: every process '
                                               'of the job was stopped')
    assert no_process_left(out)
