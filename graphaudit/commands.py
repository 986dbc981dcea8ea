"""The typer app behind `graphaudit`: every command's options, help and usage errors."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from graphaudit.config import Options
from graphaudit.errors import ArtifactError, GraphauditError, UsageError
from graphaudit.runner import (Exit, _check_format, _console, _fail, _one_line_errors, _output, _settings, _split,
                               run_check)
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


def _exit_codes(command):
    """The shared helpers (runner.py) end a command with cli.Exit; typer knows only its own Exit."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Exit as exc:
            raise typer.Exit(exc.code) from None
    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"graphaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    pass


@app.command()
@_exit_codes
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
    options = dict(locals())  # exactly the parameters above, run_check's keywords
    raise typer.Exit(run_check(**options))


@app.command("fix")
@_exit_codes
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
@_exit_codes
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
    from graphaudit.reporters.escaping import escape, escape_tree, escaped_json

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
    if format == "json":  # escaped as it is written: millions of values for a large checkpoint
        text = escaped_json(info, multiline=frozenset({"code"}))
    else:
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
                stream.write(text)
                stream.write("\n")
            else:
                from rich.console import Console

                render_console(info, Console(file=stream, highlight=False, soft_wrap=True, width=120,
                                             no_color=True))
    except GraphauditError as exc:
        _fail(escape(str(exc)))


def _inspect_info(candidate, cap: int, verify_checksums: bool, fmt: str = "console") -> dict:
    from graphaudit.bulk import collector_paused

    with collector_paused():  # the analyses inspect runs, as check_artifact does for a check
        return _inspect(candidate, cap, verify_checksums, fmt)


def _inspect(candidate, cap: int, verify_checksums: bool, fmt: str) -> dict:
    from graphaudit.config import Settings
    from graphaudit.formats.readers import read
    from graphaudit.inspection import CONSOLE_VARIABLES, inspect_dict

    art = read(candidate, max_file_size=cap)
    info = inspect_dict(art, listed=CONSOLE_VARIABLES if fmt == "console" else None)
    if fmt == "html":
        from graphaudit.analysis import Analyses
        from graphaudit.reporters.html import build_view

        info["_view"] = build_view(art, Analyses(art, Settings()), ())
    if verify_checksums and art.checkpoint is not None:
        art.checkpoint.verify_all()  # raises ArtifactError naming the tensor
        info["checkpoint"]["checksums"] = "verified"
    return info


@app.command("rules")
@_exit_codes
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
@_exit_codes
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
@_exit_codes
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
