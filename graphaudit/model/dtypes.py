"""TensorFlow's DataType numbers, their names and numpy types, and bfloat16 widening."""

from __future__ import annotations

import numpy as np

#: DataType number -> (TensorFlow's name, numpy type string or None when numpy has none).
DTYPES: dict[int, tuple[str, str | None]] = {
    1: ("float32", "<f4"),
    2: ("float64", "<f8"),
    3: ("int32", "<i4"),
    4: ("uint8", "u1"),
    5: ("int16", "<i2"),
    6: ("int8", "i1"),
    7: ("string", None),
    8: ("complex64", "<c8"),
    9: ("int64", "<i8"),
    10: ("bool", "?"),
    14: ("bfloat16", "<u2"),
    17: ("uint16", "<u2"),
    18: ("complex128", "<c16"),
    19: ("float16", "<f2"),
    20: ("resource", None),
    21: ("variant", None),
    22: ("uint32", "<u4"),
    23: ("uint64", "<u8"),
}

#: TensorFlow's name -> DataType number, and -> the numpy type of its stored values.
DTYPE_NUMBERS: dict[str, int] = {name: number for number, (name, _) in DTYPES.items()}
NUMPY_BY_NAME: dict[str, np.dtype] = {name: np.dtype(np_name) for name, np_name in DTYPES.values() if np_name}


def dtype_name(enum_value: int) -> str:
    """Return the TensorFlow name of a DataType enum value (`_ref` types fold onto theirs)."""
    base = enum_value - 100 if enum_value > 100 else enum_value
    return DTYPES.get(base, (f"dtype{enum_value}", None))[0]


def numpy_dtype(enum_value: int) -> np.dtype | None:
    """The numpy type that holds a DataType's values (bfloat16 as its raw uint16 bits), or None."""
    np_name = DTYPES.get(enum_value, (None, None))[1]
    return np.dtype(np_name) if np_name else None


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (as :meth:`Checkpoint.value` returns them) to float32, exactly."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
