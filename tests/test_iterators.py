import random

import numpy as np
import pytest

from d2lrnn.iterators import (SeqDataLoader, bptt_batches, seq_data_iter_random,
                              seq_data_iter_sequential)

CORPUS = list(range(1000))  # token i has index i, so "the next token" is "+ 1"


@pytest.mark.parametrize('make', [seq_data_iter_random, seq_data_iter_sequential])
def test_labels_are_next_tokens_and_shapes(make):
    random.seed(0)
    batches = list(make(CORPUS, 4, 7))
    assert batches
    for X, Y in batches:
        assert X.shape == Y.shape == (4, 7)
        assert X.dtype == np.int32
        np.testing.assert_array_equal(Y, X + 1)


def test_sequential_rows_continue_across_minibatches():
    for seed in range(5):
        random.seed(seed)
        batches = list(seq_data_iter_sequential(CORPUS, 3, 5))
        assert len(batches) > 1
        for (X0, _), (X1, _) in zip(batches, batches[1:]):
            np.testing.assert_array_equal(X1[:, 0], X0[:, -1] + 1)


def test_random_uses_each_subsequence_at_most_once_per_epoch():
    for seed in range(5):
        random.seed(seed)
        starts = [row[0] for X, _ in seq_data_iter_random(CORPUS, 4, 7) for row in X]
        assert len(starts) == len(set(starts))
        offset = starts[0] % 7
        assert all(s % 7 == offset for s in starts)  # aligned, so no two overlap
        assert len(starts) == (len(CORPUS) - 1 - offset) // 7 // 4 * 4


def test_random_batches_are_not_continuations():
    random.seed(1)
    batches = list(seq_data_iter_random(CORPUS, 4, 7))
    continued = [np.array_equal(X1[:, 0], X0[:, -1] + 1)
                 for (X0, _), (X1, _) in zip(batches, batches[1:])]
    assert not all(continued)


def test_bptt_batches_cover_every_token_once():
    X_all, Y_all = zip(*bptt_batches(list(range(103)), 4, 7))
    assert X_all[0].shape == (4, 7) and X_all[-1].shape == (4, 25 % 7)
    X = np.concatenate(X_all, axis=1)
    Y = np.concatenate(Y_all, axis=1)
    np.testing.assert_array_equal(X.reshape(-1), np.arange(100))
    np.testing.assert_array_equal(Y, X + 1)


def test_loader_is_reiterable_and_seeded():
    loader = SeqDataLoader(CORPUS, 2, 5, use_random_iter=True)
    random.seed(3)
    first = [X.copy() for X, _ in loader]
    random.seed(3)
    again = [X.copy() for X, _ in loader]
    assert len(first) == len(again) > 0
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('kwargs, message', [
    (dict(indices=list(range(10)), batch_size=2, num_steps=5), 'shorter than one minibatch'),
    (dict(indices=CORPUS, batch_size=0, num_steps=5), 'batch_size must be an integer >= 1, got 0'),
    (dict(indices=CORPUS, batch_size=2, num_steps=0), 'num_steps must be an integer >= 1, got 0'),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SeqDataLoader(**kwargs)
    with pytest.raises(ValueError, match=message):
        next(seq_data_iter_sequential(**kwargs))
