"""The command line: ``python -m d2lrnn {train,generate,compare} ...`` (``--help`` on each).

``train`` fits one ``RegularizedRNNModel`` with the schedule of chapter 07 (validation every
epoch, best parameters kept, learning-rate decay, early stopping, test perplexity at the end)
and checkpoints it after every epoch; ``train --resume DIR`` continues an interrupted run;
``generate`` continues a prefix with a trained run; ``compare`` trains a grid of cell types x
depths and tabulates them. An invalid option exits with status 2 and one line naming the
valid values; a failure during a run (NaN loss, missing checkpoint, no usable GPU, a corpus
file with the wrong sha1, a resume with other settings) exits with status 1 and one line,
leaving the files already written intact.
"""
import matplotlib

matplotlib.use('Agg')  # before anything imports pyplot (d2l does)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import mxnet as mx  # noqa: E402
from tqdm import tqdm  # noqa: E402

from . import data, schedule, training  # noqa: E402
from .checkpoint import (CONFIG, METRICS, VOCAB, atomic_write, load_checkpoint,  # noqa: E402
                         model_from_config, read_json, save_checkpoint, write_text)
from .device import gpu_problem, try_gpu  # noqa: E402
from .generation import predict  # noqa: E402
from .models import FUSED_LAYERS, RNNModel, count_params  # noqa: E402
from .plotting import PerplexityPlot  # noqa: E402
from .runtime import seed_everything  # noqa: E402
from .text import TOKEN_LEVELS, load_corpus  # noqa: E402

CELLS = sorted(FUSED_LAYERS)
DEVICES = ('auto', 'cpu', 'gpu')
# The settings that --resume may change: more (or fewer) epochs, another device.
RESUMABLE_CHANGES = ('training.epochs', 'training.device')
RESULT_COLUMNS = ('cell', 'layers', 'parameters', 'train_ppl', 'val_ppl', 'tokens_per_s',
                  'seconds')


class RunError(Exception):
    """A failure during a run, reported as one line with exit status 1."""


# ---- option types: each raises ArgumentTypeError saying what is valid ----

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be an integer >= 1, got {text!r}')
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f'must be a finite number > 0, got {text!r}')
    return value


def nonnegative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f'must be a finite number >= 0, got {text!r}')
    return value


def dropout_rate(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f'must be a number in [0, 1), got {text!r}')
    return value


