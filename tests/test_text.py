import pytest

from d2lrnn.text import Vocab, load_corpus, normalize_letters, tokenize


def test_tokenize_levels():
    assert tokenize(['ab c'], 'char') == [['a', 'b', ' ', 'c']]
    assert tokenize(['the cat'], 'word') == [['the', 'cat', '<eos>']]
    with pytest.raises(ValueError, match="unknown token level 'byte'; valid: char, word"):
        tokenize(['x'], 'byte')


def test_normalize_letters():
    assert normalize_letters("  The Time-Machine, 1895!  ") == 'the time machine'


def test_vocab_round_trip_and_order():
    tokens = list('the quick brown fox jumps over the lazy dog')
    vocab = Vocab(tokens, reserved_tokens=['<pad>'])
    assert vocab.idx_to_token == sorted(vocab.idx_to_token)  # deterministic order
    assert '<unk>' in vocab.token_to_idx and '<pad>' in vocab.token_to_idx
    indices = vocab[tokens]
    assert vocab.to_tokens(indices) == tokens
    assert vocab.to_tokens([indices[0]]) == [tokens[0]]  # d2l 1.0.3 fails on this one
    assert vocab.to_tokens(indices[0]) == tokens[0]
    assert vocab['#'] == vocab.unk
    rebuilt = Vocab.from_tokens_list(vocab.idx_to_token)
    assert rebuilt.idx_to_token == vocab.idx_to_token and rebuilt[tokens] == indices


def test_vocab_min_freq():
    vocab = Vocab(['a', 'a', 'b'], min_freq=2)
    assert vocab['b'] == vocab.unk and vocab['a'] != vocab.unk
    with pytest.raises(ValueError, match='<unk>'):
        Vocab.from_tokens_list(['a', 'b'])


def test_local_text_file_is_a_corpus(tmp_path):
    path = tmp_path / 'tiny.txt'
    path.write_text('hello world\n' * 50, encoding='utf-8')
    corpus = load_corpus(str(path))
    assert corpus.name == 'tiny.txt' and corpus.level == 'char' and corpus.test is None
    total = len(corpus.train) + len(corpus.valid)
    assert len(corpus.valid) == total - int(total * 0.9)
    words = load_corpus(str(path), level='word', valid_fraction=0.5)
    assert set(words.vocab.idx_to_token) == {'<unk>', '<eos>', 'hello', 'world'}


def test_empty_file_and_missing_path(tmp_path):
    empty = tmp_path / 'empty.txt'
    empty.write_text('', encoding='utf-8')
    with pytest.raises(ValueError, match='holds no tokens'):
        load_corpus(str(empty))
    with pytest.raises(ValueError, match='neither a registered corpus'):
        load_corpus(str(tmp_path / 'nope.txt'))
    with pytest.raises(ValueError, match='valid_fraction'):
        load_corpus(str(empty), valid_fraction=1.0)


def test_time_machine_char_split(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    monkeypatch.setenv('D2LRNN_DATA_DIR', str(tmp_path))
    corpus = load_corpus('timemachine')
    assert len(corpus.vocab) == 28  # 26 letters, space, <unk>
    total = len(corpus.train) + len(corpus.valid)
    assert len(corpus.valid) == total - int(total * 0.9)
    assert corpus.test is None


def test_ptb_keeps_its_own_splits(mirror, monkeypatch, tmp_path):
    monkeypatch.setenv('D2LRNN_DATA_MIRROR', mirror)
    monkeypatch.setenv('D2LRNN_DATA_DIR', str(tmp_path))
    corpus = load_corpus('ptb')
    assert corpus.level == 'word' and len(corpus.vocab) == 10000
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (929589, 73760, 82430)
    assert corpus.vocab.to_tokens(corpus.train[:1]) == ['aer']
