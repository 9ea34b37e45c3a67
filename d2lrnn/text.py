"""From a corpus file to lists of token indices: normalising, tokenising, vocabulary, splits.

Taught in chapter 01.
"""
import collections
import os
import re
import zipfile

from d2l import mxnet as d2l

from . import data
from .checks import check_number

TOKEN_LEVELS = ('char', 'word')
NORMALIZERS = ('letters', 'none')

# Per registered corpus: how it is tokenised by default, and how its text is cleaned.
CORPUS_DEFAULTS = {
    'timemachine': dict(level='char', normalize='letters'),
    'tinyshakespeare': dict(level='char', normalize='none'),
    'ptb': dict(level='word', normalize='none'),
}


def normalize_letters(line):
    """d2l's cleaning for The Time Machine: keep letters only, lower-cased, single spaces."""
    return re.sub('[^A-Za-z]+', ' ', line).strip().lower()


def tokenize(lines, level='char'):
    """Split each line into characters or into words; a word line ends with ``<eos>``.

    Taught in chapter 01. Char lines are joined by a space, so the token stream keeps the
    line break as a word boundary.
    """
    if level == 'char':
        return [list(line) for line in lines]
    if level == 'word':
        return [line.split() + ['<eos>'] for line in lines]
    raise ValueError(f'unknown token level {level!r}; valid: {", ".join(TOKEN_LEVELS)}')


class Vocab(d2l.Vocab):
    """d2l's vocabulary (tokens sorted, ``<unk>`` included) with two additions.

    Taught in chapter 01. ``to_tokens`` accepts any list (d2l 1.0.3's fails on a list of
    length one), and ``from_tokens_list`` rebuilds a saved vocabulary exactly.
    """

    def to_tokens(self, indices):
        if isinstance(indices, (list, tuple)) or hasattr(indices, 'tolist'):
            return [self.idx_to_token[int(index)] for index in indices]
        return self.idx_to_token[int(indices)]

    @classmethod
    def from_tokens_list(cls, idx_to_token):
        """The vocabulary whose ``idx_to_token`` is exactly the given list (e.g. from JSON)."""
        if '<unk>' not in idx_to_token or len(set(idx_to_token)) != len(idx_to_token):
            raise ValueError('a saved vocabulary must hold <unk> and no token twice')
        vocab = cls()
        vocab.idx_to_token = list(idx_to_token)
        vocab.token_to_idx = {token: idx for idx, token in enumerate(vocab.idx_to_token)}
        return vocab


def read_lines(name_or_path, split='train'):
    """Lines of a registered corpus (``split`` matters for PTB only) or of a UTF-8 text file."""
    if name_or_path == 'ptb':
        with zipfile.ZipFile(data.fetch('ptb')) as archive:
            text = archive.read(f'ptb/ptb.{split}.txt').decode('utf-8')
        return text.splitlines()
    path = data.fetch(name_or_path) if name_or_path in data.REGISTRY else name_or_path
    if not os.path.isfile(path):
        raise ValueError(f'{name_or_path!r} is neither a registered corpus '
                         f'({", ".join(sorted(data.REGISTRY))}) nor a text file')
    try:
        with open(path, encoding='utf-8') as f:
            return f.read().splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f'{path} is not UTF-8 text (byte {err.start}: {err.reason}); convert '
                         'it, e.g. with iconv -t UTF-8') from None


def token_stream(lines, level, normalize):
    """One flat token list: lines cleaned, tokenised and, for chars, joined by spaces."""
    if normalize not in NORMALIZERS:
        raise ValueError(f'unknown normalize {normalize!r}; valid: {", ".join(NORMALIZERS)}')
    if normalize == 'letters':
        lines = [normalize_letters(line) for line in lines]
    if level == 'char':
        lines = [line for line in lines if line]
        return list(' '.join(lines))
    return [tok for line in tokenize(lines, level) for tok in line]


Corpus = collections.namedtuple('Corpus', ['name', 'level', 'vocab', 'train', 'valid', 'test'])
Corpus.__doc__ = """A tokenised corpus: the vocabulary and the index lists of each split
(``test`` is ``None`` for corpora that have no test split)."""


def load_corpus(name_or_path, level=None, normalize=None, valid_fraction=0.1,
                max_tokens=None, min_freq=0, test_fraction=0.0, train_fraction=1.0):
    """Load a corpus into train/valid(/test) index lists and a vocabulary built on train.

    Introduced in chapter 01. PTB keeps its own train/valid/test files. Other corpora hold out
    the last ``valid_fraction`` of their tokens for validation, preceded by ``test_fraction``
    for a test split when it is above 0. ``max_tokens`` keeps only the first tokens of every
    split (quick mode, learning curves); ``train_fraction`` keeps the first part of the
    training split after the vocabulary was built on all of it (chapter 10's data-size axis:
    every fraction reads the same validation and test tokens with the same vocabulary).
    """
    defaults = CORPUS_DEFAULTS.get(name_or_path, dict(level='char', normalize='none'))
    level = level or defaults['level']
    normalize = normalize or defaults['normalize']
    if level not in TOKEN_LEVELS:
        raise ValueError(f'unknown token level {level!r}; valid: {", ".join(TOKEN_LEVELS)}')
    check_number('train_fraction', train_fraction, low=0, low_open=True, high=1)
    check_number('test_fraction', test_fraction, low=0, high=1, high_open=True)
    if not 0 < valid_fraction < 1 - test_fraction:
        raise ValueError(f'valid_fraction must lie in (0, 1 - test_fraction), got '
                         f'{valid_fraction} with test_fraction {test_fraction}')
    if name_or_path == 'ptb':
        splits = [token_stream(read_lines('ptb', split), level, normalize)
                  for split in ('train', 'valid', 'test')]
    else:
        tokens = token_stream(read_lines(name_or_path), level, normalize)
        if not tokens:
            raise ValueError(f'{name_or_path!r} holds no tokens (is the file empty?)')
        num_train = int(len(tokens) * (1 - valid_fraction - test_fraction))
        num_test = int(len(tokens) * test_fraction)
        splits = [tokens[:num_train], tokens[num_train + num_test:],
                  tokens[num_train:num_train + num_test] if num_test else None]
    if max_tokens is not None:
        splits = [split[:max_tokens] if split is not None else None for split in splits]
    vocab = Vocab(splits[0], min_freq=min_freq)
    splits[0] = splits[0][:int(len(splits[0]) * train_fraction)]
    indices = [vocab[split] if split is not None else None for split in splits]
    name = os.path.basename(name_or_path) if name_or_path not in data.REGISTRY else name_or_path
    return Corpus(name, level, vocab, *indices)
