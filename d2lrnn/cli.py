"""The command line: ``python -m d2lrnn {train,generate,compare} ...`` (``--help`` on each).

This module parses and checks the options; ``commands`` carries them out. An invalid option
exits with status 2 and one line naming the valid values. A ``UserError`` raised while a
command runs (a bad file or folder, a corpus that cannot be read, a resume with other
settings, a diverging run) exits with status 1 and one line, and leaves what was already
written intact; any other exception is a bug and shows its traceback.
"""
import matplotlib

matplotlib.use('Agg')  # before anything imports pyplot (d2l does)

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from . import commands, data  # noqa: E402
from .checks import option_type  # noqa: E402
from .commands import DEVICES, UserError  # noqa: E402
from .compare import run_compare  # noqa: E402
from .launch import run_launch  # noqa: E402
from .parallel import COMPRESSION, KVSTORES  # noqa: E402
from .models import FUSED_LAYERS  # noqa: E402
from .text import TOKEN_LEVELS  # noqa: E402
from .training import OPTIMIZERS  # noqa: E402

CELLS = sorted(FUSED_LAYERS)
POSITIVE_INT = option_type(integer=True, low=1)
POSITIVE = option_type(low=0, low_open=True)
NONNEGATIVE = option_type(low=0)
RATE = option_type(low=0, high=1, high_open=True)
DECAY = option_type(low=1, note=' (1: a constant learning rate)')


def device_spec(text):
    if text in DEVICES or all(part.strip().partition(':')[0] in ('cpu', 'gpu') and
                              part.strip().partition(':')[2].isdigit()
                              for part in text.split(',')):
        return text
    raise argparse.ArgumentTypeError(f'must be {", ".join(DEVICES)} or a list such as cpu:0,cpu:1 '
                                     f'or gpu:0,gpu:1; got {text!r}')


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


def add_options(parser, options):
    """Add ``(flags, kwargs)`` options whose default is *absent*: ``commands.DEFAULTS`` fills
    what was not given, so a resumed run knows which options the user typed."""
    for flags, kwargs in options:
        parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)


