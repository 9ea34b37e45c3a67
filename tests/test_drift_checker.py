"""The drift checker of ``tests/test_drift.py`` on small fake chapters and modules.

Each bypass the checker closes has a test that shows it failing, beside a control that
shows the same fake book passing when it is right.
"""
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from test_drift import (check, chapter_number, drift_problems, marker_problems,
                        module_problems, taught_problems, taught_chapters)

GREET = '''
def greet(name):
    """Say hello.

    Taught in chapter 01.
    """
    return 'hello ' + name
'''

WAVE = '''
def wave():
    """Wave.

    Taught in chapter 02.
    """
    return 'wave'
'''

PACKAGE = {
    '__init__': '"""The fake package."""\n',
    'words': '"""Words.\n\nTaught in chapter 01.\n"""\nimport re\n' + GREET,
    'hands': '"""Hands.\n\nTaught in chapter 02.\n"""\n' + WAVE,
}


def notebook(*sources):
    """A notebook: a markdown title, then one code cell per source (cells 1, 2, ...)."""
    cells = [new_markdown_cell('# A chapter that mentions #@save in prose')]
    return new_notebook(cells=cells + [new_code_cell(source) for source in sources])


def book(first=('#@save' + GREET,), second=('#@save' + WAVE,)):
    return {'01_words.ipynb': notebook(*first), '02_hands.ipynb': notebook(*second)}


def one_problem(problems, *fragments):
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems[0]
    return problems[0]


def test_a_correct_book_passes():
    assert check(book(), PACKAGE) == []
    with_module = book(first=('#@save words' + GREET,), second=('#@save hands' + WAVE,))
    assert check(with_module, PACKAGE) == []


def test_a_changed_docstring_is_drift():
    changed = dict(PACKAGE, words=PACKAGE['words'].replace('Say hello.', 'Say hi.'))
    one_problem(drift_problems(book(), changed), '01_words.ipynb, cell 1', 'greet differs',
                'd2lrnn.words')


# --- the marker ------------------------------------------------------------------------------

@pytest.mark.parametrize('source, line', [
    ('# @save' + GREET, 1),                       # a space inside the marker
    ('\n#@save' + GREET, 2),                      # after a blank line
    ('import re\n#@save' + GREET, 2),             # below other lines
    (GREET.replace('(name):', '(name):  #@save'), 2),  # at the end of the def line
    ('#@SAVE' + GREET, 1),                        # upper case
    ('#@save  words' + GREET, 1),                 # two spaces
    ('#@save words extra' + GREET, 1),            # more than a module
    ('#@save' + GREET + '\n#@save\ndef other():\n    pass', 9),  # d2l's marker per function
])
def test_a_malformed_or_misplaced_marker_fails_naming_chapter_cell_and_line(source, line):
    chapters = {'01_words.ipynb': new_notebook(cells=[new_markdown_cell('prose'),
                                                       new_code_cell(source)])}
    one_problem(marker_problems(chapters), f'01_words.ipynb, cell 1, line {line}:')
    assert check(chapters, PACKAGE)  # and the book as a whole fails


def test_a_cell_with_a_bad_marker_is_not_saved_so_the_chapter_fails_its_docstrings():
    chapters = book(first=('# @save' + GREET,))
    one_problem(taught_problems(chapters, PACKAGE), 'd2lrnn.words.greet',
                '"Taught in chapter 01"', 'does not #@save it')


def test_markdown_may_mention_the_marker():
    chapters = {'01_words.ipynb': new_notebook(cells=[new_markdown_cell('use `# @save` ...')])}
    assert marker_problems(chapters) == []


# --- what a chapter saves --------------------------------------------------------------------

def test_a_chapter_that_loses_its_markers_fails():
    chapters = book(first=(GREET,))
    one_problem(taught_problems(chapters, PACKAGE), 'd2lrnn.words.greet says "Taught in '
                'chapter 01"', '01_words.ipynb does not #@save it')
    one_problem(module_problems(chapters, PACKAGE), 'd2lrnn.words says "Taught in chapter 01"',
                '01_words.ipynb saves none of its code')


def test_a_chapter_that_is_missing_fails():
    chapters = {'02_hands.ipynb': book()['02_hands.ipynb']}
    problems = check(chapters, PACKAGE)
    assert any('greet says "Taught in chapter 01": there is no such chapter' in p
               for p in problems), problems


def test_a_wrong_taught_in_chapter_fails_both_ways():
    wrong = dict(PACKAGE, words=PACKAGE['words'].replace('Taught in chapter 01.\n    """',
                                                         'Taught in chapter 02.\n    """'))
    chapters = book(first=('#@save' + GREET.replace('chapter 01', 'chapter 02'),))
    problems = taught_problems(chapters, wrong)
    assert len(problems) == 2, problems
    assert 'greet says "Taught in chapter 02", but 02_hands.ipynb does not #@save it' in problems[0]
    assert 'greet is #@save-d in 01_words.ipynb, but its docstring says "Taught in chapter 02"' \
        in problems[1]


SHOUT = '''
def shout(name):
    """Say it loud."""
    return name.upper()
'''


def test_a_saved_definition_the_docstrings_do_not_expect_fails():
    package = dict(PACKAGE, words=PACKAGE['words'] + SHOUT)
    chapters = book(first=('#@save' + GREET, '#@save' + SHOUT))
    assert drift_problems(chapters, package) == []
    one_problem(taught_problems(chapters, package), 'd2lrnn.words.shout is #@save-d in '
                '01_words.ipynb', 'UNCLAIMED_SAVES')
    assert taught_problems(chapters, package, {'01': {'words.shout'}}) == []
    # A listed name the chapter does not save, and a listed name that says where it is taught:
    one_problem(taught_problems(book(), PACKAGE, {'01': {'words.shout'}}), 'does not exist')
    one_problem(taught_problems(chapters, package, {'01': {'words.shout', 'words.greet'}}),
                'words.greet', 'remove it from the list')


