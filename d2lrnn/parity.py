"""Proofs of equality: a scratch or fast model and the fused ``gluon.rnn`` layer, weight for
weight, in outputs, states and every gradient.

Taught in chapters 03 and 09. Chapter 03 copies a scratch body's per-gate parameters into a
fused layer (``copy_scratch_to_fused``) and compares the two (``fused_parity``); chapter 09
does the same for the fast block of ``d2lrnn.fast`` (``copy_scratch_to_fast``,
``copy_fast_to_fused``, ``fast_parity``).
"""
import collections

import mxnet as mx
import numpy as np
from mxnet import autograd, nd

from .fast import GATES
from .scratch import CELLS, GRUScratch, RNNScratch


def fused_layer_like(scratch):
    """An initialised fused ``gluon.rnn`` layer (layout 'TNC') matching the scratch body.

    Taught in chapter 03.
    """
    if isinstance(scratch, GRUScratch) and not scratch.reset_after:
        raise ValueError('the fused GRU computes the reset-after form '
                         'n = tanh(X W_xn + b_xn + r * (H W_hn + b_hn)); build the GRUScratch '
                         'with reset_after=True to compare it with the fused layer')
    extra = {'activation': scratch.activation} if isinstance(scratch, RNNScratch) else {}
    layer = scratch.FUSED(scratch.num_hiddens, scratch.num_layers, layout='TNC',
                          input_size=scratch.num_inputs, dtype=scratch.dtype, **extra)
    layer.initialize(ctx=scratch.params[0].context)
    return layer


def _fused_layout(scratch):
    """Fused name (``l0_i2h_weight`` ...) -> [(scratch name, copied), one per gate in order].

    A fused parameter stacks one block per gate along axis 0, weights transposed: (G*H, D).
    ``copied`` is False for the ``h2h_bias`` block of a gate with a single scratch bias: that
    block holds zeros, and its gradient equals the gradient of the scratch bias.
    """
    layout = collections.OrderedDict()
    for layer in range(scratch.num_layers):
        for gate in scratch.GATES:
            first, *second = scratch.bias_names(gate)
            h2h_bias = second[0] if second else first
            for kind, name, copied in (('i2h_weight', f'W_x{gate}', True),
                                       ('h2h_weight', f'W_h{gate}', True),
                                       ('i2h_bias', first, True),
                                       ('h2h_bias', h2h_bias, bool(second))):
                layout.setdefault(f'l{layer}_{kind}', []).append((f'l{layer}_{name}', copied))
    return layout


def _fused_params(fused):
    """The fused layer's parameters by name without the block prefix (``l0_i2h_weight``)."""
    return {name[len(fused.prefix):]: param for name, param in fused.collect_params().items()}


def copy_scratch_to_fused(scratch, fused):
    """Copy the scratch body's parameters into the fused layer (a single bias goes to i2h_bias).

    Taught in chapter 03.
    """
    def block(param, copied):  # the weight transposed to (H, D), the bias, or zeros
        if not copied:
            return nd.zeros_like(param)
        return param.T if param.ndim == 2 else param
    named, targets = scratch.named_params(), _fused_params(fused)
    for fused_name, blocks in _fused_layout(scratch).items():
        data = nd.concat(*[block(named[name], copied) for name, copied in blocks], dim=0)
        if fused_name not in targets or targets[fused_name].shape != data.shape:
            raise ValueError(f'the fused layer has no parameter {fused_name} of shape '
                             f'{data.shape}; build it with fused_layer_like(scratch)')
        targets[fused_name].set_data(data)


def _max_abs_diff(a, b):
    return float(nd.abs(a - b).max().asscalar())


def _stack_state(scratch, state):
    """Scratch state tuple -> the fused layout: [H] or [H, C], each (L, N, H)."""
    if scratch.PAIRED_STATE:
        return [nd.stack(*kind) for kind in zip(*state)]
    return [nd.stack(*state)]


def _unstack_state(scratch, stacked):
    """The fused layout [H] or [H, C], each (L, N, H) -> scratch state tuple, one entry a layer."""
    per_layer = zip(*[list(kind) for kind in stacked])
    return tuple(layer if scratch.PAIRED_STATE else layer[0] for layer in per_layer)


