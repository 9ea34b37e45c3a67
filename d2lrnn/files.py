"""Files written so that a crash never leaves half of one, and read with errors that name them.

Used by the corpus cache (``data``) and the run folder (``runs``).
"""
import contextlib
import json
import os
import uuid


class DamagedFileError(ValueError):
    """A file exists but cannot be read as what it should hold; the message names it."""


def atomic_write(path, write):
    """Call ``write(temp_path)`` on a temporary file beside ``path``, then move it onto ``path``.

    The temporary name keeps the extension (matplotlib picks the format from it). On any
    failure (``write`` raising, e.g. a checksum that does not match) the temporary file is
    removed and ``path`` is left as it was.
    """
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    temp = os.path.join(folder, f'.{stem}.{uuid.uuid4().hex[:8]}.tmp{ext}')
    try:
        write(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    def write(temp):
        with open(temp, 'w', encoding='utf-8') as f:
            f.write(text)
    atomic_write(path, write)


def read_json(path):
    """The JSON value in ``path``; ``DamagedFileError`` naming the file if it is not JSON."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedFileError(f'{path} is damaged: not valid JSON ({err})') from None
