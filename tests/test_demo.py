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
    proc = subprocess.run([sys.executable, "-m", "graphaudit", "demo", "--keep", str(keep)],
                          capture_output=True, text=True, timeout=600)
    return keep, proc


def test_demo_exits_zero_and_tells_the_story(demo_run):
    _, proc = demo_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for title in ("1. The model used in a new session", "2. global_variables_initializer() after loading",
                  "3. The graph built twice", "4. Trainable pretrained weights", "The fix: graphaudit.reference.VGG19"):
        assert title in out
    # No TensorFlow start-up noise (CUDA, absl, deprecations), and no fix-up code without --show-fixes.
    assert proc.stderr == "", proc.stderr[-2000:]
    assert "evidence:" not in out
    # The last screen: each pitfall's rule before, and clean after, side by side.
    last = out[out.index("Before and after"):]
    for code in EXPECTED.values():
        assert code in last
    assert last.count("clean") >= 4


def test_demo_writes_an_html_report_of_every_scenario(demo_run):
    keep, proc = demo_run
    report = keep / "graphaudit-demo-report.html"
    assert f"HTML report of the whole demo: {report}" in proc.stdout
    page = report.read_text()
    for scenario in (*EXPECTED, "reference"):
        assert f"{scenario}/" in page
    assert page.count('<script type="application/json"') == 5
    for code in EXPECTED.values():
        assert f">{code}</a>" in page


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
