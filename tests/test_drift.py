"""The chapters' ``#@save`` code and the package's copy must be the same code.

**The marker.** A code cell is saved when its very first line is exactly ``#@save`` or
``#@save <module>``; every top-level definition in it (function, class, constant) must then
exist in ``d2lrnn`` with an identical syntax tree, docstring included. Bare ``#@save`` resolves
each name in the one package module that defines it; ``#@save <module>`` (e.g. ``#@save
text``) resolves every name of the cell in ``d2lrnn.<module>`` only, and is required when a
name is defined in more than one module. Any other ``@save`` in a code cell (``# @save``, a
marker after a blank line or below other lines, at the end of a line, ``#@SAVE``) is an
error naming the chapter, the cell (counted from 0 over all cells) and the line (from 1).
A saved cell holds nothing but imports and top-level definitions.

**What each chapter saves**, checked both ways against the package's docstrings:

* a definition whose own docstring says "Taught in chapter N" must be ``#@save``-d in chapter
  N, resolved to its own module; "Taught in chapter 02 (...) and chapter 04 (...)" names two;
* every definition chapter N saves must say "Taught in chapter N" in its own docstring, or,
  when it cannot (constants) or does not (private helpers, a few small public ones), be
  listed for chapter N in ``UNCLAIMED_SAVES`` below; a public one of those must then be in a
  module whose docstring's "Taught in ..." sentence names chapter N;
* each chapter a module docstring's "Taught in ..." sentence names must save some of that
  module's code;
* a helper the chapter uses from the package without saving its code says "Introduced in
  chapter N": chapter N's code must use it, and no chapter may save it.

So a chapter that loses its markers, or saves a definition the docstrings do not expect,
fails. The checker is a set of functions of notebooks (``{file name: notebook}``) and module
sources (``{module name: source}``); ``tests/test_drift_checker.py`` runs them on fakes.
"""
import ast
import collections
import functools
import glob
import os
import re

import nbformat
import pytest

ROOT = os.path.join(os.path.dirname(__file__), '..')
CHAPTERS = sorted(glob.glob(os.path.join(ROOT, 'chapters', '*.ipynb')))
PACKAGE = os.path.join(ROOT, 'd2lrnn')

# Saved definitions whose own docstring does not say "Taught in chapter N": chapter ->
# {'module.name'}. Add a name here only if it cannot carry that sentence (a constant) or is a
# private helper; a public function or class should say it in its docstring instead.
UNCLAIMED_SAVES = {
    '01': {'text.TOKEN_LEVELS', 'text.normalize_letters', 'iterators.check_minibatch_args'},
    '02': {'generation._choose'},
    '03': {'parity._fused_layout', 'parity._fused_params', 'parity._max_abs_diff',
           'parity._stack_state', 'parity._unstack_state'},
    '04': {'device.gpu_problem', 'models.FUSED_LAYERS'},
    '07': {'flat.MODES', 'flat.NUM_GATES'},
    '09': {'fast.GATES', 'fast._unstack', 'parity._named'},
    '11': {'parallel.COMPRESSION', 'parallel.CONFIG_KEY', 'parallel.KVSTORES',
           'parallel.SCHEDULER_TIMEOUT'},
}

MARKER = re.compile(r'#@save(?: ([A-Za-z_][A-Za-z0-9_]*))?')
ANY_SAVE = re.compile(r'@\s*save', re.IGNORECASE)
MARKER_RULE = 'a marker is only the first line of a code cell: "#@save" or "#@save <module>"'
SENTENCE_END = re.compile(r'\.(?:\s|$)')
CHAPTER_LIST = re.compile(r'chapters?\s+(\d+(?:\s*(?:,\s*(?:and\s+)?|and\s+)\d+)*)',
                          re.IGNORECASE)

Saved = collections.namedtuple('Saved', 'chapter cell line name module nodes')
Definition = collections.namedtuple('Definition', 'module name nodes docstring')


# --- reading ---------------------------------------------------------------------------------

def read_chapters(paths=CHAPTERS):
    """{file name: notebook} of the chapters."""
    return {os.path.basename(p): nbformat.read(p, as_version=4) for p in paths}


