"""The training schedule: best parameters kept, learning-rate decay, early stop, and the
state that lets a run continue exactly."""
import json

import mxnet as mx
import numpy as np
import pytest

import d2lrnn
from d2lrnn import training
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.schedule import PlateauSchedule, epoch_seed, restore, snapshot
from d2lrnn.text import Corpus

V = 12
CTX = mx.cpu()


@pytest.fixture
def corpus():
    rng = np.random.RandomState(0)
    train, valid, test = (list(rng.randint(0, V, n)) for n in (400, 120, 150))
    return Corpus('random', 'word', None, train, valid, test)


def make(seed=0, dropout=0.2):
    d2lrnn.seed_everything(seed)
    model = RegularizedRNNModel('lstm', V, 8, 2, embed_size=8, dropout=dropout,
                                variational=True, tie_weights=True)
    model.initialize(mx.init.Xavier(), ctx=CTX)
    return model


def fit(model, corpus, lr, num_epochs, lr_decay=4.0, decay_start=None, patience=None, seed=0,
        schedule=None, **options):
    """``train`` with a ``PlateauSchedule``; (the schedule, test perplexity of the result)."""
    schedule = schedule or PlateauSchedule(lr, lr_decay, decay_start, patience, seed)
    training.train(model, corpus, schedule, num_epochs, CTX, plot=False, **options)
    return schedule, training.evaluate_perplexity(model, corpus.test, CTX, 10, 6)


def arrays_equal(a, b):
    return a.keys() == b.keys() and all((a[k] == b[k]).asnumpy().all() for k in a)


@pytest.fixture
def script_validation(corpus, monkeypatch):
    """Make the validation perplexities follow a script (the real evaluation still runs);
    the test split always gets 50."""
    def install(val_ppls):
        script, evaluate = iter(val_ppls), training.evaluate_perplexity

        def scripted(model, split, ctx, batch_size, num_steps):
            evaluate(model, split, ctx, batch_size, num_steps)
            return next(script) if split is corpus.valid else 50.0
        monkeypatch.setattr(training, 'evaluate_perplexity', scripted)
    return install


def test_plateau_decay_keeps_the_best_and_stops_early(corpus, script_validation):
    script_validation([10.0, 9.0, 9.5, 8.0, 8.5, 8.6, 7.0])
    model, saved, best_epochs = make(), {}, []

    def on_epoch(state):
        saved[state.epoch] = snapshot(model)
        best_epochs.append(state.best_epoch)
        assert arrays_equal(state.best_params, saved[state.best_epoch])

    state, test_ppl = fit(model, corpus, 1.0, 7, batch_size=4, num_steps=6, lr_decay=4.0,
                          patience=2, on_epoch=on_epoch)
    assert [h['epoch'] for h in state.history] == [1, 2, 3, 4, 5, 6]  # stopped after 6
    assert best_epochs == [1, 2, 2, 4, 4, 4]
    assert [h['lr'] for h in state.history] == [1, 1, 1, 0.25, 0.25, 0.0625]
    assert (state.best_epoch, state.best_val_ppl, state.bad_epochs) == (4, 8.0, 2)
    assert state.stopped_early and state.lr == 0.015625 and test_ppl == 50.0
    assert arrays_equal(snapshot(model), saved[4])  # the model ends with the best parameters


def test_min_epochs_hold_off_decay_and_stop(corpus, script_validation):
    """A plateau in the first min_epochs epochs neither decays the rate nor counts toward
    patience; after them the rule acts as before."""
    script_validation([10.0, 10.5, 10.6, 9.0, 9.5, 9.6, 8.0])
    schedule = PlateauSchedule(1.0, 4.0, patience=2, min_epochs=4)
    state, _ = fit(make(), corpus, 1.0, 7, schedule=schedule, batch_size=4, num_steps=6)
    assert [h['lr'] for h in state.history] == [1, 1, 1, 1, 1, 0.25]
    assert state.stopped_early and (state.best_epoch, state.epoch) == (4, 6)


