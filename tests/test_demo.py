"""`graphaudit demo` builds the seed's four pitfalls, each audit shows its rule, and the fix audits clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf

EXPECTED = {
    "new_session": "GA203",
    "global_init": "GA202",
    "duplicate_graph": "GA101",
    "trainable_backbone": "GA301",
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    keep = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([sys.executable, "-m", "graphaudit", "demo", "--keep", str(keep), "--no-fixes"],
                          capture_output=True, text=True, timeout=600)
    return keep, proc


def test_demo_exits_zero_and_tells_the_story(demo_run):
    _, proc = demo_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for title in ("1. The model used in a new session", "2. global_variables_initializer() after loading",
                  "3. The graph built twice", "4. Trainable pretrained weights", "The fix: graphaudit.reference.VGG19"):
        assert title in out
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_pitfall_fires_its_rule(demo_run, scenario):
    keep, _ = demo_run
    report = audit_paths([str(keep / scenario)], Settings())
    assert not report.errors, [a.error for a in report.errors]
    assert EXPECTED[scenario] in {f.code for f in report.findings}, [(f.code, f.message) for f in report.findings]


def test_reference_pipeline_is_clean(demo_run):
    keep, _ = demo_run
    report = audit_paths([str(keep / "reference")], Settings())
    assert not report.errors and report.findings == [], [(f.code, f.message) for f in report.findings]
