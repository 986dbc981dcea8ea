"""Errors that reach the user as one line: what file, what was expected, what was found."""

from __future__ import annotations

import os


class GraphauditError(Exception):
    """Base class of every error graphaudit raises on purpose."""


class ArtifactError(GraphauditError):
    """An artifact could not be read. Rendered as ``path: message``, never as a traceback."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        self.path = os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")


class UsageError(GraphauditError):
    """The command line or the configuration is wrong (exit code 2)."""


class StrictModeWarning(UserWarning):
    """Unknown op or proto content; an error when ``GRAPHAUDIT_STRICT=1``."""


def strict() -> bool:
    return os.environ.get("GRAPHAUDIT_STRICT", "") not in ("", "0")
