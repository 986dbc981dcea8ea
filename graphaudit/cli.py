"""The `graphaudit` command: check, fix, inspect, rules, explain."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from graphaudit.config import KEYS, LFS_POINTER_MODES, Options, find_config, load_config, resolve
from graphaudit.errors import ArtifactError, GraphauditError, UsageError
from graphaudit.version import __version__

app = typer.Typer(
    name="graphaudit",
    help="Static auditor for TensorFlow graphs, checkpoints and saved models. Never imports TensorFlow, "
         "never runs the audited model.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _version(value: bool) -> None:
    if value:
        typer.echo(f"graphaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


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
    import os

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


def _fail(message: str) -> None:
    typer.echo(f"graphaudit: error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


@contextlib.contextmanager
def _one_line_errors(what: str) -> Iterator[None]:
    """A bad input or usage is one line and exit 2; so is a run that cannot go on (``the {what} stopped``)."""
    try:
        yield
    except GraphauditError as exc:
        from graphaudit.reporters.escaping import escape

        _fail(escape(str(exc)))
    except (typer.Exit, KeyboardInterrupt):
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


@app.command()
def check(
    paths: List[Path] = typer.Argument(..., help="Artifacts, or folders to search for artifacts.", show_default=False),
    format: str = typer.Option("console", "--format", "-f", help="console, json, sarif, github, junit, gitlab or html."),
    output_file: Optional[Path] = typer.Option(None, "--output-file", "-o", help="Write the report here."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Rule codes or prefixes to enable (replaces the default, `GA`)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Rule codes or prefixes to disable."),
    extend_select: Optional[List[str]] = typer.Option(None, "--extend-select", help="Codes to enable on top of the selection."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Lowest severity that fails the run: error, warning (default) or info."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even with findings (unreadable input still exits 2)."),
    config: Optional[Path] = typer.Option(None, "--config", help="A pyproject.toml ([tool.graphaudit]) or graphaudit.toml."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore configuration files."),
    output: Optional[List[str]] = typer.Option(None, "--output", help="A node the artifact is for (repeatable); used as a root."),
    pretrained: Optional[List[str]] = typer.Option(None, "--pretrained", help="Variable globs that are pretrained, e.g. 'vgg19/*'."),
    finetune: Optional[List[str]] = typer.Option(None, "--finetune", help="Variable globs that are fine-tuned on purpose."),
    scratch: Optional[List[str]] = typer.Option(None, "--scratch", help="Variable globs trained from scratch on purpose (weights=None)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="A reference Keras .h5 weights file."),
    max_file_size: Optional[int] = typer.Option(None, "--max-file-size", help="Refuse protobuf files larger than this many bytes."),
    show_fixes: bool = typer.Option(False, "--show-fixes", help="Print fix-up details, evidence and code."),
    color: Optional[bool] = typer.Option(None, "--color/--no-color", help="Force or disable colour."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=0, help="Audit artifacts in this many processes (0: one per CPU; default 1)."),
    timeout: Optional[int] = typer.Option(None, "--timeout", min=1, help="Seconds to read one Keras .h5/.keras file before giving up on it (default 120)."),
    pre_commit: bool = typer.Option(False, "--pre-commit", hidden=True, help="PATHS are changed files: audit the artifact each belongs to."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also list clean artifacts, the files a folder search skipped, by kind, and what it excluded."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only findings and errors: no summary, notes or hints."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Hide the findings recorded in this file (see --write-baseline)."),
    write_baseline: Optional[Path] = typer.Option(None, "--write-baseline", help="Record the current findings' fingerprints in this file, then exit 0."),
    statistics: bool = typer.Option(False, "--statistics", help="Print how often each rule fired (count, code, name) instead of the findings."),
    exclude: Optional[List[str]] = typer.Option(None, "--exclude", help="Patterns to leave out of folder searches (replaces the defaults: .git, .venv, node_modules...)."),
    extend_exclude: Optional[List[str]] = typer.Option(None, "--extend-exclude", help="Patterns to leave out on top of the defaults."),
    respect_gitignore: Optional[bool] = typer.Option(None, "--respect-gitignore/--no-respect-gitignore", help="Leave out what .gitignore files ignore (default: yes)."),
    follow_links: Optional[bool] = typer.Option(None, "--follow-links", help="Follow symlinks that leave the searched folder."),
    lfs_pointers: Optional[str] = typer.Option(None, "--lfs-pointers", help="A Git LFS pointer in place of a model: warn (default) or error."),
) -> None:
    """Audit artifacts and report findings. Exit 0: clean; 1: findings; 2: unreadable input or usage error."""
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
                raise typer.Exit(EXIT_CLEAN)
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
            typer.echo(f"wrote {n} finding{'s' if n != 1 else ''} to {write_baseline}", err=True)
            raise typer.Exit(EXIT_ERROR if report.errors else EXIT_CLEAN)
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
    raise typer.Exit(report.exit_code(exit_zero))


@app.command("fix")
def fix_cmd(
    path: Path = typer.Argument(..., help="One artifact: a GraphDef, a `.meta` with its checkpoint, or a SavedModel.",
                                show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the repaired copy into this folder (created)."),
    in_place: bool = typer.Option(False, "--in-place", help="Rewrite the artifact itself instead of writing a copy."),
    weights: Optional[str] = typer.Option(None, "--weights", help="A Keras .h5 of the pretrained weights (GA202)."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Rule codes or prefixes to fix and check."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Rule codes or prefixes to leave alone."),
    config: Optional[Path] = typer.Option(None, "--config", help="A pyproject.toml ([tool.graphaudit]) or graphaudit.toml."),
    isolated: bool = typer.Option(False, "--isolated", help="Ignore configuration files."),
    output: Optional[List[str]] = typer.Option(None, "--output", help="A node the artifact is for (repeatable); used as a root."),
    pretrained: Optional[List[str]] = typer.Option(None, "--pretrained", help="Variable globs that are pretrained."),
    finetune: Optional[List[str]] = typer.Option(None, "--finetune", help="Variable globs that are fine-tuned on purpose."),
    max_file_size: Optional[int] = typer.Option(None, "--max-file-size", help="Refuse protobuf files larger than this many bytes."),
) -> None:
    """Write a repaired copy of an artifact: apply the fixes its findings make safe, list the others as manual.

    Exit 0: nothing is left to fix; 1: findings remain; 2: unreadable input or usage error.
    """
    from graphaudit.engine import audit_paths
    from graphaudit.fix import fix, render_fix

    with _one_line_errors("fix"):
        if in_place == (out is not None):
            raise UsageError("give either -o OUT (a folder for the repaired copy) or --in-place")
        cli = Options(select=_split(select), ignore=_split(ignore), outputs=tuple(output) if output else None,
                      pretrained=_split(pretrained), finetune=_split(finetune), weights=weights,
                      max_file_size=max_file_size)
        settings = _settings(config, isolated, cli)
        result = fix(str(path), None if out is None else str(out), settings, in_place=in_place,
                     weights_file=settings.weights, max_file_size=max_file_size)
        report = audit_paths([result.out if not in_place else str(path)], settings)
        render_fix(result, report, sys.stdout)
    raise typer.Exit(report.exit_code())


@app.command("inspect")
def inspect_cmd(
    path: Path = typer.Argument(..., help="One artifact.", show_default=False),
    format: str = typer.Option("console", "--format", "-f", help="console, json or html."),
    output_file: Optional[Path] = typer.Option(None, "--output-file", "-o", help="Write the summary here."),
    max_file_size: Optional[int] = typer.Option(None, "--max-file-size"),
    verify_checksums: bool = typer.Option(False, "--verify-checksums",
                                          help="Read every checkpoint tensor and check its CRC-32C."),
    timeout: int = typer.Option(120, "--timeout", min=1, help="Seconds to read a Keras .h5/.keras file before giving up."),
) -> None:
    """Summarise what an artifact holds: format, tags, signatures, graphs, variables, checkpoint coverage, ops."""
    from graphaudit.budget import BudgetExceeded, run_with_budget
    from graphaudit.config import DEFAULT_MAX_FILE_SIZE
    from graphaudit.engine import NATIVE_FORMATS, budget_message, read_failure
    from graphaudit.errors import strict
    from graphaudit.formats.sniff import discover
    from graphaudit.inspection import render_console
    from graphaudit.reporters.escaping import escape, escape_tree

    try:
        _check_format(format, ("console", "json", "html"))
        cap = max_file_size or DEFAULT_MAX_FILE_SIZE
        candidates = discover([str(path)], max_file_size=cap)
        if len(candidates) > 1 and path.is_dir() and (path / "checkpoint").is_file():
            # A training folder: TensorFlow's `latest_checkpoint` reads the `checkpoint` state file.
            from graphaudit.formats.sniff import current_checkpoint

            candidates = current_checkpoint(path) or candidates
        if len(candidates) != 1:
            raise UsageError(f"{path}: holds {len(candidates)} artifacts; inspect takes one "
                             f"(for example {candidates[0].path if candidates else path})")
        candidate = candidates[0]
        try:
            if candidate.format in NATIVE_FORMATS:
                info = run_with_budget(lambda: _inspect_info(candidate, cap, verify_checksums, format), timeout)
            else:
                info = _inspect_info(candidate, cap, verify_checksums, format)
        except BudgetExceeded as exc:
            raise ArtifactError(candidate.path, budget_message(exc, timeout)) from None
        except GraphauditError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged artifact is one line, as in `check`
            if strict():
                raise
            raise ArtifactError(candidate.path, read_failure(candidate, exc)) from None
    except GraphauditError as exc:
        _fail(escape(str(exc)))
    view = info.pop("_view", None)
    info = escape_tree(info, multiline=frozenset({"code"}))
    if format == "console" and output_file is None:
        render_console(info, _console())
        return
    try:
        with _output(output_file) as stream:
            if format == "html":
                from graphaudit.reporters.html import inspect_page

                stream.write(inspect_page(info, view))
            elif format == "json":
                json.dump(info, stream, indent=2)
                stream.write("\n")
            else:
                from rich.console import Console

                render_console(info, Console(file=stream, highlight=False, soft_wrap=True, width=120,
                                             no_color=True))
    except GraphauditError as exc:
        _fail(escape(str(exc)))


def _inspect_info(candidate, cap: int, verify_checksums: bool, fmt: str = "console") -> dict:
    from graphaudit.config import Settings
    from graphaudit.formats.readers import read
    from graphaudit.inspection import inspect_dict

    art = read(candidate, max_file_size=cap)
    info = inspect_dict(art)
    if fmt == "html":
        from graphaudit.analysis import Analyses
        from graphaudit.reporters.html import build_view

        info["_view"] = build_view(art, Analyses(art, Settings()), ())
    if verify_checksums and art.checkpoint is not None:
        for key in art.checkpoint.keys():
            art.checkpoint.verify(key)  # raises ArtifactError naming the tensor
        info["checkpoint"]["checksums"] = "verified"
    return info


@app.command("rules")
def rules_cmd(format: str = typer.Option("console", "--format", "-f", help="console or json.")) -> None:
    """List the rule catalogue."""
    from graphaudit.rules import ALL_RULES

    try:
        _check_format(format, ("console", "json"))
    except UsageError as exc:
        _fail(str(exc))
    rows = [{"code": r.code, "name": r.name, "severity": r.severity.value, "confidence": r.confidence.value,
             "summary": r.summary()} for r in ALL_RULES]
    if format == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", padding=(0, 2))
    for col in ("code", "name", "severity", "summary"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["code"], r["name"], r["severity"], r["summary"])
    _console().print(table)


@app.command()
def explain(code: str = typer.Argument(..., help="A rule code (GA201) or name (uninitialized-variable).")) -> None:
    """Print a rule's documentation."""
    from graphaudit.docs import rule_markdown
    from graphaudit.rules import BY_CODE, lookup

    rule = lookup(code)
    if rule is None:
        _fail(f"unknown rule `{code}`; known: {', '.join(BY_CODE)}")
    text = rule_markdown(rule)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    else:
        sys.stdout.write(text)


@app.command()
def demo(
    keep: Optional[Path] = typer.Option(None, "--keep", help="Build into this folder and keep the artifacts."),
    show_fixes: bool = typer.Option(False, "--show-fixes/--no-fixes", help="Print fix-up code and evidence under findings."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the HTML report of the demo here "
                                          "(default: graphaudit-demo-report.html in --keep, or the temp folder)."),
) -> None:
    """Build the seed article's four pitfalls with TensorFlow, audit each, then audit the fix (needs graphaudit[tf])."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf_keras") is None:
        _fail('the demo builds real TensorFlow models: install them with `pip install "graphaudit[tf]"`')
    from graphaudit.demo import run_demo

    raise typer.Exit(run_demo(keep, _console(), show_fixes=show_fixes, report_path=report))


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code instead of raising SystemExit to callers."""
    try:
        app(args=argv, prog_name="graphaudit", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    return EXIT_CLEAN


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main", "run", "KEYS", "ArtifactError"]
