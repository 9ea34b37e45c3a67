"""The training schedule of the word-level models: validation every epoch, keep the best
parameters, decay the learning rate, stop early, report test perplexity.

Taught in chapter 07. Every epoch ends with the perplexity on the whole validation set. The
parameters of the best epoch so far are kept; when an epoch does not beat the best, the
learning rate is divided by ``lr_decay`` (4 in the seed); ``decay_start`` switches to a fixed
schedule instead (divide after every epoch from that one on, Zaremba et al.'s);
``patience`` stops the run after that many epochs in a row without a new best. At the end
the best parameters are put back and measured on the test split.

Each epoch starts by reseeding every generator from (seed, epoch), so what epoch k draws
(minibatch offsets, dropout masks) does not depend on how the run got there: a run stopped
after epoch k and continued from a saved ``ScheduleState`` and parameters repeats the
uninterrupted run exactly (at a fixed thread count).
"""
import dataclasses
import json
import math
import os
import time
import zlib

from mxnet import gluon, nd

from . import training
from .checkpoint import atomic_write, parameter_differences, read_json, write_text
from .iterators import SeqDataLoader, check_minibatch_args
from .plotting import PerplexityPlot
from .runtime import seed_everything


def epoch_seed(seed, epoch):
    """The seed of epoch ``epoch`` in a run seeded with ``seed`` (a fixed 32-bit hash).

    Taught in chapter 07.
    """
    return zlib.crc32(f'{seed}/{epoch}'.encode())


def parameter_arrays(model):
    """Name -> NDArray of the model's parameters: gluon's structural names (as in the files
    ``save_parameters`` writes, e.g. ``rnn.0._unfused.0.i2h_weight``) or ``param<i>`` in the
    order of a scratch model's ``params``.

    Taught in chapter 07.
    """
    if isinstance(model, gluon.Block):
        return {name: param.data() for name, param in model._collect_params_with_prefix().items()}
    return {f'param{i}': param for i, param in enumerate(model.params)}


def snapshot(model):
    """A copy of every parameter of ``model`` (name -> NDArray), e.g. the best so far.

    Taught in chapter 07.
    """
    return {name: array.copy() for name, array in parameter_arrays(model).items()}


def restore(model, arrays):
    """Copy ``arrays`` (from ``snapshot`` or a saved file) into ``model``'s parameters.

    Taught in chapter 07. Names and shapes must match the model's; otherwise a
    ``ValueError`` lists every difference and nothing is changed.
    """
    targets = parameter_arrays(model)
    problems = parameter_differences({name: a.shape for name, a in arrays.items()},
                                     {name: a.shape for name, a in targets.items()})
    if problems:
        raise ValueError('the saved parameters do not fit the model: ' + '; '.join(problems))
    if isinstance(model, gluon.Block):
        params = model._collect_params_with_prefix()
        for name, array in arrays.items():
            params[name].set_data(array)
    else:
        for name, array in arrays.items():
            targets[name][:] = array


@dataclasses.dataclass
class ScheduleState:
    """Where a run stands after ``epoch`` finished epochs: all ``fit`` needs to continue it
    besides the current and the best parameters. Plain numbers and lists (JSON-able).

    Taught in chapter 07. ``lr`` is the rate of the next epoch; ``bad_epochs`` counts the
    epochs since the last new best; ``history`` holds one dict per epoch (``epoch``, ``lr``,
    ``train_ppl``, ``val_ppl``, ``tokens_per_s``, ``seconds``); ``test_ppl`` is set at the
    end (``None`` for a corpus without a test split).
    """
    lr: float
    epoch: int = 0
    best_epoch: int = 0
    best_val_ppl: float = None
    bad_epochs: int = 0
    stopped_early: bool = False
    test_ppl: float = None
    history: list = dataclasses.field(default_factory=list)


def check_schedule(lr_decay, decay_start, patience):
    """Raise ValueError unless the schedule's options are valid.

    Taught in chapter 07.
    """
    if not 1 <= lr_decay < math.inf:
        raise ValueError(f'lr_decay divides the learning rate and must be >= 1 '
                         f'(1: constant), got {lr_decay}')
    for name, value in (('decay_start', decay_start), ('patience', patience)):
        if value is not None and value < 1:
            raise ValueError(f'{name} must be >= 1 or None, got {value}')


