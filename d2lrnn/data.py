"""Corpora: a registry of canonical addresses and sha1 sums, a verified cache, a mirror.

Introduced in chapter 01 (reading the corpora). A corpus file is looked up in this order:

1. the cache folder (``data/`` in the repository, or ``$D2LRNN_DATA_DIR``), if its sha1 matches;
2. the mirror folder ``$D2LRNN_DATA_MIRROR`` (a local copy of the files, for offline machines);
3. the canonical address, downloaded with ``mxnet.gluon.utils.download``.

Whatever is fetched is verified and only then moved into the cache in one ``os.replace``, so an
interrupted or corrupt transfer never leaves a file behind, and a cached file whose sha1 does
not match is never used.
"""
import collections
import hashlib
import os
import shutil

from mxnet.gluon.utils import download

from .files import atomic_write

DATA_DIR_VAR = 'D2LRNN_DATA_DIR'
MIRROR_VAR = 'D2LRNN_DATA_MIRROR'
_D2L_HUB = 'http://d2l-data.s3-accelerate.amazonaws.com/'

Resource = collections.namedtuple('Resource', ['filename', 'url', 'sha1'])

REGISTRY = {
    'timemachine': Resource(
        'timemachine.txt', _D2L_HUB + 'timemachine.txt',
        '090b5e7e70c295757f55df93cb0a180b9691891a'),
    'ptb': Resource(
        'ptb.zip', _D2L_HUB + 'ptb.zip',
        '319d85e578af0cdc590547f26231e4e31cdf1e42'),
    'tinyshakespeare': Resource(
        'tinyshakespeare.txt',
        'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
        '04486597058d11dcc2c556b1d0433891eb639d2e'),
}


class CorpusUnavailableError(RuntimeError):
    """A corpus could be found neither in the cache, nor in the mirror, nor online."""


class ChecksumError(RuntimeError):
    """A file's sha1 does not match the registry."""


def data_dir():
    """The cache folder: ``$D2LRNN_DATA_DIR`` or ``data/`` beside the package."""
    default = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data')
    return os.environ.get(DATA_DIR_VAR) or default


def sha1sum(path):
    """Hex sha1 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _install(fetch, resource, cache_dir):
    """Run ``fetch(tmp_path)``, verify the file's sha1 and only then move it into
    ``cache_dir`` (``files.atomic_write``): a failed or corrupt transfer leaves nothing."""
    os.makedirs(cache_dir, exist_ok=True)
    target = os.path.join(cache_dir, resource.filename)

    def fetch_verified(tmp_path):
        fetch(tmp_path)
        actual = sha1sum(tmp_path)
        if actual != resource.sha1:
            raise ChecksumError(
                f'{resource.filename}: sha1 {actual} does not match the expected '
                f'{resource.sha1}; the file was not saved.')
    atomic_write(target, fetch_verified)
    return target


def fetch(name):
    """Return the local path of registered corpus ``name`` (e.g. ``'ptb'``), verified by sha1."""
    if name not in REGISTRY:
        raise ValueError(f'unknown corpus {name!r}; registered: {", ".join(sorted(REGISTRY))}')
    resource = REGISTRY[name]
    cache_dir = data_dir()
    cached = os.path.join(cache_dir, resource.filename)
    if os.path.exists(cached):
        if sha1sum(cached) == resource.sha1:
            return cached
        print(f'{cached}: sha1 does not match {resource.sha1}; fetching a fresh copy '
              '(the cached file is replaced only by a verified one).')
    mirror = os.environ.get(MIRROR_VAR)
    if mirror:
        mirrored = os.path.join(mirror, resource.filename)
        if os.path.exists(mirrored):
            return _install(lambda tmp: shutil.copyfile(mirrored, tmp), resource, cache_dir)
    try:
        return _install(lambda tmp: download(resource.url, path=tmp, retries=1),
                        resource, cache_dir)
    except ChecksumError:
        raise
    except Exception as err:  # requests' connection errors, HTTP errors, DNS failures
        where = f'the mirror {mirror} has no {resource.filename}' if mirror else f'{MIRROR_VAR} is not set'
        raise CorpusUnavailableError(
            f'cannot get {resource.filename}: downloading {resource.url} failed '
            f'({type(err).__name__}) and {where}. Offline, set {MIRROR_VAR} to a folder '
            f'holding {resource.filename}, or put the file into the cache folder {cache_dir} '
            f'(set by {DATA_DIR_VAR}).') from None
