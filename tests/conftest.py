"""Shared fixtures: a temporary cache folder, and the mirror of the corpora when present."""
import os

import pytest

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