CORPUS_OPTIONS = [
    (['--corpus'], dict(type=corpus_name, metavar='NAME_OR_PATH',
                        help=f'{", ".join(sorted(data.REGISTRY))}, or the path of a UTF-8 text '
                             'file (required unless --resume)')),
    (['--level'], dict(choices=TOKEN_LEVELS,
                       help="token level (default: the corpus's own: word for ptb, else char)")),
    (['--max-tokens'], dict(type=POSITIVE_INT, metavar='N',
                            help='keep only the first N tokens of each split (quick runs)')),
    (['--min-freq'], dict(type=POSITIVE_INT, metavar='N',
                          help='tokens seen fewer than N times in the training split read as '
                               '<unk> (default: keep every token)')),
]
MODEL_OPTIONS = [
    (['--num-hiddens'], dict(type=POSITIVE_INT, metavar='H', help='hidden units per layer '
                                                                  '(default: 256)')),
    (['--embed-size'], dict(type=POSITIVE_INT, metavar='E',
                            help='embedding size (default: one-hot inputs)')),
    (['--dropout'], dict(type=RATE, metavar='P',
                         help='dropout between layers: on the inputs of every recurrent layer '
                              'and on the top layer\'s outputs, never on the recurrent path; '
                              'in [0, 1) (default: 0)')),
    (['--variational'], dict(action='store_true',
                             help='variational dropout: one mask per sequence, reused at every '
                                  'time step')),
    (['--embed-dropout'], dict(type=RATE, metavar='P',
                               help='drop whole words from the embedding, in [0, 1) (needs '
                                    '--embed-size) (default: 0)')),
    (['--tie-weights'], dict(action='store_true',
                             help='the output layer reuses the embedding matrix (needs '
                                  '--embed-size equal to --num-hiddens)')),
]
TRAINING_OPTIONS = [
    (['--epochs'], dict(type=POSITIVE_INT, metavar='N', help='training epochs (default: 10)')),
    (['--optimizer'], dict(choices=OPTIMIZERS,
                           help='gluon optimizer (default: sgd; adam keeps its state on '
                                'resume)')),
    (['--lr'], dict(type=POSITIVE, help='learning rate (default: 2 for sgd, 0.002 for adam)')),
    (['--batch-size'], dict(type=POSITIVE_INT, metavar='N',
                            help='sequences per minibatch (default: 32)')),
    (['--num-steps'], dict(type=POSITIVE_INT, metavar='T',
                           help='time steps per sequence (truncated BPTT) (default: 35)')),
    (['--clip'], dict(type=POSITIVE, metavar='THETA',
                      help='clip the gradient to this global norm (default: 1)')),
    (['--lr-decay'], dict(type=DECAY, metavar='F',
                          help='divide the learning rate by F after every epoch that does not '
                               'beat the best validation perplexity; 1 keeps it constant '
                               '(default: 4)')),
    (['--decay-start'], dict(type=POSITIVE_INT, metavar='E',
                             help='instead, divide it by F after every epoch from epoch E on, '
                                  'whatever the validation says (a fixed schedule)')),
    (['--patience'], dict(type=POSITIVE_INT, metavar='N',
                          help='stop after N epochs in a row without a new best validation '
                               'perplexity')),
    (['--min-epochs'], dict(type=POSITIVE_INT, metavar='N',
                            help='no learning-rate decay and no early stop before epoch N')),
    (['--min-improvement'], dict(type=option_type(low=0, high=1, high_open=True), metavar='R',
                                 help='an epoch counts as progress (for --lr-decay and '
                                      '--patience) only if it lowers the best validation '
                                      'perplexity by more than this fraction (default: 0)')),
    (['--seed'], dict(type=int, help='seed of every random generator (default: 0)')),
    (['--device', '--devices'], dict(dest='device', type=device_spec, metavar='DEVICES',
                                     help='auto (a GPU if a kernel runs on it, else the CPU), '
                                          'cpu, gpu, or a list such as cpu:0,cpu:1 or gpu:0,gpu:1 '
                                          'to split every minibatch among them (default: auto)')),
    (['--kvstore'], dict(choices=KVSTORES, help='how the gradients of several devices or '
                                                'workers are summed; dist_* under launch only '
                                                '(default: device)')),
    (['--compression'], dict(choices=sorted(COMPRESSION), help='gradient compression of the '
                                                               'kvstore (default: none)')),
]