def decay_factor(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 1 <= value < math.inf:
        raise argparse.ArgumentTypeError(f'must be a finite number >= 1 (1: constant learning '
                                         f'rate), got {text!r}')
    return value


def corpus_name(text):
    if text in data.REGISTRY or os.path.isfile(text):
        return text
    raise argparse.ArgumentTypeError(
        f'must be one of {", ".join(sorted(data.REGISTRY))} or an existing UTF-8 text file; '
        f'{text!r} is neither')


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) with exit status 2."""

    def error(self, message):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def build_parser():
    parser = Parser(prog='d2lrnn', description='Train, sample and compare deep RNN language '
                    'models (MXNet gluon).')
    commands = parser.add_subparsers(dest='command', required=True, parser_class=Parser)

    common = Parser(add_help=False)
    group = common.add_argument_group('corpus, model and training')
    group.add_argument('--corpus', type=corpus_name, metavar='NAME_OR_PATH', required=True,
                       help=f'{", ".join(sorted(data.REGISTRY))}, or the path of a UTF-8 .txt file')
    group.add_argument('--token', choices=TOKEN_LEVELS,
                       help="token level (default: the corpus's own: word for ptb, else char)")
    group.add_argument('--max-tokens', type=positive_int, metavar='N',
                       help='keep only the first N tokens of each split (quick runs)')
    group.add_argument('--num-hiddens', type=positive_int, metavar='H', default=256,
                       help='hidden units per layer (default: %(default)s)')
    group.add_argument('--embed-size', type=positive_int, metavar='E',
                       help='embedding size (default: one-hot inputs)')
    group.add_argument('--dropout', type=dropout_rate, metavar='P', default=0.0,
                       help='dropout between layers: on the inputs of every recurrent layer '
                            'and on the top layer\'s outputs, never on the recurrent path; in '
                            '[0, 1) (default: %(default)s)')
    group.add_argument('--variational', action='store_true',
                       help='variational dropout: one mask per sequence, reused at every time '
                            'step')
    group.add_argument('--embed-dropout', type=dropout_rate, metavar='P', default=0.0,
                       help='drop whole words from the embedding, in [0, 1) (needs '
                            '--embed-size) (default: %(default)s)')
    group.add_argument('--tie-weights', action='store_true',
                       help='the output layer reuses the embedding matrix (needs --embed-size '
                            'equal to --num-hiddens)')
    group.add_argument('--epochs', type=positive_int, metavar='N', default=10,
                       help='training epochs (default: %(default)s)')
    group.add_argument('--lr', type=positive_float, default=2.0,
                       help='SGD learning rate (default: %(default)s)')
    group.add_argument('--batch-size', type=positive_int, metavar='N', default=32,
                       help='sequences per minibatch (default: %(default)s)')
    group.add_argument('--num-steps', type=positive_int, metavar='T', default=35,
                       help='time steps per sequence (truncated BPTT) (default: %(default)s)')
    group.add_argument('--clip', type=positive_float, metavar='THETA', default=1.0,
                       help='clip the gradient to this global norm (default: %(default)s)')
    group.add_argument('--lr-decay', type=decay_factor, metavar='F', default=4.0,
                       help='divide the learning rate by F after every epoch that does not '
                            'beat the best validation perplexity; 1 keeps it constant '
                            '(default: %(default)s)')
    group.add_argument('--decay-start', type=positive_int, metavar='E',
                       help='instead, divide it by F after every epoch from epoch E on, '
                            'whatever the validation says (a fixed schedule)')
    group.add_argument('--patience', type=positive_int, metavar='N',
                       help='stop after N epochs in a row without a new best validation '
                            'perplexity (default: train every epoch)')
    group.add_argument('--device', choices=DEVICES, default='auto',
                       help='auto: the GPU if a kernel runs there, else the CPU '
                            '(default: %(default)s)')
    group.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    group.add_argument('--out', metavar='DIR',
                       help='output folder (required; train --resume defaults it to the '
                            'resumed folder)')

    train = commands.add_parser('train', parents=[common], help='train one model',
                                description='Train one model; after every epoch write '
                                'config.json, vocab.json, model.params (the best epoch\'s '
                                'parameters), metrics.jsonl, perplexity.png and resume/ (what '
                                '--resume needs) into --out. The last line of metrics.jsonl '
                                'gives the best epoch and the test perplexity of its '
                                'parameters.')
    train.add_argument('--resume', metavar='DIR',
                       help='continue the interrupted run in DIR from its last finished epoch '
                            '(give the options of the first run; --out defaults to DIR; '
                            '--epochs and --device may change)')
    train.add_argument('--cell', choices=CELLS, default='lstm',
                       help='recurrent cell (default: %(default)s)')
    train.add_argument('--num-layers', type=positive_int, metavar='L', default=2,
                       help='stacked recurrent layers (default: %(default)s)')
    train.set_defaults(handler=run_train)

    compare = commands.add_parser('compare', parents=[common], help='train a grid of models',
                                  description='Train every cell type x depth, each into '
                                  '--out/<cell>-L<layers>/, and tabulate them in '
                                  '--out/results.md and --out/results.csv.')
    compare.add_argument('--cells', nargs='+', choices=CELLS, default=['gru', 'lstm'],
                         help='recurrent cells to compare (default: %(default)s)')
    compare.add_argument('--num-layers', nargs='+', type=positive_int, metavar='L',
                         default=[1, 2, 3],
                         help='depths to compare (default: %(default)s)')
    compare.set_defaults(handler=run_compare)

    generate = commands.add_parser('generate', help='continue a prefix with a trained run',
                                   description='Load the checkpoint in --run and print the '
                                   'prefix followed by --length generated tokens.')
    generate.add_argument('--run', required=True, metavar='DIR', help='folder written by train')
    generate.add_argument('--prefix', required=True, metavar='TEXT', help='text to continue')
    generate.add_argument('--length', type=positive_int, metavar='N', default=100,
                          help='tokens to generate (default: %(default)s)')
    generate.add_argument('--temperature', type=nonnegative_float, metavar='T', default=0.0,
                          help='0: most likely token; > 0: sample from softmax(logits / T) '
                               '(default: %(default)s)')
    generate.add_argument('--top-k', type=positive_int, metavar='K',
                          help='sample among the K most likely tokens only')
    generate.add_argument('--seed', type=int, help='seed of the sampler')
    generate.add_argument('--device', choices=DEVICES, default='auto',
                          help='as for train (default: %(default)s)')
    generate.set_defaults(handler=run_generate)
    return parser


def pick_device(choice):
    """The context for ``--device``; messages go to stderr, keeping stdout for results."""
    if choice == 'cpu':
        return mx.cpu()
    if choice == 'gpu':
        problem = gpu_problem(0)
        if problem:
            raise RunError(f'--device gpu: {problem}; use --device cpu or auto')
        return mx.gpu(0)
    with contextlib.redirect_stdout(sys.stderr):
        return try_gpu()


class ProgressBar:
    """One tqdm bar per epoch on stderr: running loss, perplexity and tokens/s."""

    def __init__(self, num_epochs, tokens_per_epoch):
        self.num_epochs, self.tokens_per_epoch = num_epochs, tokens_per_epoch
        self.epoch, self.bar = 1, None

    def on_batch(self, num_tokens, loss):
        if self.bar is None:
            self.bar = tqdm(total=self.tokens_per_epoch, unit='tok', unit_scale=True,
                            desc=f'epoch {self.epoch}/{self.num_epochs}', file=sys.stderr,
                            disable=None, dynamic_ncols=True, leave=False)
            self.loss_sum, self.num_tokens = 0.0, 0
        self.loss_sum += loss * num_tokens
        self.num_tokens += num_tokens
        mean = self.loss_sum / self.num_tokens
        self.bar.set_postfix(loss=f'{mean:.3f}', ppl=f'{math.exp(mean):.1f}', refresh=False)
        self.bar.update(num_tokens)

    def close(self):
        """Close the current epoch's bar; the next batch opens the next epoch's."""
        if self.bar is not None:
            self.bar.close()
        self.epoch, self.bar = self.epoch + 1, None


def run_config(args, corpus, cell, num_layers, ctx):
    """config.json of a run: the model's keyword arguments, the corpus, the training options."""
    model = dict(cell=cell, vocab_size=len(corpus.vocab), num_hiddens=args.num_hiddens,
                 num_layers=num_layers, embed_size=args.embed_size, dropout=args.dropout,
                 variational=args.variational, embed_dropout=args.embed_dropout,
                 tie_weights=args.tie_weights)
    return dict(model=model,
                corpus=dict(name=args.corpus, token=corpus.token, max_tokens=args.max_tokens),
                training=dict(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                              num_steps=args.num_steps, clip=args.clip, lr_decay=args.lr_decay,
                              decay_start=args.decay_start, patience=args.patience,
                              seed=args.seed, device=str(ctx)))


