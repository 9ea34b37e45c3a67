"""The command line's progress bar: one tqdm bar per epoch on stderr (``commands.train_run``)."""
import math
import sys

from tqdm import tqdm


class ProgressBar:
    """One tqdm bar per epoch on stderr: running loss, perplexity and tokens/s."""

    def __init__(self, num_epochs, tokens_per_epoch, epoch=1):
        self.num_epochs, self.tokens_per_epoch = num_epochs, tokens_per_epoch
        self.epoch, self.bar = epoch, None

    def on_batch(self, num_tokens, loss):
        if self.bar is None:
            self.bar = tqdm(total=self.tokens_per_epoch, unit='tok', unit_scale=True,
                            desc=f'epoch {self.epoch}/{self.num_epochs}', file=sys.stderr,
                            disable=None, dynamic_ncols=True, leave=False)
            self.loss_sum, self.num_tokens = 0.0, 0
        self.loss_sum += loss * num_tokens
        self.num_tokens += num_tokens
        mean = self.loss_sum / self.num_tokens
        self.bar.set_postfix(loss=f'{mean:.3f}', ppl=f'{math.exp(mean):.1f}', refresh=False)
        self.bar.update(num_tokens)

    def close(self):
        """Close the current epoch's bar; the next batch opens the next epoch's."""
        if self.bar is not None:
            self.bar.close()
        self.epoch, self.bar = self.epoch + 1, None
