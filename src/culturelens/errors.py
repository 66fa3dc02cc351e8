"""The one exception for bad input: it names the file, the field and what was expected."""

from __future__ import annotations


class InputError(Exception):
    """Bad user-supplied input (data file, template, config).

    Rules and the CLI print ``str(error)`` as one line and exit non-zero, never a traceback.
    """

    def __init__(self, file, field: str, expected: str, got: object = None):
        self.file = str(file)
        self.field = field
        self.expected = expected
        self.got = got
        message = f"{self.file}: field '{field}': expected {expected}"
        if got is not None:
            shown = repr(got)
            message += f", got {shown[:200]}{'…' if len(shown) > 200 else ''}"
        super().__init__(message)
