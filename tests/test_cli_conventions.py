"""CLI conventions on hand-built artifacts: -V, NO_COLOR/FORCE_COLOR, loud config and --output errors,
--format on every command, --quiet, --verbose, --statistics, docs links, GitHub annotation caps."""

from __future__ import annotations

import io
import json

import pytest

from graphaudit.cli import main
from graphaudit.findings import ArtifactResult, Confidence, Finding, Fixup, Location, Report, Severity
from graphaudit.reporters.github import PER_LEVEL_CAP, GithubReporter
from graphaudit.testing.harness import graph, head, placeholder, vgg
from graphaudit.version import __version__


def _classifier(missing: bool):
    img = placeholder("images", (None, 32, 32, 3))
    net = vgg("backbone", img)
    top = head("head", net.out, 8)
    return graph(img, net, top, outputs=[top.out], saver=True, checkpoint_omit=["backbone/"] if missing else ())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    _classifier(True).write(root / "bad")
    _classifier(False).write(root / "good")
    return root


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_short_and_long(capsys, flag):
    assert run(capsys, flag) == (0, f"graphaudit {__version__}\n", "")


def test_no_color_beats_a_terminal_and_force_color_colours_a_pipe(models, capsys, monkeypatch):
    from graphaudit import runner

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert runner._color(None) is False
    assert runner._color(True) is True  # the flag wins over the environment
    monkeypatch.setenv("NO_COLOR", "")  # an empty value does not count (no-color.org)
    assert runner._color(None) is True
    code, out, _ = run(capsys, "check", str(models / "bad"))
    assert code == 1 and "\x1b[" in out
    monkeypatch.setenv("NO_COLOR", "yes")
    code, out, _ = run(capsys, "check", str(models / "bad"))
    assert code == 1 and "\x1b[" not in out and "GA201 error [uninitialized-variable]" in out
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.delenv("FORCE_COLOR")
    assert runner._color(None) is None


def test_broken_pyproject_found_automatically_is_a_usage_error(models, tmp_path, capsys, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.graphaudit]\nselect = GA2\n')
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check", str(models / "good"))
    assert code == 2 and out == ""
    assert err.startswith(f"graphaudit: error: {tmp_path / 'pyproject.toml'}: not valid TOML (")
    assert "(at line 2, column 10))" in err and len(err.splitlines()) == 1
    assert run(capsys, "check", "--isolated", str(models / "good"))[0] == 0


def test_unknown_output_is_a_loud_error_per_artifact(models, capsys):
    code, out, _ = run(capsys, "check", "--no-color", "--output", "logitz", "--output", "head/dense/Softmax:0",
                       str(models / "good"))
    assert code == 2
    assert "error: --output `logitz`: no such node in the artifact's graph" in out
    code, out, _ = run(capsys, "check", "--no-color", "--output", "head/dense/Softmax", str(models / "good"))
    assert code == 0, out


@pytest.mark.parametrize("command", [["rules"], ["inspect", "x"], ["check", "x"]])
def test_format_is_validated_on_every_command(capsys, command):
    code, out, err = run(capsys, *command, "--format", "xml")
    assert code == 2 and out == ""
    assert err.startswith("graphaudit: error: --format: unknown format `xml`; expected one of: console, json")


def test_quiet_prints_findings_only(models, capsys):
    code, out, _ = run(capsys, "check", "--no-color", "--quiet", str(models))
    assert code == 1
    assert "GA201 error [uninitialized-variable]" in out
    assert "checked" not in out and "--show-fixes" not in out and "good" not in out
    assert run(capsys, "check", "--quiet", "--verbose", str(models))[0] == 2


def test_verbose_lists_clean_artifacts(models, capsys):
    code, out, _ = run(capsys, "check", "--no-color", "--verbose", str(models))
    assert code == 1
    good = str(models / "good" / "model.ckpt.meta")
    assert f"{good}: clean (metagraph, " in out
    code, out, _ = run(capsys, "check", "--no-color", str(models))
    assert "clean" not in out


def test_statistics_table_and_json(models, tmp_path, capsys):
    _classifier(True).write(tmp_path / "bad2")
    code, out, _ = run(capsys, "check", "--statistics", str(models), str(tmp_path / "bad2"))
    assert code == 1
    assert out == "2\tGA201\tuninitialized-variable\n"
    code, out, _ = run(capsys, "check", "--statistics", "--format", "json", str(models))
    assert json.loads(out) == [{"count": 1, "code": "GA201", "name": "uninitialized-variable"}]
    assert run(capsys, "check", "--statistics", "--format", "sarif", str(models))[0] == 2


def test_statistics_sorts_by_count_then_code():
    from graphaudit.reporters.statistics import statistics

    report = Report(artifacts=(ArtifactResult(path="m", format="metagraph", findings=(
        _finding(0, code="GA302"), _finding(1, code="GA101"), _finding(2, code="GA302"), _finding(3, code="GA201"))),))
    assert [(r["count"], r["code"]) for r in statistics(report)] == [(2, "GA302"), (1, "GA101"), (1, "GA201")]


def test_console_links_the_rule_docs(models, capsys):
    url = "https://github.com/graphaudit/graphaudit/blob/main/docs/rules/GA201.md"
    code, out, _ = run(capsys, "check", "--no-color", "--show-fixes", str(models / "bad"))
    assert f"    docs: {url}" in out.splitlines()
    code, out, _ = run(capsys, "check", "--color", str(models / "bad"))
    assert f"\x1b]8;id=" in out and url in out  # an OSC 8 hyperlink on the code


def _finding(k, sev=Severity.ERROR, code="GA201"):
    return Finding(code=code, name="uninitialized-variable", severity=sev, confidence=Confidence.HIGH,
                   message=f"message {k}", location=Location(artifact=f"m{k}"), fixup=Fixup(title="Do it"))


def test_github_counts_unreadable_artifacts_against_the_cap(tmp_path, monkeypatch):
    unreadable = tuple(ArtifactResult(path=f"u{k}", format=None, error="expected a GraphDef")
                       for k in range(PER_LEVEL_CAP - 2))
    report = Report(artifacts=(*unreadable, ArtifactResult(
        path="m", format="metagraph", findings=tuple(_finding(k) for k in range(5)))))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = io.StringIO()
    GithubReporter(out).write(report)
    errors = [line for line in out.getvalue().splitlines() if line.startswith("::error ")]
    assert len(errors) == PER_LEVEL_CAP
    assert sum("title=unreadable artifact" in e for e in errors) == PER_LEVEL_CAP - 2
    assert out.getvalue().splitlines()[-1] == "::notice title=graphaudit::3 more findings are in the step summary"
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| GA201 |")]
    assert [r.split(" | ")[3] for r in rows] == ["message 2 |", "message 3 |", "message 4 |"]


@pytest.mark.parametrize("command, what", [("check", "audit"), ("fix", "fix")])
def test_a_run_that_cannot_go_on_ends_in_one_line(models, tmp_path, capsys, monkeypatch, command, what):
    import graphaudit.engine

    def broken(*args, **kwargs):
        raise RuntimeError("an internal invariant failed")

    monkeypatch.delenv("GRAPHAUDIT_STRICT", raising=False)
    monkeypatch.setattr(graphaudit.engine, "audit_paths", broken)
    args = [command, str(models / "bad" / "model.ckpt.meta")] + (["-o", str(tmp_path / "out")] if command == "fix" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err == f"graphaudit: error: the {what} stopped: found data it cannot interpret (an internal invariant failed); please report it\n"
