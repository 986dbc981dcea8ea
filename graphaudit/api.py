"""`graphaudit.audit(target, **options)`: audit a path or a live TensorFlow/Keras object from Python."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from graphaudit.config import Options, Settings, find_config, load_config, options_from_mapping, resolve
from graphaudit.errors import ArtifactError
from graphaudit.findings import ArtifactResult, Report

OPTION_NAMES = tuple(f.name for f in fields(Options))


def audit(target: Any, *, config: str | os.PathLike[str] | None = None, isolated: bool = False,
          session: Any = None, **options: Any) -> Report:
    """Audit ``target`` and return a :class:`~graphaudit.findings.Report` (falsy when it fails).

    ``target`` is a path (or a list of paths), a ``GraphDef`` or ``MetaGraphDef`` (TensorFlow's
    or tensorboard's messages), a ``tf.Graph``, a ``tf.compat.v1.Session`` (its variables'
    live values are used), a tf_keras or Keras 3 model, or a ``tf.Module``. Paths are read
    statically; TensorFlow is touched only for objects that come from it.

    ``options`` are the configuration keys in snake_case (``select``, ``ignore``,
    ``extend_select``, ``per_path_ignores``, ``pretrained``, ``finetune``, ``scratch``, ``weights``,
    ``outputs``, ``fail_on``, ``max_file_size``, ``min_duplicate_ops``, ``jobs``); they win over
    the nearest ``pyproject.toml`` with ``[tool.graphaudit]`` (or ``config=``) unless
    ``isolated=True``. ``session`` gives variable values to a ``tf.Graph`` or a graph-mode
    Keras model.
    """
    settings = settings_for(options, config=config, isolated=isolated)
    paths = _as_paths(target)
    if paths is not None:
        from graphaudit.engine import audit_paths

        return audit_paths(paths, settings)
    from graphaudit.engine import audit_artifacts
    from graphaudit.formats import live

    if live.live_kind(target) is None:
        raise TypeError(f"graphaudit.audit() cannot audit a {type(target).__module__}.{type(target).__qualname__}; "
                        "expected a path, a GraphDef or MetaGraphDef, a tf.Graph, a tf.compat.v1.Session, "
                        "a Keras model or a tf.Module")
    try:
        artifact = live.to_artifact(target, session=session)
    except ArtifactError as exc:
        result = ArtifactResult(path=exc.path, format="live", error=exc.message)
        return Report(artifacts=(result,), fail_on=settings.fail_on)
    return audit_artifacts([artifact], settings)


def settings_for(options: Mapping[str, Any], *, config: str | os.PathLike[str] | None = None,
                 isolated: bool = False) -> Settings:
    """Keyword options over the configuration file, checked like ``[tool.graphaudit]`` keys."""
    from graphaudit.rules import BY_CODE

    unknown = sorted(k for k in options if k not in OPTION_NAMES)
    if unknown:
        raise TypeError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                        f"known: {', '.join(OPTION_NAMES)}")
    table = {}
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, (tuple, set, frozenset)):
            value = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
        if isinstance(value, Mapping):
            value = {k: list(v) if isinstance(v, (tuple, set, frozenset)) else v for k, v in value.items()}
        table[key.replace("_", "-")] = value
    user = options_from_mapping(table, "graphaudit.audit()")
    file_opts, config_path = Options(), None
    if config is not None:
        file_opts, config_path = load_config(Path(config)), os.fspath(config)
    elif not isolated:
        found = find_config(Path.cwd())
        if found is not None:
            file_opts, config_path = load_config(found), str(found)
    return resolve(user.merged_over(file_opts), BY_CODE, config_path=config_path)


def _as_paths(target: Any) -> list[str] | None:
    if isinstance(target, (str, os.PathLike)):
        return [os.fspath(target)]
    if isinstance(target, (list, tuple)) and target and all(isinstance(t, (str, os.PathLike)) for t in target):
        return [os.fspath(t) for t in target]
    return None
