"""The models a run folder can hold: each described by its class name and keyword arguments.

A model's configuration is read off the model itself: ``model_config`` takes the parameters
of its class's ``__init__`` and the attribute of the same name that every registered model
keeps (``tests/test_registry.py`` checks that each one does). So adding a model option is one
change in the model's ``__init__``: the configuration, the checkpoints and the checks of a
resumed run follow.
"""
import inspect
import re

import mxnet as mx

from .depth import DeepRNNModel
from .files import DamagedFileError
from .models import RNNModel
from .regularization import RegularizedRNNModel

MODELS = {cls.__name__: cls for cls in (RNNModel, RegularizedRNNModel, DeepRNNModel)}
# save_parameters names a fused layer's weights rnn._unfused.<layer>.* (MXNet 1.9's mapping
# of the layer's own l<layer>_* names, which are matched too); RegularizedRNNModel keeps one
# FlatFusedLayer per layer: rnn.<layer>.flat
_LAYER = re.compile(r'rnn\.(?:_unfused\.|l)?(\d+)')


def option_names(cls):
    """The keyword arguments that configure a model class (``__init__``'s, ``**kwargs`` aside)."""
    return [name for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != 'self' and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def model_config(model):
    """``{'class': name, 'kwargs': {...}}``: all that ``build_model`` needs to rebuild it."""
    cls = type(model)
    if MODELS.get(cls.__name__) is not cls:
        raise ValueError(f'{cls.__name__} is not a registered model; registered: '
                         f'{", ".join(MODELS)}')
    return {'class': cls.__name__,
            'kwargs': {name: getattr(model, name) for name in option_names(cls)}}


def build_model(config):
    """A new, uninitialised model from a ``model_config`` dict; ``ValueError`` naming what is
    wrong (an unknown class or option, a bad value)."""
    name, kwargs = config.get('class'), config.get('kwargs')
    if name not in MODELS or not isinstance(kwargs, dict):
        raise ValueError(f'model class {name!r} is not one of {", ".join(MODELS)}'
                         if name not in MODELS else 'the model\'s kwargs must be a JSON object')
    unknown = sorted(kwargs.keys() - set(option_names(MODELS[name])))
    if unknown:
        raise ValueError(f'{name} takes no option {", ".join(unknown)}; its options: '
                         f'{", ".join(option_names(MODELS[name]))}')
    return MODELS[name](**kwargs)


def config_differences(saved, current, prefix=''):
    """'key: saved a vs now b' for every entry of two nested dicts that differs."""
    changes = []
    for key in sorted(saved.keys() | current.keys()):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += config_differences(old, new, f'{prefix}{key}.')
        elif old != new:
            changes.append(f'{prefix}{key}: saved {old!r} vs now {new!r}')
    return changes


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


def load_arrays(path):
    """name -> NDArray from a parameter file in MXNet's format; ``DamagedFileError`` naming
    the file if MXNet cannot read it."""
    try:
        return mx.nd.load(path)
    except mx.base.MXNetError as err:
        reason = next((line.strip() for line in str(err).splitlines()
                       if line.startswith('MXNetError')), 'unreadable')
        raise DamagedFileError(f'{path} is damaged: MXNet cannot read it as a parameter file '
                               f'({reason[:100]})') from None


def load_parameters_checked(model, path, ctx=None, config=None):
    """Load the parameter file ``path`` into ``model`` on ``ctx``, refusing another architecture.

    The names and shapes in the file (and, if given, the ``model_config`` saved with it)
    are compared with the model's first; any difference raises a ``ValueError`` listing every
    difference, and the model is left untouched.
    """
    arrays = load_arrays(path)
    # the names save_parameters writes, e.g. rnn._unfused.0.i2h_weight or rnn.0.flat
    expected = {name: p.shape for name, p in model._collect_params_with_prefix().items()}
    problems = config_differences(config, model_config(model)) if config else []
    problems += parameter_differences({name: a.shape for name, a in arrays.items()}, expected)
    if problems:
        raise ValueError(f'{path} does not fit the model: ' + '; '.join(problems))
    model.load_parameters(path, ctx=ctx)
