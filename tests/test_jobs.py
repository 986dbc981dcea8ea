"""Folder audits in several processes: the same sorted, byte-identical report as in one."""

from __future__ import annotations

import shutil

import pytest

from graphaudit.cli import main
from graphaudit.config import Options, load_config, resolve
from graphaudit.engine import audit_paths, worker_count
from graphaudit.errors import UsageError
from graphaudit.rules import BY_CODE


@pytest.fixture(scope="module")
def tree(artifacts, tmp_path_factory):
    """Nine SavedModels (every third one broken) and an unreadable file, in nested folders."""
    root = tmp_path_factory.mktemp("tree")
    built = artifacts.folders("tf1_saved_model_clean", "tf1_saved_model_partial_restore")
    for k in range(9):
        name = "tf1_saved_model_partial_restore" if k % 3 == 2 else "tf1_saved_model_clean"
        shutil.copytree(built[name] / "saved_model", root / f"team{k % 2}" / f"m{k}" / "saved_model")
    # Named as a graph: in a searched folder, a file that neither parses nor is named so is skipped.
    (root / "team0" / "frozen_graph.pb").write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    return root


def test_cli_jobs_2_writes_the_report_of_jobs_1(tree, tmp_path, capsys):
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.json"
        assert main(["check", str(tree), "--isolated", "--jobs", jobs, "--format", "json", "-o", str(out)]) == 2
        outs[jobs] = out.read_bytes()
    assert outs["1"] == outs["2"]
    assert main(["check", str(tree), "--isolated", "-j", "2", "--ignore", "GA201", "--no-color"]) == 2
    out = capsys.readouterr().out
    assert "10 artifacts checked, no findings, 1 unreadable" in out


def test_results_are_sorted_and_progress_counts_every_artifact(tree):
    settings = resolve(Options(jobs=2), BY_CODE)
    calls = []
    report = audit_paths([tree], settings, on_progress=lambda done, total, path: calls.append((done, total)))
    paths = [a.path for a in report.artifacts]
    assert paths == sorted(paths) and len(paths) == 10
    assert [c[0] for c in calls] == list(range(1, 11)) and {c[1] for c in calls} == {10}
    broken = sorted(a.path.split("/")[-2] for a in report.artifacts if a.findings)
    assert broken == ["m2", "m5", "m8"]
    assert [f.code for f in report.findings] == ["GA201"] * 3


def test_jobs_config_key(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.graphaudit]\njobs = 0\n")
    assert resolve(load_config(config), BY_CODE).jobs == 0
    assert worker_count(0) >= 1 and worker_count(3) == 3
    config.write_text('[tool.graphaudit]\njobs = "many"\n')
    with pytest.raises(UsageError, match="`jobs` must be a number of processes"):
        load_config(config)
