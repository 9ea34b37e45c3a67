import json
import math
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from d2lrnn.generation import predict
from d2lrnn.models import RNNModel
from d2lrnn.runtime import seed_everything
from d2lrnn.text import load_corpus
from d2lrnn.training import NonFiniteLossError, evaluate_perplexity, train

TEXT = ('the time traveller for so it will be convenient to speak of him was expounding '
        'a recondite matter to us his grey eyes shone and twinkled ') * 40


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / 'tiny.txt'
    path.write_text(TEXT, encoding='utf-8')
    return load_corpus(str(path))


def small_model(corpus, cell='lstm'):
    model = RNNModel(cell, len(corpus.vocab), 16, num_layers=2)
    model.initialize(mx.init.Xavier(), ctx=mx.cpu())
    return model


def test_history_records_and_learning(corpus):
    seed_everything(0)
    model = small_model(corpus)
    history = train(model, corpus, lr=2, num_epochs=4, ctx=mx.cpu(), batch_size=4,
                    num_steps=10, plot=False)
    assert [h['epoch'] for h in history] == [1, 2, 3, 4]
    for record in history:
        assert set(record) == {'epoch', 'lr', 'train_ppl', 'val_ppl', 'tokens_per_s', 'seconds'}
        assert record['tokens_per_s'] > 0 and record['seconds'] > 0
    assert history[-1]['train_ppl'] < history[0]['train_ppl'] < len(corpus.vocab) * 1.5


def test_evaluate_perplexity_of_uniform_model_is_vocab_size(corpus):
    model = small_model(corpus)
    model.initialize(mx.init.Zero(), force_reinit=True)  # all logits equal
    ppl = evaluate_perplexity(model, corpus.valid, mx.cpu(), batch_size=2, num_steps=7)
    assert math.isclose(ppl, len(corpus.vocab), rel_tol=1e-5)


def test_nan_loss_stops_with_epoch_and_minibatch(corpus):
    model = small_model(corpus)
    before = {k: v.data().copy() for k, v in model.collect_params().items()}
    model.dense.bias.set_data(mx.nd.full(model.dense.bias.shape, np.nan))
    with pytest.raises(NonFiniteLossError, match='at epoch 1, minibatch 1'):
        train(model, corpus, lr=1, num_epochs=1, ctx=mx.cpu(), batch_size=4, num_steps=10,
              plot=False)
    for key, value in model.collect_params().items():
        if key != model.dense.bias.name:  # nothing else was touched by the failed step
            np.testing.assert_array_equal(value.data().asnumpy(), before[key].asnumpy())


RUN = r'''
import d2lrnn, json, sys, mxnet as mx
from d2lrnn.models import RNNModel
from d2lrnn.runtime import seed_everything
from d2lrnn.text import load_corpus
from d2lrnn.training import train
seed_everything(7)
corpus = load_corpus(sys.argv[1])
model = RNNModel('gru', len(corpus.vocab), 16, num_layers=2)
model.initialize(mx.init.Xavier())
history = train(model, corpus, lr=1, num_epochs=2, ctx=mx.cpu(), batch_size=4, num_steps=8,
                use_random_iter=True, plot=False)
print(json.dumps([[h['train_ppl'], h['val_ppl']] for h in history]))
'''
# The regularised model of the command line: tied, variational dropout, hybridized.
CLI = ['train', '--cell', 'lstm', '--num-layers', '2', '--num-hiddens', '16', '--embed-size',
       '16', '--tie-weights', '--dropout', '0.2', '--variational', '--epochs', '3',
       '--batch-size', '8', '--num-steps', '12', '--device', 'cpu', '--seed', '5']
REPEATS = 4


def test_repeated_seeded_runs_are_bit_identical(tmp_path):
    """Several runs, not two: a value that differs now and then must fail this test."""
    path = tmp_path / 'tiny.txt'
    path.write_text(TEXT, encoding='utf-8')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    scripts = [subprocess.run([sys.executable, '-c', RUN, str(path)], env=env, check=True,
                              capture_output=True, text=True).stdout.splitlines()[-1]
               for _ in range(REPEATS)]
    assert len(set(scripts)) == 1 and len(json.loads(scripts[0])) == 2
    results = []
    for i in range(REPEATS):
        out = tmp_path / f'run{i}'
        subprocess.run([sys.executable, '-m', 'd2lrnn', *CLI, '--corpus', str(path), '--out',
                        str(out)], env=env, check=True, capture_output=True)
        records = [{k: v for k, v in json.loads(line).items()
                    if k not in ('tokens_per_s', 'seconds')}
                   for line in (out / 'metrics.jsonl').read_text().splitlines()]
        results.append((records, (out / 'result.json').read_text(),
                        (out / 'model.params').read_bytes()))
    assert len(results[0][0]) == 3
    assert all(result == results[0] for result in results[1:])


