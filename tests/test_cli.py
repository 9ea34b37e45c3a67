import csv
import json
import os
import random
import subprocess
import sys

import mxnet as mx
import pytest

from d2lrnn import cli, commands, device, registry, training
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.cli import main
from d2lrnn.training import NonFiniteLossError

TINY = ['--num-hiddens', '16', '--batch-size', '4', '--num-steps', '10', '--epochs', '1',
        '--device', 'cpu']
FILES = {'config.json', 'vocab.json', 'model.params', 'metrics.jsonl', 'perplexity.png',
         'state.json', 'result.json'}


def run_files(folder, epoch, best_epoch):
    """The files of a run folder after ``epoch`` epochs whose best was ``best_epoch``."""
    return FILES | {f'last-{epoch}.params', f'best-{best_epoch}.params',
                    f'trainer-{epoch}.states'}


@pytest.fixture(scope='module')
def text_file(tmp_path_factory):
    """About 4 KB of generated sentences."""
    rng = random.Random(0)
    words = 'the time traveller machine went far into future and saw people of it'.split()
    text = '\n'.join(' '.join(rng.choice(words) for _ in range(10)) + '.' for _ in range(70))
    path = tmp_path_factory.mktemp('corpus') / 'tiny.txt'
    path.write_text(text, encoding='utf-8')
    return str(path)


@pytest.fixture(scope='module')
def run_dir(text_file, tmp_path_factory):
    """A 2-layer GRU trained for 2 epochs by ``train``."""
    out = str(tmp_path_factory.mktemp('runs') / 'gru')
    main(['train', '--corpus', text_file, '--cell', 'gru', '--num-layers', '2', '--out', out,
          *TINY, '--epochs', '2'])
    return out


def test_train_writes_the_run_folder(run_dir):
    with open(os.path.join(run_dir, 'result.json')) as f:
        result = json.load(f)
    assert set(os.listdir(run_dir)) == run_files(run_dir, 2, result['best_epoch'])  # no temp
    with open(os.path.join(run_dir, 'metrics.jsonl')) as f:
        records = [json.loads(line) for line in f]
    assert [r['epoch'] for r in records] == [1, 2]  # epoch records and nothing else
    for record in records:
        assert set(record) == {'epoch', 'lr', 'train_ppl', 'val_ppl', 'tokens_per_s', 'seconds'}
    best = min(records, key=lambda r: r['val_ppl'])
    assert result == dict(best_epoch=best['epoch'], best_val_ppl=best['val_ppl'],
                          test_ppl=None, stopped_early=False, epochs=2)  # no test split
    with open(os.path.join(run_dir, 'config.json')) as f:
        config = json.load(f)
    assert config['format'] == 1 and config['model'] == {
        'class': 'RegularizedRNNModel', 'kwargs': dict(
            cell='gru', vocab_size=config['model']['kwargs']['vocab_size'], num_hiddens=16,
            num_layers=2, embed_size=None, dropout=0.0, variational=False, embed_dropout=0.0,
            tie_weights=False)}
    assert config['corpus']['level'] == 'char' and config['training']['batch_size'] == 4
    assert config['training']['optimizer'] == 'sgd' and config['training']['lr'] == 2.0
    assert os.path.getsize(os.path.join(run_dir, 'perplexity.png')) > 1000


def generate(run_dir, capsys, *options):
    main(['generate', '--run', run_dir, '--prefix', 'the time', '--length', '30',
          '--device', 'cpu', *options])
    return capsys.readouterr().out


def test_generate_continues_the_prefix_deterministically(run_dir, capsys):
    text = generate(run_dir, capsys)
    assert text.startswith('the time') and len(text) == len('the time') + 30 + 1  # newline
    sampled = [generate(run_dir, capsys, '--temperature', '1', '--seed', str(seed))
               for seed in (3, 3, 4)]
    assert sampled[0] == sampled[1] != sampled[2]
    assert all(s.startswith('the time') for s in sampled)


def test_compare_writes_one_row_per_cell_and_depth(text_file, tmp_path, capsys):
    main(['compare', '--corpus', text_file, '--cells', 'gru', 'lstm', '--num-layers', '1', '2',
          '--out', str(tmp_path), *TINY])
    with open(tmp_path / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['cell'], r['layers']) for r in rows] == [('gru', '1'), ('gru', '2'),
                                                        ('lstm', '1'), ('lstm', '2')]
    assert all(float(r['val_ppl']) > 1 and int(r['parameters']) > 0 for r in rows)
    table = (tmp_path / 'results.md').read_text().splitlines()
    assert table[0].startswith('| cell | layers | parameters') and len(table) == 2 + 4
    assert FILES < set(os.listdir(tmp_path / 'lstm-L2'))
    assert '| lstm | 2 |' in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the grid is there: nothing is trained over it
        main(['compare', '--corpus', text_file, '--cells', 'gru', '--num-layers', '1',
              '--out', str(tmp_path), *TINY])
    assert 'already holds the run(s)' in capsys.readouterr().err