def read_package(folder=PACKAGE):
    """{module name: source} of every module of the package (``__init__`` included)."""
    sources = {}
    for path in sorted(glob.glob(os.path.join(folder, '*.py'))):
        with open(path, encoding='utf-8') as f:
            sources[os.path.basename(path)[:-3]] = f.read()
    return sources


def chapter_number(chapter):
    """'01_text.ipynb' -> '01'; chapters are compared as numbers, so '1' equals '01'."""
    match = re.match(r'\d+', chapter)
    return f'{int(match.group()):02d}' if match else None


def taught_chapters(docstring, verb='Taught'):
    """Chapters named in the docstring's sentences that begin with ``<verb> in``.

    "Taught in chapter 02 (the wrapper) and chapter 04 (the model)." names 02 and 04;
    "Taught in chapter 02. Dropout (chapter 07) is off." names 02 only.
    """
    text = ' '.join((docstring or '').split())
    found = set()
    for match in re.finditer(rf'\b{verb} in\s+chapter', text, re.IGNORECASE):
        end = SENTENCE_END.search(text, match.end())
        sentence = text[match.start(): end.start() if end else len(text)]
        for numbers in CHAPTER_LIST.findall(sentence):
            found.update(f'{int(n):02d}' for n in re.findall(r'\d+', numbers))
    return found


# --- definitions -----------------------------------------------------------------------------

def _names(node):
    """Names a top-level statement defines (``None`` for a statement that is no definition)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = []
        for target in targets:
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            if not all(isinstance(e, ast.Name) for e in elements):
                return None
            names += [e.id for e in elements]
        return names
    return None


def _doc_assignment(node):
    """``X.__doc__ = '...'`` -> 'X', else None."""
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Attribute) and node.targets[0].attr == '__doc__'
            and isinstance(node.targets[0].value, ast.Name)):
        return node.targets[0].value.id
    return None


def _definitions(tree):
    """(name, [nodes], docstring, problem) per top-level definition, in order.

    ``X.__doc__ = '...'`` after ``X`` belongs to X's definition and gives its docstring.
    """
    found, last = [], {}
    for node in tree.body:
        documented = _doc_assignment(node)
        if documented in last:
            entry = last[documented]
            entry[1].append(node)
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                entry[2] = node.value.value
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        names = _names(node)
        if names is None:
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
                found.append([None, [node], None, type(node).__name__])
            continue
        docstring = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            docstring = ast.get_docstring(node, clean=True)
        for name in names:
            entry = [name, [node], docstring, None]
            found.append(entry)
            last[name] = entry
    return found


def package_definitions(sources):
    """{module: {name: Definition}} and {module: module docstring}; a later definition wins."""
    definitions, docstrings = {}, {}
    for module, source in sources.items():
        tree = ast.parse(source)
        docstrings[module] = ast.get_docstring(tree) or ''
        definitions[module] = {name: Definition(module, name, nodes, doc)
                               for name, nodes, doc, _ in _definitions(tree) if name}
    return definitions, docstrings


# --- the chapters' side ----------------------------------------------------------------------

def marker_problems(chapters):
    """Every ``@save`` in a code cell that is not a well-formed marker on the cell's line 1."""
    problems = []
    for chapter, notebook in chapters.items():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != 'code':
                continue
            for number, line in enumerate(cell.source.splitlines(), 1):
                if number == 1 and MARKER.fullmatch(line):
                    continue
                if ANY_SAVE.search(line):
                    problems.append(f'{chapter}, cell {index}, line {number}: {line.strip()!r}: '
                                    f'{MARKER_RULE}')
    return problems


