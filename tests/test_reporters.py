"""Reporters: the JSON contract, SARIF 2.1.0 essentials, GitHub annotations, determinism."""

from __future__ import annotations

import json

import pytest

from graphaudit.cli import main
from graphaudit.findings import Confidence, Finding, Fixup, Location, Report, ArtifactResult, Severity
from graphaudit.reporters.github import GithubReporter, PER_LEVEL_CAP

pytestmark = pytest.mark.tf

BAD = "tf1_meta_ckpt_missing_backbone"


def run_json(capsys, *args):
    code = main(["check", *args])
    return code, capsys.readouterr().out


def test_json_contract(artifacts, capsys):
    code, out = run_json(capsys, "--format", "json", str(artifacts.path(BAD)))
    assert code == 1
    data = json.loads(out)
    assert list(data) == ["version", "tool", "artifacts", "summary"]
    assert data["version"] == 1 and data["tool"]["name"] == "graphaudit"
    (art,) = data["artifacts"]
    assert list(art) == ["path", "format", "error", "stats", "findings", "warning", "notes"]
    assert art["format"] == "metagraph" and art["error"] is None
    assert list(art["stats"]) == ["graphs", "nodes", "functions", "variables"]
    (f,) = art["findings"]
    assert list(f) == ["code", "name", "severity", "confidence", "message", "location", "evidence", "fixup"]
    assert f["code"] == "GA201" and f["name"] == "uninitialized-variable" and f["severity"] == "error"
    assert list(f["location"]) == ["graph", "scope", "nodes", "variables"]
    assert list(f["fixup"]) == ["title", "detail", "code", "applicability"]
    assert f["fixup"]["applicability"] in ("automatic", "manual")
    assert data["summary"] == {"artifacts": 1, "errors": 0, "findings": {"error": 1, "warning": 0, "info": 0},
                               "warnings": 0, "skipped": {},
                               "hidden": {"baseline": 0, "declared": 0, "by_declaration": {}}}


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_byte_identical_across_runs(artifacts, capsys, fmt):
    paths = [str(artifacts.path(BAD)), str(artifacts.path("tf1_saved_model_partial_restore"))]
    _, first = run_json(capsys, "--format", fmt, *paths)
    _, second = run_json(capsys, "--format", fmt, *reversed(paths))
    assert first == second


def test_sarif_essentials(artifacts, capsys):
    code, out = run_json(capsys, "--format", "sarif", str(artifacts.path(BAD)))
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert "GA201" in ids
    for r in rules:
        assert r["shortDescription"]["text"] and r["help"]["text"] and r["help"]["markdown"].startswith(f"# {r['id']}")
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    (res,) = run["results"]
    assert res["ruleId"] == "GA201" and rules[res["ruleIndex"]]["id"] == "GA201"
    assert res["level"] == "error"
    assert len(res["partialFingerprints"]["graphauditFinding/v1"]) == 64
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert res["properties"]["fixup"]["title"]


def _finding(k: int, sev: Severity) -> Finding:
    return Finding(code="GA201", name="uninitialized-variable", severity=sev, confidence=Confidence.HIGH,
                   message=f"message, with: 100% {k}\nsecond line", location=Location(artifact=f"m{k},x:y"),
                   fixup=Fixup(title="Do it"))


def test_github_annotations_escape_and_overflow(tmp_path, monkeypatch):
    import io

    findings = tuple(_finding(k, Severity.ERROR) for k in range(PER_LEVEL_CAP + 3))
    report = Report(artifacts=(ArtifactResult(path="m", format="metagraph", findings=findings),))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = io.StringIO()
    GithubReporter(out).write(report)
    lines = out.getvalue().splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    assert len(errors) == PER_LEVEL_CAP
    assert errors[0] == ("::error file=m0%2Cx%3Ay,title=GA201 uninitialized-variable::"
                         "message, with: 100%25 0\\nsecond line — fix: Do it")
    assert "3 more findings are in the step summary" in lines[-1]
    assert summary.read_text().count("| GA201 |") == 3


def test_output_file_and_exit_zero(artifacts, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["check", "--format", "json", "-o", str(out), "--exit-zero", str(artifacts.path(BAD))])
    assert code == 0
    assert json.loads(out.read_text())["summary"]["findings"]["error"] == 1
    assert capsys.readouterr().out == ""


def test_fail_on_error_ignores_warnings_but_not_errors(artifacts, capsys):
    code, _ = run_json(capsys, "--format", "json", "--fail-on", "error", str(artifacts.path(BAD)))
    assert code == 1
    code, _ = run_json(capsys, "--format", "json", "--ignore", "GA201", str(artifacts.path(BAD)))
    assert code == 0


def test_console_report(artifacts, capsys):
    code = main(["check", "--no-color", "--show-fixes", str(artifacts.path(BAD))])
    out = capsys.readouterr().out
    assert code == 1
    assert "GA201 error [uninitialized-variable]" in out
    assert "fix: Create the `Saver` without a `var_list` that leaves out 8 variables" in out
    assert "saver = tf.compat.v1.train.Saver()" in out
    assert out.rstrip().splitlines()[-1].startswith("1 artifact checked, 1 finding (1 error)")


def test_usage_errors_exit_2(capsys, tmp_path):
    assert main(["check", "--select", "GA999", str(tmp_path)]) == 2
    assert "unknown rule code `GA999`" in capsys.readouterr().err
    assert main(["check", "--format", "xml", str(tmp_path)]) == 2
    assert main(["explain", "GA999"]) == 2


def test_sarif_caps_results_for_github(monkeypatch):
    from graphaudit.reporters import sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 5)
    findings = tuple(_finding(k, Severity.WARNING if k % 2 else Severity.ERROR) for k in range(8))
    report = Report(artifacts=(ArtifactResult(path="m", format="metagraph", findings=findings),))
    run = sarif.sarif_dict(report)["runs"][0]
    assert len(run["results"]) == 5
    assert [r["level"] for r in run["results"]] == ["error"] * 4 + ["warning"]
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"] == "3 results left out: a SARIF run holds at most 5 for GitHub"
