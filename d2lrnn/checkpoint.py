"""Checkpoints of a gluon ``RNNModel`` or ``RegularizedRNNModel``: parameters, configuration,
vocabulary and metrics.

A checkpoint folder holds ``model.params`` (MXNet's own format, ``save_parameters``),
``config.json`` (``{'model': the model's keyword arguments, ...}`` plus whatever the caller
records: corpus, training options), ``vocab.json`` (the ``idx_to_token`` list) and, when a
history is given, ``metrics.jsonl`` (one JSON object per epoch). No pickle. Every file is
written to a temporary file in the same folder and moved into place with ``os.replace``, so an
interrupted save leaves the previous file whole and no partial file behind.
"""
import contextlib
import json
import os
import re
import uuid

import mxnet as mx

from .models import RNNModel
from .regularization import RegularizedRNNModel
from .text import Vocab

PARAMS, CONFIG, VOCAB, METRICS = 'model.params', 'config.json', 'vocab.json', 'metrics.jsonl'
# The keyword arguments of the models that fix the shapes (and sharing) of their parameters.
ARCHITECTURE = ('cell', 'vocab_size', 'num_hiddens', 'num_layers', 'embed_size', 'tie_weights')
# Keyword arguments that only RegularizedRNNModel takes: a config holding any of them is one.
REGULARIZED = ('variational', 'embed_dropout', 'tie_weights')
# save_parameters names a fused layer's weights rnn._unfused.<layer>.* (MXNet 1.9's mapping
# of the layer's own l<layer>_* names, which are matched too); RegularizedRNNModel keeps one
# one-layer fused layer per layer: rnn.<layer>._unfused.0.*
_LAYER = re.compile(r'rnn\.(?:_unfused\.|l)?(\d+)')


def atomic_write(path, write):
    """Call ``write(temp_path)`` on a temporary file beside ``path``, then move it onto ``path``.

    The temporary name keeps the extension (matplotlib picks the format from it). On any
    failure the temporary file is removed and ``path`` is left as it was.
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    temp = os.path.join(folder, f'.{stem}.{uuid.uuid4().hex[:8]}.tmp{ext}')
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    def write(temp):
        with open(temp, 'w', encoding='utf-8') as f:
            f.write(text)
    atomic_write(path, write)


def read_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def config_differences(config, model):
    """'key: checkpoint a vs model b' for each architecture key of ``config['model']``
    that differs from the model's attribute of the same name."""
    saved = config['model']
    return [f'{key}: checkpoint {saved.get(key)!r} vs model {getattr(model, key, None)!r}'
            for key in ARCHITECTURE if saved.get(key) != getattr(model, key, None)]


def _num_layers(names):
    return len({match.group(1) for match in map(_LAYER.match, names) if match})


def parameter_differences(saved, expected):
    """What differs between two {name: shape} dicts, the checkpoint's and the model's."""
    problems = []
    saved_layers, model_layers = _num_layers(saved), _num_layers(expected)
    if saved_layers != model_layers:
        problems.append(f'checkpoint has {saved_layers} recurrent layer(s) but the model has '
                        f'{model_layers}')
    missing, extra = sorted(expected.keys() - saved.keys()), sorted(saved.keys() - expected.keys())
    if missing:
        problems.append('missing from the checkpoint: ' + ', '.join(missing))
    if extra:
        problems.append('not in the model: ' + ', '.join(extra))
    problems += [f'{name}: checkpoint {saved[name]} vs model {expected[name]}'
                 for name in sorted(saved.keys() & expected.keys())
                 if saved[name] != expected[name]]
    return problems


def load_parameters_checked(model, path, ctx=None, config=None):
    """Load the parameter file ``path`` into ``model`` on ``ctx``, refusing another architecture.

    The names and shapes in the file (and, if given, ``config['model']``'s cell type and
    sizes) are compared with the model's first; any difference raises a ``ValueError``
    listing every difference, and the model is left untouched.
    """
    saved = {name: array.shape for name, array in mx.nd.load(path).items()}
    # the names save_parameters writes, e.g. rnn._unfused.0.i2h_weight
    expected = {name: param.shape for name, param in model._collect_params_with_prefix().items()}
    problems = config_differences(config, model) if config else []
    problems += parameter_differences(saved, expected)
    if problems:
        raise ValueError(f'{path} does not fit the model: ' + '; '.join(problems))
    model.load_parameters(path, ctx=ctx)


def model_from_config(model_config):
    """A new ``RNNModel``, or ``RegularizedRNNModel`` if the keyword arguments name one of its
    regularisers, built from ``config['model']``."""
    regularized = any(key in model_config for key in REGULARIZED)
    return (RegularizedRNNModel if regularized else RNNModel)(**model_config)


def save_checkpoint(folder, model, config, vocab, history=None, params=None):
    """Save ``model``'s parameters, ``config``, ``vocab`` and ``history`` into ``folder``.

    ``config['model']`` holds the model's keyword arguments and must describe ``model``
    (a ``ValueError`` otherwise); ``history`` is a list of per-epoch dicts, written one JSON
    object a line. ``params`` (name -> NDArray, the names ``save_parameters`` uses), if
    given, is saved instead of the model's current parameters (e.g. the best epoch's).
    """
    problems = config_differences(config, model)
    if problems or len(vocab) != model.vocab_size:
        raise ValueError('the config or vocabulary does not describe the model: '
                         + '; '.join(problems or [f'{len(vocab)} tokens vs {model.vocab_size}']))
    os.makedirs(folder, exist_ok=True)
    atomic_write(os.path.join(folder, PARAMS),
                 model.save_parameters if params is None else lambda path: mx.nd.save(path, params))
    write_text(os.path.join(folder, VOCAB), json.dumps(vocab.idx_to_token, ensure_ascii=False))
    write_text(os.path.join(folder, CONFIG), json.dumps(config, indent=2) + '\n')
    if history is not None:
        write_text(os.path.join(folder, METRICS), ''.join(json.dumps(r) + '\n' for r in history))


def load_checkpoint(folder, ctx):
    """(model on ``ctx``, config dict, ``Vocab``) from a folder written by ``save_checkpoint``."""
    missing = [name for name in (PARAMS, CONFIG, VOCAB)
               if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(f'{folder} holds no checkpoint (missing {", ".join(missing)})')
    config = read_json(os.path.join(folder, CONFIG))
    vocab = Vocab.from_tokens_list(read_json(os.path.join(folder, VOCAB)))
    if len(vocab) != config['model']['vocab_size']:
        raise ValueError(f'{folder}: vocab.json has {len(vocab)} tokens but config.json '
                         f'says vocab_size {config["model"]["vocab_size"]}')
    model = model_from_config(config['model'])
    load_parameters_checked(model, os.path.join(folder, PARAMS), ctx, config)
    return model, config, vocab
