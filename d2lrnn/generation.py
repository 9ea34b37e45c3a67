"""Text generation: warm the state up on a prefix, then continue greedily or by sampling.

Taught in chapter 02.
"""
import numpy as np
from mxnet import nd

from .checks import check_number


def predict(prefix, num_preds, model, vocab, ctx, level='char', temperature=0.0,
            top_k=None, seed=None):
    """Continue ``prefix`` by ``num_preds`` tokens; return prefix and continuation as text.

    Taught in chapter 02. ``temperature=0`` picks the most likely token; a positive
    temperature samples from softmax(logits / temperature), among the ``top_k`` most likely
    tokens if given, with a private generator seeded by ``seed``. Prefix tokens that are not
    in the vocabulary are read as ``<unk>``, and a line says which ones.
    """
    check_number('temperature', temperature, low=0, note=' (0 means greedy)')
    if top_k is not None:
        check_number('top_k', top_k, integer=True, low=1, high=len(vocab))
    tokens = list(prefix) if level == 'char' else prefix.split()
    if not tokens:
        raise ValueError('the prefix must hold at least one token')
    unknown = sorted({t for t in tokens if t not in vocab.token_to_idx})
    if unknown:
        print(f'note: {len(unknown)} prefix token(s) not in the vocabulary, read as <unk>: '
              + ', '.join(map(repr, unknown)))
    rng = np.random.RandomState(seed)
    state = model.begin_state(1, ctx)
    outputs = [vocab[tokens[0]]]
    for t in tokens[1:]:  # warm-up: feed the prefix, keep only the state
        _, state = model(nd.array([[outputs[-1]]], ctx=ctx), state)
        outputs.append(vocab[t])
    for _ in range(num_preds):
        logits, state = model(nd.array([[outputs[-1]]], ctx=ctx), state)
        outputs.append(_choose(logits[0].asnumpy().astype(np.float64), temperature, top_k, rng))
    generated = vocab.to_tokens(outputs[len(tokens):])
    if level == 'char':
        return prefix + ''.join(generated)
    return ' '.join([prefix] + generated)


def _choose(logits, temperature, top_k, rng):
    if temperature == 0:
        return int(logits.argmax())
    if top_k is not None:
        logits = np.where(logits >= np.sort(logits)[-top_k], logits, -np.inf)
    probs = np.exp((logits - logits.max()) / temperature)
    return int(rng.choice(len(probs), p=probs / probs.sum()))
