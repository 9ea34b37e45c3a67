"""Shared fixtures: a temporary cache folder, and the mirror of the corpora when present.

``d2lrnn`` is imported here, before any test module imports MXNet: it pins the threads and
instruction sets and, on NumPy >= 1.24 (Python >= 3.12), puts back the ``np.bool`` alias that
MXNet 1.9.1 needs when it loads.
"""
import os

import pytest

import d2lrnn  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line('markers', 'launch: starts parameter-server jobs (processes on '
                                       '127.0.0.1); .ci/run runs them on Python 3.11 only')

SHARED_DATA = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data')


@pytest.fixture
def mirror():
    """The folder of mirrored corpora (``$D2LRNN_DATA_MIRROR`` or ``../shared/data``)."""
    folder = os.environ.get('D2LRNN_DATA_MIRROR') or SHARED_DATA
    if not os.path.isfile(os.path.join(folder, 'timemachine.txt')):
        pytest.skip('no corpus mirror: set D2LRNN_DATA_MIRROR')
    return os.path.abspath(folder)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache folder, with no mirror configured."""
    folder = tmp_path / 'cache'
    monkeypatch.setenv('D2LRNN_DATA_DIR', str(folder))
    monkeypatch.delenv('D2LRNN_DATA_MIRROR', raising=False)
    return folder
