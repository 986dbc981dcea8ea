"""The pytest plugin (entry point `pytest11`): the `graphaudit` fixture and readable Report assertions."""

from __future__ import annotations

from typing import Any

import pytest

from graphaudit.findings import Finding, Report


class GraphauditFixture:
    """`graphaudit.audit` and `assert_clean`, with defaults from the test's `graphaudit(...)` marker."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults

    def __repr__(self) -> str:
        return f"<graphaudit fixture, options {self.defaults}>"

    def audit(self, target: Any, **options: Any) -> Report:
        from graphaudit.api import audit

        return audit(target, **{**self.defaults, **options})

    def assert_clean(self, target: Any, **options: Any) -> Report:
        __tracebackhide__ = True
        from graphaudit.testing import assert_clean

        return assert_clean(target, **{**self.defaults, **options})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "graphaudit(**options): default graphaudit options (select, ignore, pretrained, ...) "
                   "for the `graphaudit` fixture")


@pytest.fixture
def graphaudit(request: pytest.FixtureRequest) -> GraphauditFixture:
    """Audit artifacts or live models: ``graphaudit.assert_clean(path)``, ``graphaudit.audit(model)``."""
    defaults: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("graphaudit"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.graphaudit takes keyword options only, "
                                    "e.g. @pytest.mark.graphaudit(select=['GA201'])")
        defaults.update(marker.kwargs)
    return GraphauditFixture(defaults)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    """A short table instead of dataclass reprs when a Report, a Finding or a list of them is compared."""
    sides = [s for s in (left, right) if _is_ours(s)]
    if not sides:
        return None
    if len(sides) == 2 and not any(isinstance(s, Report) for s in sides):
        return None  # findings against findings: pytest's own diff shows which field differs
    from graphaudit.testing import failure_message, findings_table

    lines = [f"{_short(left)} {op} {_short(right)}"]
    for which, side in (("left", left), ("right", right)):
        if not _is_ours(side):
            continue
        if len(sides) == 2:
            lines.append(f"{which}:")
        if isinstance(side, Report):
            if not side:
                lines.extend(failure_message(side).splitlines())
            else:
                lines.append(f"graphaudit: {side!r}")
                if side.findings:
                    lines.extend(findings_table(side.findings).splitlines())
        else:
            found = [side] if isinstance(side, Finding) else list(side)
            lines.append(f"graphaudit found {len(found)} finding{'s' if len(found) != 1 else ''}:")
            lines.extend(findings_table(found, with_artifact=len({f.location.artifact for f in found}) > 1)
                         .splitlines())
    return lines


def _is_ours(value: Any) -> bool:
    if isinstance(value, (Report, Finding)):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, Finding) for v in value)


def _short(value: Any) -> str:
    if isinstance(value, Report):
        return repr(value)
    if isinstance(value, Finding):
        return f"<Finding {value.code} {value.location.artifact}>"
    if _is_ours(value):
        return f"[{len(value)} finding{'s' if len(value) != 1 else ''}: {', '.join(sorted({f.code for f in value}))}]"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
