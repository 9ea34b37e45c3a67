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

It trains with ``d2lrnn.schedule.fit`` (the full validation set after every epoch, the best
epoch's parameters kept and measured on the test set) and prints one JSON object per line:
the configuration first, then one per epoch (``epoch``, ``lr``, ``train_ppl``, ``val_ppl``,
``tokens_per_s``, ``seconds``), then the result (``best_epoch``, ``best_val_ppl``,
``test_ppl``, ``seconds``). With ``--out DIR`` the state is saved after every epoch and
``--resume`` continues from it. A benchmark, not a test: run it by hand, e.g.

    OMP_NUM_THREADS=2 python benchmarks/ptb.py --out runs/ptb-small
    OMP_NUM_THREADS=2 python benchmarks/ptb.py --out runs/ptb-small --resume   # after a stop
"""
import argparse
import json
import os
import sys
import time

import mxnet as mx

import d2lrnn
from d2lrnn.models import count_params
from d2lrnn.regularization import RegularizedRNNModel
from d2lrnn.schedule import fit, load_state, save_state
from d2lrnn.text import load_corpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument('--decay-start', type=int, default=4,
                        help='(default: %(default)s)')
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
    parser.add_argument('--out', help='save the state after every epoch into this folder')
    parser.add_argument('--resume', action='store_true', help='continue the run in --out')
    args = parser.parse_args()
    if args.resume and not args.out:
        parser.error('--resume needs --out, the folder of the run to continue')

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
    state, best = load_state(args.out, model) if args.resume else (None, None)
    if args.resume and state is None:
        sys.exit(f'{args.out} holds no saved state to resume')
    # the book's loss is a mean over tokens: see "Units" above
    lr, clip = args.lr * args.num_steps, args.clip / args.num_steps
    emit(dict(vars(args), mean_loss_lr=lr, mean_loss_clip=clip, vocab_size=len(corpus.vocab),
              train_tokens=len(corpus.train),
              parameters=count_params(model), threads=os.environ.get('OMP_NUM_THREADS'),
              resumed_after_epoch=state.epoch if state else None))
    for record in state.history if state else []:
        emit(record)

    def on_epoch(state, best):
        if args.out:
            save_state(args.out, model, state, best)
        emit(state.history[-1])

    start = time.time()
    state = fit(model, corpus, lr, args.epochs, ctx, batch_size=args.batch_size,
                num_steps=args.num_steps, clip_theta=clip, seed=args.seed,
                lr_decay=args.lr_decay, decay_start=args.decay_start, plot=False,
                state=state, best=best, on_epoch=on_epoch)
    emit(dict(best_epoch=state.best_epoch, best_val_ppl=state.best_val_ppl,
              test_ppl=state.test_ppl, seconds=time.time() - start))


if __name__ == '__main__':
    main()
