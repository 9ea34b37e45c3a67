"""One training loop for every language model in the book, scratch or gluon.

Taught in chapter 02. A model is anything callable as ``model(X, state) -> (logits, state)``
with ``X`` of shape (batch_size, num_steps), logits of shape (num_steps * batch_size,
vocab_size) in time-major order, and a ``begin_state(batch_size, ctx)`` method. Scratch models
expose their arrays as ``model.params`` and are updated by minibatch SGD; gluon blocks are
updated by a ``gluon.Trainer``.
"""
import math
import time

import numpy as np
from mxnet import autograd, gluon, nd

from .iterators import SeqDataLoader, bptt_batches, check_minibatch_args
from .plotting import PerplexityPlot


_LOSS = gluon.loss.SoftmaxCrossEntropyLoss()
OPTIMIZERS = ('sgd', 'adam')
# Element-wise clipping at a bound no gradient reaches: it makes MXNet's update kernels compute
# lr * (scale * g), rounding the scaled gradient first, as when the gradient is clipped in
# place and then applied unscaled; without it SGD computes (lr * scale) * g, another rounding.
NO_CLIP = 3e38


class NonFiniteLossError(FloatingPointError):
    """The loss or the gradient norm became NaN or infinite; the parameters were not updated."""


def detach(state):
    """The state with every array cut from the autograd graph (nested tuples kept).

    Taught in chapter 02: carrying the state across minibatches without detaching it would
    backpropagate through the whole epoch.
    """
    if isinstance(state, (list, tuple)):
        return type(state)(detach(s) for s in state)
    return state.detach()


def global_norm(arrays):
    """The L2 norm of all ``arrays`` taken together, a 1-element array on the first one's
    device.

    Taught in chapter 02.
    """
    ctx = arrays[0].context
    return nd.sqrt(nd.add_n(*[nd.dot(a.reshape((-1,)), a.reshape((-1,))).as_in_context(ctx)
                              for a in arrays]))


def clip_factor(norm, theta):
    """The factor that clips a gradient of global norm ``norm`` to ``theta``:
    min(1, theta / (norm + 1e-8)), in float32 as ``gluon.utils.clip_global_norm`` computes it.

    Taught in chapter 02.
    """
    scale = np.float32(theta) / (np.float32(norm) + np.float32(1e-8))
    return min(float(scale), 1.0)


class Updater:
    """Minibatch SGD for a scratch model's ``params``, a ``gluon.Trainer`` for a gluon block.

    Taught in chapter 02. The loss is a mean over tokens, so an SGD step is ``lr * grad``.
    ``optimizer`` is ``'sgd'`` or, for gluon blocks only, ``'adam'`` (gluon's, whose state
    ``trainer.save_states``/``load_states`` keep).
    """

    def __init__(self, model, lr, ctx, optimizer='sgd'):
        if optimizer not in OPTIMIZERS:
            raise ValueError(f'unknown optimizer {optimizer!r}; valid: {", ".join(OPTIMIZERS)}')
        self.lr = lr
        if isinstance(model, gluon.Block):
            params = [p for p in model.collect_params().values() if p.grad_req != 'null']
            self.trainer = gluon.Trainer(params, optimizer,
                                         {'learning_rate': lr, 'clip_gradient': NO_CLIP})
            self.grads = [p.grad(ctx) for p in params]
        elif optimizer != 'sgd':
            raise ValueError(f'a scratch model is updated by plain SGD; {optimizer!r} needs '
                             'a gluon block')
        else:
            self.trainer, self.params = None, model.params
            self.grads = [p.grad for p in self.params]

    def set_learning_rate(self, lr):
        self.lr = lr
        if self.trainer is not None:
            self.trainer.set_learning_rate(lr)

    def shard(self, X, Y):
        """The rows of a minibatch this process trains on: all of them (chapter 11 splits
        them among several processes)."""
        return X, Y

    def gradient_norm(self):
        """The global norm of the gradient, a 1-element array (chapter 11's updater first
        sums the gradients of several devices)."""
        return global_norm(self.grads)

    def step(self, scale=1.0):
        """Update with the gradient times ``scale`` (clipping: ``train_step``). The factor
        acts inside the update, so the gradient is not rewritten first; the result is, to the
        last bit, that of scaling the gradient and then updating."""
        if self.trainer is not None:
            self.trainer.step(1 / scale)  # the Trainer divides the gradient by the "batch size"
        else:
            for param in self.params:
                param[:] -= self.lr * (param.grad * scale if scale != 1.0 else param.grad)


def train_step(model, updater, X, Y, state, ctx, clip_theta=1.0):
    """One update on the minibatch ``(X, Y)`` (NumPy arrays, (batch_size, num_steps)).

    Taught in chapter 02: forward, mean cross-entropy over the tokens, backward, clipping to
    global norm ``clip_theta``, update. Returns (loss, new state). A NaN or infinite loss or
    gradient raises ``NonFiniteLossError`` before the parameters are touched.
    """
    X, y = nd.array(X, ctx=ctx), nd.array(Y.T.reshape(-1), ctx=ctx)
    with autograd.record():
        logits, state = model(X, state)
        loss = _LOSS(logits, y).mean()
    loss.backward()
    norm = updater.gradient_norm()
    loss_value, norm_value = nd.concat(loss, norm.reshape((1,)), dim=0).asnumpy()
    if not (np.isfinite(loss_value) and np.isfinite(norm_value)):
        raise NonFiniteLossError(f'the loss became {loss_value} (gradient norm {norm_value})')
    updater.step(clip_factor(norm_value, clip_theta))
    return float(loss_value), state