def test_import_pins_the_instruction_sets_unless_the_user_set_them():
    code = ('import os, d2lrnn; print(os.environ["DNNL_MAX_CPU_ISA"], '
            'os.environ["OPENBLAS_CORETYPE"])')
    env = {k: v for k, v in os.environ.items()
           if k not in ('DNNL_MAX_CPU_ISA', 'OPENBLAS_CORETYPE')}
    pinned = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert pinned == ['AVX2', 'Haswell']
    mine = subprocess.run([sys.executable, '-c', code], env=dict(env, DNNL_MAX_CPU_ISA='ALL'),
                          capture_output=True, text=True, check=True).stdout.split()
    assert mine == ['ALL', 'Haswell']


def test_generation_is_seeded_and_reports_unknown_tokens(corpus, capsys):
    seed_everything(0)
    model = small_model(corpus)
    greedy = predict('the time', 20, model, corpus.vocab, mx.cpu())
    assert greedy.startswith('the time') and len(greedy) == len('the time') + 20
    sampled = [predict('the', 30, model, corpus.vocab, mx.cpu(), temperature=1.0, top_k=5,
                       seed=3) for _ in range(2)]
    assert sampled[0] == sampled[1]
    assert capsys.readouterr().out == ''
    predict('the Q!', 5, model, corpus.vocab, mx.cpu())
    assert "not in the vocabulary, read as <unk>: '!', 'Q'" in capsys.readouterr().out


def test_generation_top_k_one_is_greedy(corpus):
    model = small_model(corpus)
    greedy = predict('the', 15, model, corpus.vocab, mx.cpu())
    assert predict('the', 15, model, corpus.vocab, mx.cpu(), temperature=0.7, top_k=1,
                   seed=0) == greedy


@pytest.mark.parametrize('kwargs, message', [
    (dict(temperature=-1), r'temperature must be a finite number >= 0 \(0 means greedy\), got -1'),
    (dict(top_k=0), r'top_k must be an integer in \[1, \d+\], got 0'),
])
def test_generation_bad_input(corpus, kwargs, message):
    with pytest.raises(ValueError, match=message):
        predict('the', 3, small_model(corpus), corpus.vocab, mx.cpu(), **kwargs)


@pytest.mark.parametrize('kind', ['gluon-sgd', 'gluon-adam', 'scratch'])
def test_clipping_inside_the_update_equals_clipping_the_gradient_first(kind):
    """train_step passes the clipping factor to the update instead of rewriting every gradient
    (gluon.utils.clip_global_norm): the parameters stay the same to the last bit."""
    from mxnet import autograd, gluon, nd
    from d2lrnn.models import RNNLMScratch
    from d2lrnn.scratch import make_scratch
    from d2lrnn.training import Updater, detach, train_step

    vocab, lr, theta = 12, 0.3 if kind != 'gluon-adam' else 0.01, 0.05  # clipping acts
    optimizer = 'adam' if kind == 'gluon-adam' else 'sgd'

    def build():
        seed_everything(5)
        if kind == 'scratch':
            return RNNLMScratch(make_scratch('lstm', vocab, 16, 2), vocab)
        model = RNNModel('lstm', vocab, 16, num_layers=2)
        model.initialize(mx.init.Xavier(), ctx=mx.cpu())
        return model

    def arrays(model):
        params = (model.params if kind == 'scratch'
                  else [p.data() for p in model.collect_params().values()])
        return [p.asnumpy() for p in params]

    rng = np.random.RandomState(0)
    batches = [(X, (X + 1) % vocab) for X in rng.randint(0, vocab, (6, 4, 7))]
    new, old = build(), build()
    updater = Updater(new, lr, mx.cpu(), optimizer)
    state = new.begin_state(4, mx.cpu())
    for X, Y in batches:
        _, state = train_step(new, updater, X, Y, detach(state), mx.cpu(), theta)

    if kind == 'scratch':
        grads = [p.grad for p in old.params]
    else:
        params = list(old.collect_params().values())
        trainer = gluon.Trainer(params, optimizer, {'learning_rate': lr})
        grads = [p.grad() for p in params]
    state, norms = old.begin_state(4, mx.cpu()), []
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for X, Y in batches:  # the former train_step: clip the gradient in place, update unscaled
        with autograd.record():
            logits, state = old(nd.array(X), detach(state))
            loss = loss_fn(logits, nd.array(Y.T.reshape(-1))).mean()
        loss.backward()
        norms.append(gluon.utils.clip_global_norm(grads, theta, check_isfinite=False).asscalar())
        if kind == 'scratch':
            for param in old.params:
                param[:] -= lr * param.grad
        else:
            trainer.step(1)
    assert min(norms) > theta  # every step was clipped
    for a, b in zip(arrays(new), arrays(old)):
        assert np.array_equal(a, b)
