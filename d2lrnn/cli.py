"""The command line: ``python -m d2lrnn {train,generate,compare} ...`` (``--help`` on each).

``train`` fits one ``RNNModel`` and checkpoints it after every epoch; ``generate`` continues a
prefix with a trained run; ``compare`` trains a grid of cell types x depths and tabulates
them. An invalid option exits with status 2 and one line naming the valid values; a failure
during a run (NaN loss, missing checkpoint, no usable GPU) exits with status 1 and one line,
leaving the files already written intact.
"""
import matplotlib

matplotlib.use('Agg')  # before anything imports pyplot (d2l does)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import mxnet as mx  # noqa: E402
from tqdm import tqdm  # noqa: E402

from . import data, training  # noqa: E402
from .checkpoint import atomic_write, load_checkpoint, save_checkpoint, write_text  # noqa: E402
from .device import gpu_problem, try_gpu  # noqa: E402
from .generation import predict  # noqa: E402
from .models import FUSED_LAYERS, RNNModel, count_params  # noqa: E402
from .plotting import PerplexityPlot  # noqa: E402
from .runtime import seed_everything  # noqa: E402
from .text import TOKEN_LEVELS, load_corpus  # noqa: E402

CELLS = sorted(FUSED_LAYERS)
DEVICES = ('auto', 'cpu', 'gpu')
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
                       help='dropout between layers, in [0, 1) (default: %(default)s)')
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
    group.add_argument('--device', choices=DEVICES, default='auto',
                       help='auto: the GPU if a kernel runs there, else the CPU '
                            '(default: %(default)s)')
    group.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    group.add_argument('--out', required=True, metavar='DIR', help='output folder')

    train = commands.add_parser('train', parents=[common], help='train one model',
                                description='Train one model; write config.json, vocab.json, '
                                'model.params and metrics.jsonl after every epoch, and '
                                'perplexity.png, into --out.')
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


def train_run(args, corpus, cell, num_layers, out, ctx):
    """Train one model as ``args`` say, checkpointing into ``out`` after every epoch.

    Returns (model, history). A NaN loss raises ``NonFiniteLossError``; what the finished
    epochs wrote stays.
    """
    model_config = dict(cell=cell, vocab_size=len(corpus.vocab), num_hiddens=args.num_hiddens,
                        num_layers=num_layers, embed_size=args.embed_size, dropout=args.dropout)
    config = dict(model=model_config,
                  corpus=dict(name=args.corpus, token=corpus.token, max_tokens=args.max_tokens),
                  training=dict(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                                num_steps=args.num_steps, clip=args.clip, seed=args.seed,
                                device=str(ctx)))
    seed_everything(args.seed)
    model = RNNModel(**model_config)
    model.initialize(mx.init.Xavier(), ctx=ctx)
    model.hybridize(static_alloc=True, static_shape=True)
    window = args.batch_size * args.num_steps
    progress = ProgressBar(args.epochs, (len(corpus.train) - 1) // window * window)
    plot, history = PerplexityPlot(title=f'{cell}, {num_layers} layer(s)'), []

    def on_epoch(record):
        progress.close()
        history.append(record)
        save_checkpoint(out, model, config, corpus.vocab, history)
        plot.update(history)
        atomic_write(os.path.join(out, 'perplexity.png'), plot.save)
        print(f'{cell} L{num_layers} epoch {record["epoch"]}/{args.epochs}: '
              f'train ppl {record["train_ppl"]:.2f}, val ppl {record["val_ppl"]:.2f}, '
              f'{record["tokens_per_s"]:,.0f} tokens/s, {record["seconds"]:.1f} s', flush=True)

    try:
        training.train(model, corpus, args.lr, args.epochs, ctx, batch_size=args.batch_size,
                       num_steps=args.num_steps, clip_theta=args.clip, plot=False,
                       on_batch=progress.on_batch, on_epoch=on_epoch)
    finally:
        progress.close()  # a bar left open by an error
    return model, history


def load_args_corpus(args):
    return load_corpus(args.corpus, token=args.token, max_tokens=args.max_tokens)


def run_train(args):
    ctx = pick_device(args.device)
    train_run(args, load_args_corpus(args), args.cell, args.num_layers, args.out, ctx)
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
            model, history = train_run(args, corpus, cell, num_layers,
                                       os.path.join(args.out, f'{cell}-L{num_layers}'), ctx)
            rows.append(dict(cell=cell, layers=num_layers, parameters=count_params(model),
                             train_ppl=history[-1]['train_ppl'], val_ppl=history[-1]['val_ppl'],
                             tokens_per_s=statistics.median(h['tokens_per_s'] for h in history),
                             seconds=time.time() - start))
            markdown, csv_text = results_table(rows)  # rewritten after each run
            write_text(os.path.join(args.out, 'results.md'), markdown)
            write_text(os.path.join(args.out, 'results.csv'), csv_text)
    print(markdown, end='')


def main(argv=None):
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (RunError, training.NonFiniteLossError, ValueError, OSError) as err:
        print(f'd2lrnn {args.command}: error: {err}', file=sys.stderr)
        sys.exit(1)
