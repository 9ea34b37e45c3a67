"""The chapters' ``#@save`` code and the package's copy must be the same code.

Every top-level definition (function, class, constant) in a chapter cell that starts with
``#@save`` must exist in ``d2lrnn`` with an identical syntax tree, docstring included.
"""
import ast
import glob
import importlib
import inspect
import os
import pkgutil

import nbformat
import pytest

import d2lrnn

CHAPTERS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), '..', 'chapters', '*.ipynb')))


def package_definitions():
    """name -> ast node of every top-level definition in the package's modules."""
    found = {}
    for info in pkgutil.iter_modules(d2lrnn.__path__):
        if info.name == '__main__':
            continue
        module = importlib.import_module(f'd2lrnn.{info.name}')
        for node in ast.parse(inspect.getsource(module)).body:
            for name in _names(node):
                found.setdefault(name, []).append((info.name, node))
    return found


def _names(node):
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []


def saved_definitions(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == 'code' and cell.source.startswith('#@save'):
            for node in ast.parse(cell.source).body:
                for name in _names(node):
                    yield name, node


@pytest.mark.parametrize('path', CHAPTERS, ids=os.path.basename)
def test_saved_code_matches_package(path):
    package = package_definitions()
    for name, node in saved_definitions(path):
        assert name in package, f'{name} is #@save-d in {os.path.basename(path)} but not in d2lrnn'
        dumps = {ast.dump(n) for _, n in package[name]}
        modules = [m for m, _ in package[name]]
        assert ast.dump(node) in dumps, (
            f'{name} in {os.path.basename(path)} differs from its copy in d2lrnn.{modules[0]}')


def test_first_chapter_saves_code():
    assert dict(saved_definitions(CHAPTERS[0]))
