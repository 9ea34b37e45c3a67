"""Data parallelism: one minibatch split across devices and processes, gradients summed by a
kvstore.

Taught in chapter 11. A global minibatch of ``B`` rows (each row a contiguous stretch of the
token stream, ``iterators.SeqDataLoader``) is cut into ``W`` equal blocks of rows, one per
worker process (``ParallelUpdater.shard``), and each worker's block into one part per
context (``DataParallel``). Every part carries the hidden state of its own rows from one
minibatch to the next, exactly as the rows would in one process. Each worker's loss is the
mean over its tokens, so the sum of the workers' gradients divided by ``W`` is the gradient of
the global minibatch's mean loss: the kvstore sums, the updater divides, clips the sum's global
norm and updates. Every worker then holds the same parameters, so training does not depend on
``W`` or on the number of contexts (up to the order of floating-point sums).
"""
import json
import os
import socket
import time
import zlib

import mxnet as mx
from mxnet import gluon, nd

from .device import gpu_problem
from .training import NO_CLIP, OPTIMIZERS, Updater, global_norm

# dist_async is not offered: its optimizer state lives on the servers, so a run could not be
# checkpointed and resumed, and its updates depend on timing (chapter 11).
KVSTORES = ('local', 'device', 'dist_sync', 'dist_device_sync')
# --compression: the kvstore's gradient compression (its 2-bit quantisation, error kept).
COMPRESSION = {'none': None, '2bit': {'type': '2bit', 'threshold': 0.5}}
CONFIG_KEY = 1 << 20  # a kvstore key no parameter uses: the workers' configuration check
SCHEDULER_TIMEOUT = 20  # seconds a worker tries to reach the scheduler before it gives up


def row_blocks(num_rows, num_parts):
    """(start, stop) of ``num_parts`` equal blocks of ``num_rows`` rows; ``ValueError`` if they
    do not divide evenly.

    Taught in chapter 11.
    """
    if num_rows % num_parts:
        raise ValueError(f'{num_rows} rows cannot be split evenly into {num_parts} parts: '
                         f'choose a batch size that is a multiple of {num_parts}')
    size = num_rows // num_parts
    return [(part * size, (part + 1) * size) for part in range(num_parts)]


class DataParallel(gluon.Block):
    """``model`` run on several contexts: each call splits the rows of ``X`` among ``ctxs``.

    Taught in chapter 11. The model's parameters must be initialised on every context of
    ``ctxs``. The state is a list with one state per context, for that context's rows
    (``begin_state``). The logits of every part are gathered on ``ctxs[0]`` in the model's
    order (time major over all rows), so the loss is computed as for one context. Parameters
    are the model's, under the model's own names: a checkpoint does not depend on ``ctxs``.
    """

    def __init__(self, model, ctxs):
        super().__init__()
        self.net, self.ctxs = model, list(ctxs)

    def collect_params(self, select=None):
        return self.net.collect_params(select)

    def _collect_params_with_prefix(self, prefix=''):
        return self.net._collect_params_with_prefix(prefix)

    def begin_state(self, batch_size, ctx=None):
        return [self.net.begin_state(stop - start, ctx)
                for (start, stop), ctx in zip(row_blocks(batch_size, len(self.ctxs)), self.ctxs)]

    def forward(self, X, state):
        num_steps = X.shape[1]
        logits, new_state = [], []
        for (start, stop), ctx, part_state in zip(row_blocks(X.shape[0], len(self.ctxs)),
                                                  self.ctxs, state):
            part_logits, part_state = self.net(X[start:stop].as_in_context(ctx), part_state)
            logits.append(part_logits.as_in_context(self.ctxs[0])
                          .reshape((num_steps, stop - start, -1)))
            new_state.append(part_state)
        return nd.concat(*logits, dim=1).reshape((-3, 0)), new_state


def parse_devices(text):
    """The contexts a ``--devices`` list names (``cpu:0,cpu:1``, ``gpu:0,gpu:1``); a
    ``ValueError`` saying what is valid.

    Taught in chapter 11. A GPU that cannot run a kernel is refused (``device.gpu_problem``).
    """
    contexts = []
    for item in text.split(','):
        kind, _, index = item.strip().partition(':')
        if kind not in ('cpu', 'gpu') or not index.isdigit():
            raise ValueError(f'{item.strip()!r} is not a device: give auto, cpu, gpu or a list '
                             'such as cpu:0,cpu:1 or gpu:0,gpu:1')
        if kind == 'gpu':
            problem = gpu_problem(int(index))
            if problem:
                raise ValueError(f'{item.strip()}: {problem}')
        contexts.append(mx.Context(kind, int(index)))
    if len(set(contexts)) != len(contexts):
        raise ValueError(f'{text!r} names a device twice')
    return contexts


