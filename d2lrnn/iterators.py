"""Minibatches of (input, label) subsequences for language models.

Taught in chapter 01. Both schemes follow d2l's section 8.3: every label is the token that
follows its input token. *Random sampling* draws non-overlapping subsequences from random
places, so two neighbouring minibatches are unrelated and the hidden state must be reset.
*Sequential partitioning* cuts the corpus into ``batch_size`` long rows, and minibatch ``i + 1``
continues each row of minibatch ``i``, so the hidden state can be carried across minibatches.
"""
import random

import numpy as np

from .checks import check_number


def check_minibatch_args(indices, batch_size, num_steps):
    """Raise ``ValueError`` unless ``indices`` (a list of token indices) hold one minibatch."""
    check_number('batch_size', batch_size, integer=True, low=1)
    check_number('num_steps', num_steps, integer=True, low=1)
    needed = batch_size * num_steps + 1
    if len(indices) < needed:
        raise ValueError(
            f'a list of {len(indices)} tokens is shorter than one minibatch: '
            f'batch_size * num_steps + 1 = {needed} tokens are needed')


def seq_data_iter_random(indices, batch_size, num_steps):
    """Yield ``(X, Y)`` int32 arrays of shape (batch_size, num_steps) from random places.

    Taught in chapter 01. A random offset in ``[0, num_steps)`` starts the epoch; each
    subsequence is used at most once per epoch; a last incomplete minibatch is dropped.
    """
    check_minibatch_args(indices, batch_size, num_steps)
    indices = np.asarray(indices[random.randint(0, num_steps - 1):], dtype=np.int32)
    num_subseqs = (len(indices) - 1) // num_steps
    starts = list(range(0, num_subseqs * num_steps, num_steps))
    random.shuffle(starts)
    for i in range(0, num_subseqs // batch_size * batch_size, batch_size):
        batch_starts = starts[i: i + batch_size]
        X = np.stack([indices[j: j + num_steps] for j in batch_starts])
        Y = np.stack([indices[j + 1: j + 1 + num_steps] for j in batch_starts])
        yield X, Y


def seq_data_iter_sequential(indices, batch_size, num_steps, offset=None, keep_last=False):
    """Yield ``(X, Y)`` int32 arrays of shape (batch_size, num_steps) that continue each other.

    Taught in chapter 01. Row ``b`` of minibatch ``i + 1`` starts where row ``b`` of minibatch
    ``i`` ended. ``offset`` (default: random in ``[0, num_steps]``, as in d2l) is where the
    partition starts; ``keep_last`` also yields a last, shorter minibatch, so that evaluation
    covers every token.
    """
    check_minibatch_args(indices, batch_size, num_steps)
    if offset is None:
        offset = random.randint(0, num_steps)
    row_len = (len(indices) - offset - 1) // batch_size
    Xs = np.asarray(indices[offset: offset + batch_size * row_len], dtype=np.int32)
    Ys = np.asarray(indices[offset + 1: offset + 1 + batch_size * row_len], dtype=np.int32)
    Xs, Ys = Xs.reshape(batch_size, row_len), Ys.reshape(batch_size, row_len)
    end = row_len if keep_last else row_len // num_steps * num_steps
    for i in range(0, end, num_steps):
        yield Xs[:, i: i + num_steps], Ys[:, i: i + num_steps]


def bptt_batches(indices, batch_size, num_steps=35):
    """Word-LM layout (batch 20 for training, 10 for evaluation, 35 steps in the seed): the
    token indices cut into ``batch_size`` rows from the first, read in windows of ``num_steps``
    with the last window kept, so every token but the very last is predicted once.

    Introduced in chapter 01.
    """
    return seq_data_iter_sequential(indices, batch_size, num_steps, offset=0, keep_last=True)


class SeqDataLoader:
    """Re-iterable minibatch loader over a list of token indices.

    Introduced in chapter 01. Each ``iter()`` starts a new epoch with fresh random offsets.
    """

    def __init__(self, indices, batch_size, num_steps, use_random_iter=False):
        check_minibatch_args(indices, batch_size, num_steps)
        self.indices, self.batch_size, self.num_steps = indices, batch_size, num_steps
        self.use_random_iter = use_random_iter

    def __iter__(self):
        make = seq_data_iter_random if self.use_random_iter else seq_data_iter_sequential
        return make(self.indices, self.batch_size, self.num_steps)
