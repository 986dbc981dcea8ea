"""What the commands run, without typer: `check` itself, and the exit codes, one-line errors, output, colour
and progress every command shares."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Iterator, List, Optional

from graphaudit.config import LFS_POINTER_MODES, Options, find_config, load_config, resolve
from graphaudit.errors import GraphauditError, UsageError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Exit(Exception):
    """End the command with this exit code (commands.py turns it into typer's Exit; cli.py into a return value)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _split(values: Optional[List[str]]) -> tuple[str, ...] | None:
    if values is None:
        return None
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return tuple(out)


def _settings(config: Optional[Path], isolated: bool, cli: Options):
    from graphaudit.rules import BY_CODE

    file_opts = Options()
    config_path = None
    if config is not None:
        file_opts = load_config(config)
        config_path = str(config)
    elif not isolated:
        found = find_config(Path.cwd())
        if found is not None:
            file_opts = load_config(found)
            config_path = str(found)
    return resolve(cli.merged_over(file_opts), BY_CODE, config_path=config_path)


@contextlib.contextmanager
def _output(path: Optional[Path]) -> Iterator[io.TextIOBase]:
    if path is None:
        yield sys.stdout
        return
    try:
        fh = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output-file {path}: {exc.strerror}") from None
    with fh:
        yield fh


def _color(flag: Optional[bool]) -> Optional[bool]:
    """``--color/--no-color`` first, then NO_COLOR and FORCE_COLOR (no-color.org: a non-empty value)."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return None


def _console():
    """A rich console; when piped, wide enough that tables do not wrap names."""
    from rich.console import Console

    color = _color(None)
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120,
                   force_terminal=color, no_color=color is False)


@contextlib.contextmanager
def _progress(delay: float = 1.0, quiet: bool = False):
    """Progress on stderr, only on a terminal, never under ``--quiet``, once the audit has run ``delay`` seconds.

    A timer shows it even while one long artifact is read (a 5 GB checkpoint gave no sign of life
    for seconds): elapsed time first, then a bar over the artifacts once the first one is done.
    """
    if quiet or not sys.stderr.isatty():
        yield None
        return
    import threading
    import time

    lock = threading.Lock()
    state: dict = {"start": time.monotonic(), "bar": None, "task": None, "closed": False}

    def show(total: int | None) -> None:  # called with the lock held
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)

        bar = Progress(SpinnerColumn(), TextColumn("auditing"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        bar.start()
        state["bar"], state["task"] = bar, bar.add_task("audit", total=total)

    def tick() -> None:
        with lock:
            if state["bar"] is None and not state["closed"]:
                show(None)

    timer = threading.Timer(delay, tick)
    timer.daemon = True
    timer.start()

    def update(done: int, total: int, path: str) -> None:
        with lock:
            if state["closed"]:
                return
            if state["bar"] is None:
                if done >= total or time.monotonic() - state["start"] < delay:
                    return
                show(total)
            state["bar"].update(state["task"], completed=done, total=total)

    try:
        yield update
    finally:
        timer.cancel()
        with lock:
            state["closed"] = True
            if state["bar"] is not None:
                state["bar"].stop()


def _echo(message: str, err: bool = False) -> None:
    """One line, as ``typer.echo`` writes it (message, newline, flush)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def _fail(message: str) -> None:
    _echo(f"graphaudit: error: {message}", err=True)
    raise Exit(EXIT_ERROR)


@contextlib.contextmanager
def _one_line_errors(what: str) -> Iterator[None]:
    """A bad input or usage is one line and exit 2; so is a run that cannot go on (``the {what} stopped``)."""
    try:
        yield
    except GraphauditError as exc:
        from graphaudit.reporters.escaping import escape

        _fail(escape(str(exc)))
    except (Exit, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a run that cannot go on still ends in one line
        from graphaudit.errors import describe, strict
        from graphaudit.reporters.escaping import escape

        if strict():
            raise
        _fail(escape(f"the {what} stopped: {describe(exc)}; please report it"))


def _check_format(fmt: str, choices) -> None:
    if fmt not in choices:
        raise UsageError(f"--format: unknown format `{fmt}`; expected one of: {', '.join(choices)}")


def run_check(
    paths: List[Path], format: str = "console", output_file: Optional[Path] = None,
    select: Optional[List[str]] = None, ignore: Optional[List[str]] = None,
    extend_select: Optional[List[str]] = None, fail_on: Optional[str] = None, exit_zero: bool = False,
    config: Optional[Path] = None, isolated: bool = False, output: Optional[List[str]] = None,
    pretrained: Optional[List[str]] = None, finetune: Optional[List[str]] = None,
    scratch: Optional[List[str]] = None, weights: Optional[str] = None, max_file_size: Optional[int] = None,
    show_fixes: bool = False, color: Optional[bool] = None, jobs: Optional[int] = None,
    timeout: Optional[int] = None, pre_commit: bool = False, verbose: bool = False, quiet: bool = False,
    baseline: Optional[Path] = None, write_baseline: Optional[Path] = None, statistics: bool = False,
    exclude: Optional[List[str]] = None, extend_exclude: Optional[List[str]] = None,
    respect_gitignore: Optional[bool] = None, follow_links: Optional[bool] = None,
    lfs_pointers: Optional[str] = None,
) -> int:
    """`graphaudit check` (its options are declared in commands.py); returns the exit code."""
    from graphaudit.engine import audit_paths
    from graphaudit.reporters import FORMATS, get_reporter

    with _one_line_errors("audit"):
        _check_format(format, FORMATS)
        if quiet and verbose:
            raise UsageError("--quiet and --verbose contradict each other; give one")
        if statistics and format not in ("console", "json"):
            raise UsageError(f"--statistics: prints a table (console) or json, not `{format}`")
        cli = Options(select=_split(select), ignore=_split(ignore), extend_select=_split(extend_select),
                      fail_on=fail_on, outputs=tuple(output) if output else None,
                      pretrained=_split(pretrained), finetune=_split(finetune), scratch=_split(scratch), weights=weights,
                      max_file_size=max_file_size, jobs=jobs, timeout=timeout, exclude=_split(exclude),
                      extend_exclude=_split(extend_exclude), respect_gitignore=respect_gitignore,
                      follow_links=follow_links, lfs_pointers=lfs_pointers)
        if lfs_pointers is not None and lfs_pointers not in LFS_POINTER_MODES:
            raise UsageError(f"--lfs-pointers: unknown mode `{lfs_pointers}`; expected one of: "
                             f"{', '.join(LFS_POINTER_MODES)}")
        settings = _settings(config, isolated, cli)
        targets = [str(p) for p in paths]
        if pre_commit:
            from graphaudit.formats.sniff import artifact_roots

            targets = artifact_roots(targets)
            if not targets:
                raise Exit(EXIT_CLEAN)
        entries = None
        if baseline is not None:
            from graphaudit.baseline import load_baseline

            entries = load_baseline(baseline)
        view = None
        if format == "html" and not statistics:
            from graphaudit.reporters.html import build_view as view
        with _progress(quiet=quiet) as on_progress:
            report = audit_paths(targets, settings, on_progress=on_progress, view=view)
        if write_baseline is not None:
            from graphaudit.baseline import write_baseline as write

            n = write(report, write_baseline)
            _echo(f"wrote {n} finding{'s' if n != 1 else ''} to {write_baseline}", err=True)
            raise Exit(EXIT_ERROR if report.errors else EXIT_CLEAN)
        if entries is not None:
            from graphaudit.baseline import apply_baseline

            report = apply_baseline(report, entries)
        with _output(output_file) as stream:
            shade = _color(color) if output_file is None else False
            if statistics:
                from graphaudit.reporters.statistics import write_statistics

                write_statistics(report, stream, format, color=shade)
            else:
                reporter = get_reporter(format, stream, show_fixes=show_fixes, color=shade, verbose=verbose,
                                        quiet=quiet)
                reporter.write(report)
    return report.exit_code(exit_zero)