def saved_definitions(chapters):
    """The chapters' saved definitions (``Saved``) and the problems of their saved cells."""
    saved, problems = [], []
    for chapter, notebook in chapters.items():
        for index, cell in enumerate(notebook.cells):
            lines = cell.source.splitlines()
            marker = MARKER.fullmatch(lines[0]) if cell.cell_type == 'code' and lines else None
            if not marker:
                continue
            where = f'{chapter}, cell {index}'
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as error:
                problems.append(f'{where}, line {error.lineno}: a #@save cell must parse: {error}')
                continue
            definitions = _definitions(tree)
            for name, nodes, _, statement in definitions:
                if name is None:
                    problems.append(f'{where}, line {nodes[0].lineno}: a #@save cell holds only '
                                    f'imports and top-level definitions, not a {statement}')
                else:
                    saved.append(Saved(chapter, index, nodes[0].lineno, name, marker.group(1),
                                       nodes))
            if not definitions:
                problems.append(f'{where}: a #@save cell that defines nothing')
    return saved, problems


def resolve(entry, definitions):
    """(Definition, None) for a saved name in its own module, or (None, problem)."""
    where = f'{entry.chapter}, cell {entry.cell}, line {entry.line}: {entry.name}'
    if entry.module is not None:
        if entry.module not in definitions:
            return None, f'{where}: "#@save {entry.module}" names no module of d2lrnn'
        if entry.name not in definitions[entry.module]:
            return None, f'{where} is not defined in d2lrnn.{entry.module}'
        return definitions[entry.module][entry.name], None
    homes = sorted(m for m, names in definitions.items() if entry.name in names)
    if not homes:
        return None, f'{where} is #@save-d but defined in no module of d2lrnn'
    if len(homes) > 1:
        listed = ', '.join(f'd2lrnn.{m}' for m in homes)
        return None, (f'{where} is defined in {listed}: start the cell with '
                      f'"#@save <module>" to say which one it is')
    return definitions[homes[0]][entry.name], None


def drift_problems(chapters, sources):
    """Saved definitions that are not their own module's definition, syntax tree for tree."""
    definitions, _ = package_definitions(sources)
    saved, problems = saved_definitions(chapters)
    for entry in saved:
        definition, problem = resolve(entry, definitions)
        if problem:
            problems.append(problem)
        elif [ast.dump(n) for n in entry.nodes] != [ast.dump(n) for n in definition.nodes]:
            problems.append(f'{entry.chapter}, cell {entry.cell}, line {entry.line}: '
                            f'{entry.name} differs from its copy in d2lrnn.{definition.module}')
    return problems


# --- what each chapter saves, against the docstrings -----------------------------------------

def _chapter_code(notebook):
    return '\n'.join(c.source for c in notebook.cells if c.cell_type == 'code')