def fused_parity(scratch, seq_len=5, batch_size=3, seed=0):
    """Max absolute differences between the scratch body and its fused twin, deterministic.

    Taught in chapter 03.
    Overwrites the scratch biases with random values (zero biases would hide a misplaced one),
    runs both on the same random inputs and random initial state, and backpropagates a
    random-weighted sum of the outputs and final states. Returns a dict with the keys
    'outputs', 'state', 'grad_input' and 'grad_params' (over every fused parameter block).
    """
    rng = np.random.RandomState(seed)
    mx.random.seed(seed)
    ctx, L, H = scratch.params[0].context, scratch.num_layers, scratch.num_hiddens

    def rand(*shape):
        return nd.array(rng.normal(size=shape), ctx=ctx, dtype=scratch.dtype)
    for param in scratch.params:
        if param.ndim == 1:
            param[:] = rand(*param.shape)
    fused = fused_layer_like(scratch)
    copy_scratch_to_fused(scratch, fused)

    num_kinds = 2 if scratch.PAIRED_STATE else 1  # H, or H and C
    inputs = rand(seq_len, batch_size, scratch.num_inputs)
    init = [rand(L, batch_size, H) for _ in range(num_kinds)]
    out_weight = rand(seq_len, batch_size, H)
    state_weights = [rand(L, batch_size, H) for _ in range(num_kinds)]

    def run(forward):
        """forward: X -> (outputs, state in the fused layout); returns them and X's gradient."""
        X = inputs.copy()
        X.attach_grad()
        with autograd.record():
            outputs, state = forward(X)
            loss = (outputs * out_weight).sum() + sum(
                (s * w).sum() for s, w in zip(state, state_weights))
        loss.backward()
        return outputs, state, X.grad

    def scratch_forward(X):
        outputs, state = scratch(X, _unstack_state(scratch, init))
        return outputs, _stack_state(scratch, state)
    out_s, state_s, grad_s = run(scratch_forward)
    out_f, state_f, grad_f = run(lambda X: fused(X, init))
    diffs = {'outputs': _max_abs_diff(out_s, out_f),
             'state': max(_max_abs_diff(a, b) for a, b in zip(state_s, state_f)),
             'grad_input': _max_abs_diff(grad_s, grad_f), 'grad_params': 0.0}
    named, fused_params = scratch.named_params(), _fused_params(fused)
    for fused_name, blocks in _fused_layout(scratch).items():
        grad = fused_params[fused_name].grad(ctx)
        for g, (name, _) in enumerate(blocks):
            block = grad[g * H:(g + 1) * H]
            block = block.T if block.ndim == 2 else block
            diffs['grad_params'] = max(diffs['grad_params'],
                                       _max_abs_diff(block, named[name].grad))
    return diffs


def _named(fast):
    """The block's parameters by name without the block prefix (``l0_W_x``)."""
    return {name[len(fast.prefix):]: p for name, p in fast.collect_params().items()}


def copy_scratch_to_fast(scratch, fast):
    """Copy a scratch body's per-gate parameters (``d2lrnn.scratch``) into the fast block.

    Taught in chapter 09.
    """
    if not isinstance(scratch, CELLS[fast.cell]):
        raise ValueError(f'expected a {CELLS[fast.cell].__name__} body; '
                         f'got {type(scratch).__name__}')
    tanh_rnn = getattr(scratch, 'activation', 'tanh') == 'tanh'
    if not (tanh_rnn and getattr(scratch, 'reset_after', True)):
        raise ValueError('the fast block computes the tanh RNN and the reset-after GRU only')
    if (scratch.num_inputs, scratch.num_hiddens, scratch.num_layers) != (
            fast.num_inputs, fast.num_hiddens, fast.num_layers):
        raise ValueError('the scratch body and the fast block differ in D, H or L')
    targets, gates = _named(fast), GATES[fast.cell]
    first_bias = [scratch.bias_names(g)[0] for g in gates]  # b_<g>, or b_xn for the candidate
    for layer, params in enumerate(scratch.layers):
        for name, blocks in (('W_x', [params[f'W_x{g}'].T for g in gates]),
                             ('W_h', [params[f'W_h{g}'].T for g in gates]),
                             ('b', [params[b] for b in first_bias])):
            targets[f'l{layer}_{name}'].set_data(nd.concat(*blocks, dim=0))
        if fast.cell == 'gru':
            targets[f'l{layer}_b_hn'].set_data(params['b_hn'])


def fused_like(fast):
    """An initialised fused ``gluon.rnn`` layer (layout 'TNC') with the fast block's sizes.

    Taught in chapter 09.
    """
    extra = {'activation': 'tanh'} if fast.cell == 'rnn' else {}
    fused = CELLS[fast.cell].FUSED(fast.num_hiddens, fast.num_layers, layout='TNC',
                                   input_size=fast.num_inputs, **extra)
    fused.initialize(ctx=fast.l0_W_x.list_ctx()[0])
    return fused


