import os

import pytest

from d2lrnn import data


def test_registry_matches_the_mirror_sha1sums(mirror):
    with open(os.path.join(mirror, 'SHA1SUMS')) as f:
        sums = dict(reversed(line.split()) for line in f if line.strip())
    assert {r.filename: r.sha1 for r in data.REGISTRY.values()} == sums
    for resource in data.REGISTRY.values():
        assert data.sha1sum(os.path.join(mirror, resource.filename)) == resource.sha1


def test_fetch_from_mirror_into_cache(mirror, cache_dir, monkeypatch):
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    path = data.fetch('timemachine')
    assert path == os.path.join(str(cache_dir), 'timemachine.txt')
    assert data.sha1sum(path) == data.REGISTRY['timemachine'].sha1
    assert os.listdir(cache_dir) == ['timemachine.txt']  # no temporary left behind
    monkeypatch.delenv('D2LRNN_DATA_MIRROR')
    assert data.fetch('timemachine') == path  # now served from the cache


def _offline(url, path=None, **kwargs):
    raise ConnectionError(f'no network for {url}')


def test_offline_without_mirror_names_file_address_and_variables(cache_dir, monkeypatch):
    monkeypatch.setattr(data, 'download', _offline)
    with pytest.raises(data.CorpusUnavailableError) as info:
        data.fetch('ptb')
    message = str(info.value)
    for part in ('ptb.zip', data.REGISTRY['ptb'].url, 'D2LRNN_DATA_MIRROR', 'D2LRNN_DATA_DIR'):
        assert part in message
    assert not cache_dir.exists() or os.listdir(cache_dir) == []


def test_interrupted_download_leaves_no_file(cache_dir, monkeypatch):
    def interrupted(url, path=None, **kwargs):
        with open(path, 'wb') as f:
            f.write(b'half a file')
        raise KeyboardInterrupt

    monkeypatch.setattr(data, 'download', interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.fetch('timemachine')
    assert os.listdir(cache_dir) == []


def test_corrupt_download_is_refused(cache_dir, monkeypatch):
    def corrupt(url, path=None, **kwargs):
        with open(path, 'wb') as f:
            f.write(b'not the time machine')
    monkeypatch.setattr(data, 'download', corrupt)
    with pytest.raises(data.ChecksumError, match='does not match'):
        data.fetch('timemachine')
    assert os.listdir(cache_dir) == []


def test_corrupt_cache_is_replaced_by_a_verified_copy(mirror, cache_dir, monkeypatch):
    cache_dir.mkdir()
    cached = cache_dir / 'timemachine.txt'
    cached.write_bytes(b'truncated')
    monkeypatch.setattr(data, 'download', _offline)
    with pytest.raises(data.CorpusUnavailableError):
        data.fetch('timemachine')
    assert cached.read_bytes() == b'truncated'  # kept until a verified copy exists
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    data.fetch('timemachine')
    assert data.sha1sum(cached) == data.REGISTRY['timemachine'].sha1


def test_corrupt_mirror_file_is_refused(cache_dir, tmp_path, monkeypatch):
    bad_mirror = tmp_path / 'mirror'
    bad_mirror.mkdir()
    (bad_mirror / 'timemachine.txt').write_text('wrong')
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', str(bad_mirror))
    with pytest.raises(data.ChecksumError, match='timemachine.txt: sha1'):
        data.fetch('timemachine')
    assert os.listdir(cache_dir) == []


def test_unknown_corpus():
    with pytest.raises(ValueError, match='registered: ptb, timemachine, tinyshakespeare'):
        data.fetch('wikitext')