def taught_problems(chapters, sources, unclaimed=None):
    """The two-way check of "Taught in chapter N" (and "Introduced in chapter N")."""
    unclaimed = unclaimed or {}
    definitions, module_docs = package_definitions(sources)
    numbers = {chapter_number(c): c for c in chapters}
    saved_in = collections.defaultdict(set)  # (module, name) -> chapter numbers
    for entry in saved_definitions(chapters)[0]:
        definition, _ = resolve(entry, definitions)
        if definition:
            saved_in[definition.module, definition.name].add(chapter_number(entry.chapter))
    listed = {(number, *qualified.split('.', 1))
              for number, names in unclaimed.items() for qualified in names}
    problems = []

    for module, names in sorted(definitions.items()):
        for name, definition in sorted(names.items()):
            key, qualified = (module, name), f'd2lrnn.{module}.{name}'
            claims = taught_chapters(definition.docstring)
            for number in sorted(claims):
                if number not in numbers:
                    problems.append(f'{qualified} says "Taught in chapter {number}": '
                                    'there is no such chapter')
                elif number not in saved_in[key]:
                    problems.append(
                        f'{qualified} says "Taught in chapter {number}", but '
                        f'{numbers[number]} does not #@save it (a helper the chapter only '
                        f'imports says "Introduced in chapter {number}")')
            for number in sorted(saved_in[key] - claims):
                if claims:
                    said = ', '.join(sorted(claims))
                    problems.append(f'{qualified} is #@save-d in {numbers[number]}, but its '
                                    f'docstring says "Taught in chapter {said}"')
                elif (number, module, name) not in listed:
                    problems.append(
                        f'{qualified} is #@save-d in {numbers[number]}: say "Taught in chapter '
                        f'{number}" in its docstring (or, for a constant or private helper, list '
                        f'"{module}.{name}" under \'{number}\' in UNCLAIMED_SAVES)')
                elif not name.startswith('_') and number not in taught_chapters(
                        module_docs[module]):
                    problems.append(f'{qualified} is #@save-d in {numbers[number]}, but the '
                                    f'docstring of d2lrnn.{module} does not say "Taught in '
                                    f'chapter {number}"')
            for number in sorted(taught_chapters(definition.docstring, 'Introduced')):
                if number not in numbers:
                    problems.append(f'{qualified} says "Introduced in chapter {number}": '
                                    'there is no such chapter')
                elif not re.search(rf'\b{re.escape(name)}\b',
                                   _chapter_code(chapters[numbers[number]])):
                    problems.append(f'{qualified} says "Introduced in chapter {number}", but '
                                    f'{numbers[number]} does not use it')
                if saved_in[key]:
                    problems.append(f'{qualified} says "Introduced in chapter {number}", but it '
                                    f'is #@save-d: say "Taught in chapter ..." instead')

    for number, module, name in sorted(listed):
        qualified, chapter = f'd2lrnn.{module}.{name}', numbers.get(number, f'chapter {number}')
        if name not in definitions.get(module, {}):
            problems.append(f'UNCLAIMED_SAVES lists {module}.{name} for chapter {number}, but '
                            f'{qualified} does not exist')
        elif number not in saved_in[module, name]:
            problems.append(f'UNCLAIMED_SAVES lists {module}.{name} for chapter {number}, but '
                            f'{chapter} does not #@save it')
        elif taught_chapters(definitions[module][name].docstring):
            problems.append(f'UNCLAIMED_SAVES lists {module}.{name} for chapter {number}, but '
                            f'its docstring already says "Taught in ...": remove it from the list')
    return problems


def module_problems(chapters, sources):
    """Each chapter a module docstring says "Taught in" must save some of that module."""
    definitions, module_docs = package_definitions(sources)
    numbers = {chapter_number(c): c for c in chapters}
    saving = collections.defaultdict(set)  # module -> chapter numbers that save some of it
    for entry in saved_definitions(chapters)[0]:
        definition, _ = resolve(entry, definitions)
        if definition:
            saving[definition.module].add(chapter_number(entry.chapter))
    problems = []
    for module, docstring in sorted(module_docs.items()):
        for number in sorted(taught_chapters(docstring)):
            if number not in numbers:
                problems.append(f'the docstring of d2lrnn.{module} says "Taught in chapter '
                                f'{number}": there is no such chapter')
            elif number not in saving[module]:
                problems.append(f'the docstring of d2lrnn.{module} says "Taught in chapter '
                                f'{number}", but {numbers[number]} saves none of its code (say '
                                f'"Introduced in chapter {number}" if it only uses it)')
    return problems


def check(chapters, sources, unclaimed=None):
    """Every problem the checks above find."""
    return (marker_problems(chapters) + drift_problems(chapters, sources)
            + taught_problems(chapters, sources, unclaimed) + module_problems(chapters, sources))


# --- the book --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _book():
    return read_chapters(), read_package()


def _fail_on(problems):
    if problems:
        pytest.fail('\n'.join(problems), pytrace=False)


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_markers_are_well_formed(path):
    chapters, _ = _book()
    problems = marker_problems({os.path.basename(path): chapters[os.path.basename(path)]})
    _fail_on(problems)


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_saved_code_matches_package(path):
    chapters, sources = _book()
    problems = drift_problems({os.path.basename(path): chapters[os.path.basename(path)]},
                              sources)
    _fail_on(problems)


def test_each_chapter_saves_what_the_docstrings_say():
    chapters, sources = _book()
    problems = taught_problems(chapters, sources, UNCLAIMED_SAVES)
    _fail_on(problems)


def test_module_docstrings_name_chapters_that_save_their_code():
    chapters, sources = _book()
    problems = module_problems(chapters, sources)
    _fail_on(problems)