def dist_problem(kvstore):
    """Why ``kvstore`` cannot be created in this process, or ``None``.

    Taught in chapter 11: a ``dist_*`` store needs the environment a launcher gives, and a
    scheduler that answers (ps-lite itself would wait for it forever).
    """
    if not kvstore.startswith('dist'):
        return None
    if 'DMLC_ROLE' not in os.environ:
        return (f'--kvstore {kvstore} runs in processes started by a launcher, which tell each '
                'one its role and the scheduler\'s address: python -m d2lrnn launch -n WORKERS '
                '-s SERVERS -- train ...')
    address = (os.environ.get('DMLC_PS_ROOT_URI'), int(os.environ.get('DMLC_PS_ROOT_PORT', 0)))
    deadline = time.time() + SCHEDULER_TIMEOUT
    while True:  # ps-lite would wait for an unreachable scheduler forever
        try:
            socket.create_connection(address, timeout=1).close()
            return None
        except OSError:
            if time.time() > deadline:
                return (f'the scheduler at {address[0]}:{address[1]} cannot be reached '
                        f'(tried for {SCHEDULER_TIMEOUT} s)')
            time.sleep(0.2)


class ParallelUpdater(Updater):
    """An ``Updater`` for a gluon model on several contexts and, with a ``dist_*`` kvstore,
    several worker processes.

    Taught in chapter 11. ``kvstore`` is one of ``KVSTORES``; ``compression`` a kvstore
    gradient compression (e.g. ``{'type': '2bit', 'threshold': 0.5}``) or ``None``; ``config``,
    if given, must be the same on every worker (``check_same_config``). ``shard`` keeps this
    worker's block of rows; ``gradient_norm`` sums the gradients over contexts and workers
    through the kvstore (one key per parameter, set up here) into every context's gradient,
    divides by the number of workers and returns the global norm; ``step`` updates every copy
    with the Trainer (clipping inside the update, the same factor everywhere), which never
    touches the kvstore.
    """

    def __init__(self, model, lr, ctxs, optimizer='sgd', kvstore='device', compression=None,
                 config=None):
        if kvstore not in KVSTORES:
            raise ValueError(f'unknown kvstore {kvstore!r}; valid: {", ".join(KVSTORES)}')
        problem = dist_problem(kvstore)
        if problem:
            raise ValueError(problem)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f'unknown optimizer {optimizer!r}; valid: {", ".join(OPTIMIZERS)}')
        store = mx.kv.create(kvstore)
        self.lr, self.ctxs, self.store = lr, list(ctxs), store
        self.rank, self.num_workers = store.rank, store.num_workers
        if config is not None:
            check_same_config(self, config)  # before compression, which would garble it
        if compression:
            store.set_gradient_compression(compression)
        self.params = [p for p in model.collect_params().values() if p.grad_req != 'null']
        self.trainer = gluon.Trainer(self.params, optimizer,
                                     {'learning_rate': lr, 'clip_gradient': NO_CLIP}, kvstore=None)
        for key, param in enumerate(self.params):  # a gradient slot per parameter
            store.init(key, nd.zeros(param.shape))

    def shard(self, X, Y):
        start, stop = row_blocks(X.shape[0], self.num_workers)[self.rank]
        return X[start:stop], Y[start:stop]

    def gradient_norm(self):
        for key, param in enumerate(self.params):  # the sum over contexts and workers ...
            self.store.push(key, param.list_grad(), priority=-key)
        for key, param in enumerate(self.params):  # ... back into every context's gradient
            self.store.pull(key, out=param.list_grad(), priority=-key)
        if self.num_workers > 1:
            for param in self.params:
                for grad in param.list_grad():
                    grad /= self.num_workers
        return global_norm([param.grad(self.ctxs[0]) for param in self.params])


def check_same_config(updater, config):
    """Raise ``ValueError`` on every worker of a ``dist_sync`` job unless all were given the
    same configuration (their devices aside): each pushes a checksum, the servers sum them.

    Taught in chapter 11.
    """
    if updater.num_workers == 1:
        return
    shared = dict(config, training={k: v for k, v in config['training'].items() if k != 'device'})
    checksum = zlib.crc32(json.dumps(shared, sort_keys=True).encode()) % 65521 + 1
    total = nd.zeros(1)
    updater.store.init(CONFIG_KEY, nd.zeros(1))
    updater.store.push(CONFIG_KEY, nd.array([checksum]))
    updater.store.pull(CONFIG_KEY, out=total)
    if total.asscalar() != checksum * updater.num_workers:
        raise ValueError(f'worker {updater.rank}: the workers were started with different '
                         'options; give every worker the same train options')