def train_epoch(model, loader, updater, ctx, clip_theta=1.0, epoch=1, on_batch=None):
    """Train one epoch; return (training perplexity, tokens per second).

    Taught in chapter 02. With sequential minibatches the state is carried from one minibatch
    to the next and detached; with random ones it is re-initialised for every minibatch.
    A NaN or infinite loss stops training before the parameters are touched, naming the epoch
    and minibatch. ``on_batch(num_tokens, loss)`` is called after each update (the command
    line's progress bar).
    """
    state, total_loss, num_tokens = None, 0.0, 0
    start = time.time()
    for batch, (X, Y) in enumerate(loader, start=1):
        X, Y = updater.shard(X, Y)
        if state is None or loader.use_random_iter:
            state = model.begin_state(X.shape[0], ctx)
        else:
            state = detach(state)
        try:
            loss, state = train_step(model, updater, X, Y, state, ctx, clip_theta)
        except NonFiniteLossError as err:
            raise NonFiniteLossError(
                f'{err} at epoch {epoch}, minibatch {batch}; training stopped before this '
                'update. Try a smaller learning rate or a smaller clipping threshold.') from None
        total_loss += loss * Y.size
        num_tokens += Y.size
        if on_batch:
            on_batch(Y.size, loss)
    return math.exp(total_loss / num_tokens), num_tokens / (time.time() - start)


def evaluate_perplexity(model, indices, ctx, batch_size=10, num_steps=35):
    """Perplexity over every token of ``indices`` (a list of token indices), state carried.

    Taught in chapter 02. Nothing is recorded, so dropout (chapter 07) is off.
    """
    state, total_loss, num_tokens = model.begin_state(batch_size, ctx), 0.0, 0
    for X, Y in bptt_batches(indices, batch_size, num_steps):
        logits, state = model(nd.array(X, ctx=ctx), state)
        total_loss += _LOSS(logits, nd.array(Y.T.reshape(-1), ctx=ctx)).sum()
        num_tokens += Y.size
    return math.exp(float(total_loss.asscalar()) / num_tokens)


def unigram_loss(train_indices, eval_indices, num_tokens):
    """Cross-entropy (nats per token) on ``eval_indices`` of the unigram model of
    ``train_indices``: every token predicted with its frequency in the training text, add-one
    smoothed so that none has probability zero. Its exp is the perplexity of a model that
    ignores context: a language model above it has learned nothing from context.

    Taught in chapter 02.
    """
    counts = np.bincount(np.asarray(train_indices), minlength=num_tokens) + 1
    log_probs = np.log(counts / counts.sum())
    return float(-log_probs[np.asarray(eval_indices)].mean())


class Schedule:
    """Where a run stands after ``epoch`` finished epochs, and what the next epoch does.

    Taught in chapter 02, where the learning rate ``lr`` stays constant. ``history`` holds
    one record per finished epoch: ``epoch``, ``lr``, ``train_ppl``, ``val_ppl``,
    ``tokens_per_s`` (training only) and ``seconds``. ``train`` calls ``start_epoch`` before
    every epoch, ``end_epoch`` after it, and ``finish`` once at the end; chapter 07's
    ``PlateauSchedule`` overrides them to decay the rate, keep the best parameters and stop
    early (``stopped_early``).
    """

    def __init__(self, lr):
        self.lr, self.epoch, self.history, self.stopped_early = lr, 0, [], False

    def start_epoch(self, epoch):
        """Called before epoch ``epoch`` (counted from 1) trains."""

    def end_epoch(self, model, record):
        """Called with the record of the epoch that just ended."""
        self.history.append(record)
        self.epoch = record['epoch']

    def finish(self, model):
        """Called when training ends; here the model keeps its last parameters."""


def train(model, corpus, lr, num_epochs, ctx, batch_size=32, num_steps=35,
          use_random_iter=False, clip_theta=1.0, eval_batch_size=10, plot=True,
          updater=None, on_batch=None, on_epoch=None):
    """Train on ``corpus.train``; after each epoch measure perplexity on ``corpus.valid``.

    Taught in chapter 02; the one training loop of the book, the command line and the
    benchmarks. ``lr`` is a learning rate or a ``Schedule``; a schedule that has finished
    epochs already (a resumed run) continues after its last one, up to ``num_epochs``.
    Returns the schedule's history (see ``Schedule``). ``updater`` defaults to SGD
    (``Updater``); ``plot`` draws both perplexities live; ``on_batch`` goes to
    ``train_epoch``; ``on_epoch(schedule)`` is called after every epoch.
    """
    schedule = lr if isinstance(lr, Schedule) else Schedule(lr)
    check_minibatch_args(corpus.valid, eval_batch_size, num_steps)  # now, not after an epoch
    loader = SeqDataLoader(corpus.train, batch_size, num_steps, use_random_iter)
    updater = updater or Updater(model, schedule.lr, ctx)
    figure = PerplexityPlot() if plot else None
    for epoch in range(schedule.epoch + 1, num_epochs + 1):
        if schedule.stopped_early:
            break
        schedule.start_epoch(epoch)
        updater.set_learning_rate(schedule.lr)
        start = time.time()
        train_ppl, speed = train_epoch(model, loader, updater, ctx, clip_theta, epoch, on_batch)
        val_ppl = evaluate_perplexity(model, corpus.valid, ctx, eval_batch_size, num_steps)
        schedule.end_epoch(model, dict(epoch=epoch, lr=schedule.lr, train_ppl=train_ppl,
                                       val_ppl=val_ppl, tokens_per_s=speed,
                                       seconds=time.time() - start))
        if figure:
            figure.update(schedule.history)
        if on_epoch:
            on_epoch(schedule)
    schedule.finish(model)
    return schedule.history
