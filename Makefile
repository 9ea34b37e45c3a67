# `make book` executes every chapter (full mode) into build/ and stores the outputs in
# chapters/; `make test` runs every test, notebooks included (quick mode). Both create
# .venv and install the pinned set when needed.
PYTHON ?= $(shell for p in python3.11 python3.10 python3.9 python3.8 python3; do \
	command -v $$p >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Fixed thread count: the stored outputs are reproducible bit for bit at a given count.
BOOK_THREADS ?= 2

.PHONY: book test unit notebooks lab bench clean

$(STAMP):
	@$(PYTHON) tools/check_python.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

book: $(STAMP)
	OMP_NUM_THREADS=$(BOOK_THREADS) $(PY) tools/run_book.py

test: unit notebooks

unit: $(STAMP)
	$(PY) -m pytest tests -q

notebooks: $(STAMP)
	D2LRNN_QUICK=1 $(PY) -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
		-p no:cacheprovider chapters -q

lab: $(STAMP)
	$(PY) -m jupyter lab chapters

# Speed: every variant side by side in one process; PyTorch (CPU wheel) is the outside
# reference and is skipped with a message if it cannot be installed.
bench: $(STAMP)
	-$(PY) -m pip install --quiet 'torch==2.13.0'
	$(PY) benchmarks/suite.py

clean:
	rm -rf build
