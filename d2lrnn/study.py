"""Studies: a grid of training runs declared in code, run resumably, one JSON line per run.

Introduced in chapter 10 (``studies/depth.py`` declares the depth study). A study is an
ordered dict of *parts*, each a list of run configurations in the run-folder format
(``runs.py``: ``model``, ``corpus``, ``training`` sections). A run is known by ``run_id``, a
digest of its configuration, so a changed configuration is a new run. ``run_study`` trains
every run that has no row in the results file yet, part by part, with the book's loop
(``commands.train_run``: chapter 07's plateau schedule, one commit per epoch): each run's
folder lives in ``runs_dir/<id>``, so a killed study continues from the last finished epoch
of the run it was in; once its row is written, the folder keeps only its record and
``model.params`` (the best parameters). When a run ends, one line is appended to the results file (the whole
file replaced atomically): ``row``'s fields, sealed by a digest so that a hand-edited row is
caught. ``check_results`` compares a results file with the grid; ``seed_groups`` gathers the
rows of runs that differ only in their seed; ``rank_separation`` says whether two such groups
differ beyond their spread, and ``seed_verdict`` says it in the words every chapter prints.
"""
import hashlib
import json
import os
import platform
import statistics
import subprocess

import mxnet as mx

from . import runs
from .commands import read_corpus, train_run
from .files import read_json, write_text
from .depth import param_count

RESULT_FIELDS = ('id', 'config', 'parameters', 'history', 'best_epoch', 'best_val_ppl',
                 'test_ppl', 'stopped_early', 'converged', 'epochs', 'seconds', 'threads',
                 'isa', 'commit', 'digest')


class StudyError(ValueError):
    """Results that do not match the study's grid: stale, missing, damaged or edited rows."""