@pytest.mark.parametrize('argv, expected', [
    (['--cell', 'cnn'],
     "argument --cell: invalid choice: 'cnn' (choose from 'gru', 'lstm', 'rnn')"),
    (['--num-layers', '0'], "argument --num-layers: must be an integer >= 1, got '0'"),
    (['--dropout', '1.5'], "argument --dropout: must be a number in [0, 1), got '1.5'"),
    (['--dropout', '1'], "argument --dropout: must be a number in [0, 1), got '1'"),
    (['--dropout', '-0.1'], "argument --dropout: must be a number in [0, 1), got '-0.1'"),
    (['--embed-dropout', 'x'], "argument --embed-dropout: must be a number in [0, 1), got 'x'"),
    (['--lr-decay', '0.5'], "argument --lr-decay: must be a finite number >= 1 (1: a "
                            "constant learning rate), got '0.5'"),
    (['--lr', '0'], "argument --lr: must be a finite number > 0, got '0'"),
    (['--optimizer', 'rmsprop'], "invalid choice: 'rmsprop' (choose from 'sgd', 'adam')"),
    (['--patience', '0'], "argument --patience: must be an integer >= 1, got '0'"),
    (['--resume', 'elsewhere'], 'run and --resume elsewhere name different folders'),
    (['--corpus', 'missing.txt'], 'must be one of ptb, timemachine, tinyshakespeare or an '
                                  "existing UTF-8 text file; 'missing.txt' is neither"),
    (['--device', 'tpu'], "must be auto, cpu, gpu or a list such as cpu:0,cpu:1 or gpu:0,gpu:1; "
                          "got 'tpu'"),
])
def test_invalid_option_exits_2_with_one_line_naming_the_valid_values(
        argv, expected, text_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', text_file, '--out', str(tmp_path / 'run'), *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and expected in err and err.count('\n') == 1
    assert not os.path.exists(tmp_path / 'run')


@pytest.mark.parametrize('argv, expected', [
    (['--tie-weights', '--embed-size', '32', '--num-hiddens', '64'],
     'the model: weight tying shares one (vocab_size, size) matrix between the embedding and '
     'the output layer, so embed_size must equal num_hiddens; got embed_size=32, '
     'num_hiddens=64'),
    (['--embed-dropout', '0.1'], 'the model: embed_dropout needs an embedding: give embed_size'),
])
def test_options_the_model_refuses_exit_1_naming_them(argv, expected, text_file, tmp_path,
                                                      capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', text_file, '--out', str(tmp_path / 'run'), *TINY, *argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err == f'd2lrnn train: error: {expected}\n'
    assert not os.path.exists(tmp_path / 'run')


def test_invalid_compare_and_generate_options(text_file, tmp_path, capsys):
    for argv, expected in [
            (['train', '--corpus', text_file],
             'error: the following arguments are required: --out'),
            (['compare', '--corpus', text_file, '--out', str(tmp_path), '--resume', 'x'],
             'unrecognized arguments: --resume'),
            (['compare', '--corpus', text_file, '--out', str(tmp_path), '--cells', 'gru', 'x'],
             "invalid choice: 'x' (choose from 'gru', 'lstm', 'rnn')"),
            (['generate', '--run', str(tmp_path), '--prefix', 'a', '--temperature', '-1'],
             "must be a finite number >= 0, got '-1'")]:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and expected in err and err.count('\n') == 1


def test_ptb_with_the_wrong_sha1_exits_1_and_keeps_the_files(tmp_path, monkeypatch, capsys):
    cache, mirror = tmp_path / 'cache', tmp_path / 'mirror'
    for folder, text in ((cache, b'a damaged download'), (mirror, b'another damaged copy')):
        folder.mkdir()
        (folder / 'ptb.zip').write_bytes(text)
    monkeypatch.setenv('D2LRNN_DATA_DIR', str(cache))
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', str(mirror))
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', 'ptb', '--out', str(tmp_path / 'run'), *TINY])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert err.startswith('d2lrnn train: error: corpus ptb: ptb.zip: sha1 ')
    assert 'does not match the expected 319d85e578af0cdc590547f26231e4e31cdf1e42' in err
    assert (cache / 'ptb.zip').read_bytes() == b'a damaged download'  # nothing replaced
    assert sorted(os.listdir(cache)) == ['ptb.zip'] and not os.path.exists(tmp_path / 'run')


def test_device_gpu_without_a_usable_gpu_exits_with_one_line(text_file, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', text_file, '--out', str(tmp_path), '--device', 'gpu'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert err.startswith('d2lrnn train: error: --device gpu: no usable GPU found')


def test_generate_without_checkpoint_exits_with_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['generate', '--run', str(tmp_path), '--prefix', 'a', '--device', 'cpu'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert err == f'd2lrnn generate: error: --run {tmp_path}: {tmp_path} holds no run ' \
                  '(config.json is missing)\n'


def test_nan_loss_exits_1_and_keeps_the_finished_epochs_files(text_file, tmp_path, capsys,
                                                              monkeypatch):
    train_epoch, epochs = training.train_epoch, []

    def nan_in_epoch_2(*args, **kwargs):
        epochs.append(len(epochs) + 1)
        if epochs[-1] == 2:
            raise NonFiniteLossError('the loss became nan at epoch 2, minibatch 1')
        return train_epoch(*args, **kwargs)

    monkeypatch.setattr(training, 'train_epoch', nan_in_epoch_2)
    out = tmp_path / 'run'
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', text_file, '--out', str(out), *TINY, '--epochs', '3'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err == ('d2lrnn train: error: the loss became nan at epoch 2, minibatch 1 The '
                   f'finished epochs are kept in {out}.\n')
    assert set(os.listdir(out)) == run_files(out, 1, 1) - {'result.json'}
    assert len((out / 'metrics.jsonl').read_text().splitlines()) == 1
    main(['generate', '--run', str(out), '--prefix', 'the', '--length', '5', '--device', 'cpu'])


def test_try_gpu_falls_back_to_the_cpu_with_one_line(monkeypatch, capsys):
    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 0)
    assert device.try_gpu() == mx.cpu()
    assert capsys.readouterr().out == ('using the CPU: no usable GPU found (CPU build of '
                                       'MXNet, or no CUDA device)\n')


def test_gpu_problem_reports_a_gpu_that_cannot_run_kernels(monkeypatch):
    def no_kernel(*args, **kwargs):
        raise mx.base.MXNetError('Traceback (most recent call last):\n'
                                 '  File "../src/storage/storage.cc", line 42\n'
                                 'MXNetError: CUDA: no kernel image is available for execution')

    monkeypatch.setattr(mx.context, 'num_gpus', lambda: 1)
    monkeypatch.setattr(mx.nd, 'ones', no_kernel)
    assert device.gpu_problem(0) == ('GPU 0 cannot run MXNet kernels (MXNetError: CUDA: no '
                                     'kernel image is available for execution)')


def test_python_dash_m_prints_the_help():
    result = subprocess.run([sys.executable, '-m', 'd2lrnn', 'compare', '--help'],
                            capture_output=True, text=True, check=True)
    assert '--num-layers L [L ...]' in result.stdout and '--cells' in result.stdout


def test_a_corpus_that_is_not_utf8_is_named(tmp_path, capsys):
    path = tmp_path / 'latin1.txt'
    path.write_bytes('caf\xe9 au lait\n'.encode('latin-1') * 50)
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', str(path), '--out', str(tmp_path / 'run'), *TINY])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert f'{path} is not UTF-8 text (byte 3: invalid continuation byte)' in err
    assert not os.path.exists(tmp_path / 'run')


def test_every_model_option_is_a_train_option():
    """The command line exposes each option of the model it trains, under the same name."""
    parser = cli.build_parser()
    train = parser._subparsers._group_actions[0].choices['train']
    flags = {action.dest for action in train._actions}
    options = set(registry.option_names(RegularizedRNNModel)) - {'vocab_size'}
    assert options <= flags and options == set(commands.SECTIONS['model'])


def test_a_corpus_too_short_for_one_minibatch_is_refused_before_training(text_file, tmp_path,
                                                                          capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--corpus', text_file, '--out', str(tmp_path / 'run'), *TINY,
              '--batch-size', '1000'])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert f'corpus {text_file}: a list of ' in err and 'is shorter than one minibatch' in err
    assert not os.path.exists(tmp_path / 'run')


def test_min_freq_reads_rare_tokens_as_unk_and_is_kept_for_resume(tmp_path, capsys):
    """--min-freq builds the vocabulary from the tokens seen that often in the training split;
    the run folder records it, a resumed run reads the same vocabulary, and a resume with
    another --min-freq is refused naming it."""
    words = ' '.join(['common'] * 300 + ['rare'] + ['other'] * 300) + '\n'
    path = tmp_path / 'words.txt'
    path.write_text(words * 3, encoding='utf-8')
    outs = {}
    for min_freq in (None, 4):  # 'rare' occurs 3 times, the others hundreds
        out = outs[min_freq] = str(tmp_path / f'run-{min_freq}')
        main(['train', '--corpus', str(path), '--level', 'word', '--out', out, *TINY]
             + ([] if min_freq is None else ['--min-freq', str(min_freq)]))
    with open(os.path.join(outs[4], 'config.json')) as f:
        assert json.load(f)['corpus']['min_freq'] == 4
    with open(os.path.join(outs[None], 'config.json')) as f:
        assert 'min_freq' not in json.load(f)['corpus']  # configs without it are unchanged
    vocabularies = {}
    for min_freq, out in outs.items():
        with open(os.path.join(out, 'vocab.json')) as f:
            vocabularies[min_freq] = json.load(f)
    assert 'rare' in json.dumps(vocabularies[None]) and 'rare' not in json.dumps(vocabularies[4])
    main(['train', '--resume', outs[4], '--epochs', '2'])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(['train', '--resume', outs[4], '--epochs', '3', '--min-freq', '5'])
    assert exit_info.value.code == 1
    assert '--min-freq: saved 4 vs now 5' in capsys.readouterr().err
