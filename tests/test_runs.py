"""The model registry and the run folder: a model's configuration is read off the model,
every file is written atomically, and a damaged or foreign file is refused naming it."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

from d2lrnn import files, registry, runs
from d2lrnn.models import RNNModel
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.schedule import PlateauSchedule
from d2lrnn.text import Vocab
from d2lrnn.training import Updater

VOCAB = Vocab(list('abcdefgh '))


def make(cell='lstm', num_layers=2, embed_size=None, num_hiddens=16):
    model = RNNModel(cell, len(VOCAB), num_hiddens, num_layers, embed_size, dropout=0.1)
    model.initialize(mx.init.Xavier(), ctx=mx.cpu())
    return model


def logits(model):
    X = mx.nd.array(np.random.RandomState(0).randint(0, len(VOCAB), (3, 5)))
    return model(X, model.begin_state(3))[0].asnumpy()


@pytest.mark.parametrize('cls', registry.MODELS.values(), ids=lambda cls: cls.__name__)
def test_every_option_of_a_registered_model_is_kept_by_the_model(cls):
    """What makes the model's __init__ the one place an option is added."""
    options = registry.option_names(cls)
    assert {'cell', 'vocab_size', 'num_hiddens', 'num_layers', 'embed_size'} <= set(options)
    model = cls('gru', 7, 5, 3, embed_size=4, dropout=0.25)
    config = registry.model_config(model)
    assert config['class'] == cls.__name__ and list(config['kwargs']) == options
    assert config['kwargs']['num_layers'] == 3 and config['kwargs']['dropout'] == 0.25
    rebuilt = registry.model_config(registry.build_model(json.loads(json.dumps(config))))
    assert rebuilt == config


def test_build_model_names_what_is_wrong():
    with pytest.raises(ValueError, match="model class 'LSTM' is not one of RNNModel, "
                                         'RegularizedRNNModel'):
        registry.build_model({'class': 'LSTM', 'kwargs': {}})
    with pytest.raises(ValueError, match='RNNModel takes no option depth; its options: cell'):
        registry.build_model({'class': 'RNNModel', 'kwargs': {'depth': 2}})


def test_a_different_architecture_is_refused_naming_the_difference(tmp_path):
    model = make('lstm', num_layers=2)
    path = str(tmp_path / 'model.params')
    model.save_parameters(path)
    with pytest.raises(ValueError, match='checkpoint has 2 recurrent layer.* model has 1'):
        registry.load_parameters_checked(make('lstm', num_layers=1), path)
    with pytest.raises(ValueError) as err:
        registry.load_parameters_checked(make('gru'), path, config=registry.model_config(model))
    assert "kwargs.cell: saved 'lstm' vs now 'gru'" in str(err.value)
    V = len(VOCAB)
    assert f'rnn._unfused.0.i2h_weight: checkpoint (64, {V}) vs model (48, {V})' in str(err.value)
    with pytest.raises(ValueError, match='missing from the checkpoint: embedding.weight'):
        registry.load_parameters_checked(make(embed_size=4), path)