def build_parser():
    parser = Parser(prog='d2lrnn', description='Train, sample and compare deep RNN language '
                    'models (MXNet gluon).')
    commands_ = parser.add_subparsers(dest='command', required=True, parser_class=Parser)

    train = commands_.add_parser(
        'train', help='train one model',
        description='Train one model into the run folder --out (format: d2lrnn/runs.py): '
        'after every epoch the parameters, the optimizer state, metrics.jsonl and '
        'perplexity.png; result.json at the end. `train --resume DIR` continues a stopped run '
        'from DIR alone; only --epochs, --device, --kvstore and --compression may change.')
    add_options(train.add_argument_group('corpus'), CORPUS_OPTIONS)
    group = train.add_argument_group('model')
    add_options(group, [(['--cell'], dict(choices=CELLS, help='recurrent cell (default: lstm)')),
                        (['--num-layers'], dict(type=POSITIVE_INT, metavar='L',
                                                help='stacked recurrent layers (default: 2)')),
                        *MODEL_OPTIONS])
    add_options(train.add_argument_group('training'), TRAINING_OPTIONS)
    train.add_argument('--out', metavar='DIR', help='the run folder to create')
    train.add_argument('--resume', metavar='DIR', help='continue the run in DIR from its last '
                       'finished epoch')
    train.set_defaults(handler=commands.run_train)

    compare = commands_.add_parser(
        'compare', help='train a grid of models',
        description='Train every cell type x depth, each into the run folder '
        '--out/<cell>-L<layers>/, and tabulate them in --out/results.md and --out/results.csv.')
    add_options(compare.add_argument_group('corpus'), CORPUS_OPTIONS)
    group = compare.add_argument_group('model')
    group.add_argument('--cells', nargs='+', choices=CELLS, default=['gru', 'lstm'],
                       help='recurrent cells to compare (default: %(default)s)')
    group.add_argument('--num-layers', nargs='+', type=POSITIVE_INT, metavar='L',
                       default=[1, 2, 3], help='depths to compare (default: %(default)s)')
    add_options(group, MODEL_OPTIONS)
    add_options(compare.add_argument_group('training'), TRAINING_OPTIONS)
    compare.add_argument('--out', metavar='DIR', required=True, help='folder of the grid')
    compare.set_defaults(handler=run_compare)

    launch = commands_.add_parser(
        'launch', help='train on several worker processes (parameter server)',
        description='Start a scheduler, --num-servers servers and --num-workers workers running '
        '`python -m d2lrnn train ...` with MXNet\'s launcher: on this machine over 127.0.0.1, '
        'or over ssh on the hosts of --hosts. Every process stops when one fails. Worker 0 '
        'writes the run folder.')
    launch.add_argument('-n', '--num-workers', type=POSITIVE_INT, required=True, metavar='N')
    launch.add_argument('-s', '--num-servers', type=POSITIVE_INT, default=1, metavar='N',
                        help='parameter servers (default: %(default)s)')
    launch.add_argument('--hosts', metavar='FILE', help='one host[:ssh port] per line (default: '
                        'every process on this machine)')
    launch.add_argument('--timeout', type=POSITIVE, metavar='SECONDS',
                        help='stop the job if it has not finished by then')
    launch.add_argument('train', nargs=argparse.REMAINDER, metavar='-- train ...',
                        help='the train command every worker runs, with --kvstore dist_sync, '
                             'or dist_device_sync')
    launch.set_defaults(handler=run_launch)

    generate = commands_.add_parser('generate', help='continue a prefix with a trained run',
                                    description='Load the best parameters of the run folder '
                                    '--run and print the prefix followed by --length generated '
                                    'tokens.')
    generate.add_argument('--run', required=True, metavar='DIR', help='folder written by train')
    generate.add_argument('--prefix', required=True, metavar='TEXT', help='text to continue')
    generate.add_argument('--length', type=POSITIVE_INT, metavar='N', default=100,
                          help='tokens to generate (default: %(default)s)')
    generate.add_argument('--temperature', type=NONNEGATIVE, metavar='T', default=0.0,
                          help='0: most likely token; > 0: sample from softmax(logits / T) '
                               '(default: %(default)s)')
    generate.add_argument('--top-k', type=POSITIVE_INT, metavar='K',
                          help='sample among the K most likely tokens only')
    generate.add_argument('--seed', type=int, help='seed of the sampler')
    generate.add_argument('--device', choices=DEVICES, default='auto',
                          help='as for train (default: %(default)s)')
    generate.set_defaults(handler=commands.run_generate)
    return parser


def check_options(parser, args):
    """Exit with status 2 and one line if the options do not make a command."""
    def error(message):
        parser.exit(2, f'{parser.prog} {args.command}: error: {message} '
                       f'(see {parser.prog} {args.command} --help)\n')
    if args.command == 'launch':
        command = args.train[1:] if args.train[:1] == ['--'] else args.train
        if command[:1] != ['train']:
            error('give the command after --: launch -n 2 -- train --kvstore dist_sync ...')
        kvstore = next((value for flag, value in zip(command, command[1:] + [''])
                        if flag == '--kvstore'), None) or next(
            (item.split('=', 1)[1] for item in command if item.startswith('--kvstore=')), None)
        if not (kvstore or '').startswith('dist'):
            error('the workers need a distributed kvstore: add --kvstore dist_sync (or '
                  'dist_device_sync) to the train command')
        args.train = command
        return
    if args.command != 'train':
        if args.command == 'compare' and 'corpus' not in vars(args):
            error('the following arguments are required: --corpus')
        return
    if args.resume:
        if args.out and os.path.abspath(args.out) != os.path.abspath(args.resume):
            error(f'--out {args.out} and --resume {args.resume} name different folders')
    elif not args.out or 'corpus' not in vars(args):
        error('the following arguments are required: '
              + ', '.join(o for o, missing in (('--corpus', 'corpus' not in vars(args)),
                                               ('--out', not args.out)) if missing))


def main(argv=None):
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    try:
        args.handler(args)
    except UserError as err:
        print(f'd2lrnn {args.command}: error: {err}', file=sys.stderr)
        sys.exit(1)
