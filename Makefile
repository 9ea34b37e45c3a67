# `make book` executes every chapter (full mode) into build/ and stores the outputs in
# chapters/; `make test` runs every test, notebooks included (quick mode). Both create
# the venv and install the pinned set when needed.
#
# Python 3.11 is the default; 3.8-3.13 work. Another one, in a venv of its own:
#   make PYTHON=python3.13 VENV=.venv313 test
# PYTHON may name an interpreter that pyenv has installed but not selected.
PYTHON ?= python3.11 python3.10 python3.9 python3.8 python3.12 python3.13 python3
PYTHON_EXE := $(shell sh tools/find_python.sh $(PYTHON))
PYTHON_VERSION := $(if $(PYTHON_EXE),$(shell $(PYTHON_EXE) -c 'import sys; print("%d.%d" % sys.version_info[:2])'))
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(PYTHON_VERSION)-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Python >= 3.12 only: d2l 1.0.3 pins numpy 1.23.5, pandas 2.0.3 and scipy 1.10.1, which have
# no wheels there, so it is installed without its dependencies; pyproject.toml lists what
# its mxnet module imports. On 3.8-3.11 pyproject.toml installs it with its pins.
D2L := d2l==1.0.3
# Chapters (notebooks or folders) that `make notebooks`/`make test` run under nbval.
CHAPTERS ?= chapters
# Extra pytest options for `make unit`, e.g. PYTEST_ARGS='-m "not launch"'.
PYTEST_ARGS ?=
# Fixed thread count: the stored outputs are reproducible bit for bit at a given count.
BOOK_THREADS ?= 2

.PHONY: book test unit notebooks lab bench studies clean

$(STAMP):
	@test -n "$(PYTHON_EXE)" || { echo "no Python found among: $(PYTHON); d2lrnn needs 3.8-3.13 (3.11 preferred): make PYTHON=python3.11 ..." >&2; exit 1; }
	@$(PYTHON_EXE) tools/check_python.py
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYTHON_VERSION)" ]; then \
		echo "$(VENV) holds another Python than $(PYTHON_EXE) ($(PYTHON_VERSION)): give each its own folder, e.g. make PYTHON=python$(PYTHON_VERSION) VENV=.venv$(subst .,,$(PYTHON_VERSION)) ..." >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON_EXE) -m venv $(VENV)
	@test -f $(VENV)/.gitignore || echo '*' > $(VENV)/.gitignore
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@if $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "$(PY) -m pip install --quiet --no-deps '$(D2L)'"; \
		$(PY) -m pip install --quiet --no-deps '$(D2L)'; fi
	@rm -f $(VENV)/.installed-* && touch $@

book: $(STAMP)
	OMP_NUM_THREADS=$(BOOK_THREADS) $(PY) tools/run_book.py

test: unit notebooks

unit: $(STAMP)
	$(PY) -m pytest tests -q $(PYTEST_ARGS)

notebooks: $(STAMP)
	D2LRNN_QUICK=1 $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
		-p no:cacheprovider $(CHAPTERS) -q

lab: $(STAMP)
	$(PY) -m jupyter lab chapters

# Speed: every variant side by side in one process; PyTorch (CPU wheel) is the outside
# reference and is skipped with a message if it cannot be installed.
bench: $(STAMP)
	-$(PY) -m pip install --quiet 'torch==2.13.0'
	$(PY) benchmarks/suite.py

# Long experiments (studies/*.py): each trains only the runs its results file lacks, so it
# can be stopped and started again; see README for their cost.
studies: $(STAMP)
	for study in studies/*.py; do OMP_NUM_THREADS=$(BOOK_THREADS) $(PY) $$study || exit 1; done

clean:
	rm -rf build
