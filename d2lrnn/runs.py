"""The run folder: everything one training run writes, in one format, written by this module.

A run folder ``DIR`` holds

==========================  ================================================================
``config.json``             what was trained: ``{"format": 1, "model": {"class", "kwargs"},
                            "corpus": {"name", "level", "max_tokens"}, "training": {...}}``;
                            a study's corpus may add ``valid_fraction``, ``test_fraction``,
                            ``train_fraction`` (``text.load_corpus``)
``vocab.json``              the vocabulary, its ``idx_to_token`` list
``state.json``              the commit point of the last finished epoch: the schedule's
                            ``state_dict`` and the names of the next three files
``last-<k>.params``         every parameter after epoch ``k`` (MXNet's format)
``best-<j>.params``         the parameters of the best epoch so far, ``j``
``trainer-<k>.states``      the optimizer's state after epoch ``k`` (``Trainer.save_states``)
``model.params``            the best parameters again under a fixed name, for ``generate``
``metrics.jsonl``           one JSON object per finished epoch (``training.Schedule``'s
                            records) and nothing else
``result.json``             written when the run ends: ``best_epoch``, ``best_val_ppl``,
                            ``test_ppl`` (``null`` without a test split), ``stopped_early``,
                            ``epochs``
``perplexity.png``          train and validation perplexity per epoch
==========================  ================================================================

Every file is replaced atomically (``files.atomic_write``). After an epoch the three
epoch-numbered files are written first, then ``state.json`` is replaced in one ``os.replace``,
and only then are the files it no longer names removed: a process killed at any instant leaves
the last committed epoch whole, and a resumed run repeats the uninterrupted one exactly. No
pickle anywhere. A file that is missing or damaged is reported in one line naming it.
"""
import json
import os

from mxnet import nd

from .files import DamagedFileError, atomic_write, read_json, write_text
from .registry import build_model, load_arrays, load_parameters_checked
from .schedule import parameter_arrays, restore
from .text import Vocab

FORMAT = 1
CONFIG, VOCAB, STATE, PARAMS = 'config.json', 'vocab.json', 'state.json', 'model.params'
METRICS, RESULT, PLOT = 'metrics.jsonl', 'result.json', 'perplexity.png'


class RunFolderError(ValueError):
    """A run folder that is missing, incomplete, damaged or of another run."""


def holds_run(folder):
    """True if ``folder`` holds a run's ``config.json``."""
    return os.path.isfile(os.path.join(folder, CONFIG))


def start_run(folder, config, vocab):
    """Create ``folder`` with ``config.json`` and ``vocab.json`` for a new run."""
    os.makedirs(folder, exist_ok=True)
    write_text(os.path.join(folder, VOCAB), json.dumps(vocab.idx_to_token, ensure_ascii=False))
    write_text(os.path.join(folder, CONFIG), json.dumps(dict(config, format=FORMAT), indent=2)
               + '\n')


def _read(folder, name, check):
    """The JSON of ``folder/name``, passed through ``check``; one-line errors naming it."""
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise RunFolderError(f'{folder} holds no run ({name} is missing)' if name == CONFIG
                             else f'{path} is missing: the run folder is incomplete')
    try:
        return check(read_json(path))
    except DamagedFileError as err:
        raise RunFolderError(str(err)) from None
    except (KeyError, TypeError, ValueError) as err:
        raise RunFolderError(f'{path} is damaged: {err}') from None


def _check_config(config):
    if config.get('format') != FORMAT:
        raise ValueError(f'format {config.get("format")!r}, expected {FORMAT}')
    for key in ('model', 'corpus', 'training'):
        if not isinstance(config[key], dict):
            raise ValueError(f'"{key}" must be an object')
    return config


def _check_state(state):
    missing = [key for key in ('last', 'best', 'trainer') if key not in state['files']]
    if missing:
        raise ValueError(f'"files" names no {", ".join(missing)} file')
    return state


def load_config(folder):
    """(config dict, ``Vocab``) of the run in ``folder``."""
    config = _read(folder, CONFIG, _check_config)
    vocab = _read(folder, VOCAB, Vocab.from_tokens_list)
    vocab_size = config['model'].get('kwargs', {}).get('vocab_size')
    if len(vocab) != vocab_size:
        raise RunFolderError(f'{os.path.join(folder, VOCAB)} holds {len(vocab)} tokens but '
                             f'{CONFIG} says vocab_size {vocab_size}')
    return config, vocab


def save_epoch(folder, model, schedule, updater):
    """Commit the epoch that ``schedule`` just finished; then refresh the derived files
    (``model.params``, ``metrics.jsonl``)."""
    files = {'last': f'last-{schedule.epoch}.params',
             'best': f'best-{schedule.best_epoch}.params',
             'trainer': f'trainer-{schedule.epoch}.states'}
    atomic_write(os.path.join(folder, files['last']),
                 lambda path: nd.save(path, parameter_arrays(model)))
    best_path = os.path.join(folder, files['best'])
    if schedule.best_epoch == schedule.epoch or not os.path.isfile(best_path):
        atomic_write(best_path, lambda path: nd.save(path, schedule.best_params))
    atomic_write(os.path.join(folder, files['trainer']), updater.trainer.save_states)
    write_text(os.path.join(folder, STATE),
               json.dumps(dict(schedule.state_dict(), files=files), indent=1) + '\n')
    for name in os.listdir(folder):
        if name.endswith(('.params', '.states')) and name != PARAMS \
                and name not in files.values():
            os.remove(os.path.join(folder, name))
    atomic_write(os.path.join(folder, PARAMS), lambda path: nd.save(path, schedule.best_params))
    write_text(os.path.join(folder, METRICS),
               ''.join(json.dumps(record) + '\n' for record in schedule.history))


def resume_run(folder, model, schedule, updater):
    """Put the last committed epoch of ``folder`` back into ``model``, ``schedule`` and
    ``updater``; False (and nothing changed) if no epoch was committed yet."""
    path = os.path.join(folder, STATE)
    if not os.path.isfile(path):
        return False
    state = _read(folder, STATE, _check_state)
    files = {key: os.path.join(folder, name) for key, name in state.pop('files').items()}
    last, best = load_arrays(files['last']), load_arrays(files['best'])
    try:
        restore(model, last)
        schedule.load_state_dict(state, best)
    except (KeyError, ValueError) as err:
        raise RunFolderError(f'{path} or the files it names are damaged: {err}') from None
    try:
        updater.trainer.load_states(files['trainer'])
    except Exception as err:  # MXNetError, a truncated file, a state of another optimizer
        raise RunFolderError(f'{files["trainer"]} is damaged: {type(err).__name__}') from None
    return True


def save_result(folder, result):
    """Write ``result.json`` (see the table above)."""
    write_text(os.path.join(folder, RESULT), json.dumps(result, indent=1) + '\n')


def load_trained(folder, ctx):
    """(model holding the best parameters, config, ``Vocab``) of the run in ``folder``."""
    config, vocab = load_config(folder)
    path = os.path.join(folder, PARAMS)
    if not os.path.isfile(path):
        raise RunFolderError(f'{folder} holds no trained parameters yet ({PARAMS} is missing: '
                             'no epoch has finished)')
    try:
        model = build_model(config['model'])
    except (TypeError, ValueError) as err:
        raise RunFolderError(f'{os.path.join(folder, CONFIG)} is damaged: {err}') from None
    load_parameters_checked(model, path, ctx, config['model'])
    return model, config, vocab
