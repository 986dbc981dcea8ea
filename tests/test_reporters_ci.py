"""JUnit XML and GitLab Code Quality reports on hand-made reports: exact shape, escaping, determinism."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

from graphaudit.findings import ArtifactResult, Confidence, Finding, Fixup, Location, Report, Severity
from graphaudit.reporters import get_reporter
from graphaudit.reporters.sarif import fingerprint


def _finding(artifact, code, sev, message, scope="backbone"):
    return Finding(code=code, name="uninitialized-variable", severity=sev, confidence=Confidence.HIGH,
                   message=message, location=Location(artifact=artifact, graph="graph", scope=scope,
                                                      variables=("backbone/kernel",)),
                   evidence=("the checkpoint lacks `backbone/kernel`",), fixup=Fixup(title="Save it"))


REPORT = Report(artifacts=(
    ArtifactResult(path="exports/a", format="saved_model", findings=(
        _finding("exports/a", "GA201", Severity.ERROR, "2 variables get no value \x1b[31m"),
        _finding("exports/a", "GA302", Severity.WARNING, "`vgg19` is trainable", scope="vgg19"))),
    ArtifactResult(path="exports/b", format="saved_model"),
    ArtifactResult(path="exports/c.pb", format=None, error="expected a GraphDef; found <html>"),
))


def render(fmt):
    out = io.StringIO()
    get_reporter(fmt, out).write(REPORT)
    return out.getvalue()


def test_junit_suite_per_artifact_case_per_finding():
    text = render("junit")
    assert text == render("junit")  # deterministic
    root = ET.fromstring(text.split("\n", 1)[1])
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "4", "2", "1")
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors")) for s in suites] == [
        ("exports/a", "2", "2", "0"), ("exports/b", "1", "0", "0"), ("exports/c.pb", "1", "0", "1")]
    first, second = suites[0].findall("testcase")
    assert (first.get("name"), first.get("classname")) == ("graphaudit.GA201", "exports/a")
    failure = first.find("failure")
    assert failure.get("message") == "GA201 2 variables get no value \\x1b[31m"  # escaped, not a terminal code
    assert failure.get("type") == "error"
    assert failure.text.splitlines() == ["uninitialized-variable (error, high confidence) in graph/backbone",
                                         "the checkpoint lacks `backbone/kernel`", "fix: Save it"]
    assert second.find("failure").get("message") == "GA302 `vgg19` is trainable"
    (clean,) = suites[1].findall("testcase")
    assert clean.get("name") == "no findings" and list(clean) == []
    (bad,) = suites[2].findall("testcase")
    assert bad.find("error").get("message") == "expected a GraphDef; found <html>"


def test_gitlab_code_quality_issues():
    text = render("gitlab")
    assert text == render("gitlab")
    issues = json.loads(text)
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("GA201", "critical", {"path": "exports/a", "lines": {"begin": 1}}),
        ("GA302", "major", {"path": "exports/a", "lines": {"begin": 1}}),
        ("unreadable", "blocker", {"path": "exports/c.pb", "lines": {"begin": 1}})]
    assert issues[0]["description"] == "GA201 2 variables get no value \\x1b[31m"
    assert list(issues[0]) == ["description", "check_name", "fingerprint", "severity", "location"]
    assert len({i["fingerprint"] for i in issues}) == 3


def test_gitlab_fingerprint_tells_the_same_finding_in_two_artifacts_apart():
    same = [_finding(p, "GA201", Severity.ERROR, "m") for p in ("a", "b")]
    assert fingerprint(same[0]) == fingerprint(same[1])  # SARIF's leaves the path to the location
    report = Report(artifacts=tuple(ArtifactResult(path=f.location.artifact, format="metagraph", findings=(f,))
                                    for f in same))
    out = io.StringIO()
    get_reporter("gitlab", out).write(report)
    a, b = json.loads(out.getvalue())
    assert a["fingerprint"] != b["fingerprint"]
