"""The training schedule of the word-level models: keep the best parameters, decay the
learning rate, stop early.

Taught in chapter 07. ``PlateauSchedule`` is a ``training.Schedule``: ``train`` validates on
the whole validation set after every epoch and hands the schedule the record. The parameters
of the best epoch so far are kept; when an epoch does not beat the best, the learning rate is
divided by ``lr_decay`` (4 in the seed); ``decay_start`` switches to a fixed schedule instead
(divide after every epoch from that one on, Zaremba et al.'s); ``patience`` stops the run
after that many epochs in a row without a new best; ``min_epochs`` lets the first epochs pass
without decay or stop (a deep model on little data may spend several short epochs on a plateau
before it learns, chapter 10); ``min_improvement`` (relative) is how much an epoch must lower
the best perplexity to count as progress for decay and patience (the best parameters are kept
whatever the margin), so that a run whose rate has decayed to nothing stops. At the end the
best parameters are put back, ready for the test split.

Each epoch starts by reseeding every generator from (seed, epoch), so what epoch k draws
(minibatch offsets, dropout masks) does not depend on how the run got there: a run stopped
after epoch k and continued from the schedule's ``state_dict`` and the saved parameters
repeats the uninterrupted run exactly (at a fixed thread count).
"""
import zlib

from mxnet import gluon

from .checks import check_number
from .registry import parameter_differences
from .runtime import seed_everything
from .training import Schedule


def epoch_seed(seed, epoch):
    """The seed of epoch ``epoch`` in a run seeded with ``seed`` (a fixed 32-bit hash).

    Taught in chapter 07.
    """
    return zlib.crc32(f'{seed}/{epoch}'.encode())


def parameter_arrays(model):
    """Name -> NDArray of the model's parameters: gluon's structural names (as in the files
    ``save_parameters`` writes, e.g. ``rnn.0.flat``) or ``param<i>`` in the
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
    if isinstance(model, gluon.Block):  # in place on every device: no Trainer is reset
        params = model._collect_params_with_prefix()
        for name, array in arrays.items():
            for data in params[name].list_data():
                data[:] = array
    else:
        for name, array in arrays.items():
            targets[name][:] = array


def check_schedule(lr_decay, decay_start, patience, min_epochs=None, min_improvement=0.0):
    """Raise ValueError unless the schedule's options are valid.

    Taught in chapter 07.
    """
    check_number('lr_decay', lr_decay, low=1, note=' (it divides the learning rate; 1: constant)')
    check_number('min_improvement', min_improvement, low=0, high=1, high_open=True)
    for name, value in (('decay_start', decay_start), ('patience', patience),
                        ('min_epochs', min_epochs)):
        if value is not None:
            check_number(name, value, integer=True, low=1, note=' (or None)')


class PlateauSchedule(Schedule):
    """Keep the best parameters, divide the learning rate on a plateau, stop early.

    Taught in chapter 07. A ``training.Schedule`` for ``train``: the options are described
    at the top of this module; ``seed`` reseeds every epoch. Besides ``Schedule``'s fields it
    tracks ``best_epoch``, ``best_val_ppl``, ``bad_epochs`` (epochs since the last progress)
    and ``best_params`` (a ``snapshot``). ``state_dict()`` is everything but the parameters,
    as plain numbers and lists (JSON); ``load_state_dict`` puts it back.
    """
    STATE = ('lr', 'epoch', 'history', 'stopped_early', 'best_epoch', 'best_val_ppl',
             'bad_epochs')

    def __init__(self, lr, lr_decay=4.0, decay_start=None, patience=None, seed=0,
                 min_epochs=None, min_improvement=0.0):
        check_schedule(lr_decay, decay_start, patience, min_epochs, min_improvement)
        super().__init__(lr)
        self.lr_decay, self.decay_start, self.patience = lr_decay, decay_start, patience
        self.seed, self.min_epochs, self.min_improvement = seed, min_epochs, min_improvement
        self.best_epoch, self.best_val_ppl, self.bad_epochs = 0, None, 0
        self.best_params = None

    def start_epoch(self, epoch):
        seed_everything(epoch_seed(self.seed, epoch))

    def end_epoch(self, model, record):
        super().end_epoch(model, record)
        best, val_ppl = self.best_val_ppl, record['val_ppl']
        progress = best is None or val_ppl < best * (1 - self.min_improvement)
        warming_up = self.min_epochs is not None and self.epoch < self.min_epochs
        if best is None or val_ppl < best:
            self.best_epoch, self.best_val_ppl = self.epoch, val_ppl
            self.best_params = snapshot(model)
        if progress:
            self.bad_epochs = 0
        elif not warming_up:
            self.bad_epochs += 1
        if (self.epoch >= self.decay_start) if self.decay_start is not None else \
                not (progress or warming_up):
            self.lr /= self.lr_decay
        self.stopped_early = self.patience is not None and self.bad_epochs >= self.patience

    def finish(self, model):
        if self.best_params is not None:
            restore(model, self.best_params)

    def state_dict(self):
        return {key: getattr(self, key) for key in self.STATE}

    def load_state_dict(self, state, best_params):
        for key in self.STATE:
            setattr(self, key, state[key])
        self.best_params = best_params