def config_changes(saved, current, prefix=''):
    """'key: saved a vs now b' for every entry of the nested dicts that differs."""
    changes = []
    for key in sorted(saved.keys() | current.keys()):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += config_changes(old, new, f'{prefix}{key}.')
        elif old != new:
            changes.append(f'{prefix}{key}: saved {old!r} vs now {new!r}')
    return changes


def check_resumable(folder, config, vocab):
    """Raise RunError, naming what differs, unless ``folder`` holds a run of this config and
    vocabulary (``RESUMABLE_CHANGES`` aside)."""
    if not os.path.isfile(os.path.join(folder, CONFIG)):
        raise RunError(f'--resume {folder}: no run to resume there (no {CONFIG})')
    changes = [change for change in config_changes(read_json(os.path.join(folder, CONFIG)), config)
               if change.split(':')[0] not in RESUMABLE_CHANGES]
    saved_tokens = read_json(os.path.join(folder, VOCAB))
    if saved_tokens != vocab.idx_to_token:
        first = next((i for i, (a, b) in enumerate(zip(saved_tokens, vocab.idx_to_token))
                      if a != b), min(len(saved_tokens), len(vocab)))
        changes.append(f'vocabulary: saved {len(saved_tokens)} tokens vs now {len(vocab)}, '
                       f'first difference at index {first}')
    if changes:
        raise RunError(f'--resume {folder}: that run was made with other settings, so it was '
                       'left as it is: ' + '; '.join(changes))


