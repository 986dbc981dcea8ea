"""The pre-commit hook: file names map to artifact roots, and a real `pre-commit run` fails a broken SavedModel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from graphaudit.precommit import artifact_roots, main

REPO = Path(__file__).resolve().parents[1]
HOOK = Path(sys.executable).parent / "graphaudit-hook"


@pytest.fixture(scope="module")
def models(artifacts, tmp_path_factory) -> Path:
    """A work tree with a SavedModel whose restore leaves out the backbone, a clean one, and a `.meta`."""
    root = tmp_path_factory.mktemp("models")
    built = artifacts.folders("tf1_saved_model_partial_restore", "tf1_saved_model_clean", "tf1_meta_ckpt_clean")
    shutil.copytree(built["tf1_saved_model_partial_restore"] / "saved_model", root / "broken" / "saved_model")
    shutil.copytree(built["tf1_saved_model_clean"] / "saved_model", root / "clean" / "saved_model")
    (root / "ckpt").mkdir()
    for f in built["tf1_meta_ckpt_clean"].glob("model.ckpt*"):
        shutil.copy(f, root / "ckpt" / f.name)
    # Matches the hook's pattern by name, but is a label map, not a TensorFlow artifact.
    (root / "labels.pbtxt").write_text('item {\n  id: 1\n  name: "cat"\n}\n')
    return root


def test_member_files_map_to_their_artifact_each_once(models, monkeypatch):
    monkeypatch.chdir(models)
    files = [
        "broken/saved_model/saved_model.pb",
        "broken/saved_model/variables/variables.index",
        "broken/saved_model/variables/variables.data-00000-of-00001",
        "ckpt/model.ckpt.index",
        "ckpt/model.ckpt.data-00000-of-00001",
        "ckpt/model.ckpt.meta",
        "labels.pbtxt",  # not an artifact: left out
        "gone/saved_model.pb",  # deleted in this commit: left out
    ]
    assert artifact_roots(files) == ["broken/saved_model", "ckpt/model.ckpt.meta"]


def test_main_audits_the_roots_and_returns_the_exit_code(models, monkeypatch, capsys):
    monkeypatch.chdir(models)
    assert main(["--isolated", "clean/saved_model/saved_model.pb", "clean/saved_model/variables/variables.index",
                 "labels.pbtxt"]) == 0
    assert "1 artifact checked, no findings" in capsys.readouterr().out
    assert main(["--isolated", "--no-color", "broken/saved_model/variables/variables.index",
                 "broken/saved_model/saved_model.pb"]) == 1
    out = capsys.readouterr().out
    assert out.count("GA201 error [uninitialized-variable]") == 1  # one root, audited once
    assert "broken/saved_model  (saved_model_v1" in out
    # Options before the files, as pre-commit passes a hook's `args:`.
    assert main(["--isolated", "--ignore", "GA201", "broken/saved_model/saved_model.pb"]) == 0
    assert main(["--isolated", "labels.pbtxt"]) == 0  # nothing to audit


def test_manifest_is_valid_and_matches_every_artifact_file():
    manifest = REPO / ".pre-commit-hooks.yaml"
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(manifest)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import re

    (hook,) = yaml.safe_load(manifest.read_text())
    assert hook["language"] == "python" and hook["entry"] == "graphaudit-hook" and hook["require_serial"] is True
    pattern = re.compile(hook["files"])
    for name in ("m/saved_model.pb", "m/saved_model.pbtxt", "frozen.pb", "graph.pbtxt", "model.ckpt.meta",
                 "model.ckpt-100.index", "m/variables/variables.index",
                 "m/variables/variables.data-00000-of-00001", "weights.h5", "model.keras"):
        assert pattern.search(name), name
    for name in ("train.py", "README.md", "checkpoint", "data.csv", "model.ckpt.meta.json"):
        assert not pattern.search(name), name


def _pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300)


def test_pre_commit_run_fails_the_broken_savedmodel_and_passes_the_clean_one(models, tmp_path):
    """`repo: local` with the manifest's own hook fields: try-repo would pip-install from the network."""
    repo = tmp_path / "repo"
    shutil.copytree(models, repo)
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert HOOK.is_file(), f"{HOOK} missing: reinstall with `pip install -e .`"
    local = {k: v for k, v in hook.items() if k not in ("minimum_pre_commit_version", "description")}
    local.update(entry=str(HOOK), language="system", args=["--isolated"])
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))
    for cmd in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, capture_output=True)
    home = tmp_path / "pre-commit-home"

    clean = _pre_commit(repo, home, "run", "--files", "clean/saved_model/saved_model.pb",
                        "clean/saved_model/variables/variables.index",
                        "clean/saved_model/variables/variables.data-00000-of-00001")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "graphaudit" in clean.stdout and "Passed" in clean.stdout

    broken = _pre_commit(repo, home, "run", "--files", "broken/saved_model/saved_model.pb",
                         "broken/saved_model/variables/variables.index")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    out = broken.stdout
    assert "Failed" in out and "- exit code: 1" in out
    assert "broken/saved_model  (saved_model_v1, 152 nodes, 10 variables)" in out
    assert "GA201 error [uninitialized-variable]" in out
    assert "8 variables (4,296 params)" in out

    everything = _pre_commit(repo, home, "run", "--all-files")
    assert everything.returncode == 1
    assert "3 artifacts checked, 1 finding (1 error)" in everything.stdout
    assert everything.stdout.count("GA201 error") == 1
