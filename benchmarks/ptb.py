"""PTB end to end on the CPU: Zaremba et al.'s small LSTM language model, with the book's code.

The CPU configuration is the "small" model of Zaremba, Sutskever and Vinyals (2014) — 2 LSTM
layers of 200 units, 200-dimensional embeddings, weights uniform in [-0.1, 0.1], SGD with
learning rate 1 halved after every epoch from the 4th on, 13 epochs, gradient clipped to
norm 5, batch 20, 20 steps — with two of chapter 07's regularisers added: the embedding
tied to the output layer and dropout 0.2 on the vertical connections (into every layer
and out of the top one). Without them (``--no-tie-weights --dropout 0``) it is the paper's
unregularised model, which over-fits after a few epochs and reaches test perplexity 114.5
in the paper and 115.9 in TensorFlow's PTB tutorial. The target here is test perplexity
<= 115 in at most 2 hours on 2 CPU cores.

Units: Zaremba et al.'s loss is summed over the time steps of a sequence (and averaged over
the batch); the book's ``train_step`` averages over every token. The summed loss's gradient
is ``num_steps`` times larger, so their update ``lr * clip(g_sum, 5)`` is ours with learning
rate ``lr * num_steps`` and clipping threshold ``5 / num_steps``. ``--lr`` and ``--clip`` are
given in their units and converted (with 20 steps the defaults become PyTorch
word_language_model's ``--lr 20 --clip 0.25``).

It trains with the book's loop, ``d2lrnn.training.train``, and chapter 07's
``PlateauSchedule`` (the full validation set after every epoch, the best epoch's parameters
kept and measured on the test set) and prints one JSON object per line: the configuration
first, then one per epoch (``epoch``, ``lr``, ``train_ppl``, ``val_ppl``, ``tokens_per_s``,
``seconds``), then the result (``best_epoch``, ``best_val_ppl``, ``test_ppl``,
``stopped_early``, ``epochs``, ``median_tokens_per_s`` over the epochs, and the ``seconds`` and
``minutes`` this process trained and tested). With ``--out DIR`` every epoch is committed to
the run folder ``DIR`` (``d2lrnn/runs.py``) and ``--resume`` continues from it. A benchmark,
not a test: run it by hand, e.g.

    OMP_NUM_THREADS=2 python benchmarks/ptb.py --out runs/ptb-small
    OMP_NUM_THREADS=2 python benchmarks/ptb.py --out runs/ptb-small --resume   # after a stop

``--preset seed`` is the seed's recipe instead (chapter 07; PyTorch word_language_model's
``--emsize 650 --nhid 650 --dropout 0.5 --tied --epochs 40``): 2 x 650, tied, dropout 0.5,
batch 20, 35 steps, learning rate 20 and clipping 0.25 in mean-loss units (20 / 35 and
0.25 x 35 here), divided by 4 after every epoch without a new best, 40 epochs. After the
first epoch a ``projection`` line gives the hours the whole run would take at that epoch's
pace (training and validation).
"""
import argparse
import json
import os
import statistics
import sys
import time

# A long run: oneDNN with every instruction set of the processor (about 1.6x the AVX2 pin of
# the chapters on AVX-512; benchmarks/isa.py), unless the caller set it. Recorded below.
os.environ.setdefault('DNNL_MAX_CPU_ISA', 'ALL')
import d2lrnn  # noqa: E402  (before MXNet: the thread count and the OpenBLAS pin)
import mxnet as mx  # noqa: E402

from d2lrnn import runs  # noqa: E402
from d2lrnn.models import count_params  # noqa: E402
from d2lrnn.registry import model_config  # noqa: E402
from d2lrnn.regularization import RegularizedRNNModel  # noqa: E402
from d2lrnn.schedule import PlateauSchedule  # noqa: E402
from d2lrnn.text import load_corpus  # noqa: E402
from d2lrnn.training import Updater, evaluate_perplexity, train  # noqa: E402


PRESETS = {  # option defaults; the summed-loss units of --lr and --clip (see "Units")
    'small': {},
    'seed': dict(epochs=40, num_hiddens=650, dropout=0.5, lr=20 / 35, lr_decay=4.0,
                 decay_start=None, clip=0.25 * 35, num_steps=35),
}


