"""Which paths a folder search leaves out: default folders, `exclude` patterns and `.gitignore` files."""

# The subset of gitignore(5) implemented: comments, blank lines, `!` negation, `\` escapes,
# trailing `/` (folders only), patterns with a `/` anchored to their file's folder, others
# matched at any depth, `*`, `?`, `[...]`, and `**` as a whole path component. As in git, a
# path inside an ignored folder stays ignored (the search never enters that folder).

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Sequence

from graphaudit.records import dataclass

# Like ruff's defaults: version control, caches, tool and virtual environments. A folder holding
# a `pyvenv.cfg` is a virtual environment whatever its name.
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
    "__pycache__", "__pypackages__", "buck-out", "node_modules", "site-packages", "venv",
)


@dataclass(frozen=True)
class Pattern:
    """One .gitignore-style pattern, compiled."""

    regex: re.Pattern[str]
    negated: bool
    dir_only: bool
    text: str


def _translate(body: str) -> str:
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if body.startswith("**/", i) and (i == 0 or body[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("/**", i) and i + 3 == n:
            out.append("/.*")
            i += 3
        elif c == "*":
            while i < n and body[i] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = body.find("]", i + 2 if body[i + 1:i + 2] in ("!", "^", "]") else i + 1)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            inner = body[i + 1:end]
            if inner[:1] in ("!", "^"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(body[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse_pattern(line: str) -> Pattern | None:
    """One gitignore line as a Pattern (matched against a `/`-separated path relative to its base)."""
    text = line.rstrip("\n").rstrip("\r")
    # Trailing spaces are ignored unless escaped.
    stripped = text.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(text):
        stripped += " "
    text = stripped
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    if negated:
        text = text[1:]
    elif text.startswith("\\!") or text.startswith("\\#"):
        text = text[1:]
    dir_only = text.endswith("/") and not text.endswith("\\/")
    body = text.rstrip("/") if dir_only else text
    if not body:
        return None
    anchored = "/" in body
    body = body.lstrip("/")
    regex = _translate(body)
    full = f"^{regex}$" if anchored else f"^(?:.*/)?{regex}$"
    try:
        return Pattern(re.compile(full, re.DOTALL), negated, dir_only, line.strip())
    except re.error:
        return None


def parse_patterns(lines: Iterable[str]) -> list[Pattern]:
    return [p for p in (parse_pattern(line) for line in lines) if p is not None]


@dataclass(frozen=True)
class IgnoreFile:
    """The patterns of one `.gitignore` (or of the `exclude` setting) and the folder they are relative to."""

    base: str  # absolute, normalized
    patterns: tuple[Pattern, ...]
    origin: str

    def verdict(self, path: str, is_dir: bool) -> Pattern | None:
        """The last pattern that matches ``path`` (absolute), or None."""
        rel = os.path.relpath(path, self.base)
        if rel.startswith(".."):
            return None
        rel = rel.replace(os.sep, "/")
        found = None
        for pat in self.patterns:
            if pat.dir_only and not is_dir:
                continue
            if pat.regex.match(rel):
                found = pat
        return found


def read_gitignore(folder: str) -> IgnoreFile | None:
    path = os.path.join(folder, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            patterns = parse_patterns(fh.read().splitlines())
    except OSError:
        return None
    return IgnoreFile(os.path.normpath(folder), tuple(patterns), path) if patterns else None


def enclosing_gitignores(folder: str) -> list[IgnoreFile]:
    """`.gitignore` files of the folders above ``folder`` up to its git work tree's top, outermost first."""
    folder = os.path.abspath(folder)
    chain: list[str] = []
    for parent in Path(folder).parents:
        chain.append(str(parent))
        if (parent / ".git").exists():
            break
    else:
        return []  # not inside a git work tree: only the searched folders' own files apply
    out = [read_gitignore(p) for p in reversed(chain)]
    return [f for f in out if f is not None]


def is_ignored(files: Sequence[IgnoreFile], path: str, is_dir: bool) -> Pattern | None:
    """The pattern that ignores ``path``, when the last matching pattern over ``files`` is not negated."""
    last = None
    for f in files:
        pat = f.verdict(path, is_dir)
        if pat is not None:
            last = pat
    return last if last is not None and not last.negated else None
