"""What a reader opens must be a clean, complete run of each chapter."""
import glob
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

CHAPTERS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), '..', 'chapters', '*.ipynb')))
MAX_OUTPUT_BYTES = 1_500_000


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == 'code']


def test_chapters_exist_and_are_numbered():
    numbers = [int(os.path.basename(p)[:2]) for p in CHAPTERS]
    assert numbers and numbers[0] == 1
    assert numbers == sorted(set(numbers)), 'each chapter has its own two-digit number'
    assert all(os.path.basename(p)[2] == '_' for p in CHAPTERS)


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_first_code_cell_selects_inline_backend(path):
    assert code_cells(path)[0].source.startswith('%matplotlib inline')


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_executed_top_to_bottom_without_errors_or_stderr(path):
    cells = code_cells(path)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), \
        'store the notebook as executed top to bottom by `make book`'
    for cell in cells:
        for output in cell.outputs:
            assert output.output_type != 'error', f'error output in cell {cell.execution_count}'
            assert not (output.output_type == 'stream' and output.name == 'stderr'), \
                f'stderr in cell {cell.execution_count}: {output.text[:200]!r}'


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_output_size_and_checked_cells(path):
    cells = code_cells(path)
    size = sum(len(json.dumps(c.outputs)) for c in cells)
    assert size < MAX_OUTPUT_BYTES, f'outputs take {size} bytes (cap {MAX_OUTPUT_BYTES})'
    assert any('nbval-check-output' in c.metadata.get('tags', []) for c in cells), \
        'each chapter compares at least one deterministic cell under nbval'


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_prose_has_no_unfilled_placeholders(path):
    """Conclusions are written from a full run's numbers; a ``##NAME##`` marker means not yet."""
    cells = nbformat.read(path, as_version=4).cells
    left = [m for c in cells if c.cell_type == 'markdown'
            for m in re.findall(r'##[A-Z_]+##', c.source)]
    assert not left, f'unfilled placeholders: {", ".join(left)}'


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_d2lrnn_is_imported_before_mxnet(path):
    """``import d2lrnn`` pins threads and instruction sets and sets NumPy's alias, all of which
    MXNet reads only when it loads (chapter 01)."""
    lines = code_cells(path)[0].source.split('\n')
    first = next(i for i, line in enumerate(lines)
                 if re.match(r'(import|from) (mxnet|d2l)\b(?!rnn)', line))
    assert any(re.match(r'import d2lrnn\b', line) for line in lines[:first]), \
        'the first code cell must import d2lrnn before mxnet or d2l'


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_chapter_imports_nothing_it_does_not_use(path, tmp_path):
    """pyflakes' unused-import rule over the chapter's code cells (IPython magics removed);
    ``import d2lrnn`` is there for its side effects."""
    code = '\n'.join(line for cell in code_cells(path) for line in cell.source.split('\n')
                     if not line.startswith(('%', '!')) and not re.match(r'import d2lrnn\b',
                                                                         line))
    script = tmp_path / 'chapter.py'
    script.write_text(code)
    result = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--isolated',
                             '--select', 'F401', '--output-format', 'concise', str(script)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
