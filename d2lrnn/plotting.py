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

    Taught in chapter 02. In a notebook the figure is shown once and then updated in place;
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
        self.ax.plot(epochs, [h['train_ppl'] for h in history], '-', label='train')
        self.ax.plot(epochs, [h['val_ppl'] for h in history], '--', label='validation')
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
