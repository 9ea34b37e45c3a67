"""The depth study of chapter 10: when does depth pay?

Every run trains a ``DeepRNNModel`` with the book's loop and chapter 07's plateau schedule
(the learning rate divided by 4 after every epoch that does not lower the best validation
perplexity by more than 0.1 %, the run stopped after ``patience`` = 2 such epochs in a row:
*converged*, recorded per row; a run that reaches the epoch cap instead is marked
unconverged). Without the 0.1 % margin, a run whose rate had decayed a millionfold still
crept to new bests by ten-thousandths and ran to the cap. The parts, in the order
they run:

``char-params``    Tiny Shakespeare by characters (90/5/5 % train/validation/test), LSTM and
                   GRU, 1-4 layers at one parameter budget (the 2 x 128 LSTM's, ~240 k)
``word-params``    PTB by words, the first 25 % of its training split (full validation and
                   test, full vocabulary), tied embeddings, dropout 0.3, LSTM with 1-4 layers
                   at the 1 x 200 LSTM's budget (~2.3 M, most of it the embedding)
``char-data``      the LSTM of ``char-params`` on the first 10 % and 30 % of the training text,
                   with as many updates allowed (1 / f times the epochs) and no decay or stop
                   in the first 3 / f epochs
``char-remedies``  the LSTM of ``char-params`` at 2 and 4 layers with one remedy each:
                   forget-gate bias 1, residual connections, dropout 0.2 between layers
``char-lr``        the LSTM at 1 and 4 layers at learning rates 0.002 and 0.008 (0.004
                   elsewhere)
``char-width``     LSTM and GRU at 128 units whatever the depth (equal width; the 2 x 128
                   LSTM is the same run as in ``char-params``: a run is its configuration)
``char-combined``  the 4-layer LSTM of ``char-params`` with all three remedies of
                   ``char-remedies`` at once (chapter 10, exercise 1)
``char-projection`` the 4-layer residual LSTM whose first layer gets a residual connection
                   too, through a learned projection of its input (chapter 10, exercise 2)

Three seeds everywhere. Cut to fit six hours on two cores: the GRU on words. A word-level
run takes 20-30 s per epoch and 10-20 epochs where a character-level one takes 7-10 s and
12-20, so the 24 word runs with both cells alone would have cost about three hours; the GRU
against the LSTM and depth is measured on characters. ``python studies/depth.py`` trains what
is missing (``--parts`` to choose), appending one row per run to
``studies/results/depth.jsonl``; run folders go to ``studies/runs/depth/`` (not committed) so
a killed run continues from its last epoch.
``FINISHED`` names the parts whose every run has a row: the tests check that they do.
The study runs with oneDNN's full instruction set of the machine (1.5x faster here than the
book's AVX2 pin); each row records the set, the thread count and the commit.
"""
import argparse
import os
import sys

os.environ.setdefault('DNNL_MAX_CPU_ISA', 'ALL')  # before d2lrnn, whose default pins AVX2
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import d2lrnn  # noqa: E402,F401  (thread count before MXNet)
from d2lrnn.depth import DeepRNNModel, param_count, width_for_budget  # noqa: E402
from d2lrnn.study import run_study  # noqa: E402

RESULTS = os.path.join(HERE, 'results', 'depth.jsonl')
RUNS = os.path.join(HERE, 'runs', 'depth')
SEEDS = (0, 1, 2)
DEPTHS = (1, 2, 3, 4)
CELLS = ('lstm', 'gru')
CHAR = dict(
    corpus=dict(name='tinyshakespeare', level='char', max_tokens=None, valid_fraction=0.05,
                test_fraction=0.05, train_fraction=1.0),
    vocab_size=65, embed_size=None, tie_weights=False, dropout=0.0,
    training=dict(epochs=40, optimizer='adam', lr=0.004, batch_size=64, num_steps=50, clip=1.0,
                  lr_decay=4.0, decay_start=None, patience=2, min_improvement=0.001,
                  device='cpu'))
