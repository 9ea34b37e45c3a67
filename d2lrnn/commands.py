"""What ``python -m d2lrnn train`` and ``generate`` do (``compare``: ``compare.py``), once ``cli`` has parsed
the options.

``train`` fits a gluon model with the book's loop (``training.train``) and chapter 07's
``PlateauSchedule`` (validation every epoch, best parameters kept, learning-rate decay, early
stopping), commits every epoch to its run folder (``runs``) and measures the best parameters
on the test split at the end. ``train --resume DIR`` reads everything from ``DIR``.
"""
import contextlib
import inspect
import os
import sys

import mxnet as mx

from . import data, runs
from .device import gpu_problem, try_gpu
from .files import atomic_write
from .generation import predict
from .iterators import check_minibatch_args
from .parallel import COMPRESSION, DataParallel, ParallelUpdater, parse_devices, row_blocks
from .plotting import PerplexityPlot
from .progress import ProgressBar
from .regularization import RegularizedRNNModel
from .registry import build_model, option_names
from .runtime import seed_everything
from .schedule import PlateauSchedule
from .text import load_corpus
from .training import NonFiniteLossError, Updater, evaluate_perplexity, train

DEVICES = ('auto', 'cpu', 'gpu')
# Where each option of train lives in config.json, and its default. The model's section is
# the model's own options (its __init__'s defaults), with the command line's defaults for the
# three that have none there; vocab_size comes from the corpus.
SECTIONS = {
    'corpus': dict(corpus=None, level=None, max_tokens=None, min_freq=None),
    'model': dict({name: p.default for name, p in
                   inspect.signature(RegularizedRNNModel.__init__).parameters.items()
                   if name in option_names(RegularizedRNNModel) and name != 'vocab_size'},
                  cell='lstm', num_layers=2, num_hiddens=256),
    'training': dict(epochs=10, optimizer='sgd', lr=None, batch_size=32, num_steps=35, clip=1.0,
                     lr_decay=4.0, decay_start=None, patience=None, min_epochs=None,
                     min_improvement=0.0, seed=0, device='auto',
                     kvstore='device', compression='none'),
}
# Further keys a config's corpus section may hold (chapter 10's studies, --min-freq); absent:
# the defaults of text.load_corpus.
CORPUS_EXTRAS = ('valid_fraction', 'test_fraction', 'train_fraction', 'min_freq')
DEFAULT_LR = {'sgd': 2.0, 'adam': 0.002}
RESUMABLE = ('epochs', 'device', 'kvstore', 'compression')  # what a resumed run may change
EVAL_BATCH_SIZE = 10  # rows of the validation and test minibatches, as in the seed


class UserError(Exception):
    """A failure the user can mend (a file, a folder, an option): one line, exit status 1."""


def pick_device(choice):
    """The context for ``--device`` (a list of them for a list of devices); messages go to
    stderr, keeping stdout for results."""
    if choice not in DEVICES:
        try:
            return parse_devices(choice)
        except ValueError as err:
            raise UserError(f'--device: {err}') from None
    if choice == 'cpu':
        return mx.cpu()
    if choice == 'gpu':
        problem = gpu_problem(0)
        if problem:
            raise UserError(f'--device gpu: {problem}; use --device cpu or auto')
        return mx.gpu(0)
    with contextlib.redirect_stdout(sys.stderr):
        return try_gpu()


def read_corpus(corpus):
    """The corpus a config's ``corpus`` section names; a ``UserError`` naming what is wrong."""
    try:
        extras = {key: corpus[key] for key in CORPUS_EXTRAS if corpus.get(key) is not None}
        return load_corpus(corpus['name'], level=corpus['level'],
                           max_tokens=corpus['max_tokens'], **extras)
    except (ValueError, OSError, data.ChecksumError, data.CorpusUnavailableError) as err:
        raise UserError(f'corpus {corpus["name"]}: {err}') from None


def new_config(options, corpus):
    """config.json of a new run from the given options (``None`` for the absent ones)."""
    def section(name):
        return {key: default if options.get(key) is None else options[key]
                for key, default in SECTIONS[name].items()}
    training = section('training')
    training['lr'] = training['lr'] or DEFAULT_LR[training['optimizer']]
    model_kwargs = dict(section('model'), vocab_size=len(corpus.vocab))
    return dict(model={'class': RegularizedRNNModel.__name__, 'kwargs': model_kwargs},
                corpus=dict(name=options['corpus'], level=corpus.level,
                            max_tokens=options.get('max_tokens'),
                            **({'min_freq': options['min_freq']}
                               if options.get('min_freq') is not None else {})),
                training=training)


