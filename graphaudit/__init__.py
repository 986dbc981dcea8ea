"""graphaudit: a static auditor for TensorFlow graphs, checkpoints and saved models."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "audit"]


def audit(target, **options):
    """Audit a path or a live TensorFlow/Keras object and return a :class:`~graphaudit.findings.Report`."""
    from graphaudit.api import audit as _audit

    return _audit(target, **options)
