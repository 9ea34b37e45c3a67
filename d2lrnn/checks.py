"""One check for every bounded number the package accepts, with one message style.

``check_number('dropout', 1.5, low=0, high=1, high_open=True)`` raises ``ValueError:
dropout must be a number in [0, 1), got 1.5``; the command line's option types
(``option_type``) say the same without the name, which argparse adds.
"""
import argparse
import math
import numbers


def describe(integer=False, low=None, high=None, low_open=False, high_open=False):
    """'an integer >= 1', 'a number in [0, 1)', 'a finite number > 0', ..."""
    kind = 'an integer' if integer else 'a number' if high is not None else 'a finite number'
    if low is not None and high is not None:
        return f'{kind} in {"(" if low_open else "["}{low:g}, {high:g}{")" if high_open else "]"}'
    if low is not None:
        return f'{kind} {">" if low_open else ">="} {low:g}'
    if high is not None:
        return f'{kind} {"<" if high_open else "<="} {high:g}'
    return kind


def check_number(name, value, integer=False, low=None, high=None, low_open=False,
                 high_open=False, note=''):
    """Return ``value`` if it is a finite number (an integer if ``integer``) within the
    bounds; otherwise raise ``ValueError`` naming ``name``, what is valid and the value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (not integer or int(value) == value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        what = describe(integer, low, high, low_open, high_open)
        raise ValueError(f'{name} must be {what}{note}, got {value!r}')
    return value


def check_rate(name, rate):
    """Return ``rate`` if it lies in [0, 1) (a dropout rate); otherwise raise ``ValueError``."""
    return check_number(name, rate, low=0, high=1, high_open=True)


def option_type(integer=False, **bounds):
    """An argparse ``type``: the text parsed as an int or float and checked by ``check_number``."""
    def parse(text):
        try:
            value = (int if integer else float)(text)
        except ValueError:
            value = None
        try:
            return check_number('', value, integer, **bounds)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'must be {describe(integer, **{k: v for k, v in bounds.items() if k != "note"})}'
                f'{bounds.get("note", "")}, got {text!r}') from None
    parse.__name__ = 'integer' if integer else 'number'  # argparse's "invalid <name> value"
    return parse
