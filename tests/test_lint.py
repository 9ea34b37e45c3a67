"""``ruff check`` (pyflakes' rules and syntax errors, configured in ``ruff.toml``) finds nothing."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
FOLDERS = [f for f in ('d2lrnn', 'tests', 'benchmarks', 'tools', 'studies')
           if os.path.isdir(os.path.join(ROOT, f))]


def test_ruff_finds_nothing():
    try:
        import ruff  # noqa: F401
    except ImportError:
        pytest.fail('ruff is not installed: .venv/bin/python -m pip install ruff')
    result = subprocess.run(
        [sys.executable, '-m', 'ruff', 'check', '--no-cache', '--output-format', 'concise',
         '--config', os.path.join(ROOT, 'ruff.toml'), *FOLDERS],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        pytest.fail(f'ruff check {" ".join(FOLDERS)}:\n{result.stdout}{result.stderr}',
                    pytrace=False)