WORD = dict(
    corpus=dict(name='ptb', level='word', max_tokens=None, train_fraction=0.25),
    vocab_size=10000, tie_weights=True, dropout=0.3,
    training=dict(epochs=30, optimizer='sgd', lr=20.0, batch_size=20, num_steps=35, clip=0.25,
                  lr_decay=4.0, decay_start=None, patience=2, min_improvement=0.001,
                  device='cpu'))
# On a fraction f of the text an epoch holds f times the updates: runs on a fraction get 1 / f
# times the epochs, and no decay or stop before 3 / f epochs (a deep model may spend the first
# few hundred updates on the unigram plateau; chapter 10 measures it).
WARM_UP_EPOCHS = 3
CHAR_BUDGET = param_count('lstm', CHAR['vocab_size'], 128, 2)
WORD_BUDGET = param_count('lstm', WORD['vocab_size'], 200, 1, 200, tie_weights=True)


def run_config(setting, cell, num_layers, seed, num_hiddens=None, budget=None,
               train_fraction=None, lr=None, **model_options):
    """The run-folder configuration of one run: ``setting`` (``CHAR`` or ``WORD``) with the
    width given or sized to ``budget`` parameters."""
    tie = setting['tie_weights']
    if num_hiddens is None:
        num_hiddens = width_for_budget(budget, cell, setting['vocab_size'], num_layers,
                                       setting.get('embed_size'), tie,
                                       model_options.get('input_projection', False))
    kwargs = dict(cell=cell, vocab_size=setting['vocab_size'], num_hiddens=num_hiddens,
                  num_layers=num_layers, embed_size=num_hiddens if tie else setting['embed_size'],
                  dropout=setting['dropout'], variational=False, embed_dropout=0.0,
                  tie_weights=tie, residual=False, forget_bias=0.0)
    kwargs.update(model_options)
    corpus, training = dict(setting['corpus']), dict(setting['training'], seed=seed)
    if train_fraction is not None:  # as many updates allowed, and as many before any decay
        corpus['train_fraction'] = train_fraction
        training.update(epochs=round(training['epochs'] / train_fraction),
                        min_epochs=round(WARM_UP_EPOCHS / train_fraction))
    if lr is not None:
        training['lr'] = lr
    return dict(model=dict({'class': DeepRNNModel.__name__}, kwargs=kwargs), corpus=corpus,
                training=training)


def grid(setting, cells=CELLS, depths=DEPTHS, **options):
    return [run_config(setting, cell, depth, seed, **options)
            for cell in cells for depth in depths for seed in SEEDS]


REMEDIES = dict(forget_bias=dict(forget_bias=1.0), residual=dict(residual=True),
                dropout=dict(dropout=0.2))
PARTS = {
    'char-params': grid(CHAR, budget=CHAR_BUDGET),
    'word-params': grid(WORD, ('lstm',), budget=WORD_BUDGET),
    'char-data': [config for fraction in (0.1, 0.3)
                  for config in grid(CHAR, ('lstm',), budget=CHAR_BUDGET,
                                     train_fraction=fraction)],
    'char-remedies': [config for remedy in REMEDIES.values()
                      for config in grid(CHAR, ('lstm',), (2, 4), budget=CHAR_BUDGET, **remedy)],
    'char-lr': [config for lr in (0.002, 0.008)
                for config in grid(CHAR, ('lstm',), (1, 4), budget=CHAR_BUDGET, lr=lr)],
    'char-width': grid(CHAR, num_hiddens=128),  # its 2 x 128 LSTM is char-params' too
    # chapter 10's exercises 1 and 2
    'char-combined': grid(CHAR, ('lstm',), (4,), budget=CHAR_BUDGET, forget_bias=1.0,
                          residual=True, dropout=0.2),
    'char-projection': grid(CHAR, ('lstm',), (4,), budget=CHAR_BUDGET, residual=True,
                            input_projection=True),
}
FINISHED = tuple(PARTS)  # every part has all its rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--parts', nargs='+', choices=list(PARTS), metavar='PART',
                        help=f'the parts to run (default: all, in order): {", ".join(PARTS)}')
    args = parser.parse_args(argv)
    trained = run_study(PARTS, RESULTS, RUNS, args.parts)
    print(f'depth study: {trained} run(s) trained; results in {RESULTS}')


if __name__ == '__main__':
    main()
