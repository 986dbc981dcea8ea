"""Errors that reach the user as one line: what file, what was expected, what was found."""

from __future__ import annotations

import os
import re


class GraphauditError(Exception):
    """Base class of every error graphaudit raises on purpose."""


class ArtifactError(GraphauditError):
    """An artifact could not be read. Rendered as ``path: message``, never as a traceback."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):
        # Crosses process boundaries (jobs, the HDF5 time budget) with both fields intact.
        return (type(self), (self.path, self.message))


class UsageError(GraphauditError):
    """The command line or the configuration is wrong (exit code 2)."""


class StrictModeWarning(UserWarning):
    """Unknown op or proto content; an error when ``GRAPHAUDIT_STRICT=1``."""


def strict() -> bool:
    return os.environ.get("GRAPHAUDIT_STRICT", "") not in ("", "0")


def describe(exc: BaseException) -> str:
    """What went wrong, in words a user can act on, never a Python exception class name."""
    detail = _detail(exc)
    if isinstance(exc, MemoryError):
        return "ran out of memory"
    if isinstance(exc, RecursionError):
        return "found data nested deeper than graphaudit follows"
    if isinstance(exc, UnicodeError):
        return "expected UTF-8 text; found bytes that are not"
    if isinstance(exc, OverflowError):
        return f"found a number too large to use{detail}"
    if isinstance(exc, NotImplementedError):
        return f"found a feature graphaudit does not support{detail}"
    if isinstance(exc, OSError):
        reason = exc.strerror or _first_line(exc)
        return f"cannot read it{': ' + reason if reason else ''}"
    if type(exc).__name__ in ("BadZipFile", "LargeZipFile"):
        return f"expected a well-formed zip; it is damaged{detail}"
    if type(exc).__module__ == "zlib":
        return f"expected deflate-compressed data; it does not inflate{detail}"
    if isinstance(exc, KeyError):
        return f"expected an entry that is missing{detail}"
    if isinstance(exc, SystemError):
        # An extension module's internal state ("<cyfunction ...> returned a result with an
        # exception set"): nothing a user can act on, and it names a memory address.
        return "found data it cannot interpret"
    if isinstance(exc, (TypeError, AttributeError)):
        return "found a value of the wrong kind where the format expects another"
    return f"found data it cannot interpret{detail}"


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _first_line(exc: BaseException) -> str:
    # Object reprs carry memory addresses; the same input must give the same message.
    lines = _ADDRESS.sub("", str(exc)).strip().splitlines()
    return lines[0][:200] if lines else ""


def _detail(exc: BaseException) -> str:
    text = _first_line(exc)
    return f" ({text})" if text else ""
