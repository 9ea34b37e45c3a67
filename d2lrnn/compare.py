"""What ``python -m d2lrnn compare`` does: train a grid of cells x depths with ``train``'s
code, one run folder each, and tabulate them."""
import csv
import io
import os
import statistics

from . import runs
from .commands import UserError, new_config, pick_device, read_corpus, train_run
from .files import write_text
from .models import count_params

RESULT_COLUMNS = ('cell', 'layers', 'parameters', 'train_ppl', 'val_ppl', 'test_ppl',
                  'best_epoch', 'tokens_per_s', 'seconds')


def results_table(rows):
    """(Markdown table, CSV text) of the compare rows (dicts keyed by RESULT_COLUMNS)."""
    def number(value, spec):
        return '' if value is None else format(value, spec)
    lines = ['| cell | layers | parameters | train ppl | val ppl | test ppl | best epoch '
             '| tokens/s | seconds |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    lines += [f'| {r["cell"]} | {r["layers"]} | {r["parameters"]:,} | {r["train_ppl"]:.2f} '
              f'| {r["val_ppl"]:.2f} | {number(r["test_ppl"], ".2f")} | {r["best_epoch"]} '
              f'| {r["tokens_per_s"]:,.0f} | {r["seconds"]:.1f} |' for r in rows]
    csv_text = io.StringIO()
    writer = csv.DictWriter(csv_text, RESULT_COLUMNS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return '\n'.join(lines) + '\n', csv_text.getvalue()


def run_compare(args):
    corpus = read_corpus(dict(name=args.corpus, level=getattr(args, 'level', None),
                              max_tokens=getattr(args, 'max_tokens', None)))
    folders = {(cell, layers): os.path.join(args.out, f'{cell}-L{layers}')
               for cell in args.cells for layers in args.num_layers}
    taken = [folder for folder in folders.values() if runs.holds_run(folder)]
    if taken:
        raise UserError(f'--out {args.out} already holds the run(s) {", ".join(taken)}: '
                        'choose another folder')
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for (cell, layers), folder in folders.items():
        config = new_config(dict(vars(args), cell=cell, num_layers=layers), corpus)
        model, schedule, result = train_run(folder, config, corpus,
                                            pick_device(config['training']['device']))
        best = schedule.history[result['best_epoch'] - 1]
        rows.append(dict(cell=cell, layers=layers, parameters=count_params(model),
                         train_ppl=best['train_ppl'], val_ppl=best['val_ppl'],
                         test_ppl=result['test_ppl'], best_epoch=result['best_epoch'],
                         tokens_per_s=statistics.median(h['tokens_per_s']
                                                        for h in schedule.history),
                         seconds=sum(h['seconds'] for h in schedule.history)))
        markdown, csv_text = results_table(rows)  # rewritten after each run
        write_text(os.path.join(args.out, 'results.md'), markdown)
        write_text(os.path.join(args.out, 'results.csv'), csv_text)
    print(markdown, end='')