def canonical(value):
    """The JSON text a digest is taken of: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(',', ':'))


def run_id(config):
    """The 12-hex-digit name of the run ``config`` describes (and of its folder)."""
    return hashlib.sha1(canonical(config).encode()).hexdigest()[:12]


def seal(row):
    """``row`` with its ``digest``: sha1 of every other field."""
    fields = {key: value for key, value in row.items() if key != 'digest'}
    return dict(fields, digest=hashlib.sha1(canonical(fields).encode()).hexdigest())


def code_version():
    """The commit of the package's checkout (``git describe --always``), with ``-dirty`` when
    the code a run executes (``d2lrnn/``, ``studies/*.py``) differs from it; or 'unknown'.
    The results files and the chapters do not count: a study appends to its results file
    while it runs."""
    def git(*args):
        return subprocess.run(['git', *args], capture_output=True, text=True, check=True,
                              timeout=10, cwd=os.path.dirname(__file__)).stdout.strip()
    try:
        changed = git('status', '--porcelain', '--untracked-files=no', '--', ':/d2lrnn',
                      ':/studies/*.py')
        return git('describe', '--always') + ('-dirty' if changed else '')
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def cpu_isa():
    """The instruction set oneDNN may use: DNNL_MAX_CPU_ISA, capped by the processor."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line for line in f if line.startswith('flags')), '').split()
    except OSError:
        flags = []
    cpu = ('avx512' if 'avx512f' in flags else 'avx2' if 'avx2' in flags
           else platform.machine())
    return f'{os.environ.get("DNNL_MAX_CPU_ISA", "ALL")} on {cpu}'


def load_results(path):
    """The rows of a results file by run id; ``StudyError`` naming a damaged or edited line."""
    rows = {}
    if not os.path.isfile(path):
        return rows
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, start=1):
            try:
                row = json.loads(line)
                ok = set(row) == set(RESULT_FIELDS) and seal(row)['digest'] == row['digest']
            except (ValueError, TypeError):
                ok = False
            if not ok:
                raise StudyError(f'{path}, line {number}: not a row written by the study (damaged '
                                 'or edited by hand); delete the line to run that run again')
            if row['id'] in rows:
                raise StudyError(f'{path}, line {number}: a second row for run {row["id"]}')
            rows[row['id']] = row
    return rows


def check_results(parts, rows, finished, path='results'):
    """Raise ``StudyError`` listing every row that is not a run of ``parts`` (stale) or
    disagrees with itself, and every run of a part named in ``finished`` without a row."""
    grid = {run_id(config): config for configs in parts.values() for config in configs}
    problems = []
    for key, row in rows.items():
        values = [record['val_ppl'] for record in row['history']]
        if key not in grid or row['id'] != run_id(row['config']):
            problems.append(f'row {key} is not a run of the grid (stale)')
        elif not values or row['best_val_ppl'] != min(values) or row['epochs'] != len(values) \
                or values[row['best_epoch'] - 1] != row['best_val_ppl']:
            problems.append(f'row {key} disagrees with its own history')
    for name in finished:
        if name not in parts:
            problems.append(f'finished part {name!r} is not a part of the study')
            continue
        missing = [run_id(config) for config in parts[name] if run_id(config) not in rows]
        if missing:
            problems.append(f'part {name!r} is marked finished but lacks the runs '
                            f'{", ".join(missing)}')
    if problems:
        raise StudyError(f'{path}: ' + '; '.join(problems))


def row_from_folder(folder, config, started_version):
    """The results row of the finished run in ``folder``."""
    result = read_json(os.path.join(folder, runs.RESULT))
    history = read_json(os.path.join(folder, runs.STATE))['history']
    kwargs = config['model']['kwargs']
    parameters = param_count(kwargs['cell'], kwargs['vocab_size'], kwargs['num_hiddens'],
                             kwargs['num_layers'], kwargs['embed_size'], kwargs['tie_weights'],
                             kwargs.get('input_projection', False))
    return seal(dict(
        id=run_id(config), config=config, parameters=parameters, history=history,
        best_epoch=result['best_epoch'], best_val_ppl=result['best_val_ppl'],
        test_ppl=result['test_ppl'], stopped_early=result['stopped_early'],
        converged=result['stopped_early'], epochs=result['epochs'],
        seconds=round(sum(record['seconds'] for record in history), 1),
        threads=int(os.environ['OMP_NUM_THREADS']), isa=cpu_isa(), commit=started_version))


def append_row(path, row):
    """Add ``row`` as the last line of the results file, replacing the file atomically."""
    old = open(path, encoding='utf-8').read() if os.path.isfile(path) else ''
    write_text(path, old + json.dumps(row, sort_keys=True) + '\n')


def run_study(parts, results_path, runs_dir, names=None, ctx=None, log=print):
    """Train every run of the parts ``names`` (all by default, in order) that has no row in
    ``results_path``; return the number of runs trained."""
    ctx = ctx or mx.cpu()
    version = code_version()
    unknown = sorted(set(names or ()) - set(parts))
    if unknown:
        raise StudyError(f'no part {", ".join(unknown)}; parts: {", ".join(parts)}')
    corpora, trained = {}, 0
    for name in names or parts:
        for config in parts[name]:
            rows = load_results(results_path)
            key = run_id(config)
            if key in rows:
                continue
            corpus_key = canonical(config['corpus'])
            if corpus_key not in corpora:
                corpora[corpus_key] = read_corpus(config['corpus'])
            corpus = corpora[corpus_key]
            vocab_size = config['model']['kwargs']['vocab_size']
            if len(corpus.vocab) != vocab_size:
                raise StudyError(f'run {key}: the corpus has {len(corpus.vocab)} tokens, the '
                                 f'grid declares vocab_size {vocab_size}')
            folder = os.path.join(runs_dir, key)
            log(f'{name}: run {key} ({describe(config)})')
            train_run(folder, config, corpus, ctx, resume=runs.holds_run(folder))
            append_row(results_path, row_from_folder(folder, config, version))
            for file in os.listdir(folder):  # the row holds the record: keep the best model
                if file.endswith(('.params', '.states')) and file != runs.PARAMS:
                    os.remove(os.path.join(folder, file))
            trained += 1
    return trained


def describe(config):
    """A short label of a run: cell, layers x width, the options that differ from defaults."""
    kwargs, training = config['model']['kwargs'], config['training']
    extras = [f'{key}={kwargs[key]}' for key in ('dropout', 'residual', 'forget_bias',
                                                 'input_projection', 'tie_weights', 'variational')
              if kwargs.get(key)]
    fraction = config['corpus'].get('train_fraction', 1)
    return (f'{config["corpus"]["name"]}{"" if fraction == 1 else f" x{fraction}"} '
            f'{kwargs["cell"]} {kwargs["num_layers"]}x{kwargs["num_hiddens"]} '
            f'lr {training["lr"]} seed {training["seed"]}' + ''.join(f', {e}' for e in extras))


def seed_groups(configs, rows, field='best_val_ppl'):
    """The runs of ``configs`` that differ only in their seed, in grid order: one dict per
    group with ``config`` (the first seed's), ``declared`` (its number of seeds), ``values``
    (``field`` of the rows that exist), ``mean``, ``std`` (sample; 0 for one row) and
    ``min``/``max`` (``None`` without rows)."""
    groups = {}
    for config in configs:
        training = {k: v for k, v in config['training'].items() if k != 'seed'}
        key = canonical(dict(config, training=training))
        group = groups.setdefault(key, dict(config=config, declared=0, values=[]))
        group['declared'] += 1
        if run_id(config) in rows:
            group['values'].append(rows[run_id(config)][field])
    for group in groups.values():
        values = group['values']
        group.update(mean=statistics.mean(values) if values else None,
                     std=statistics.stdev(values) if len(values) > 1 else (0.0 if values else None),
                     min=min(values, default=None), max=max(values, default=None))
    return list(groups.values())


def rank_separation(values, baseline):
    """-1 if every value lies below every ``baseline`` value, 1 if every one lies above, 0 if
    the two ranges overlap.

    With three seeds on each side and no real difference (the six values exchangeable), a
    clean separation in one given direction happens with probability 1/20: the one-sided
    exact rank test at 5 %. Chapter 10 calls a difference real only when it separates.
    """
    if not values or not baseline:
        raise ValueError('rank_separation needs at least one value on each side')
    if max(values) < min(baseline):
        return -1
    if min(values) > max(baseline):
        return 1
    return 0


SEED_VERDICTS = {-1: 'lower in every seed', 1: 'higher in every seed',
                 0: 'within the seed spread'}


def seed_verdict(values, baseline):
    """``rank_separation`` in words: where ``values`` (one per seed) lie against ``baseline``'s.

    Chapters 02, 03, 07, 08 and 10 word their seed comparisons with it.
    """
    return SEED_VERDICTS[rank_separation(values, baseline)]
