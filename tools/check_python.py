"""Stop `make` early, with one clear line, on a Python that the book does not run on.

MXNet 1.9.1 ships one wheel for every Python 3 (py3-none), but it runs only where a NumPy
below 2 installs from a wheel or builds: 3.8-3.11 with numpy 1.23.5 and 3.12-3.13 with
numpy 1.26 (see pyproject.toml). `tests/test_environment.py` keeps this range equal to
`requires-python`. Written for any Python 3, so that an old one still gets the message.
"""
import sys

SUPPORTED = ((3, 8), (3, 13))

if not SUPPORTED[0] <= tuple(sys.version_info[:2]) <= SUPPORTED[1]:
    sys.exit(
        'd2lrnn supports Python %d.%d-%d.%d (found %d.%d at %s): mxnet==1.9.1 needs a numpy<2, '
        'which installs only there. Run `make PYTHON=python3.11 ...`, or create the conda '
        'environment: `conda env create -f environment.yml`.'
        % (SUPPORTED[0] + SUPPORTED[1] + tuple(sys.version_info[:2]) + (sys.executable,)))
