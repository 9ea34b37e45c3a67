"""What ``python -m d2lrnn train``, ``compare`` and ``generate`` do, once ``cli`` has parsed
the options.

``train`` fits a gluon model with the book's loop (``training.train``) and chapter 07's
``PlateauSchedule`` (validation every epoch, best parameters kept, learning-rate decay, early
stopping), commits every epoch to its run folder (``runs``) and measures the best parameters
on the test split at the end. ``train --resume DIR`` reads everything from ``DIR``.
"""
import contextlib
import csv
import inspect
import io
import os
import statistics
import sys

import mxnet as mx

from . import data, runs
from .device import gpu_problem, try_gpu
from .files import atomic_write, write_text
from .generation import predict
from .iterators import check_minibatch_args
from .models import count_params
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
    'corpus': dict(corpus=None, level=None, max_tokens=None),
    'model': dict({name: p.default for name, p in
                   inspect.signature(RegularizedRNNModel.__init__).parameters.items()
                   if name in option_names(RegularizedRNNModel) and name != 'vocab_size'},
                  cell='lstm', num_layers=2, num_hiddens=256),
    'training': dict(epochs=10, optimizer='sgd', lr=None, batch_size=32, num_steps=35, clip=1.0,
                     lr_decay=4.0, decay_start=None, patience=None, seed=0, device='auto'),
}
# Further keys a config's corpus section may hold (chapter 10's studies); absent: the defaults
# of text.load_corpus.
CORPUS_SPLITS = ('valid_fraction', 'test_fraction', 'train_fraction')
DEFAULT_LR = {'sgd': 2.0, 'adam': 0.002}
RESUMABLE = ('epochs', 'device')  # what a resumed run may change
EVAL_BATCH_SIZE = 10  # rows of the validation and test minibatches, as in the seed
RESULT_COLUMNS = ('cell', 'layers', 'parameters', 'train_ppl', 'val_ppl', 'test_ppl',
                  'best_epoch', 'tokens_per_s', 'seconds')


class UserError(Exception):
    """A failure the user can mend (a file, a folder, an option): one line, exit status 1."""


def pick_device(choice):
    """The context for ``--device``; messages go to stderr, keeping stdout for results."""
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
        splits = {key: corpus[key] for key in CORPUS_SPLITS if key in corpus}
        return load_corpus(corpus['name'], level=corpus['level'],
                           max_tokens=corpus['max_tokens'], **splits)
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
                            max_tokens=options.get('max_tokens')),
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
    model.initialize(mx.init.Xavier(), ctx=ctx)
    model.hybridize(static_alloc=True, static_shape=True)
    schedule = PlateauSchedule(options['lr'], options['lr_decay'], options['decay_start'],
                               options['patience'], options['seed'])
    updater = Updater(model, options['lr'], ctx, options['optimizer'])
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
    runs.start_run(out, config, corpus.vocab)  # a resumed run records --epochs and --device
    if resumed:
        print(f'resuming {out} after epoch {schedule.epoch} (learning rate {schedule.lr:g}, best '
              f'validation perplexity {schedule.best_val_ppl:.2f} at epoch '
              f'{schedule.best_epoch})', flush=True)
    model_kwargs = config['model']['kwargs']
    name = f'{model_kwargs["cell"]} L{model_kwargs["num_layers"]}'
    window = options['batch_size'] * options['num_steps']
    progress = ProgressBar(options['epochs'], (len(corpus.train) - 1) // window * window,
                           schedule.epoch + 1)
    plot = PerplexityPlot(title=f'{model_kwargs["cell"]}, {model_kwargs["num_layers"]} layer(s)')

    def on_epoch(schedule):
        progress.close()
        runs.save_epoch(out, model, schedule, updater)  # the commit point of the epoch
        plot.update(schedule.history)
        atomic_write(os.path.join(out, runs.PLOT), plot.save)
        record = schedule.history[-1]
        best_mark = ' (best)' if schedule.best_epoch == schedule.epoch else ''
        print(f'{name} epoch {record["epoch"]}/{options["epochs"]}: lr {record["lr"]:g}, '
              f'train ppl {record["train_ppl"]:.2f}, val ppl {record["val_ppl"]:.2f}{best_mark}, '
              f'{record["tokens_per_s"]:,.0f} tokens/s, {record["seconds"]:.1f} s', flush=True)

    try:
        train(model, corpus, schedule, options['epochs'], ctx, batch_size=options['batch_size'],
              num_steps=options['num_steps'], clip_theta=options['clip'],
              eval_batch_size=EVAL_BATCH_SIZE, plot=False, updater=updater,
              on_batch=progress.on_batch, on_epoch=on_epoch)
        test_ppl = (evaluate_perplexity(model, corpus.test, ctx, EVAL_BATCH_SIZE,
                                        options['num_steps'])
                    if corpus.test is not None else None)
    except NonFiniteLossError as err:
        raise UserError(f'{err} The finished epochs are kept in {out}.') from None
    finally:
        progress.close()  # a bar left open by an error
    result = dict(best_epoch=schedule.best_epoch, best_val_ppl=schedule.best_val_ppl,
                  test_ppl=test_ppl, stopped_early=schedule.stopped_early, epochs=schedule.epoch)
    runs.save_result(out, result)
    test = f', test ppl {test_ppl:.2f}' if test_ppl is not None else ''
    print(f'{name} best epoch {schedule.best_epoch}: val ppl {schedule.best_val_ppl:.2f}{test}'
          + (' (stopped early)' if schedule.stopped_early else ''), flush=True)
    return model, schedule, result


