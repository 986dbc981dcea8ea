"""`python -m graphaudit.add_rule` writes a rule that registers, documents itself and has failing harness tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path):
    for part in ("graphaudit", "docs"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "tests" / "cases").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "tests" / "conftest.py")
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    return tmp_path


def run(tree: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def test_the_skeleton_registers_documents_and_tests_a_new_rule(tree):
    # One process writes the skeleton, then imports the catalogue with the new rule in it.
    done = run(tree, "-c", "from graphaudit.add_rule import main; "
                           "main(['GA204', 'checkpoint-dtype-drift', '--severity', 'error', '--summary', "
                           "'Finds variables whose checkpoint value has another dtype.']); "
                           "from graphaudit.rules import BY_CODE; r = BY_CODE['GA204']; "
                           "print('|'.join([r.__name__, r.severity.value, str(r.missing_sections()), r.summary()]))")
    assert done.returncode == 0, done.stderr
    assert "graphaudit/rules/initialization/checkpoint_dtype_drift.py" in done.stdout
    assert done.stdout.splitlines()[-1] == ("CheckpointDtypeDrift|error|[]|"
                                            "Finds variables whose checkpoint value has another dtype.")
    assert (tree / "docs" / "rules" / "GA204.md").read_text().startswith("# GA204 checkpoint-dtype-drift\n")
    assert "| GA204 | checkpoint-dtype-drift | error | TODO: the symptom" in (tree / "README.md").read_text()
    # The harness test fails until the rule and its cases are written.
    tests = run(tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/cases/test_cases_ga204.py")
    assert tests.returncode == 1, tests.stdout
    assert "expected GA204, which did not fire" in tests.stdout


def test_codes_are_never_reused(tree):
    from graphaudit.add_rule import add_rule

    with pytest.raises(ValueError, match=r"^code `GA201` is taken \(codes are never reused\)$"):
        add_rule("GA201", "something-else", "Finds x.", "error", root=tree)
    with pytest.raises(ValueError, match=r"^code `GA901`: no rule family GA9xx yet"):
        add_rule("GA901", "x-y", "Finds x.", "error", root=tree)
    with pytest.raises(ValueError, match=r"^name `Bad_Name`: expected kebab-case"):
        add_rule("GA204", "Bad_Name", "Finds x.", "error", root=tree)
    assert not (tree / "graphaudit" / "rules" / "initialization" / "something_else.py").exists()
