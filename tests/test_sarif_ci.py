"""The CI recipe of docs/integrations.md, offline: its audit command's SARIF meets SARIF 2.1.0 and GitHub's limits.

No SARIF JSON schema ships with any installed package, so the fields that SARIF 2.1.0 and GitHub
code scanning require are checked by hand, from GitHub's "SARIF support for code scanning" page.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "integrations.md"

# GitHub code scanning's documented upload limits.
MAX_GZIP_BYTES = 10 * 1024**2
MAX_RUNS = 20
MAX_RESULTS_PER_RUN = 25_000
MAX_RULES_PER_RUN = 25_000
MAX_TAGS_PER_RULE = 20
MAX_LOCATIONS_PER_RESULT = 10  # "up to a maximum of 10" (the hard limit is 1,000)
MAX_RULE_NAME = 255
MAX_DESCRIPTION = 1024
LEVELS = {"none", "note", "warning", "error"}
PRECISIONS = {"very-high", "high", "medium", "low"}


def _yaml_blocks(text: str) -> list[dict]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def _workflow() -> dict:
    (flow,) = [b for b in _yaml_blocks(DOC.read_text()) if isinstance(b, dict) and "jobs" in b]
    return flow


@pytest.fixture(scope="module")
def ci_repo(artifacts, tmp_path_factory) -> Path:
    """A repository checkout as the workflow sees it: models/ with a broken, a clean and a garbage artifact."""
    repo = tmp_path_factory.mktemp("ci-repo")
    built = artifacts.folders("tf1_saved_model_partial_restore", "tf1_meta_ckpt_missing_backbone",
                              "tf1_saved_model_clean")
    shutil.copytree(built["tf1_saved_model_partial_restore"] / "saved_model", repo / "models" / "serving" / "1")
    shutil.copytree(built["tf1_saved_model_clean"] / "saved_model", repo / "models" / "serving" / "2")
    (repo / "models" / "train").mkdir()
    for f in built["tf1_meta_ckpt_missing_backbone"].glob("model.ckpt*"):
        shutil.copy(f, repo / "models" / "train" / f.name)
    (repo / "models" / "broken_graph.pb").write_bytes(b"\x0a\xff\xff\xff\xff\x0f")  # a truncated GraphDef
    return repo


@pytest.fixture(scope="module")
def sarif_run(ci_repo) -> tuple[subprocess.CompletedProcess, dict, bytes]:
    """Run the workflow's audit step, as written in the docs, with graphaudit from this environment."""
    steps = _workflow()["jobs"]["graphaudit"]["steps"]
    (audit,) = [s for s in steps if s.get("name") == "Audit the models"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(audit["run"], shell=True, cwd=ci_repo, env=env, capture_output=True, text=True)
    raw = (ci_repo / "graphaudit.sarif").read_bytes()
    return proc, json.loads(raw), raw


def test_workflow_uploads_what_the_audit_writes():
    flow = _workflow()
    assert flow["permissions"]["security-events"] == "write"
    steps = flow["jobs"]["graphaudit"]["steps"]
    (audit,) = [s for s in steps if s.get("name") == "Audit the models"]
    (upload,) = [s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@")]
    assert "--format sarif" in audit["run"]
    out = re.search(r"-o (\S+)", audit["run"]).group(1)
    assert upload["with"]["sarif_file"] == out
    assert upload["if"].startswith("always()")  # findings fail the audit step; they must still upload


def test_pre_commit_snippet_is_a_valid_config_for_the_shipped_hook(tmp_path):
    (snippet,) = [b for b in _yaml_blocks(DOC.read_text()) if isinstance(b, dict) and "repos" in b]
    config = tmp_path / ".pre-commit-config.yaml"
    config.write_text(yaml.safe_dump(snippet))
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(config)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in snippet["repos"][0]["hooks"]] == [hook["id"]]


def test_audit_step_exit_code_and_determinism(sarif_run, ci_repo):
    proc, sarif, raw = sarif_run
    assert proc.returncode == 2, proc.stderr  # the garbage file is unreadable: 2 wins over findings
    again = subprocess.run([sys.executable, "-m", "graphaudit", "check", "models/", "--format", "sarif",
                            "-o", "again.sarif"], cwd=ci_repo, capture_output=True, text=True)
    assert (ci_repo / "again.sarif").read_bytes() == raw


def test_sarif_log_and_run_have_the_required_fields(sarif_run):
    _, sarif, raw = sarif_run
    assert sarif["$schema"] and sarif["version"] == "2.1.0"
    assert 1 <= len(sarif["runs"]) <= MAX_RUNS
    assert len(gzip.compress(raw)) <= MAX_GZIP_BYTES
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "graphaudit" and driver["semanticVersion"]
    assert isinstance(run["results"], list) and len(run["results"]) <= MAX_RESULTS_PER_RUN
    rules = driver["rules"]
    assert 1 <= len(rules) <= MAX_RULES_PER_RUN
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        assert re.fullmatch(r"GA\d{3}", rule["id"])
        assert 0 < len(rule["name"]) <= MAX_RULE_NAME
        assert 0 < len(rule["shortDescription"]["text"]) <= MAX_DESCRIPTION, rule["id"]
        assert 0 < len(rule["fullDescription"]["text"]) <= MAX_DESCRIPTION, rule["id"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in LEVELS - {"none"}
        assert len(rule["properties"]["tags"]) <= MAX_TAGS_PER_RULE
        assert rule["properties"]["precision"] in PRECISIONS


def test_results_have_rule_message_location_and_fingerprint(sarif_run, ci_repo):
    _, sarif, _ = sarif_run
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    # Two broken artifacts (the SavedModel and the .meta), one GA201 each; the clean one has none.
    assert sorted((r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
                  for r in results) == [("GA201", "models/serving/1"), ("GA201", "models/train/model.ckpt.meta")]
    fingerprints = set()
    for result in results:
        assert 0 < len(result["ruleId"]) <= 255
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in LEVELS
        assert result["message"]["text"].strip()
        assert "(4,296 params)" in result["message"]["text"]
        assert 1 <= len(result["locations"]) <= MAX_LOCATIONS_PER_RESULT
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        # Relative to the repository root, and naming something that is in it.
        assert not uri.startswith("/") and "://" not in uri and (ci_repo / uri).exists()
        prints = result["partialFingerprints"]
        assert prints and all(isinstance(v, str) and v for v in prints.values())
        fingerprints.add(tuple(sorted(prints.items())))
    assert len(fingerprints) == len(results)


def test_unreadable_artifact_is_a_tool_notification_not_a_result(sarif_run):
    _, sarif, _ = sarif_run
    (invocation,) = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["message"]["text"].startswith("models/broken_graph.pb: ")
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/broken_graph.pb"