def resume_config(args):
    """(config, corpus) of the run in ``args.resume``, with --epochs and --device applied;
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
        config['training'][option] = given.get(option, config['training'][option])
    return config, corpus


def run_train(args):
    if args.resume:
        config, corpus = resume_config(args)
    else:
        if runs.holds_run(args.out):
            raise UserError(f'--out {args.out} already holds a run: continue it with --resume '
                            f'{args.out}, or choose another folder')
        corpus = read_corpus(dict(name=args.corpus, level=getattr(args, 'level', None),
                                  max_tokens=getattr(args, 'max_tokens', None)))
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


def results_table(rows):
    """(Markdown table, CSV text) of the compare rows (dicts keyed by RESULT_COLUMNS)."""
    def number(value, spec):
        return '' if value is None else format(value, spec)
    lines = ['| cell | layers | parameters | train ppl | val ppl | test ppl | best epoch '
             '| tokens/s | seconds |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    lines += [f'| {r["cell"]} | {r["layers"]} | {r["parameters"]:,} | {r["train_ppl"]:.2f} '
              f'| {r["val_ppl"]:.2f} | {number(r["test_ppl"], ".2f")} | {r["best_epoch"]} '
              f'| {r["tokens_per_s"]:,.0f} | {r["seconds"]:.1f} |' for r in rows]
    csv_text = io.StringIO()
    writer = csv.DictWriter(csv_text, RESULT_COLUMNS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return '\n'.join(lines) + '\n', csv_text.getvalue()


def run_compare(args):
    corpus = read_corpus(dict(name=args.corpus, level=getattr(args, 'level', None),
                              max_tokens=getattr(args, 'max_tokens', None)))
    folders = {(cell, layers): os.path.join(args.out, f'{cell}-L{layers}')
               for cell in args.cells for layers in args.num_layers}
    taken = [folder for folder in folders.values() if runs.holds_run(folder)]
    if taken:
        raise UserError(f'--out {args.out} already holds the run(s) {", ".join(taken)}: '
                        'choose another folder')
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for (cell, layers), folder in folders.items():
        config = new_config(dict(vars(args), cell=cell, num_layers=layers), corpus)
        model, schedule, result = train_run(folder, config, corpus,
                                            pick_device(config['training']['device']))
        best = schedule.history[result['best_epoch'] - 1]
        rows.append(dict(cell=cell, layers=layers, parameters=count_params(model),
                         train_ppl=best['train_ppl'], val_ppl=best['val_ppl'],
                         test_ppl=result['test_ppl'], best_epoch=result['best_epoch'],
                         tokens_per_s=statistics.median(h['tokens_per_s']
                                                        for h in schedule.history),
                         seconds=sum(h['seconds'] for h in schedule.history)))
        markdown, csv_text = results_table(rows)  # rewritten after each run
        write_text(os.path.join(args.out, 'results.md'), markdown)
        write_text(os.path.join(args.out, 'results.csv'), csv_text)
    print(markdown, end='')
