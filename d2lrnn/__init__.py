"""d2lrnn: the helper package of a runnable textbook on deep recurrent neural networks.

Every public helper is taught in a chapter (its docstring says which) and kept identical
to the chapter's code by ``tests/test_drift.py``.
"""
import os

# MXNet hands OpenMP only half the cores unless told; a fixed count also keeps CPU
# training bit-identical between runs. Respect a value the user set.
os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
os.environ.setdefault('MXNET_STORAGE_FALLBACK_LOG_VERBOSE', '0')

from .runtime import QUICK, pick, seed_everything  # noqa: E402

__version__ = '0.1.0'
__all__ = ['QUICK', 'pick', 'seed_everything', '__version__']
