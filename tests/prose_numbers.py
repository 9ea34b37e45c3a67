"""Every number the prose of a chapter reports must come from an output of a cell.

The rules, for the markdown cells of ``chapters/*.ipynb`` (``tests/test_prose.py`` applies
them):

* a number in the prose is backed when some output of a code cell (printed text, a Markdown
  or plain-text display) of the same chapter, or of a chapter the cell names ("chapter 05"),
  shows the same value at the precision the prose writes (7.15 is backed by 7.1493; 30 % by
  30 % or 0.30; 1,605 by 1605);
* numbers from outside the book (a paper's result, a source document's figure) carry a
  dagger right after them, ``1.38†``, and the chapter says what the dagger means;
* not results, so not checked: numbers inside ``code`` or $math$, section, chapter, cell,
  figure, equation and exercise numbers, list markers, years, integers below 10 (two layers,
  three seeds), versions (Python 3.9, AVX-512), and values that appear as literals in the
  chapter's code (the hyperparameters it sets).

The README falls under the same rules, section by section: its numbers come from an output
of any chapter or from a committed results file (``benchmarks/results``, ``studies/results``;
the chapters' times of a ``make book`` run are one). Speeds and times change from run to run,
so the prose never types them in: a chapter writes them into its text from a cell or points to
the output that shows them, and the README quotes a committed results file.

A number that breaks them is reported with its chapter and cell (or README section) and its
context.
"""
import json
import re

NUMBER = re.compile(r'(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])')
CODE_LITERAL = re.compile(r'(?<![\w.])(\d+(?:_\d+)*)(\.\d+)?(?:e-?\d+)?(?![\w])')
STRIP = [re.compile(p, re.S) for p in (
    r'```.*?```', r'`[^`]*`', r'\$\$.*?\$\$', r'\$[^$]*\$', r'\]\([^)]*\)', r'https?://\S+')]
REFERENCE = re.compile(r'(?:§|\b(?:chapters?|sections?|cells?|figures?|equations?|exercises?|'
                       r'seeds? (?:document )?|step|pages?|issue)\b)\s*\d+(?:\.\d+)*'
                       r'(?:\s*(?:,|and|to|–|-)\s*\d+(?:\.\d+)*)*', re.I)
LIST_MARKER = re.compile(r'^\s*(?:\d+\.(?=\s)|#+\s+\d+(?:\.\d+)*)', re.M)  # "1. ", "## 10.3"
YEAR = re.compile(r'(?<![\d.,])(?:19|20)\d\d(?!\d|[.,]\d)')  # "2014," is a year, "2014.5" not
VERSION = re.compile(r'\b(?:Python|python|MXNet|NumPy|PyTorch|CUDA|d2l|nbval|torch|numpy|'
                     r'mxnet|matplotlib|pandas|scipy|oneDNN|Ubuntu|AVX-?|x86-|sm_)\s*v?\d+'
                     r'(?:\.\d+)*(?:\s*(?:–|-|to|and)\s*\d+(?:\.\d+)*)?')
CHAPTER_NAMED = re.compile(r'\bchapters?\s+((?:\d+(?:\s*(?:,|and|to|–|-)\s*)?)+)', re.I)
DAGGER = '†'


def cell_text(source):
    return ''.join(source) if isinstance(source, list) else source


def output_texts(notebook):
    """The text of every output of every code cell (stream, plain text, Markdown)."""
    texts = []
    for cell in notebook['cells']:
        for output in cell.get('outputs', []):
            if 'text' in output:
                texts.append(cell_text(output['text']))
            for kind in ('text/markdown', 'text/plain'):
                if kind in output.get('data', {}):
                    texts.append(cell_text(output['data'][kind]))
    return texts


def numbers_in(text):
    """(value as float, decimals written) of every number in ``text``."""
    found = []
    for match in NUMBER.finditer(text):
        whole, fraction = match.group(1).replace(',', ''), match.group(2) or ''
        found.append((float(whole + fraction), len(fraction) - 1 if fraction else 0))
    return found


def code_literals(notebook):
    """Every numeric literal in the chapter's code cells (the values it sets)."""
    values = set()
    for cell in notebook['cells']:
        if cell['cell_type'] == 'code':
            for match in CODE_LITERAL.finditer(cell_text(cell['source'])):
                try:
                    values.add(float(match.group(0).replace('_', '')))
                except ValueError:
                    pass
    return values


def backed(value, decimals, percent, sources):
    """True if some source number, rounded as the prose writes it, equals ``value`` (a
    percentage also matches a fraction: 30 % and 0.30)."""
    targets = [(value, decimals)] + ([(value / 100, decimals + 2)] if percent else [])
    return any(round(number, places) == round(target, places)
               for number in sources for target, places in targets)


def named_chapters(text):
    names = set()
    for match in CHAPTER_NAMED.finditer(text):
        for a, b in re.findall(r'(\d+)(?:\s*(?:to|–|-)\s*(\d+))?', match.group(1)):
            names.update(f'{n:02d}' for n in range(int(a), int(b or a) + 1))
    return names


def unbacked_in_text(where, text, sources, literals=frozenset()):
    """Problems of one piece of prose: each number in ``text`` that no number of ``sources``
    backs, that is no literal of ``literals`` and that no rule exempts; ``where`` names it."""
    for pattern in STRIP:
        text = pattern.sub(' ', text)
    for pattern in (REFERENCE, LIST_MARKER, YEAR, VERSION):
        text = pattern.sub(' ', text)
    problems = []
    for match in NUMBER.finditer(text):
        after = text[match.end():match.end() + 3]
        if after.lstrip(' %x×').startswith(DAGGER):
            continue
        (value, decimals), = numbers_in(match.group(0))
        percent = after.lstrip().startswith('%')
        if decimals == 0 and value < 10 or value in literals or \
                percent and round(value / 100, decimals + 2) in literals:
            continue
        if not backed(value, decimals, percent, sources):
            context = text[max(0, match.start() - 40):match.end() + 20].replace('\n', ' ')
            problems.append(f'{where}: {match.group(0)} is not in any output '
                            f'(… {context.strip()} …)')
    return problems


def unbacked_numbers(name, notebook, others):
    """Problems of one chapter: ``name`` (e.g. '06_stacking_pitfalls'), its notebook, and
    ``others`` ({'05': notebook, ...}) for the chapters its prose names."""
    own = [n for text in output_texts(notebook) for n, _ in numbers_in(text)]
    literals = code_literals(notebook)
    problems = []
    for index, cell in enumerate(notebook['cells']):
        if cell['cell_type'] != 'markdown':
            continue
        text = cell_text(cell['source'])
        sources = list(own)
        for chapter in named_chapters(text):
            if chapter in others:
                sources += [n for t in output_texts(others[chapter]) for n, _ in numbers_in(t)]
        problems += unbacked_in_text(f'{name}, cell {index}', text, sources, literals)
    return problems


def unbacked_readme_numbers(readme, notebooks, result_texts):
    """Problems of the README, section by section (``## `` headings): its numbers must come
    from an output of some chapter (``notebooks``: {'05': notebook, ...}) or from a committed
    results file (``result_texts``)."""
    sources = [n for notebook in notebooks.values() for text in output_texts(notebook)
               for n, _ in numbers_in(text)]
    sources += [n for text in result_texts for n, _ in numbers_in(text)]
    problems = []
    for section in re.split(r'\n(?=## )', readme):
        title = section.splitlines()[0].lstrip('# ').strip()
        problems += unbacked_in_text(f'README, section "{title}"', section, sources)
    return problems


def load(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)
