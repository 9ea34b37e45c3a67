"""pyproject.toml (pip) and environment.yml (conda) must describe the same environment."""
import os
import re

import pytest
import yaml

tomllib = pytest.importorskip('tomllib')
ROOT = os.path.join(os.path.dirname(__file__), '..')


def test_pyproject_and_environment_yml_agree():
    with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
        project = tomllib.load(f)['project']
    with open(os.path.join(ROOT, 'environment.yml')) as f:
        env = yaml.safe_load(f)
    pip_section = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict))
    pip_reqs = {r for r in pip_section if r != '-e .'}
    wanted = set(project['dependencies']) | set(project['optional-dependencies']['dev'])
    assert pip_reqs == wanted
    assert '-e .' in pip_section
    python = next(d for d in env['dependencies'] if isinstance(d, str) and d.startswith('python='))
    major, minor = map(int, python.split('=')[1].split('.'))
    low, high = re.match(r'>=(\d+\.\d+),<(\d+\.\d+)', project['requires-python']).groups()
    assert tuple(map(int, low.split('.'))) <= (major, minor) < tuple(map(int, high.split('.')))


def test_makefile_refuses_unsupported_python():
    import subprocess
    import sys
    code = ('import sys; sys.version_info = (3, 12, 0, "final", 0); '
            'exec(open("tools/check_python.py").read())')
    result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert 'needs Python 3.8-3.11' in result.stderr and 'environment.yml' in result.stderr
