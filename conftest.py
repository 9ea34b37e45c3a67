"""Notebook settings for `pytest --nbval-lax chapters`, and per-chapter times.

Only cells tagged ``nbval-check-output`` are compared; within them, figures (SVG, PNG),
HTML renderings and stderr are not, since they vary between runs and machines.
"""
import collections

_seconds_per_file = collections.defaultdict(float)


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == '.ipynb':
        collector.skip_compare += ('image/svg+xml', 'image/png', 'text/html',
                                   'application/javascript', 'stderr')


def pytest_runtest_logreport(report):
    _seconds_per_file[report.nodeid.split('::')[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    notebooks = {k: v for k, v in _seconds_per_file.items() if k.endswith('.ipynb')}
    if notebooks:
        terminalreporter.write_sep('-', 'per-chapter times (quick mode)')
        for name, seconds in sorted(notebooks.items()):
            terminalreporter.write_line(f'{name:<50} {seconds:7.1f} s')
        terminalreporter.write_line(f'{"total":<50} {sum(notebooks.values()):7.1f} s')
