"""Adopting on an existing repository: --write-baseline/--baseline by fingerprint, and config suppressions."""

from __future__ import annotations

import json

import pytest

from graphaudit.cli import main
from graphaudit.config import Options, Suppression, options_from_mapping, resolve
from graphaudit.errors import UsageError
from graphaudit.reporters.sarif import fingerprint
from graphaudit.rules import BY_CODE
from graphaudit.testing.harness import graph, head, mobilenet, placeholder, vgg


def _classifier(family, missing: bool, scope="backbone"):
    img = placeholder("images", (None, 32, 32, 3))
    net = family(scope, img)
    top = head("head", net.out, 8)
    return graph(img, net, top, outputs=[top.out], saver=True, checkpoint_omit=[f"{scope}/"] if missing else ())


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    _classifier(vgg, True).write(tmp_path / "models" / "old_vgg")
    _classifier(mobilenet, True, scope="legacy").write(tmp_path / "models" / "old_mobilenet")
    _classifier(vgg, False).write(tmp_path / "models" / "good")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *args):
    code = main(["check", "--no-color", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_baseline_hides_known_findings_and_new_ones_still_fail(repo, capsys):
    code, _, err = run(capsys, "models", "--write-baseline", "baseline.json")
    assert code == 0 and err == "wrote 2 findings to baseline.json\n"
    data = json.loads((repo / "baseline.json").read_text())
    assert [(e["artifact"], e["code"]) for e in data["findings"]] == [
        ("models/old_mobilenet/model.ckpt.meta", "GA201"), ("models/old_vgg/model.ckpt.meta", "GA201")]
    from graphaudit.engine import audit_paths
    from graphaudit.config import Settings

    report = audit_paths(["models"], Settings())
    assert {e["fingerprint"] for e in data["findings"]} == {fingerprint(f) for f in report.findings}

    code, out, _ = run(capsys, "models", "--baseline", "baseline.json")
    assert code == 0
    assert out.splitlines()[-1] == "3 artifacts checked, no findings, 2 findings hidden by the baseline"

    # A new bad model is not in the baseline: it fails the run, the old ones stay hidden.
    _classifier(vgg, True).write(repo / "models" / "new_vgg")
    code, out, _ = run(capsys, "models", "--baseline", "baseline.json")
    assert code == 1
    assert "models/new_vgg/model.ckpt.meta  (metagraph" in out
    assert "old_vgg" not in out
    assert "1 finding (1 error), 2 findings hidden by the baseline" in out
    code, out, _ = run(capsys, "models", "--baseline", "baseline.json", "--format", "json")
    summary = json.loads(out)["summary"]
    assert summary["findings"]["error"] == 1
    assert summary["hidden"] == {"baseline": 2, "declared": 0, "by_declaration": {}}


def test_stale_entries_are_listed_with_verbose(repo, capsys):
    assert run(capsys, "models", "--write-baseline", "baseline.json")[0] == 0
    _classifier(vgg, False).write(repo / "models" / "old_vgg")  # fixed
    code, out, _ = run(capsys, "models", "--baseline", "baseline.json")
    assert code == 0 and "baseline entr" not in out
    code, out, _ = run(capsys, "models", "--baseline", "baseline.json", "--verbose")
    lines = out.splitlines()
    assert any(line.startswith("models/old_mobilenet/model.ckpt.meta: no new findings (metagraph, ")
               and line.endswith(" variables, 1 hidden by the baseline)") for line in lines), out
    assert any(line.startswith("models/old_vgg/model.ckpt.meta: clean (metagraph, ") for line in lines), out
    k = lines.index("1 baseline entry no finding matched (fixed, or changed; --write-baseline refreshes the file):")
    assert lines[k + 1].startswith("    GA201 in models/old_vgg/model.ckpt.meta (")


@pytest.mark.parametrize(("content", "message"), [
    (None, "--baseline baseline.json: file not found (write one with --write-baseline)"),
    ("{", "--baseline baseline.json: not a graphaudit baseline (Expecting property name"),
    ('{"version": 1, "findings": [{"code": "GA201"}]}', "--baseline baseline.json: expected {\"version\": 1"),
])
def test_a_bad_baseline_is_a_usage_error(repo, capsys, content, message):
    if content is not None:
        (repo / "baseline.json").write_text(content)
    code, out, err = run(capsys, "models", "--baseline", "baseline.json")
    assert code == 2 and out == ""
    assert err.startswith(f"graphaudit: error: {message}")


def test_suppression_by_scope_is_counted(repo, tmp_path, capsys):
    (repo / "pyproject.toml").write_text('[tool.graphaudit]\n[[tool.graphaudit.suppress]]\ncode = "GA201"\n'
                                         'scope = "legacy*"\nreason = "retired model"\n')
    code, out, _ = run(capsys, "models")
    assert code == 1
    assert "old_mobilenet" not in out and "models/old_vgg/model.ckpt.meta  (" in out
    assert out.splitlines()[-2] == ('3 artifacts checked, 1 finding (1 error), '
                                    '1 silenced by suppress GA201 scope "legacy*"')
    code, out, _ = run(capsys, "models", "--format", "json")
    assert json.loads(out)["summary"]["hidden"] == {
        "baseline": 0, "declared": 1, "by_declaration": {'suppress GA201 scope "legacy*"': 1}}


def test_suppression_by_variable_and_path():
    s = Suppression(code="GA2", variable="backbone/*/kernel")
    assert s.covers("GA201", "m", "", ["head/w", "backbone/conv1/kernel"])
    assert not s.covers("GA201", "m", "", ["head/w"])
    assert not s.covers("GA101", "m", "", ["backbone/conv1/kernel"])
    p = Suppression(code="GA201", path="exports/legacy/*")
    assert p.covers("GA201", "exports/legacy/v1", "x", [])
    assert not p.covers("GA201", "exports/current/v1", "x", [])
    assert Suppression(code="GA302", scope="vgg19").declaration() == 'suppress GA302 scope "vgg19"'


@pytest.mark.parametrize(("entry", "message"), [
    ({"code": "GA302", "scpe": "x"}, r"unknown key `scpe` in \[\[tool.graphaudit.suppress\]\]; known keys: code, scope"),
    ({"scope": "x"}, r"needs a `code`"),
    ({"code": "GA302"}, r"suppress `GA302` needs a `scope`, `variable` or `path` glob \(to turn the rule off"),
    ({"code": "GA302", "scope": 3}, r"`suppress.scope` must be a string"),
])
def test_suppression_entries_are_checked(entry, message):
    with pytest.raises(UsageError, match=message):
        options_from_mapping({"suppress": [entry]}, "pyproject.toml")


def test_suppression_code_must_be_known():
    with pytest.raises(UsageError, match="suppress: unknown rule code `GA999`"):
        resolve(Options(suppress=(Suppression(code="GA999", scope="x"),)), BY_CODE)
