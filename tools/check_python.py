"""Stop `make` early, with one clear line, on a Python that MXNet 1.9.1 cannot run on."""
import sys

if not (3, 8) <= sys.version_info[:2] <= (3, 11):
    sys.exit(
        'd2lrnn needs Python 3.8-3.11 (found %d.%d at %s): mxnet==1.9.1 has no wheels for '
        'newer Pythons and needs numpy<1.24. Install python3.11 and run `make PYTHON=python3.11 ...`, '
        'or create the conda environment: `conda env create -f environment.yml`.'
        % (sys.version_info[0], sys.version_info[1], sys.executable))
