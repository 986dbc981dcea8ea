"""Rule tests without TensorFlow: build artifacts in a line or two, assert findings in one (docs/contributing.md)."""

# The building blocks live in nodes.py (NodeDefs, variables, values), layers.py (layers, architecture
# families, writes, Keras metadata) and cases.py (writing and reading an artifact); this module
# re-exports them and adds the assertions.

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from graphaudit.testing.cases import Case, artifact_of, checkpoint_only, graph, short_list, summary
from graphaudit.testing.layers import (add, apply_gradients, assign, batchnorm, conv, dense, depthwise_conv, function,
                                       head, keras_compiled, keras_layer, keras_model, load_weights, mlp, mobilenet,
                                       pool, resnet, vgg)
from graphaudit.testing.nodes import Layer, Var, const, fresh, node, op, placeholder, trained, var

__all__ = [
    "Case", "Layer", "Var", "add", "apply_gradients", "assert_clean", "assert_findings", "assign", "batchnorm",
    "check", "checkpoint_only", "const", "conv", "dense", "depthwise_conv", "fresh", "function", "graph", "head",
    "keras_compiled", "keras_layer", "keras_model", "load_weights", "mlp", "mobilenet", "node", "op", "placeholder",
    "pool", "render", "resnet", "summary", "trained", "var", "vgg",
]

# ------------------------------------------------------------------------------------------- checking

def check(case: Any, **options: Any) -> list[Any]:
    """Every finding graphaudit reports on ``case`` (a Case or an Artifact), with every rule enabled.

    ``options`` are the configuration keys in snake_case (``pretrained=["vgg19/*"]``,
    ``finetune=[...]``, ``outputs=[...]``...), as for `graphaudit.audit`; no config file is read.
    """
    from graphaudit.api import settings_for
    from graphaudit.engine import check_artifact

    result = check_artifact(artifact_of(case), settings_for(options, isolated=True))
    if result.error:
        raise AssertionError(f"graphaudit could not check the case: {result.error}\n{summary(case)}")
    return list(result.findings)


def assert_findings(case: Any, code: str, *where: str, message: str | None = None, severity: str | None = None,
                    confidence: str | None = None, count: int | None = None, **options: Any) -> list[Any]:
    """Fail unless rule ``code`` reports on ``case``; return its findings.

    Each name in ``where`` must be in a finding's location (its variables, nodes or scope);
    ``message`` is a regular expression that some finding's message must match; ``severity``,
    ``confidence`` must hold for every finding of ``code``; ``count`` is the exact number of them.
    """
    __tracebackhide__ = True
    found = check(case, **options)
    mine = [f for f in found if f.code == code]
    problems = []
    if not mine:
        problems.append(f"expected {code}, which did not fire")
    if count is not None and len(mine) != count:
        problems.append(f"expected {count} {code} finding(s), got {len(mine)}")
    for name in where:
        if not any(_located_at(f, name) for f in mine):
            problems.append(f"expected {code} at `{name}`")
    if message is not None and mine and not any(re.search(message, f.message) for f in mine):
        problems.append(f"expected a {code} message matching {message!r}")
    for attr, want in (("severity", severity), ("confidence", confidence)):
        if want is not None:
            got = sorted({getattr(f, attr).value for f in mine})
            if got and got != [want]:
                problems.append(f"expected {attr} {want}, got {', '.join(got)}")
    if problems:
        raise AssertionError(_failure(problems, found, case, options))
    return mine


def assert_clean(case: Any, code: str, **options: Any) -> None:
    """Fail if rule ``code`` reports anything on ``case`` (other rules may)."""
    __tracebackhide__ = True
    found = check(case, **options)
    if any(f.code == code for f in found):
        raise AssertionError(_failure([f"expected no {code}"], found, case, options))


def _located_at(finding: Any, name: str) -> bool:
    loc = finding.location
    return name in loc.variables or name in loc.nodes or name == loc.scope


def _failure(problems: list[str], found: list[Any], case: Any, options: Mapping[str, Any]) -> str:
    lines = ["; ".join(problems)]
    lines.append("found:" if found else "found: nothing")
    for f in found:
        lines.append(f"  {format_finding(f)}")
    lines.append("input:")
    lines.extend("  " + line for line in summary(case).splitlines())
    if options:
        lines.append("options: " + ", ".join(f"{k}={v!r}" for k, v in sorted(options.items())))
    return "\n".join(lines)


def format_finding(f: Any) -> str:
    """One line: code, severity/confidence, where, message."""
    loc = f.location
    where = []
    if loc.scope:
        where.append(f"scope `{loc.scope}`")
    if loc.variables:
        where.append("variables " + short_list(loc.variables))
    elif loc.nodes:
        where.append("nodes " + short_list(loc.nodes))
    return f"{f.code} {f.severity.value}/{f.confidence.value} [{'; '.join(where) or loc.graph}]: {f.message}"


def render(case: Any, code: str | None = None, *, name: str = "model", **options: Any) -> str:
    """The console report (no colour, fix-ups shown) of ``case``, only rule ``code`` when given.

    The temporary folder is replaced by ``name`` so the text is the same on every run.
    """
    import io

    from graphaudit.api import settings_for
    from graphaudit.engine import check_artifact
    from graphaudit.findings import Report
    from graphaudit.reporters.console import ConsoleReporter

    if code is not None:
        options = {**options, "select": [code]}
    settings = settings_for(options, isolated=True)
    result = check_artifact(artifact_of(case), settings)
    buffer = io.StringIO()
    ConsoleReporter(buffer, color=False, show_fixes=True).write(
        Report(artifacts=(result,), fail_on=settings.fail_on))
    text = buffer.getvalue()
    if isinstance(case, Case) and case._folder:
        text = text.replace(case._folder + os.sep, "").replace(case._folder, name)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
