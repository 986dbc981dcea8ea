"""graphaudit: a static auditor for TensorFlow graphs, checkpoints and saved models."""

from __future__ import annotations

from graphaudit.version import __version__

__all__ = ["__version__", "audit", "to_dict", "to_json", "to_sarif"]


def audit(target, **options):
    """Audit a path or a live TensorFlow/Keras object and return a :class:`~graphaudit.findings.Report`."""
    from graphaudit.api import audit as _audit

    return _audit(target, **options)


def to_dict(report):
    """The ``--format json`` object of a Report (docs/output-contract.md)."""
    from graphaudit.reporters import to_dict as _to_dict

    return _to_dict(report)


def to_json(report, *, indent=2):
    """The ``--format json`` text of a Report."""
    from graphaudit.reporters import to_json as _to_json

    return _to_json(report, indent=indent)


def to_sarif(report, *, indent=2):
    """The ``--format sarif`` text (SARIF 2.1.0) of a Report."""
    from graphaudit.reporters import to_sarif as _to_sarif

    return _to_sarif(report, indent=indent)
