"""The study runner (``d2lrnn.study``) and the committed results of ``studies/depth.py`` and
``studies/ladder_isa.py``."""
import copy
import json
import os
import sys

import pytest

from d2lrnn import runs
from d2lrnn.commands import train_run
from d2lrnn.study import (SEED_VERDICTS, StudyError, check_results, load_results, rank_separation,
                          run_id, run_study, seed_verdict)
from d2lrnn.text import load_corpus

ROOT = os.path.join(os.path.dirname(__file__), '..')
sys.path.insert(0, os.path.join(ROOT, 'studies'))
import depth as depth_study  # noqa: E402
import ladder_isa  # noqa: E402

TIMING = ('seconds', 'tokens_per_s')


def test_stored_results_match_the_grid():
    """Every committed row is a run of the grid, sealed, consistent with its own history,
    and every part the study calls finished has all its rows."""
    rows = load_results(depth_study.RESULTS)
    check_results(depth_study.PARTS, rows, depth_study.FINISHED, depth_study.RESULTS)


def test_ladder_isa_rows_match_its_grid():
    """The same for chapter 07's ladder under every instruction set: twelve runs, one row each
    once the study is marked finished, every row a run of the grid."""
    parts = ladder_isa.parts()
    assert len({run_id(config) for config in parts['ladder']}) == 12
    check_results(parts, load_results(ladder_isa.RESULTS), ladder_isa.FINISHED,
                  ladder_isa.RESULTS)


def test_grid_names_each_run_once_and_sizes_to_the_budget():
    for configs in depth_study.PARTS.values():
        assert len({run_id(config) for config in configs}) == len(configs)
    from d2lrnn.depth import param_count
    for config in depth_study.PARTS['char-params'] + depth_study.PARTS['word-params']:
        kwargs = config['model']['kwargs']
        budget = (depth_study.CHAR_BUDGET if kwargs['vocab_size'] == 65
                  else depth_study.WORD_BUDGET)
        count = param_count(kwargs['cell'], kwargs['vocab_size'], kwargs['num_hiddens'],
                            kwargs['num_layers'], kwargs['embed_size'], kwargs['tie_weights'])
        assert abs(count - budget) / budget < 0.02, (kwargs, count, budget)


def tiny_config(mirror_corpus_vocab, num_layers, seed=0, epochs=2):
    """A run of the grid's format, small enough for CI (a few seconds)."""
    config = copy.deepcopy(depth_study.run_config(depth_study.CHAR, 'lstm', num_layers, seed,
                                                  num_hiddens=12))
    config['corpus']['max_tokens'] = 3000
    config['model']['kwargs']['vocab_size'] = mirror_corpus_vocab
    config['training'].update(epochs=epochs, batch_size=8, num_steps=10)
    return config


@pytest.fixture
def tiny_study(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    corpus_args = dict(depth_study.CHAR['corpus'], max_tokens=3000)
    name = corpus_args.pop('name')
    vocab_size = len(load_corpus(name, **corpus_args).vocab)
    parts = {'tiny': [tiny_config(vocab_size, layers) for layers in (1, 2)]}
    return parts, str(tmp_path / 'results.jsonl'), str(tmp_path / 'runs')


def untimed(history):
    return [{k: v for k, v in record.items() if k not in TIMING} for record in history]


def test_runner_trains_what_is_missing_and_catches_tampering(tiny_study, capsys):
    parts, results, runs_dir = tiny_study
    assert run_study(parts, results, runs_dir) == 2
    rows = load_results(results)
    check_results(parts, rows, ['tiny'])
    assert run_study(parts, results, runs_dir) == 0  # nothing missing: nothing trained
    for row in rows.values():
        assert row['epochs'] == len(row['history']) == 2 and not row['converged']
        folder = os.path.join(runs_dir, row['id'])
        assert sorted(f for f in os.listdir(folder) if f.endswith('.params')) == [runs.PARAMS]
    lines = open(results).read().splitlines()

    edited = json.loads(lines[0])
    edited['best_val_ppl'] *= 0.9  # a hand-made improvement
    with open(results, 'w') as f:
        f.write('\n'.join([json.dumps(edited)] + lines[1:]) + '\n')
    with pytest.raises(StudyError, match='line 1: not a row written by the study'):
        load_results(results)

    with open(results, 'w') as f:  # a row lost
        f.write(lines[0] + '\n')
    with pytest.raises(StudyError, match="part 'tiny' is marked finished but lacks"):
        check_results(parts, load_results(results), ['tiny'])
    check_results(parts, load_results(results), [])  # unfinished parts may be partial

    with open(results, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    changed = {'tiny': [copy.deepcopy(config) for config in parts['tiny']]}
    changed['tiny'][0]['training']['lr'] = 0.001  # the grid changed: that row is stale
    with pytest.raises(StudyError, match='is not a run of the grid'):
        check_results(changed, load_results(results), [])


def test_a_killed_run_continues_from_its_last_epoch(tiny_study):
    """A run folder with one committed epoch (as a killed study leaves it) is continued, and
    the row equals that of a run trained without interruption."""
    parts, results, runs_dir = tiny_study
    config = parts['tiny'][1]
    folder = os.path.join(runs_dir, run_id(config))
    name = config['corpus']['name']
    corpus = load_corpus(name, **{k: v for k, v in config['corpus'].items() if k != 'name'})
    import mxnet as mx
    first_epoch = copy.deepcopy(config)
    first_epoch['training']['epochs'] = 1
    train_run(folder, first_epoch, corpus, mx.cpu())
    assert run_study({'tiny': [config]}, results, runs_dir) == 1
    resumed = load_results(results)[run_id(config)]
    other = str(os.path.join(os.path.dirname(results), 'other.jsonl'))
    run_study({'tiny': [config]}, other, os.path.join(runs_dir, 'other'))
    uninterrupted = load_results(other)[run_id(config)]
    assert untimed(resumed['history']) == untimed(uninterrupted['history'])
    assert resumed['test_ppl'] == uninterrupted['test_ppl']


def test_rank_separation_needs_the_ranges_apart():
    assert rank_separation([4.8, 4.9, 5.0], [5.1, 5.2, 5.3]) == -1
    assert rank_separation([5.4, 5.5], [5.1, 5.2, 5.3]) == 1
    assert rank_separation([4.8, 5.2, 5.0], [5.1, 5.2, 5.3]) == 0
    assert rank_separation([5.1], [5.1, 5.2]) == 0  # a tie is no separation
    with pytest.raises(ValueError, match='at least one value'):
        rank_separation([], [5.0])


def test_seed_verdict_words_each_outcome_differently():
    assert seed_verdict([4.8, 4.9, 5.0], [5.1, 5.2, 5.3]) == 'lower in every seed'
    assert seed_verdict([5.4, 5.5], [5.1, 5.2, 5.3]) == 'higher in every seed'
    assert seed_verdict([4.8, 5.2, 5.0], [5.1, 5.2, 5.3]) == 'within the seed spread'
    assert len(set(SEED_VERDICTS.values())) == 3
