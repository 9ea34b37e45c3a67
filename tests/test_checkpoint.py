import json
import os

import mxnet as mx
import numpy as np
import pytest

from d2lrnn import checkpoint
from d2lrnn.checkpoint import load_checkpoint, load_parameters_checked, save_checkpoint
from d2lrnn.models import RNNModel
from d2lrnn.text import Vocab

VOCAB = Vocab(list('abcdefgh '))


def make(cell='lstm', num_layers=2, embed_size=None, num_hiddens=16):
    """(model initialised on the CPU, its config) over VOCAB."""
    model_config = dict(cell=cell, vocab_size=len(VOCAB), num_hiddens=num_hiddens,
                        num_layers=num_layers, embed_size=embed_size, dropout=0.1)
    model = RNNModel(**model_config)
    model.initialize(mx.init.Xavier(), ctx=mx.cpu())
    return model, dict(model=model_config, corpus=dict(name='tiny', token='char'))


def logits(model):
    X = mx.nd.array(np.random.RandomState(0).randint(0, len(VOCAB), (3, 5)))
    return model(X, model.begin_state(3))[0].asnumpy()


def test_round_trip_gives_the_same_logits(tmp_path):
    model, config = make(embed_size=4)
    history = [dict(epoch=1, train_ppl=9.0, val_ppl=8.5, tokens_per_s=1e3, seconds=0.5)]
    save_checkpoint(tmp_path, model, config, VOCAB, history)
    assert sorted(os.listdir(tmp_path)) == ['config.json', 'metrics.jsonl', 'model.params',
                                            'vocab.json']
    loaded, loaded_config, vocab = load_checkpoint(tmp_path, mx.cpu())
    assert loaded_config == config
    assert vocab.idx_to_token == VOCAB.idx_to_token and vocab.token_to_idx == VOCAB.token_to_idx
    np.testing.assert_array_equal(logits(loaded), logits(model))
    with open(tmp_path / 'metrics.jsonl') as f:
        assert [json.loads(line) for line in f] == history


def test_a_different_architecture_is_refused_naming_the_difference(tmp_path):
    model, config = make('lstm', num_layers=2)
    save_checkpoint(tmp_path, model, config, VOCAB)
    path = str(tmp_path / 'model.params')
    shallow, _ = make('lstm', num_layers=1)
    with pytest.raises(ValueError, match='checkpoint has 2 recurrent layer.* model has 1'):
        load_parameters_checked(shallow, path)
    gru, _ = make('gru', num_layers=2)
    with pytest.raises(ValueError) as err:
        load_parameters_checked(gru, path, config=config)
    assert "cell: checkpoint 'lstm' vs model 'gru'" in str(err.value)
    V = len(VOCAB)
    assert f'rnn._unfused.0.i2h_weight: checkpoint (64, {V}) vs model (48, {V})' in str(err.value)
    embedded, _ = make('lstm', num_layers=2, embed_size=4)
    with pytest.raises(ValueError, match='missing from the checkpoint: embedding.weight'):
        load_parameters_checked(embedded, path)


def test_save_refuses_a_config_that_does_not_describe_the_model(tmp_path):
    model, config = make(num_hiddens=16)
    config['model']['num_hiddens'] = 32
    with pytest.raises(ValueError, match='num_hiddens: checkpoint 32 vs model 16'):
        save_checkpoint(tmp_path, model, config, VOCAB)
    assert not os.listdir(tmp_path)


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, config = make()
    save_checkpoint(tmp_path, model, config, VOCAB, history=[])
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    def half_save(path):  # writes part of the file, then the user presses Ctrl-C
        with open(path, 'wb') as f:
            f.write(b'\x12\x01')
        raise KeyboardInterrupt

    model.initialize(mx.init.Uniform(), force_reinit=True)
    monkeypatch.setattr(model, 'save_parameters', half_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, model, config, VOCAB, history=[{'epoch': 1}])
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_atomic_write_removes_its_temp_file_on_failure(tmp_path):
    target = tmp_path / 'results.md'
    checkpoint.write_text(target, 'old')

    def fail(temp):
        with open(temp, 'w') as f:
            f.write('new, half')
        raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        checkpoint.atomic_write(target, fail)
    assert os.listdir(tmp_path) == ['results.md'] and target.read_text() == 'old'


def test_load_from_a_folder_without_checkpoint_names_the_missing_files(tmp_path):
    (tmp_path / 'config.json').write_text('{}')
    with pytest.raises(FileNotFoundError, match='missing model.params, vocab.json'):
        load_checkpoint(tmp_path, mx.cpu())