def decay_start_option(text):
    """``--decay-start``: an epoch number, or 'plateau' for chapter 07's plateau rule."""
    return None if text == 'plateau' else int(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--preset', choices=list(PRESETS), default='small',
                        help='the recipe whose defaults the other options change: '
                             '%(choices)s (default: %(default)s)')
    parser.add_argument('--epochs', type=int, default=13, help='epochs (default: %(default)s)')
    parser.add_argument('--num-hiddens', type=int, default=200,
                        help='units per layer = embedding size (default: %(default)s)')
    parser.add_argument('--num-layers', type=int, default=2, help='(default: %(default)s)')
    parser.add_argument('--dropout', type=float, default=0.2,
                        help='dropout into every layer and out of the top one '
                             '(default: %(default)s)')
    parser.add_argument('--tie-weights', action=argparse.BooleanOptionalAction, default=True,
                        help='share the embedding and output weights (default: %(default)s)')
    parser.add_argument('--lr', type=float, default=1.0,
                        help='learning rate for the loss summed over time (default: %(default)s)')
    parser.add_argument('--lr-decay', type=float, default=2.0,
                        help='divide the learning rate by this after every epoch from '
                             '--decay-start on (default: %(default)s)')
    parser.add_argument('--decay-start', type=decay_start_option, default=4,
                        help="an epoch, or 'plateau': divide after every epoch without a "
                             'new best (default: %(default)s)')
    parser.add_argument('--clip', type=float, default=5.0,
                        help='clipping threshold for the loss summed over time '
                             '(default: %(default)s)')
    parser.add_argument('--batch-size', type=int, default=20, help='(default: %(default)s)')
    parser.add_argument('--num-steps', type=int, default=20, help='(default: %(default)s)')
    parser.add_argument('--init-scale', type=float, default=0.1,
                        help='weights uniform in [-s, s] (default: %(default)s)')
    parser.add_argument('--max-tokens', type=int,
                        help='keep only the first N tokens of each split (a quick try)')
    parser.add_argument('--seed', type=int, default=0, help='(default: %(default)s)')
    parser.add_argument('--out', help='the run folder: every epoch is committed there')
    parser.add_argument('--resume', action='store_true', help='continue the run in --out')
    preset, _ = parser.parse_known_args()
    parser.set_defaults(**PRESETS[preset.preset])
    args = parser.parse_args()
    if args.resume and not args.out:
        parser.error('--resume needs --out, the folder of the run to continue')
    if args.out and not args.resume and runs.holds_run(args.out):
        parser.error(f'{args.out} already holds a run: add --resume, or choose another --out')

    def emit(record):
        print(json.dumps(record), flush=True)

    ctx = mx.cpu()
    corpus = load_corpus('ptb', max_tokens=args.max_tokens)
    d2lrnn.seed_everything(args.seed)
    model = RegularizedRNNModel('lstm', len(corpus.vocab), args.num_hiddens, args.num_layers,
                                embed_size=args.num_hiddens, dropout=args.dropout,
                                tie_weights=args.tie_weights)
    model.initialize(mx.init.Uniform(args.init_scale), ctx=ctx)
    model.hybridize(static_alloc=True, static_shape=True)
    # the book's loss is a mean over tokens: see "Units" above
    lr, clip = args.lr * args.num_steps, args.clip / args.num_steps
    schedule = PlateauSchedule(lr, args.lr_decay, args.decay_start, seed=args.seed)
    updater = Updater(model, lr, ctx)
    if args.resume and not runs.resume_run(args.out, model, schedule, updater):
        sys.exit(f'{args.out} holds no finished epoch to resume from')
    options = {k: v for k, v in vars(args).items() if k not in ('out', 'resume')}
    config = dict(model=model_config(model), corpus=dict(name='ptb', level='word',
                                                         max_tokens=args.max_tokens),
                  training=dict(options, mean_loss_lr=lr, mean_loss_clip=clip,
                                script='benchmarks/ptb.py'))
    if args.out and not args.resume:
        runs.start_run(args.out, config, corpus.vocab)
    emit(dict(options, mean_loss_lr=lr, mean_loss_clip=clip, vocab_size=len(corpus.vocab),
              train_tokens=len(corpus.train), parameters=count_params(model),
              threads=os.environ.get('OMP_NUM_THREADS'),
              isa=os.environ['DNNL_MAX_CPU_ISA'],
              resumed_after_epoch=schedule.epoch if args.resume else None))
    for record in schedule.history:
        emit(record)

    def on_epoch(schedule):
        if args.out:
            runs.save_epoch(args.out, model, schedule, updater)
        emit(schedule.history[-1])
        if schedule.epoch == first_epoch:  # training and validation, at this epoch's pace
            seconds = time.time() - start
            emit(dict(projection=dict(epochs=args.epochs, seconds_per_epoch=round(seconds, 1),
                                      hours=round(seconds * args.epochs / 3600, 2))))

    first_epoch = schedule.epoch + 1
    start = time.time()
    train(model, corpus, schedule, args.epochs, ctx, batch_size=args.batch_size,
          num_steps=args.num_steps, clip_theta=clip, plot=False, updater=updater,
          on_epoch=on_epoch)
    result = dict(best_epoch=schedule.best_epoch, best_val_ppl=schedule.best_val_ppl,
                  test_ppl=evaluate_perplexity(model, corpus.test, ctx,
                                               num_steps=args.num_steps),
                  stopped_early=schedule.stopped_early, epochs=schedule.epoch)
    if args.out:
        runs.save_result(args.out, result)
    seconds = time.time() - start
    speed = statistics.median(record['tokens_per_s'] for record in schedule.history)
    emit(dict(result, median_tokens_per_s=speed, seconds=seconds, minutes=seconds / 60))


if __name__ == '__main__':
    main()