def copy_fast_to_fused(fast, fused):
    """Copy into ``fused_like(fast)``: W_x -> i2h_weight, W_h -> h2h_weight, b -> i2h_bias,
    zeros -> h2h_bias but b_hn into the GRU candidate's block. Returns the fused parameters
    by name without the block prefix (``l0_i2h_weight``).

    Taught in chapter 09.
    """
    source, targets = _named(fast), {name[len(fused.prefix):]: p
                                     for name, p in fused.collect_params().items()}
    for layer in range(fast.num_layers):
        h2h_bias = nd.zeros_like(source[f'l{layer}_b'].data())
        if fast.cell == 'gru':
            h2h_bias[2 * fast.num_hiddens:] = source[f'l{layer}_b_hn'].data()
        for fused_name, data in (('i2h_weight', source[f'l{layer}_W_x'].data()),
                                 ('h2h_weight', source[f'l{layer}_W_h'].data()),
                                 ('i2h_bias', source[f'l{layer}_b'].data()),
                                 ('h2h_bias', h2h_bias)):
            targets[f'l{layer}_{fused_name}'].set_data(data)
    return targets


def fast_parity(fast, seq_len=5, batch_size=3, seed=0):
    """Max absolute differences between the fast block and the fused layer, deterministic.

    Introduced in chapter 09.
    Evaluates ``fast`` as it is (hybridize it first to check the unrolled graph). Overwrites
    its biases with random values, copies all parameters into a fused layer, runs both on the
    same random inputs and random initial state, and backpropagates a random-weighted sum of
    outputs and final states. Returns a dict with the keys 'outputs', 'state', 'grad_input'
    and 'grad_params' (over every fused parameter).
    """
    rng = np.random.RandomState(seed)
    mx.random.seed(seed)
    ctx, L, H = fast.l0_W_x.list_ctx()[0], fast.num_layers, fast.num_hiddens

    def rand(*shape):
        return nd.array(rng.normal(size=shape), ctx=ctx)
    source = _named(fast)
    for param in source.values():
        if param.name.endswith(('_b', '_b_hn')):
            param.set_data(rand(*param.shape))
    fused = fused_like(fast)
    targets = copy_fast_to_fused(fast, fused)

    num_kinds = 2 if fast.cell == 'lstm' else 1  # H, or H and C; fused layout: each (L, N, H)
    inputs = rand(seq_len, batch_size, fast.num_inputs)
    init = [rand(L, batch_size, H) for _ in range(num_kinds)]
    out_weight = rand(seq_len, batch_size, H)
    state_weights = [rand(L, batch_size, H) for _ in range(num_kinds)]

    def run(forward):
        """forward: X -> (outputs, state in the fused layout); returns them and X's gradient."""
        X = inputs.copy()
        X.attach_grad()
        with autograd.record():
            outputs, state = forward(X)
            loss = (outputs * out_weight).sum() + sum(
                (s * w).sum() for s, w in zip(state, state_weights))
        loss.backward()
        return outputs, state, X.grad

    def fast_forward(X):
        per_layer = tuple(tuple(kind[layer] for kind in init) if num_kinds == 2
                          else init[0][layer] for layer in range(L))
        outputs, state = fast(X, per_layer)
        kinds = zip(*state) if num_kinds == 2 else [state]
        return outputs, [nd.stack(*kind) for kind in kinds]
    out_a, state_a, grad_a = run(fast_forward)
    out_f, state_f, grad_f = run(lambda X: fused(X, init))
    diffs = {'outputs': _max_abs_diff(out_a, out_f),
             'state': max(_max_abs_diff(a, b) for a, b in zip(state_a, state_f)),
             'grad_input': _max_abs_diff(grad_a, grad_f), 'grad_params': 0.0}
    for layer in range(L):
        pairs = [('W_x', 'i2h_weight', slice(None)), ('W_h', 'h2h_weight', slice(None)),
                 ('b', 'i2h_bias', slice(None))]
        if fast.cell == 'gru':
            pairs.append(('b_hn', 'h2h_bias', slice(2 * H, None)))
        for name, fused_name, rows in pairs:
            diffs['grad_params'] = max(diffs['grad_params'], _max_abs_diff(
                source[f'l{layer}_{name}'].grad(ctx),
                targets[f'l{layer}_{fused_name}'].grad(ctx)[rows]))
    return diffs