def test_a_public_unclaimed_save_needs_its_module_to_name_the_chapter():
    constant = '#@save\nPOLITE = True\n'
    package = dict(PACKAGE, hands=PACKAGE['hands'] + 'POLITE = True\n')
    chapters = book(first=('#@save' + GREET, constant))
    one_problem(taught_problems(chapters, package, {'01': {'hands.POLITE'}}),
                'd2lrnn.hands.POLITE is #@save-d in 01_words.ipynb',
                'd2lrnn.hands does not say "Taught in chapter 01"')
    private = dict(PACKAGE, hands=PACKAGE['hands'] + '_POLITE = True\n')
    chapters = book(first=('#@save' + GREET, '#@save\n_POLITE = True\n'))
    assert taught_problems(chapters, private, {'01': {'hands._POLITE'}}) == []


def test_a_module_docstring_names_a_chapter_that_saves_none_of_it():
    package = dict(PACKAGE, hands=PACKAGE['hands'].replace('Taught in chapter 02.\n"""',
                                                           'Taught in chapter 01.\n"""'))
    one_problem(module_problems(book(), package), 'd2lrnn.hands says "Taught in chapter 01"',
                '01_words.ipynb saves none of its code')


def test_introduced_in_chapter_means_used_and_not_saved():
    helper = ('\n\ndef helper():\n    """Not shown in the book.\n\n    Introduced in chapter 02.'
              '\n    """\n')
    package = dict(PACKAGE, hands=PACKAGE['hands'] + helper)
    one_problem(taught_problems(book(), package), 'helper says "Introduced in chapter 02"',
                'does not use it')
    using = book(second=('#@save' + WAVE, 'from d2lrnn.hands import helper\nhelper()'))
    assert taught_problems(using, package) == []
    saving = book(second=('#@save' + WAVE, '#@save' + helper, 'helper()'))
    assert any('is #@save-d: say "Taught in chapter ..."' in p
               for p in taught_problems(saving, package))


# --- each name in its own module -------------------------------------------------------------

OTHER_GREET = GREET.replace("'hello '", "'hi '")


def test_a_name_matching_only_in_another_module_fails():
    # words.greet says hello; a stale copy in hands says hi; the chapter saves the stale copy.
    package = dict(PACKAGE, hands=PACKAGE['hands'] + OTHER_GREET)
    stale = '#@save' + OTHER_GREET
    one_problem(drift_problems(book(first=(stale,)), package),
                'greet is defined in d2lrnn.hands, d2lrnn.words', '"#@save <module>"')
    one_problem(drift_problems(book(first=('#@save words' + OTHER_GREET,)), package),
                'greet differs from its copy in d2lrnn.words')
    assert drift_problems(book(first=('#@save hands' + OTHER_GREET,)), package) == []


def test_a_marker_module_is_the_only_place_looked_in():
    one_problem(drift_problems(book(first=('#@save hands' + GREET,)), PACKAGE),
                'greet is not defined in d2lrnn.hands')
    one_problem(drift_problems(book(first=('#@save nowhere' + GREET,)), PACKAGE),
                '"#@save nowhere" names no module of d2lrnn')
    one_problem(drift_problems(book(first=('#@save' + GREET.replace('greet', 'gone'),)),
                               PACKAGE), 'gone is #@save-d but defined in no module')


def test_a_saved_cell_holds_only_imports_and_definitions():
    hidden = '#@save\nimport re\nif True:\n    def greet(name):\n        return name\n'
    one_problem(drift_problems(book(first=(hidden,)), PACKAGE), '01_words.ipynb, cell 1, line 3',
                'not a If')
    one_problem(drift_problems(book(first=('#@save\nimport re',)), PACKAGE), 'defines nothing')
    one_problem(drift_problems(book(first=('#@save\ndef broken(:\n',)), PACKAGE), 'must parse')


def test_a_docstring_set_after_the_definition_belongs_to_it():
    named = ("Pair = tuple\nPair.__doc__ = '''Two things.\n\nTaught in chapter 01.\n'''\n")
    package = dict(PACKAGE, words=PACKAGE['words'] + '\n' + named)
    assert check(book(first=('#@save' + GREET, '#@save\n' + named)), package) == []
    changed = '#@save\n' + named.replace('Two things', 'Two items')
    one_problem(drift_problems(book(first=('#@save' + GREET, changed)), package), 'Pair differs')
    one_problem(taught_problems(book(), package), 'Pair says "Taught in chapter 01"')


# --- reading the docstrings ------------------------------------------------------------------

@pytest.mark.parametrize('docstring, chapters', [
    ('Taught in chapter 01.', {'01'}),
    ('Taught in chapter 1. Later chapters (chapter 07) use it.', {'01'}),
    ('Taught in chapter 02 (the wrapper) and chapter 04 (the model).', {'02', '04'}),
    ('Taught in chapters 02, 03 and 05.', {'02', '03', '05'}),
    ('Every helper is taught in a chapter.', set()),
    ('Taught in\n    chapter 02: a sentence\n    may wrap.', {'02'}),
    ('Introduced in chapter 09.', set()),
])
def test_taught_chapters(docstring, chapters):
    assert taught_chapters(docstring) == chapters


def test_chapter_number():
    assert chapter_number('01_text.ipynb') == chapter_number('1_text.ipynb') == '01'
    assert chapter_number('intro.ipynb') is None
