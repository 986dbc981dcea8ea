"""The `graphaudit` command's entry point: a plain `check` runs without building the typer app (commands.py)."""

# A cold `check` is measured against `saved_model_cli` (bench/): importing typer and building its
# app cost about 45 ms of a 0.5 s check. The common `check PATH... --option value` is parsed here
# from a table of check's options (CHECK_OPTIONS; a test keeps it equal to the typer command's);
# anything else (--help, another command, a malformed or unusual argument) goes to the typer app,
# so help texts and usage errors are typer's own.

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path
from typing import List

from graphaudit.version import __version__

#: Every option of `check`: its names, run_check's parameter, and how its value is read. "flag" sets
#: True; ("const", v) sets v; "text" and "path" take one value, "texts" any number (repeatable);
#: ("int", least) an integer (least: the smallest allowed, or None). tests/test_cli_fast_path.py
#: checks this table against the typer command's parameters.
CHECK_OPTIONS: dict[str, tuple[str, object]] = {
    "--format": ("format", "text"), "-f": ("format", "text"),
    "--output-file": ("output_file", "path"), "-o": ("output_file", "path"),
    "--select": ("select", "texts"), "--ignore": ("ignore", "texts"),
    "--extend-select": ("extend_select", "texts"), "--fail-on": ("fail_on", "text"),
    "--exit-zero": ("exit_zero", "flag"), "--config": ("config", "path"), "--isolated": ("isolated", "flag"),
    "--output": ("output", "texts"), "--pretrained": ("pretrained", "texts"),
    "--finetune": ("finetune", "texts"), "--scratch": ("scratch", "texts"), "--weights": ("weights", "text"),
    "--max-file-size": ("max_file_size", ("int", None)), "--show-fixes": ("show_fixes", "flag"),
    "--color": ("color", ("const", True)), "--no-color": ("color", ("const", False)),
    "--jobs": ("jobs", ("int", 0)), "-j": ("jobs", ("int", 0)), "--timeout": ("timeout", ("int", 1)),
    "--pre-commit": ("pre_commit", "flag"), "--verbose": ("verbose", "flag"), "-v": ("verbose", "flag"),
    "--quiet": ("quiet", "flag"), "-q": ("quiet", "flag"), "--baseline": ("baseline", "path"),
    "--write-baseline": ("write_baseline", "path"), "--statistics": ("statistics", "flag"),
    "--exclude": ("exclude", "texts"), "--extend-exclude": ("extend_exclude", "texts"),
    "--respect-gitignore": ("respect_gitignore", ("const", True)),
    "--no-respect-gitignore": ("respect_gitignore", ("const", False)),
    "--follow-links": ("follow_links", "flag"), "--lfs-pointers": ("lfs_pointers", "text"),
}

_DIGITS = re.compile(r"[0-9]+")


def plain_check(args: List[str]) -> dict | None:
    """run_check's arguments for a plain ``check ...`` command line, or None when typer must parse it.

    Plain: every token is a path or one of CHECK_OPTIONS, written ``--name value``, ``--name=value``
    or ``-x value``, with well-formed values. Anything else (help, combined short flags, a value
    that looks like an option, a bad number, no path) is typer's, with its messages.
    """
    if not args or args[0] != "check" or os.environ.get("_GRAPHAUDIT_COMPLETE"):
        return None
    out: dict = {}
    paths: list[Path] = []
    rest = iter(args[1:])
    for token in rest:
        if token == "--":
            tail = list(rest)
            if any(t in ("", "-") for t in tail):
                return None
            paths.extend(Path(t) for t in tail)
            break
        if token in ("", "-"):
            return None
        if not token.startswith("-"):
            paths.append(Path(token))
            continue
        name, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        spec = CHECK_OPTIONS.get(name)
        if spec is None:
            return None
        param, kind = spec
        if kind == "flag" or isinstance(kind, tuple) and kind[0] == "const":
            if eq:
                return None
            out[param] = True if kind == "flag" else kind[1]
            continue
        if not eq:
            value = next(rest, None)
            if value is None:
                return None
        if not value or value.startswith("-"):
            return None
        if kind == "text":
            out[param] = value
        elif kind == "path":
            out[param] = Path(value)
        elif kind == "texts":
            out.setdefault(param, []).append(value)
        else:
            least = kind[1]
            if not _DIGITS.fullmatch(value) or (least is not None and int(value) < least):
                return None
            out[param] = int(value)
    if not paths:
        return None
    out["paths"] = paths
    return out


class _Pacified:
    """A stream whose flush ignores a closed pipe (click's PacifyFlushWrapper): ``check | head`` exits 1 quietly."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _run_plain(options: dict) -> int:
    """run_check, ending as the typer app ends a command (its standalone mode)."""
    from graphaudit.runner import Exit, _echo, run_check

    try:
        return run_check(**options)
    except Exit as exc:
        return exc.code
    except EOFError:
        _echo("", err=True)
        _echo("Aborted!", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _Pacified(sys.stdout)
        sys.stderr = _Pacified(sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code instead of raising SystemExit to callers."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        sys.stdout.write(f"graphaudit {__version__}\n")
        sys.stdout.flush()
        return 0
    options = plain_check(args)
    if options is not None:
        return _run_plain(options)
    from graphaudit.commands import app

    try:
        app(args=argv, prog_name="graphaudit", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    return 0


def run() -> None:
    sys.exit(main())


def __getattr__(name: str):
    # Names this module has always offered, imported on first use: the typer app above all.
    if name == "app":
        from graphaudit.commands import app

        return app
    if name in ("KEYS", "ArtifactError", "EXIT_CLEAN", "EXIT_FINDINGS", "EXIT_ERROR"):
        from graphaudit import config, errors, runner

        return getattr(config if name == "KEYS" else errors if name == "ArtifactError" else runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["main", "run", "plain_check", "CHECK_OPTIONS"]  # and `app`, built on first use
