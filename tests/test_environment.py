"""The environment files agree: pyproject.toml (pip, Python 3.8-3.13, with environment
markers), environment.yml (conda, Python 3.11), the Makefile's d2l step for 3.12+, and the
Python check that `make` runs first."""
import os
import re
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

tomllib = pytest.importorskip('tomllib')
ROOT = os.path.join(os.path.dirname(__file__), '..')
MINORS = range(5, 17)   # Python 3.5-3.16: the check must accept exactly the supported ones


def _project():
    with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
        return tomllib.load(f)['project']


def _requirements(project):
    return [Requirement(r) for r in
            project['dependencies'] + project['optional-dependencies']['dev']]


def _resolved(requirements, python):
    """The requirements that apply on `python` ('3.11'), as strings without their markers."""
    env = {'python_version': python, 'python_full_version': python + '.0'}
    kept = set()
    for r in requirements:
        if r.marker is None or r.marker.evaluate(env):
            r = Requirement(str(r))
            r.marker = None
            kept.add(str(r))
    return kept


def _supported(project):
    spec = SpecifierSet(project['requires-python'])
    return [m for m in MINORS if '3.%d.0' % m in spec]


def _check(minor):
    code = ('import sys; sys.version_info = (3, %d, 0, "final", 0); '
            'exec(open("tools/check_python.py").read())' % minor)
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)


def test_pyproject_and_environment_yml_agree():
    project = _project()
    with open(os.path.join(ROOT, 'environment.yml')) as f:
        env = yaml.safe_load(f)
    pip_section = next(d['pip'] for d in env['dependencies'] if isinstance(d, dict))
    assert '-e .' in pip_section
    python = next(d for d in env['dependencies'] if isinstance(d, str) and d.startswith('python='))
    version = python.split('=')[1]
    assert int(version.split('.')[1]) in _supported(project)
    conda = {str(Requirement(r)) for r in pip_section if r != '-e .'}
    assert conda == _resolved(_requirements(project), version)


def test_each_supported_python_gets_one_numpy_below_2_and_d2l():
    """Markers must not overlap or leave a gap, and every resolution keeps MXNet's numpy<2."""
    project = _project()
    with open(os.path.join(ROOT, 'Makefile')) as f:
        makefile = f.read()
    make_d2l = re.search(r'^D2L := (\S+)$', makefile, re.M).group(1)
    supported = _supported(project)
    assert supported == list(range(8, 14))
    for minor in supported:
        reqs = [Requirement(r) for r in _resolved(_requirements(project), '3.%d' % minor)]
        names = [r.name for r in reqs]
        assert len(names) == len(set(names)), (minor, sorted(names))
        numpy = next(r for r in reqs if r.name == 'numpy')
        assert not numpy.specifier.contains('2.0.0') and list(numpy.specifier), (minor, numpy)
        d2l = [str(r) for r in reqs if r.name == 'd2l']
        if minor < 12:
            assert d2l == [make_d2l], minor   # with its own pins
        else:
            assert d2l == [], minor           # the Makefile installs it with --no-deps
            assert 'setuptools' in names, minor


def test_makefile_refuses_unsupported_python():
    supported = _supported(_project())
    for minor in MINORS:
        result = _check(minor)
        if minor in supported:
            assert result.returncode == 0 and result.stderr == '', (minor, result.stderr)
        else:
            assert result.returncode != 0, minor
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, lines
            assert 'supports Python 3.8-3.13 (found 3.%d' % minor in lines[0]
            assert 'environment.yml' in lines[0]
