"""Writers for the files the test harness reads back: checkpoints (tensor bundles) and their index table."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from graphaudit.formats import protos
from graphaudit.formats.checkpoint_writer import write_checkpoint as write_bundle

_DTYPE_ENUM = {name: number for number, (name, _) in protos.DTYPES.items()}


def dtype_enum(name: str) -> int:
    """TensorFlow's DataType number of ``name`` (``"float32"`` -> 1); ``_ref`` names add 100."""
    if name.endswith("_ref"):
        return dtype_enum(name[:-4]) + 100
    try:
        return _DTYPE_ENUM[name]
    except KeyError:
        raise ValueError(f"unknown dtype `{name}`; expected one of: {', '.join(sorted(_DTYPE_ENUM))}") from None


def write_checkpoint(prefix: str | os.PathLike[str], values: Mapping[str, np.ndarray],
                     extra_entries: Mapping[str, bytes] | None = None) -> str:
    """Write ``values`` (key -> array) as a one-shard tensor bundle at ``prefix``; return the prefix.

    ``extra_entries`` are raw string tensors stored as one-element string arrays (the TF2
    object graph under ``_CHECKPOINTABLE_OBJECT_GRAPH``).
    """
    values = dict(values)
    dtypes = {key: _numpy_dtype_name(np.asarray(value)) for key, value in values.items()}
    for key, raw in (extra_entries or {}).items():
        values[key] = np.array(raw, dtype=object)
        dtypes[key] = "string"
    return write_bundle(prefix, values, dtypes=dtypes).prefix


def _numpy_dtype_name(arr: np.ndarray) -> str:
    if arr.dtype.name == "bfloat16":
        return "bfloat16"
    for number, (name, np_name) in protos.DTYPES.items():
        if np_name and name != "bfloat16" and np.dtype(np_name) == arr.dtype.newbyteorder("<"):
            return name
    raise ValueError(f"cannot store a {arr.dtype} array in a checkpoint")