def train_run(args, corpus, cell, num_layers, out, ctx, resume=False):
    """Train one model as ``args`` say, checkpointing into ``out`` after every epoch; with
    ``resume``, continue the run saved in ``out`` (refused if its settings differ).

    Returns (model holding the best parameters, final ``ScheduleState``). A NaN loss raises
    ``NonFiniteLossError``; what the finished epochs wrote stays.
    """
    config = run_config(args, corpus, cell, num_layers, ctx)
    if resume:
        check_resumable(out, config, corpus.vocab)
    seed_everything(args.seed)
    model = model_from_config(config['model'])
    model.initialize(mx.init.Xavier(), ctx=ctx)
    model.hybridize(static_alloc=True, static_shape=True)
    state, best = schedule.load_state(out, model) if resume else (None, None)
    if state is None:  # a fresh start: the state of an earlier run in ``out`` is stale
        shutil.rmtree(os.path.join(out, schedule.RESUME), ignore_errors=True)
    else:
        print(f'resuming {out} after epoch {state.epoch} (learning rate {state.lr:g}, best '
              f'validation perplexity {state.best_val_ppl:.2f} at epoch {state.best_epoch})',
              flush=True)
    os.makedirs(out, exist_ok=True)
    # config and vocabulary first: a run killed in its first epoch can be resumed as well
    save_checkpoint(out, model, config, corpus.vocab, state and state.history, best)
    window = args.batch_size * args.num_steps
    progress = ProgressBar(args.epochs, (len(corpus.train) - 1) // window * window)
    progress.epoch = (state.epoch if state else 0) + 1
    plot = PerplexityPlot(title=f'{cell}, {num_layers} layer(s)')

    def on_epoch(state, best):
        progress.close()
        schedule.save_state(out, model, state, best)  # the commit point of the epoch
        save_checkpoint(out, model, config, corpus.vocab, state.history, best)
        plot.update(state.history)
        atomic_write(os.path.join(out, 'perplexity.png'), plot.save)
        record = state.history[-1]
        best_mark = ' (best)' if state.best_epoch == state.epoch else ''
        print(f'{cell} L{num_layers} epoch {record["epoch"]}/{args.epochs}: '
              f'lr {record["lr"]:g}, train ppl {record["train_ppl"]:.2f}, '
              f'val ppl {record["val_ppl"]:.2f}{best_mark}, '
              f'{record["tokens_per_s"]:,.0f} tokens/s, {record["seconds"]:.1f} s', flush=True)

    try:
        state = schedule.fit(model, corpus, args.lr, args.epochs, ctx,
                             batch_size=args.batch_size, num_steps=args.num_steps,
                             clip_theta=args.clip, seed=args.seed, lr_decay=args.lr_decay,
                             decay_start=args.decay_start, patience=args.patience, plot=False,
                             state=state, best=best, on_batch=progress.on_batch,
                             on_epoch=on_epoch)
    finally:
        progress.close()  # a bar left open by an error
    summary = dict(best_epoch=state.best_epoch, best_val_ppl=state.best_val_ppl,
                   test_ppl=state.test_ppl, stopped_early=state.stopped_early)
    write_text(os.path.join(out, METRICS),
               ''.join(json.dumps(r) + '\n' for r in state.history + [summary]))
    test = f', test ppl {state.test_ppl:.2f}' if state.test_ppl is not None else ''
    print(f'{cell} L{num_layers} best epoch {state.best_epoch}: val ppl '
          f'{state.best_val_ppl:.2f}{test}' + (' (stopped early)' if state.stopped_early else ''),
          flush=True)
    return model, state


def load_args_corpus(args):
    return load_corpus(args.corpus, token=args.token, max_tokens=args.max_tokens)


def run_train(args):
    ctx = pick_device(args.device)
    train_run(args, load_args_corpus(args), args.cell, args.num_layers, args.out, ctx,
              resume=bool(args.resume))
    print(f'checkpoint, metrics and plot written to {args.out}')


def run_generate(args):
    ctx = pick_device(args.device)
    model, config, vocab = load_checkpoint(args.run, ctx)
    with contextlib.redirect_stdout(sys.stderr):  # notes about unknown prefix tokens
        text = predict(args.prefix, args.length, model, vocab, ctx, config['corpus']['token'],
                       args.temperature, args.top_k, args.seed)
    print(text)


def results_table(rows):
    """(Markdown table, CSV text) of the compare rows (dicts keyed by RESULT_COLUMNS)."""
    lines = ['| cell | layers | parameters | train ppl | val ppl | tokens/s | seconds |',
             '|---|---:|---:|---:|---:|---:|---:|']
    lines += [f'| {r["cell"]} | {r["layers"]} | {r["parameters"]:,} | {r["train_ppl"]:.2f} '
              f'| {r["val_ppl"]:.2f} | {r["tokens_per_s"]:,.0f} | {r["seconds"]:.1f} |'
              for r in rows]
    csv_text = io.StringIO()
    writer = csv.DictWriter(csv_text, RESULT_COLUMNS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return '\n'.join(lines) + '\n', csv_text.getvalue()


def run_compare(args):
    ctx = pick_device(args.device)
    corpus = load_args_corpus(args)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for cell in args.cells:
        for num_layers in args.num_layers:
            start = time.time()
            model, state = train_run(args, corpus, cell, num_layers,
                                     os.path.join(args.out, f'{cell}-L{num_layers}'), ctx)
            history = state.history
            rows.append(dict(cell=cell, layers=num_layers, parameters=count_params(model),
                             train_ppl=history[-1]['train_ppl'], val_ppl=history[-1]['val_ppl'],
                             tokens_per_s=statistics.median(h['tokens_per_s'] for h in history),
                             seconds=time.time() - start))
            markdown, csv_text = results_table(rows)  # rewritten after each run
            write_text(os.path.join(args.out, 'results.md'), markdown)
            write_text(os.path.join(args.out, 'results.csv'), csv_text)
    print(markdown, end='')


def check_options(parser, args):
    """Exit with status 2 and one line if options that parsed alone contradict each other."""
    def error(message):
        parser.exit(2, f'{parser.prog} {args.command}: error: {message} '
                       f'(see {parser.prog} {args.command} --help)\n')
    if args.command == 'generate':
        return
    resume = getattr(args, 'resume', None)
    if resume and args.out and os.path.abspath(args.out) != os.path.abspath(resume):
        error(f'--out {args.out} and --resume {resume} name different folders')
    args.out = args.out or resume
    if not args.out:
        error('the following arguments are required: --out')
    if args.tie_weights and args.embed_size != args.num_hiddens:
        error('--tie-weights needs --embed-size equal to --num-hiddens (the output layer reuses '
              f'the embedding matrix); got --embed-size {args.embed_size} and --num-hiddens '
              f'{args.num_hiddens}')
    if args.embed_dropout and args.embed_size is None:
        error('--embed-dropout needs --embed-size (one-hot inputs have no embedding)')


def main(argv=None):
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    try:
        args.handler(args)
    except (RunError, training.NonFiniteLossError, ValueError, OSError,
            data.ChecksumError, data.CorpusUnavailableError) as err:
        print(f'd2lrnn {args.command}: error: {err}', file=sys.stderr)
        sys.exit(1)
