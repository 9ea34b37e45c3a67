"""Device selection: a GPU only if a real kernel runs on it, the CPU otherwise.

Taught in chapter 04. PyPI's MXNet GPU wheels hold kernels for sm_50..sm_86 and no PTX, so
on a Hopper GPU (or a CPU-only build) ``mx.gpu()`` exists but nothing runs: probing with a
small matrix product tells the two apart.
"""
import mxnet as mx


def gpu_problem(i=0):
    """``None`` if GPU ``i`` runs a kernel, else a short reason why it cannot be used."""
    try:
        if mx.context.num_gpus() <= i:
            return 'no usable GPU found (CPU build of MXNet, or no CUDA device)'
        x = mx.nd.ones((2, 2), ctx=mx.gpu(i))
        mx.nd.dot(x, x).asnumpy()
        return None
    except mx.base.MXNetError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        reason = next((line for line in lines if line.startswith('MXNetError')),
                      lines[-1] if lines else type(err).__name__)
        return f'GPU {i} cannot run MXNet kernels ({reason[:120]})'


def try_gpu(i=0, verbose=True):
    """``mx.gpu(i)`` if a kernel runs there, else ``mx.cpu()`` with one line saying why.

    Taught in chapter 04.
    """
    problem = gpu_problem(i)
    if problem is None:
        return mx.gpu(i)
    if verbose:
        print(f'using the CPU: {problem}')
    return mx.cpu()