def test_min_improvement_keeps_the_best_but_counts_no_progress(corpus, script_validation):
    """Epoch 3 is a new best by 0.05 %: kept as the best, but it decays the rate and counts
    toward patience like an epoch without a new best."""
    script_validation([10.0, 9.0, 8.996, 8.995, 7.0])
    schedule = PlateauSchedule(1.0, 4.0, patience=2, min_improvement=0.001)
    state, _ = fit(make(), corpus, 1.0, 5, schedule=schedule, batch_size=4, num_steps=6)
    assert [h['lr'] for h in state.history] == [1, 1, 1, 0.25]
    assert state.stopped_early and (state.best_epoch, state.best_val_ppl) == (4, 8.995)


def test_fixed_decay_schedule_ignores_validation(corpus, script_validation):
    script_validation([10.0, 9.0, 8.0, 7.0])
    state, _ = fit(make(), corpus, 1.0, 4, batch_size=4, num_steps=6, lr_decay=2.0,
                   decay_start=2)
    assert [h['lr'] for h in state.history] == [1, 1, 0.5, 0.25]
    assert state.best_epoch == 4 and not state.stopped_early


def test_validation_and_test_cover_every_token(corpus):
    """With a uniform output layer every token costs log V: perplexity is exactly V."""
    model = make(dropout=0.0)
    for param in model.collect_params().values():
        param.set_data(mx.nd.zeros(param.shape))
    state, test_ppl = fit(model, corpus, 1e-30, 1, batch_size=4, num_steps=6)
    assert state.history[0]['val_ppl'] == pytest.approx(V, rel=1e-5)
    assert test_ppl == pytest.approx(V, rel=1e-5)


def test_saved_state_continues_the_run_exactly(corpus):
    options = dict(batch_size=4, num_steps=6, seed=3, lr_decay=2.0)
    whole = make()
    whole_state, whole_test = fit(whole, corpus, 2.0, 4, **options)

    first, current = make(), {}  # the parameters after the last epoch, as a run folder keeps
    first_state, _ = fit(first, corpus, 2.0, 2, on_epoch=lambda _: current.update(
        snapshot(first)), **options)
    saved = json.loads(json.dumps(first_state.state_dict()))  # what state.json holds
    second = make(seed=99)  # another initialisation, overwritten by the saved parameters
    restore(second, current)
    schedule = PlateauSchedule(2.0, lr_decay=2.0, seed=3)
    schedule.load_state_dict(saved, first_state.best_params)
    assert schedule.epoch == 2 and schedule.history == first_state.history[:2]
    continued, test_ppl = fit(second, corpus, 2.0, 4, schedule=schedule, **options)
    timing = ('tokens_per_s', 'seconds')
    assert [{k: v for k, v in h.items() if k not in timing} for h in continued.history] == \
        [{k: v for k, v in h.items() if k not in timing} for h in whole_state.history]
    assert test_ppl == whole_test
    assert arrays_equal(snapshot(second), snapshot(whole))


def test_restore_refuses_other_parameters():
    model = make()
    other = RegularizedRNNModel('gru', V, 8, 2, embed_size=8)
    other.initialize(ctx=CTX)
    before = snapshot(model)
    with pytest.raises(ValueError, match=r'rnn\.0\.flat: checkpoint '
                                         r'\(432,\) vs model \(576,\)'):
        restore(model, snapshot(other))
    assert arrays_equal(snapshot(model), before)


def test_epoch_seed_is_fixed_and_distinct():
    seeds = {epoch_seed(seed, epoch) for seed in range(3) for epoch in range(1, 50)}
    assert len(seeds) == 3 * 49 and epoch_seed(0, 1) == epoch_seed(0, 1)
    assert all(0 <= s < 2 ** 32 for s in seeds)


@pytest.mark.parametrize('kwargs, message', [
    (dict(lr_decay=0.5), r'lr_decay must be a finite number >= 1 \(it divides the learning rate; 1: constant\), got 0.5'),
    (dict(patience=0), r'patience must be an integer >= 1 \(or None\), got 0'),
    (dict(decay_start=0), r'decay_start must be an integer >= 1 \(or None\), got 0'),
    (dict(num_steps=50), 'a list of 120 tokens is shorter than one minibatch'),
])
def test_bad_options_fail_before_training(corpus, kwargs, message):
    options = dict(batch_size=4, num_steps=6)
    options.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fit(make(), corpus, 1.0, 1, **options)
