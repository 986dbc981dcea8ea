"""Writers for the files the test harness reads back: checkpoints (tensor bundles) and their index table."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from graphaudit.formats.checkpoint_writer import write_checkpoint as write_bundle
from graphaudit.model.dtypes import DTYPE_NUMBERS



def dtype_enum(name: str) -> int:
    """TensorFlow's DataType number of ``name`` (``"float32"`` -> 1); ``_ref`` names add 100."""
    if name.endswith("_ref"):
        return dtype_enum(name[:-4]) + 100
    try:
        return DTYPE_NUMBERS[name]
    except KeyError:
        raise ValueError(f"unknown dtype `{name}`; expected one of: {', '.join(sorted(DTYPE_NUMBERS))}") from None


def write_checkpoint(prefix: str | os.PathLike[str], values: Mapping[str, np.ndarray],
                     extra_entries: Mapping[str, bytes] | None = None) -> str:
    """Write ``values`` (key -> array) as a one-shard tensor bundle at ``prefix``; return the prefix.

    ``extra_entries`` are raw string tensors stored as one-element string arrays (the TF2
    object graph under ``_CHECKPOINTABLE_OBJECT_GRAPH``).
    """
    values = dict(values)
    for key, raw in (extra_entries or {}).items():
        values[key] = np.array(raw, dtype=object)  # dtype_of: an object array is a string tensor
    return write_bundle(prefix, values).prefix