def test_a_truncated_parameter_file_is_named(tmp_path):
    model = make()
    path = tmp_path / 'model.params'
    model.save_parameters(str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(files.DamagedFileError, match=f'{path} is damaged: MXNet cannot read'):
        registry.load_parameters_checked(make(), str(path))


def test_atomic_write_removes_its_temp_file_on_failure(tmp_path):
    target = tmp_path / 'results.md'
    files.write_text(target, 'old')

    def fail(temp):
        with open(temp, 'w') as f:
            f.write('new, half')
        raise KeyboardInterrupt  # the user presses Ctrl-C in the middle of a write

    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(target, fail)
    assert os.listdir(tmp_path) == ['results.md'] and target.read_text() == 'old'


def small_run(folder, epochs):
    """A RegularizedRNNModel trained ``epochs`` epochs by hand into the run folder."""
    mx.random.seed(0)
    model = RegularizedRNNModel('lstm', len(VOCAB), 8, 2, embed_size=8, tie_weights=True)
    model.initialize(mx.init.Xavier(), ctx=mx.cpu())
    schedule = PlateauSchedule(1.0, seed=3)
    updater = Updater(model, 1.0, mx.cpu(), 'adam')
    config = dict(model=registry.model_config(model), corpus=dict(name='x', level='char',
                                                                  max_tokens=None),
                  training=dict(epochs=epochs))
    runs.start_run(folder, config, VOCAB)
    X = mx.nd.array(np.random.RandomState(0).randint(0, len(VOCAB), (2, 6)))
    for epoch in range(1, epochs + 1):
        with mx.autograd.record():
            loss = model(X, model.begin_state(2))[0].mean()
        loss.backward()
        updater.step()
        schedule.end_epoch(model, dict(epoch=epoch, lr=1.0, train_ppl=9.0, val_ppl=9.0 - epoch,
                                       tokens_per_s=1.0, seconds=1.0))
        runs.save_epoch(folder, model, schedule, updater)
    return model, schedule, updater


def test_the_run_folder_round_trip(tmp_path):
    folder = str(tmp_path / 'run')
    model, schedule, _ = small_run(folder, 2)
    assert sorted(os.listdir(folder)) == ['best-2.params', 'config.json', 'last-2.params',
                                          'metrics.jsonl', 'model.params', 'state.json',
                                          'trainer-2.states', 'vocab.json']
    with open(os.path.join(folder, 'metrics.jsonl')) as f:
        assert [json.loads(line)['epoch'] for line in f] == [1, 2]  # epoch records only
    config, vocab = runs.load_config(folder)
    assert config['format'] == runs.FORMAT and vocab.idx_to_token == VOCAB.idx_to_token
    loaded, _, _ = runs.load_trained(folder, mx.cpu())
    np.testing.assert_array_equal(logits(loaded), logits(model))
    # resuming puts the parameters, the schedule and Adam's moments back
    again = registry.build_model(config['model'])
    again.initialize(mx.init.Xavier(), ctx=mx.cpu())
    schedule2, updater2 = PlateauSchedule(1.0, seed=3), Updater(again, 1.0, mx.cpu(), 'adam')
    assert runs.resume_run(folder, again, schedule2, updater2)
    assert schedule2.state_dict() == schedule.state_dict() and schedule2.best_epoch == 2
    np.testing.assert_array_equal(logits(again), logits(model))
    states = str(tmp_path / 'a.states')
    updater2.trainer.save_states(states)
    assert open(states, 'rb').read() == open(os.path.join(folder, 'trainer-2.states'),
                                             'rb').read()


@pytest.mark.parametrize('name, damage, message', [
    ('config.json', b'{"format": 1, "model"', 'config.json is damaged: not valid JSON'),
    ('config.json', b'{"format": 7}', 'config.json is damaged: format 7, expected 1'),
    ('vocab.json', b'["a", "a"]', 'vocab.json is damaged: a saved vocabulary must hold'),
    ('state.json', b'[]', 'state.json is damaged'),
    ('last-2.params', b'\x12\x01', 'last-2.params is damaged: MXNet cannot read it'),
    ('trainer-2.states', b'garbage', 'trainer-2.states is damaged'),
])
def test_a_damaged_file_is_named(tmp_path, name, damage, message):
    folder = str(tmp_path / 'run')
    small_run(folder, 2)
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(damage)
    with pytest.raises(ValueError, match=message):
        config, _ = runs.load_config(folder)
        model = registry.build_model(config['model'])
        model.initialize(ctx=mx.cpu())
        runs.resume_run(folder, model, PlateauSchedule(1.0), Updater(model, 1.0, mx.cpu(),
                                                                     'adam'))


def test_a_folder_without_a_run(tmp_path):
    with pytest.raises(runs.RunFolderError, match='holds no run .config.json is missing'):
        runs.load_config(str(tmp_path))