def fit(model, corpus, lr, num_epochs, ctx, batch_size=20, num_steps=35, clip_theta=0.25,
        seed=0, lr_decay=4.0, decay_start=None, patience=None, eval_batch_size=10,
        use_random_iter=False, plot=True, state=None, best=None, on_batch=None,
        on_epoch=None):
    """Train ``model`` on ``corpus`` with the schedule above; return the final ``ScheduleState``.

    Taught in chapter 07. To continue a run, pass its ``state`` and ``best`` parameters
    (``snapshot`` layout) with the model holding its current parameters. ``on_epoch(state,
    best)`` is called after every epoch (the command line saves a checkpoint there);
    ``on_batch`` goes to ``train_epoch``. On return the model holds the best parameters.
    """
    check_schedule(lr_decay, decay_start, patience)
    for split in (corpus.valid, corpus.test):  # fail now, not after the first epoch
        if split is not None:
            check_minibatch_args(split, eval_batch_size, num_steps)
    state = state or ScheduleState(lr=lr)
    best = best if best is not None else snapshot(model)
    loader = SeqDataLoader(corpus.train, batch_size, num_steps, use_random_iter)
    updater = training.Updater(model, state.lr, ctx)
    figure = PerplexityPlot() if plot else None
    for epoch in range(state.epoch + 1, num_epochs + 1):
        if state.stopped_early:
            break
        seed_everything(epoch_seed(seed, epoch))
        updater.set_learning_rate(state.lr)
        start = time.time()
        train_ppl, speed = training.train_epoch(model, loader, updater, ctx, clip_theta,
                                                epoch, on_batch)
        val_ppl = training.evaluate_perplexity(model, corpus.valid, ctx, eval_batch_size,
                                               num_steps)
        state.history.append(dict(epoch=epoch, lr=state.lr, train_ppl=train_ppl,
                                  val_ppl=val_ppl, tokens_per_s=speed,
                                  seconds=time.time() - start))
        state.epoch = epoch
        improved = state.best_val_ppl is None or val_ppl < state.best_val_ppl
        if improved:
            state.best_epoch, state.best_val_ppl, state.bad_epochs = epoch, val_ppl, 0
            best = snapshot(model)
        else:
            state.bad_epochs += 1
        if (epoch >= decay_start) if decay_start is not None else not improved:
            state.lr /= lr_decay
        state.stopped_early = patience is not None and state.bad_epochs >= patience
        if figure:
            figure.update(state.history)
        if on_epoch:
            on_epoch(state, best)
    restore(model, best)
    state.test_ppl = (training.evaluate_perplexity(model, corpus.test, ctx, eval_batch_size,
                                                   num_steps)
                      if corpus.test is not None else None)
    return state


RESUME = 'resume'  # the folder of the saved state, inside a run's folder
STATE = 'state.json'


def save_state(folder, model, state, best):
    """Save what continues the run into ``folder/resume/``; the last file written commits.

    Taught in chapter 07. The current and the best parameters go to files named after their
    epoch (``current-<k>.params``, ``best-<k>.params``, MXNet's format), then ``state.json``
    (the ``ScheduleState`` and those two names) replaces the previous one in one
    ``os.replace``, and only then are the files it no longer names removed. A process killed
    at any moment therefore leaves one whole, consistent state: the last committed epoch's.
    """
    resume = os.path.join(folder, RESUME)
    os.makedirs(resume, exist_ok=True)
    files = {'current': f'current-{state.epoch}.params',
             'best': f'best-{state.best_epoch}.params'}
    atomic_write(os.path.join(resume, files['current']),
                 lambda path: nd.save(path, parameter_arrays(model)))
    if state.best_epoch == state.epoch or not os.path.isfile(os.path.join(resume, files['best'])):
        atomic_write(os.path.join(resume, files['best']), lambda path: nd.save(path, best))
    write_text(os.path.join(resume, STATE),
               json.dumps(dict(dataclasses.asdict(state), files=files), indent=1) + '\n')
    for name in os.listdir(resume):
        if name.endswith('.params') and name not in files.values():
            os.remove(os.path.join(resume, name))


def load_state(folder, model):
    """(``ScheduleState``, best parameters) saved by ``save_state`` in ``folder``; the model
    receives the current parameters. ``None, None`` if ``folder`` holds no saved state.

    Taught in chapter 07.
    """
    path = os.path.join(folder, RESUME, STATE)
    if not os.path.isfile(path):
        return None, None
    saved = read_json(path)
    files = saved.pop('files')
    restore(model, nd.load(os.path.join(folder, RESUME, files['current'])))
    best = nd.load(os.path.join(folder, RESUME, files['best']))
    return ScheduleState(**saved), best
