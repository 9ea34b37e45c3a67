"""d2lrnn: the helper package of a runnable textbook on deep recurrent neural networks.

Every public helper is taught in a chapter (its docstring says which) and kept identical
to the chapter's code by ``tests/test_drift.py``.

Importing ``d2lrnn`` before MXNet is what every chapter, test, benchmark and the command line
do first: it fixes what MXNet reads only when it loads.

* ``OMP_NUM_THREADS``: MXNet otherwise hands OpenMP half the cores, and a fixed count keeps
  CPU training bit-identical between runs (OpenBLAS splits its sums by thread).
* ``DNNL_MAX_CPU_ISA=AVX2`` and ``OPENBLAS_CORETYPE=Haswell``: oneDNN (fused layers, dense
  layers) and OpenBLAS (``nd.dot``) pick their kernels by instruction set, and kernels for
  AVX-512 round differently from AVX2 ones; pinned, every x86-64 machine with AVX2 computes
  the same bits, so the stored outputs reproduce anywhere. ``DNNL_MAX_CPU_ISA=ALL`` lifts it.
* ``np.bool``: MXNet 1.9.1 still uses the alias that NumPy 1.24 removed (Python >= 3.12 needs
  such a NumPy); it is put back as ``bool``.

A value the user set in the environment is respected.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
os.environ.setdefault('DNNL_MAX_CPU_ISA', 'AVX2')
os.environ.setdefault('OPENBLAS_CORETYPE', 'Haswell')
os.environ.setdefault('MXNET_STORAGE_FALLBACK_LOG_VERBOSE', '0')

import numpy as np  # noqa: E402

if np.lib.NumpyVersion(np.__version__) >= '1.24.0':
    np.bool = bool

from .runtime import QUICK, full_or_quick, seed_everything  # noqa: E402

__version__ = '0.1.0'
__all__ = ['QUICK', 'full_or_quick', 'seed_everything', '__version__']
