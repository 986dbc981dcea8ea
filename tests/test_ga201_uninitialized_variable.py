"""GA201 uninitialized-variable: each bad artifact fires, each good twin stays clean."""

from __future__ import annotations

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf


def findings(path, code="GA201"):
    report = audit_paths([str(path)], Settings())
    assert not report.errors, [a.error for a in report.errors]
    return [f for f in report.findings if f.code == code]


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ("tf1_meta_ckpt_missing_backbone", "tf1_meta_ckpt_clean"),
        ("tf1_saved_model_partial_restore", "tf1_saved_model_clean"),
    ],
)
def test_fires_on_bad_and_not_on_twin(artifacts, bad, good):
    missing = set(artifacts.manifest(bad)["missing_variables"])
    got = findings(artifacts.path(bad))
    assert len(got) == 1, got
    assert set(got[0].location.variables) == missing
    assert f"{len(missing)} variables" in got[0].message
    assert got[0].severity.value == "error"
    assert got[0].fixup.title
    assert findings(artifacts.path(good)) == []
