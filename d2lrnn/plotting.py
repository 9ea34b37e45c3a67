"""Figures: perplexity per epoch, drawn in place in a notebook, saved to a file headless.

Taught in chapter 02.
"""
from matplotlib.figure import Figure


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, 'kernel')


class PerplexityPlot:
    """Train and validation perplexity per epoch; ``update(history)`` redraws it.

    Introduced in chapter 02. In a notebook the figure is shown once and then updated in place;
    elsewhere nothing is shown and ``save(path)`` writes it (e.g. ``perplexity.png``).
    """

    def __init__(self, title=None, figsize=(4.5, 3)):
        # A pyplot-free Figure: works on any backend and is never shown twice by inline.
        self.fig = Figure(figsize=figsize, layout='tight')
        self.ax = self.fig.add_subplot()
        self.title, self.handle = title, None

    def update(self, history):
        epochs = [h['epoch'] for h in history]
        self.ax.cla()
        self.ax.plot(epochs, [h['train_ppl'] for h in history], 'o-', label='train')
        self.ax.plot(epochs, [h['val_ppl'] for h in history], 's--', label='validation')
        self.ax.set(xlabel='epoch', ylabel='perplexity', xlim=(1, max(epochs[-1], 2)))
        if self.title:
            self.ax.set_title(self.title)
        self.ax.legend()
        self.ax.grid(True)
        if _in_notebook():
            from IPython.display import display
            if self.handle is None:
                self.handle = display(self.fig, display_id=True)
            else:
                self.handle.update(self.fig)

    def save(self, path):
        self.fig.savefig(path)


def plot_histories(histories, key='val_ppl', ylabel='validation perplexity'):
    """One curve of ``key`` per epoch for each labelled history; returns the Figure.

    Taught in chapter 02.
    """
    fig = Figure(figsize=(5, 3), layout='tight')
    ax = fig.add_subplot()
    for label, history in histories.items():
        ax.plot([h['epoch'] for h in history], [h[key] for h in history], label=label)
    ax.set(xlabel='epoch', ylabel=ylabel)
    ax.legend()
    ax.grid(True)
    return fig


def comparison_table(results):
    """A Markdown table comparing runs: ``results`` maps a label to (parameters, history).

    Taught in chapter 02. Shows the last epoch's perplexities, the median training speed and
    the total wall time.
    """
    lines = ['| model | parameters | train ppl | validation ppl | tokens/s | seconds |',
             '|---|---:|---:|---:|---:|---:|']
    for label, (num_params, history) in results.items():
        speeds = sorted(h['tokens_per_s'] for h in history)
        lines.append(f'| {label} | {num_params:,} | {history[-1]["train_ppl"]:.2f} '
                     f'| {history[-1]["val_ppl"]:.2f} | {speeds[len(speeds) // 2]:,.0f} '
                     f'| {sum(h["seconds"] for h in history):.0f} |')
    return '\n'.join(lines)