def saved_value(config, option):
    """The value of a train option in a saved config."""
    if option in SECTIONS['model']:
        return config['model']['kwargs'].get(option)
    if option == 'corpus':
        return config['corpus']['name']
    section = 'corpus' if option in SECTIONS['corpus'] else 'training'
    return config[section].get(option)


def train_run(out, config, corpus, ctx, resume=False):
    """Train the run ``config`` describes into the run folder ``out``, committing every
    epoch; with ``resume``, continue from ``out``'s last committed epoch.

    Returns (model holding the best parameters, schedule, result dict), or ``None`` if a
    resumed run has nothing left to do. What the finished epochs wrote stays whatever
    happens next.
    """
    options = config['training']
    seed_everything(options['seed'])
    try:
        model = build_model(config['model'])
    except ValueError as err:
        raise UserError(f'{os.path.join(out, runs.CONFIG)} is damaged: {err}' if resume
                        else f'the model: {err}') from None
    ctxs = ctx if isinstance(ctx, list) else [ctx]
    model.initialize(mx.init.Xavier(), ctx=ctxs)
    model.hybridize(static_alloc=True, static_shape=True)
    schedule = PlateauSchedule(options['lr'], options['lr_decay'], options['decay_start'],
                               options['patience'], options['seed'], options.get('min_epochs'),
                               options.get('min_improvement', 0.0))
    kvstore = options.get('kvstore', 'device')
    if len(ctxs) > 1 or kvstore.startswith('dist'):  # data parallel (chapter 11)
        try:
            updater = ParallelUpdater(model, options['lr'], ctxs, options['optimizer'], kvstore,
                                      COMPRESSION[options.get('compression', 'none')], config)
            row_blocks(options['batch_size'], updater.num_workers * len(ctxs))
            row_blocks(EVAL_BATCH_SIZE, len(ctxs))
        except ValueError as err:
            raise UserError(err) from None
        net = DataParallel(model, ctxs)
    else:
        updater, net = Updater(model, options['lr'], ctx, options['optimizer']), model
    lead = getattr(updater, 'rank', 0) == 0  # the other workers train alike, write nothing
    try:  # every split must hold a minibatch: say so now, not after hours of training
        check_minibatch_args(corpus.train, options['batch_size'], options['num_steps'])
        for split in (corpus.valid, corpus.test):
            if split is not None:
                check_minibatch_args(split, EVAL_BATCH_SIZE, options['num_steps'])
    except ValueError as err:
        raise UserError(f'corpus {config["corpus"]["name"]}: {err}') from None
    try:
        resumed = resume and runs.resume_run(out, model, schedule, updater)
    except ValueError as err:  # RunFolderError, DamagedFileError: one names the file
        raise UserError(f'--resume {out}: {err}') from None
    if schedule.stopped_early or schedule.epoch >= options['epochs']:
        why = ('it stopped early (no new best validation perplexity for --patience epochs)'
               if schedule.stopped_early else f'it has finished {schedule.epoch} epochs; give a '
               'larger --epochs to continue')
        print(f'{out}: nothing to do: {why}')
        return None
    if lead:
        runs.start_run(out, config, corpus.vocab)  # a resumed run records what changed
    if resumed and lead:
        print(f'resuming {out} after epoch {schedule.epoch} (learning rate {schedule.lr:g}, best '
              f'validation perplexity {schedule.best_val_ppl:.2f} at epoch '
              f'{schedule.best_epoch})', flush=True)
    model_kwargs = config['model']['kwargs']
    name = f'{model_kwargs["cell"]} L{model_kwargs["num_layers"]}'
    window = options['batch_size'] * options['num_steps']
    progress = ProgressBar(options['epochs'], (len(corpus.train) - 1) // window * window
                           // getattr(updater, 'num_workers', 1), schedule.epoch + 1)
    plot = PerplexityPlot(title=f'{model_kwargs["cell"]}, {model_kwargs["num_layers"]} layer(s)')

    def on_epoch(schedule):
        progress.close()
        if not lead:
            return
        runs.save_epoch(out, model, schedule, updater)  # the commit point of the epoch
        plot.update(schedule.history)
        atomic_write(os.path.join(out, runs.PLOT), plot.save)
        record = schedule.history[-1]
        best_mark = ' (best)' if schedule.best_epoch == schedule.epoch else ''
        print(f'{name} epoch {record["epoch"]}/{options["epochs"]}: lr {record["lr"]:g}, '
              f'train ppl {record["train_ppl"]:.2f}, val ppl {record["val_ppl"]:.2f}{best_mark}, '
              f'{record["tokens_per_s"]:,.0f} tokens/s, {record["seconds"]:.1f} s', flush=True)

    try:
        train(net, corpus, schedule, options['epochs'], ctxs[0],
              batch_size=options['batch_size'], num_steps=options['num_steps'],
              clip_theta=options['clip'], eval_batch_size=EVAL_BATCH_SIZE, plot=False,
              updater=updater, on_batch=progress.on_batch if lead else None, on_epoch=on_epoch)
        test_ppl = (evaluate_perplexity(net, corpus.test, ctxs[0], EVAL_BATCH_SIZE,
                                        options['num_steps'])
                    if corpus.test is not None else None)
    except NonFiniteLossError as err:
        raise UserError(f'{err} The finished epochs are kept in {out}.') from None
    finally:
        progress.close()  # a bar left open by an error
    result = dict(best_epoch=schedule.best_epoch, best_val_ppl=schedule.best_val_ppl,
                  test_ppl=test_ppl, stopped_early=schedule.stopped_early, epochs=schedule.epoch)
    if not lead:
        return model, schedule, result
    runs.save_result(out, result)
    test = f', test ppl {test_ppl:.2f}' if test_ppl is not None else ''
    print(f'{name} best epoch {schedule.best_epoch}: val ppl {schedule.best_val_ppl:.2f}{test}'
          + (' (stopped early)' if schedule.stopped_early else ''), flush=True)
    return model, schedule, result


def resume_config(args):
    """(config, corpus) of the run in ``args.resume``, with the ``RESUMABLE`` options applied;
    a ``UserError`` naming every other given option that differs from the saved run."""
    folder = args.resume
    try:
        config, vocab = runs.load_config(folder)
    except runs.RunFolderError as err:
        raise UserError(f'--resume {folder}: {err}') from None
    given = {k: v for k, v in vars(args).items() if k not in ('command', 'handler', 'out',
                                                              'resume')}
    changes = [f'--{option.replace("_", "-")}: saved {saved_value(config, option)!r} vs now '
               f'{value!r}' for option, value in sorted(given.items())
               if option not in RESUMABLE and saved_value(config, option) != value]
    corpus = read_corpus(config['corpus'])
    if corpus.vocab.idx_to_token != vocab.idx_to_token:
        saved, now = vocab.idx_to_token, corpus.vocab.idx_to_token
        first = next((i for i, (a, b) in enumerate(zip(saved, now)) if a != b),
                     min(len(saved), len(now)))
        changes.append(f'vocabulary: saved {len(saved)} tokens vs now {len(now)} (the corpus '
                       f'changed), first difference at index {first}')
    if changes:
        raise UserError(f'--resume {folder}: that run was made with other settings, so it was '
                        'left as it is: ' + '; '.join(changes))
    for option in RESUMABLE:
        config['training'][option] = given.get(
            option, config['training'].get(option, SECTIONS['training'][option]))
    return config, corpus


def run_train(args):
    if args.resume:
        config, corpus = resume_config(args)
    else:
        if runs.holds_run(args.out):
            raise UserError(f'--out {args.out} already holds a run: continue it with --resume '
                            f'{args.out}, or choose another folder')
        corpus = read_corpus(dict(name=args.corpus, level=getattr(args, 'level', None),
                                  max_tokens=getattr(args, 'max_tokens', None),
                                  min_freq=getattr(args, 'min_freq', None)))
        config = new_config(vars(args), corpus)
    ctx = pick_device(config['training']['device'])
    out = args.resume or args.out
    if train_run(out, config, corpus, ctx, resume=bool(args.resume)):
        print(f'run folder: {out}')


def run_generate(args):
    ctx = pick_device(args.device)
    try:
        model, config, vocab = runs.load_trained(args.run, ctx)
    except ValueError as err:  # RunFolderError, DamagedFileError, another architecture
        raise UserError(f'--run {args.run}: {err}') from None
    with contextlib.redirect_stdout(sys.stderr):  # notes about unknown prefix tokens
        text = predict(args.prefix, args.length, model, vocab, ctx, config['corpus']['level'],
                       args.temperature, args.top_k, args.seed)
    print(text)
