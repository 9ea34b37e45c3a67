"""Chapter 07's ladder under oneDNN's full instruction set: do its verdicts survive the processor?

The chapters pin oneDNN to AVX2, so that their numbers repeat on any x86-64 processor
(chapter 01). Without the pin, an AVX-512 processor runs other kernels, whose rounding differs,
and a few epochs of training amplify the difference. This study trains every rung of the
ladder of section 7.6, seeds 0, 1 and 2, with the book's loop as the command line runs it
(chapter 07 shows that it reproduces the chapter's runs exactly), in a process that lets
oneDNN use every instruction set of the machine; one row per run goes to
``studies/results/ladder-isa.jsonl``, recording the set. Chapter 07 sets the rows beside its
own runs, pinned to AVX2, and says whether each rung's verdict holds under both.
``python studies/ladder_isa.py`` trains only the runs its results file lacks (about three
minutes on two cores).
"""
import os
import sys

os.environ.setdefault('DNNL_MAX_CPU_ISA', 'ALL')  # before d2lrnn, whose default pins AVX2
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import d2lrnn  # noqa: E402,F401  (thread count before MXNet)
from d2lrnn.commands import read_corpus  # noqa: E402
from d2lrnn.regularization import RegularizedRNNModel  # noqa: E402
from d2lrnn.study import run_study  # noqa: E402

RESULTS = os.path.join(HERE, 'results', 'ladder-isa.jsonl')
RUNS = os.path.join(HERE, 'runs', 'ladder-isa')
SEEDS = (0, 1, 2)
CORPUS = dict(name='ptb', level='word', max_tokens=20000, min_freq=2)
NUM_HIDDENS, DROPOUT = 128, 0.3
TRAINING = dict(epochs=8, optimizer='sgd', lr=20.0, batch_size=5, num_steps=35, clip=0.25,
                lr_decay=4.0, decay_start=None, patience=None, min_epochs=None,
                min_improvement=0.0, device='cpu')
FINISHED = ('ladder',)  # every run has its row: tests/test_study.py checks them
RUNGS = {  # section 7.6: each rung the previous one plus one ingredient
    'baseline': {},
    '+ dropout': dict(dropout=DROPOUT),
    '+ weight tying': dict(dropout=DROPOUT, tie_weights=True),
    '+ variational dropout': dict(dropout=DROPOUT, tie_weights=True, variational=True),
}


def run_config(rung, seed, vocab_size):
    """The run-folder configuration of one rung from one seed."""
    kwargs = dict(cell='lstm', vocab_size=vocab_size, num_hiddens=NUM_HIDDENS, num_layers=2,
                  embed_size=NUM_HIDDENS, dropout=0.0, variational=False, embed_dropout=0.0,
                  tie_weights=False)
    kwargs.update(RUNGS[rung])
    return dict(model={'class': RegularizedRNNModel.__name__, 'kwargs': kwargs},
                corpus=dict(CORPUS), training=dict(TRAINING, seed=seed))


def parts():
    """The study's one part, every rung from every seed (the vocabulary read from PTB)."""
    vocab_size = len(read_corpus(dict(CORPUS)).vocab)
    return {'ladder': [run_config(rung, seed, vocab_size) for rung in RUNGS for seed in SEEDS]}


def main():
    trained = run_study(parts(), RESULTS, RUNS)
    print(f'ladder under {os.environ["DNNL_MAX_CPU_ISA"]}: {trained} run(s) trained; results '
          f'in {RESULTS}')


if __name__ == '__main__':
    main()
