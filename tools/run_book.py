"""Execute every chapter top to bottom in full mode; store the outputs; write build/.

Run by `make book`. Each chapter runs in a fresh kernel with D2LRNN_QUICK unset and the
thread count fixed by the Makefile, so the stored outputs are what a reader reproduces.
Executed notebooks go to build/notebooks/ and back into chapters/, HTML to build/html/, the
per-chapter times to build/book-times.txt (the README quotes a copy in benchmarks/results/).
"""
import glob
import os
import sys
import time

import nbformat
import zmq
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from traitlets.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kernel_config():
    """Settings for the kernel manager: CurveZMQ keys for the kernel's sockets.

    ipykernel (7.4 here) prints "[IPKernelApp] WARNING | Kernel is running over TCP without
    encryption ..." on its stderr, which is this script's, whenever it starts without keys.
    jupyter_client (8.10 here) provisions them when its `transport_encryption` setting asks
    for it and the kernel spec declares support; where the setting does not exist, kernels
    start as before. The kernel's stderr stays this script's: whatever else it prints shows.
    """
    config = Config()
    if 'transport_encryption' in KernelManager.class_trait_names() and zmq.has('curve'):
        config.KernelManager.transport_encryption = 'auto'
    return config


def main(patterns):
    os.environ.pop('D2LRNN_QUICK', None)
    chapters = sorted(glob.glob(os.path.join(ROOT, 'chapters', '*.ipynb')))
    if patterns:
        chapters = [c for c in chapters if any(p in os.path.basename(c) for p in patterns)]
    for sub in ('notebooks', 'html'):
        os.makedirs(os.path.join(ROOT, 'build', sub), exist_ok=True)
    times = []
    for path in chapters:
        name = os.path.basename(path)
        print(f'executing {name} ...', flush=True)
        start = time.time()
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=None, kernel_name='python3', config=kernel_config(),
                       resources={'metadata': {'path': os.path.dirname(path)}}).execute()
        times.append((name, time.time() - start))
        nbformat.write(notebook, os.path.join(ROOT, 'build', 'notebooks', name))
        nbformat.write(notebook, path)
        html, _ = HTMLExporter().from_notebook_node(notebook)
        with open(os.path.join(ROOT, 'build', 'html', name[:-len('.ipynb')] + '.html'),
                  'w', encoding='utf-8') as f:
            f.write(html)
    total = sum(s for _, s in times)
    report = [f'make book, {time.strftime("%Y-%m-%d", time.gmtime())}: seconds per chapter '
              f'(read, execute, write, HTML), OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS")}']
    report += [f'  {name:<40} {seconds:7.1f} s' for name, seconds in times]
    report += [f'  {"total":<40} {total:7.1f} s = {total / 60:.1f} min']
    print('\n' + '\n'.join(report))
    with open(os.path.join(ROOT, 'build', 'book-times.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(report) + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
