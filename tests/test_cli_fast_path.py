"""A plain `check` parsed without typer gets exactly the arguments the typer command would pass, or goes to typer."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from graphaudit import cli, commands, runner


def typer_arguments(args: list[str], monkeypatch) -> dict:
    """The keywords the typer `check` command passes to run_check for this command line."""
    seen: dict = {}

    def record(**options):
        seen.update(options)
        return 0

    monkeypatch.setattr(commands, "run_check", record)
    with pytest.raises(SystemExit) as exit_:
        commands.app(args=args, prog_name="graphaudit", standalone_mode=True)
    assert exit_.value.code == 0, args
    return seen


def click_check():
    import typer.main

    return typer.main.get_command(commands.app).commands["check"]


def test_the_option_table_is_the_typer_commands():
    table: dict = {}
    for param in click_check().params:
        if param.param_type_name == "argument":
            assert param.name == "paths" and param.nargs == -1 and param.required
            continue
        if param.secondary_opts:  # --color/--no-color
            expected = {param.opts[0]: (param.name, ("const", True)), param.secondary_opts[0]: (param.name, ("const", False))}
        elif param.is_flag:
            expected = {o: (param.name, "flag") for o in param.opts}
        elif param.multiple:
            expected = {o: (param.name, "texts") for o in param.opts}
        elif type(param.type).__name__ == "TyperPath":
            expected = {o: (param.name, "path") for o in param.opts}
        elif param.type.name == "integer" or type(param.type).__name__ == "IntRange":
            expected = {o: (param.name, ("int", getattr(param.type, "min", None))) for o in param.opts}
        else:
            assert param.type.name == "text", param
            expected = {o: (param.name, "text") for o in param.opts}
        table.update(expected)
    assert table == cli.CHECK_OPTIONS


def test_run_check_defaults_are_the_typer_defaults(monkeypatch):
    given = typer_arguments(["check", "model.pb"], monkeypatch)
    signature = inspect.signature(runner.run_check)
    assert list(given) == list(signature.parameters)
    defaults = {k: p.default for k, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}
    assert {k: v for k, v in given.items() if k != "paths"} == defaults
    assert given["paths"] == [Path("model.pb")]


PLAIN = [
    ["check", "model.pb"],
    ["check", "a.pb", "b", "--format", "json"],
    ["check", "--format=json", "a.pb", "-o", "out.json", "b.pb"],
    ["check", "-f", "sarif", "--isolated", "a.pb", "--exit-zero", "--quiet"],
    ["check", "a.pb", "--select", "GA1,GA2", "--select", "GA3", "--ignore=GA101", "--extend-select", "GA2"],
    ["check", "a.pb", "--pretrained", "vgg19/*", "--finetune", "block5_*", "--scratch", "head/*"],
    ["check", "a.pb", "--output", "logits", "--output=probs", "--weights", "w.h5", "--config", "x/pyproject.toml"],
    ["check", "a.pb", "--max-file-size", "1000", "-j", "0", "--jobs", "2", "--timeout", "5"],
    ["check", "a.pb", "--color", "--no-color", "--show-fixes", "-v", "--statistics"],
    ["check", "a.pb", "--no-respect-gitignore", "--follow-links", "--lfs-pointers", "error", "--pre-commit"],
    ["check", "a.pb", "--respect-gitignore", "--exclude", "x", "--extend-exclude", "y,z"],
    ["check", "a.pb", "--baseline", "b.json", "--write-baseline", "c.json", "--fail-on", "info"],
    ["check", "a.pb", "--format", "json", "--format", "console"],  # the last one wins
    ["check", "--", "-odd.pb", "a.pb"],
    ["check", "a.pb", "--format", "bogus"],  # a bad value is run_check's error, the same either way
    ["check", "a.pb", "--fail-on", "never"],
]


@pytest.mark.parametrize("args", PLAIN, ids=" ".join)
def test_a_plain_check_gets_the_typer_arguments(args, monkeypatch):
    plain = cli.plain_check(args)
    assert plain is not None, args
    expected = typer_arguments(args, monkeypatch)
    defaults = {k: p.default for k, p in inspect.signature(runner.run_check).parameters.items()}
    assert {**defaults, **plain} == expected


@pytest.mark.parametrize("args", [
    [], ["--help"], ["check"], ["check", "--help"], ["check", "a.pb", "--help"], ["inspect", "a.pb"],
    ["--version", "check", "a.pb"], ["check", "a.pb", "-vq"], ["check", "a.pb", "-fjson"],
    ["check", "a.pb", "--format"], ["check", "a.pb", "--format="], ["check", "a.pb", "--isolated=1"],
    ["check", "a.pb", "--jobs", "-1"], ["check", "a.pb", "--timeout", "0"], ["check", "a.pb", "--jobs", "x"],
    ["check", "a.pb", "--max-file-size", "1e6"], ["check", "a.pb", "--select", "-x"], ["check", "-"],
    ["check", ""], ["check", "a.pb", "--formats", "json"], ["check", "a.pb", "-h"], ["check", "--", ""],
])
def test_anything_else_is_left_to_typer(args):
    assert cli.plain_check(args) is None


def test_shell_completion_is_left_to_typer(monkeypatch):
    monkeypatch.setenv("_GRAPHAUDIT_COMPLETE", "bash_source")
    assert cli.plain_check(["check", "a.pb"]) is None


@pytest.mark.parametrize("args, stream, text", [
    (["check", "a.pb", "--format", "bogus"], "err", "graphaudit: error: --format: unknown format `bogus`"),
    (["check", "a.pb", "--select", "GA9"], "err", "graphaudit: error: select: unknown rule code `GA9`"),
    (["check", "missing/model.pb"], "out", "missing/model.pb: error: no such file or folder"),
])
def test_errors_read_the_same_either_way(args, stream, text, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.plain_check(args) is not None
    fast = cli.main(args), capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        commands.app(args=args, prog_name="graphaudit", standalone_mode=True)
    slow = exit_.value.code, capsys.readouterr()
    assert fast == slow
    assert fast[0] == 2 and getattr(fast[1], stream).startswith(text)
