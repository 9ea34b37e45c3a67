"""``train --resume DIR``: a run killed with SIGKILL in the middle of an epoch loses only that
epoch and, resumed from its folder alone, ends exactly where the uninterrupted run ends."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from d2lrnn.cli import main

# A tiny 2-layer LSTM with every regulariser, so dropout masks must repeat too.
OPTIONS = ['--cell', 'lstm', '--num-layers', '2', '--num-hiddens', '12', '--embed-size', '12',
           '--tie-weights', '--dropout', '0.3', '--variational', '--embed-dropout', '0.1',
           '--batch-size', '4', '--num-steps', '8', '--epochs', '4', '--lr', '3',
           '--lr-decay', '2', '--clip', '1', '--device', 'cpu', '--seed', '7']
TIMING = ('tokens_per_s', 'seconds')
# Runs the command line, but kills itself (SIGKILL: no handler, no cleanup) at the third
# minibatch of epoch 2.
KILL_IN_EPOCH_2 = '''
import os, signal, sys
from d2lrnn import cli, training
train_epoch, train_step, where = training.train_epoch, training.train_step, {}

def counting_epoch(*args, **kwargs):
    where['epoch'], where['step'] = where.get('epoch', 0) + 1, 0
    return train_epoch(*args, **kwargs)

def killing_step(*args, **kwargs):
    where['step'] += 1
    if (where['epoch'], where['step']) == (2, 3):
        os.kill(os.getpid(), signal.SIGKILL)
    return train_step(*args, **kwargs)

training.train_epoch, training.train_step = counting_epoch, killing_step
cli.main(sys.argv[1:])
'''


@pytest.fixture(scope='module')
def text_file(tmp_path_factory):
    rng = random.Random(1)
    words = 'a deep recurrent network reads the words of a text and guesses the next'.split()
    text = '\n'.join(' '.join(rng.choice(words) for _ in range(12)) for _ in range(100))
    path = tmp_path_factory.mktemp('corpus') / 'words.txt'
    path.write_text(text, encoding='utf-8')
    return str(path)


def run(argv, script=None):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    command = [sys.executable, '-c', script, *argv] if script else [
        sys.executable, '-m', 'd2lrnn', *argv]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def records(folder):
    """metrics.jsonl without the timing fields, and result.json."""
    with open(os.path.join(folder, 'metrics.jsonl')) as f:
        epochs = [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]
    result = os.path.join(folder, 'result.json')
    return epochs, json.load(open(result)) if os.path.isfile(result) else None


def assert_same_parameters(file_a, file_b):
    a, b = mx.nd.load(file_a), mx.nd.load(file_b)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name].asnumpy(), b[name].asnumpy(), err_msg=name)


@pytest.fixture(scope='module', params=['sgd', 'adam'])
def runs(request, text_file, tmp_path_factory):
    """(uninterrupted run folder, killed-then-resumed run folder, the three processes,
    the records after the kill), for SGD and for Adam, whose moments must be restored too."""
    root = tmp_path_factory.mktemp('runs')
    whole, resumed = str(root / 'whole'), str(root / 'resumed')
    args = ['train', '--corpus', text_file, '--level', 'word', *OPTIONS,
            '--optimizer', request.param, '--lr', '3' if request.param == 'sgd' else '0.01']
    first = run([*args, '--out', whole])
    killed = run([*args, '--out', resumed], script=KILL_IN_EPOCH_2)
    after_kill = records(resumed)
    second = run(['train', '--resume', resumed])  # the folder alone
    return whole, resumed, (first, killed, second), after_kill


def test_a_killed_run_keeps_its_finished_epochs(runs):
    _, resumed, (first, killed, _), after_kill = runs
    assert first.returncode == 0, first.stderr
    assert killed.returncode == -signal.SIGKILL
    assert 'epoch 1/4' in killed.stdout and 'epoch 2/4' not in killed.stdout
    assert [r['epoch'] for r in after_kill[0]] == [1] and after_kill[1] is None


def test_the_resumed_run_equals_the_uninterrupted_one(runs):
    whole, resumed, (_, _, second), _ = runs
    assert second.returncode == 0, second.stderr
    assert 'resuming' in second.stdout and 'after epoch 1' in second.stdout
    assert records(resumed) == records(whole)
    assert [r['epoch'] for r in records(whole)[0]] == [1, 2, 3, 4]
    assert records(whole)[1]['test_ppl'] is None  # a text file has no test split
    assert_same_parameters(os.path.join(whole, 'model.params'),
                           os.path.join(resumed, 'model.params'))
    assert_same_parameters(os.path.join(whole, 'last-4.params'),
                           os.path.join(resumed, 'last-4.params'))


@pytest.fixture(scope='module')
def one_epoch_run(text_file, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('runs') / 'one')
    assert run(['train', '--corpus', text_file, '--level', 'word', *OPTIONS, '--epochs', '1',
                '--out', out]).returncode == 0
    return out


def contents(folder):
    return {os.path.join(path, name): open(os.path.join(path, name), 'rb').read()
            for path, _, names in os.walk(folder) for name in names}


def test_a_finished_run_says_so_and_continues_with_more_epochs(runs, tmp_path):
    whole = runs[0]
    before = contents(whole)
    done = run(['train', '--resume', whole])
    assert done.returncode == 0 and contents(whole) == before
    assert done.stdout == (f'{whole}: nothing to do: it has finished 4 epochs; give a larger '
                           '--epochs to continue\n')
    more = str(tmp_path / 'more')
    shutil.copytree(whole, more)
    longer = run(['train', '--resume', more, '--epochs', '5', '--device', 'cpu'])
    assert longer.returncode == 0, longer.stderr
    assert 'resuming' in longer.stdout and 'epoch 5/5' in longer.stdout
    assert [r['epoch'] for r in records(more)[0]] == [1, 2, 3, 4, 5]
    assert json.load(open(os.path.join(more, 'config.json')))['training']['epochs'] == 5


@pytest.mark.parametrize('added, expected', [
    (['--num-hiddens', '16', '--embed-size', '16'],
     '--embed-size: saved 12 vs now 16; --num-hiddens: saved 12 vs now 16'),
    (['--lr', '1'], '--lr: saved 3.0 vs now 1.0'),
    (['--dropout', '0.1'], '--dropout: saved 0.3 vs now 0.1'),
    (['--level', 'char'], "--level: saved 'word' vs now 'char'"),
])
def test_resume_with_other_settings_is_refused_and_changes_nothing(
        one_epoch_run, text_file, added, expected, capsys):
    whole = one_epoch_run
    before = contents(whole)
    with pytest.raises(SystemExit) as exit_info:  # equal options may be repeated
        main(['train', '--corpus', text_file, *OPTIONS, '--epochs', '2', *added,
              '--resume', whole])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert 'that run was made with other settings, so it was left as it is' in err
    assert err.endswith(f'left as it is: {expected}\n')
    assert contents(whole) == before


def test_resume_with_another_vocabulary_is_refused(text_file, tmp_path, capsys):
    corpus, out = tmp_path / 'words.txt', str(tmp_path / 'run')
    corpus.write_text(open(text_file).read(), encoding='utf-8')
    main(['train', '--corpus', str(corpus), '--level', 'word', *OPTIONS, '--epochs', '1',
          '--out', out])
    before = contents(out)
    corpus.write_text('zebra ' + open(text_file).read(), encoding='utf-8')  # the same path
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--resume', out, '--epochs', '2'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert err.endswith('vocabulary: saved 14 tokens vs now 15 (the corpus changed), first '
                        'difference at index 14\n')
    assert contents(out) == before


@pytest.mark.parametrize('name, damage, expected', [
    ('config.json', b'{"format": 1,', 'config.json is damaged: not valid JSON'),
    ('vocab.json', b'', 'vocab.json is damaged: not valid JSON'),
    ('state.json', b'{"lr": 1}', "state.json is damaged: 'files'"),
    ('last-1.params', b'\x00' * 10, 'last-1.params is damaged: MXNet cannot read it'),
    ('trainer-1.states', b'', 'trainer-1.states is damaged'),
])
def test_a_damaged_run_folder_is_refused_naming_the_file(text_file, tmp_path, capsys, name,
                                                        damage, expected):
    out = str(tmp_path / 'run')
    main(['train', '--corpus', text_file, '--level', 'word', *OPTIONS, '--epochs', '1',
          '--out', out])
    with open(os.path.join(out, name), 'wb') as f:
        f.write(damage)
    before = contents(out)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--resume', out, '--epochs', '2'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1, err
    assert err.startswith(f'd2lrnn train: error: --resume {out}: ') and expected in err
    assert contents(out) == before


def test_resume_of_a_folder_without_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--resume', str(tmp_path / 'none')])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and 'holds no run (config.json is missing)' in err
    assert not os.path.exists(tmp_path / 'none')


def test_a_new_run_never_overwrites_a_folder_holding_one(one_epoch_run, text_file, capsys):
    whole = one_epoch_run
    before = contents(whole)
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', text_file, '--out', whole, '--device', 'cpu'])
    assert exit_info.value.code == 1 and contents(whole) == before
    assert f'already holds a run: continue it with --resume {whole}' in capsys.readouterr().err
