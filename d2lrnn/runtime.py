"""Run settings shared by every chapter: quick mode, seeding, thread count.

Introduced in chapter 01. ``D2LRNN_QUICK=1`` (set by ``make test``) shrinks epochs and data so
that every chapter runs in seconds under nbval; ``make book`` leaves it unset (full mode).
"""
import os
import random

import mxnet as mx
import numpy as np

QUICK = os.environ.get('D2LRNN_QUICK', '') not in ('', '0')


def full_or_quick(full, quick):
    """``full`` in a full run, ``quick`` in quick mode (``D2LRNN_QUICK=1``)."""
    return quick if QUICK else full


def seed_everything(seed):
    """Seed Python's ``random``, NumPy and MXNet, the three generators the book draws from."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)
