"""CRC-32C (Castagnoli) checksums, and the masking that TensorFlow and LevelDB store on disk."""

from __future__ import annotations

import functools
from typing import Union

import numpy as np

try:  # optional C extension; graphaudit works without it, only verification gets slower
    import google_crc32c as _google_crc32c

    # Its "python" implementation is a byte loop, slower than the numpy fallback below.
    native = getattr(_google_crc32c, "implementation", None) == "c"
    _native_extend = _google_crc32c.extend if native else None
except ImportError:  # pragma: no cover - depends on the environment
    _native_extend = None
#: Which implementation :func:`extend` uses: ``"google_crc32c"``, ``"graphaudit"`` or ``"numpy"``.
BACKEND = "google_crc32c"
if _native_extend is None:
    try:  # graphaudit's own optional C loop (formats/_table.c): slicing by 8, about 1 GB/s
        from graphaudit.formats._table import crc32c_extend as _native_extend

        BACKEND = "graphaudit"
    except ImportError:  # pragma: no cover - depends on the build
        _native_extend = None
        BACKEND = "numpy"

Buffer = Union[bytes, bytearray, memoryview, np.ndarray]

_POLY = 0x82F63B78  # Castagnoli polynomial, bit-reflected
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def _byte_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (_POLY if crc & 1 else 0)
        table.append(crc)
    return table


_TABLE = _byte_table()
_TABLE_NP = np.array(_TABLE, dtype=np.uint32)
# Slicing-by-4 tables: _SLICE4[k][b] is the register after byte b followed by k zero bytes.
_SLICE4 = np.empty((4, 256), dtype=np.uint32)
_SLICE4[0] = _TABLE_NP
for _k in range(1, 4):
    _SLICE4[_k] = _TABLE_NP[_SLICE4[_k - 1] & 0xFF] ^ (_SLICE4[_k - 1] >> 8)

# Below this size the per-call numpy overhead loses to a plain byte loop.
_VECTOR_THRESHOLD = 4096
_LANE_BYTES = 256  # bytes each parallel lane checksums; a multiple of 4
_SUPERBLOCK_BYTES = 8 << 20  # bounds the transposed working copy


def mask(crc: int) -> int:
    """Return the masked form of ``crc`` that TensorFlow and LevelDB store next to data."""
    crc &= _U32
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def unmask(masked: int) -> int:
    """Invert :func:`mask`."""
    rot = (masked - _MASK_DELTA) & _U32
    return ((rot >> 17) | (rot << 15)) & _U32


def value(data: Buffer) -> int:
    """Return the CRC-32C of ``data``."""
    return extend(0, data)


def extend(crc: int, data: Buffer) -> int:
    """Return the CRC-32C of the bytes already checksummed as ``crc`` followed by ``data``."""
    if _native_extend is not None:
        # The extension takes bytes or a contiguous ndarray, but refuses memoryview/bytearray.
        return _native_extend(crc & _U32, _as_uint8(data))
    return extend_pure(crc, data)


def extend_pure(crc: int, data: Buffer) -> int:
    """:func:`extend` without the C extension: a byte loop for small inputs, numpy for large."""
    arr = _as_uint8(data)
    reg = (crc & _U32) ^ _U32
    n = len(arr)
    if n >= _VECTOR_THRESHOLD:
        done = n - n % _LANE_BYTES
        reg = _apply(_zeros_operator(done), reg) ^ _lanes_register(arr[:done])
        arr = arr[done:]
    return _bytewise(reg, arr.tobytes()) ^ _U32


def _as_uint8(data: Buffer) -> np.ndarray:
    """View ``data`` as a flat contiguous uint8 array, copying only if it is not contiguous."""
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, dtype=np.uint8)
    return np.ascontiguousarray(data).reshape(-1).view(np.uint8)


def _bytewise(reg: int, data: bytes) -> int:
    table = _TABLE
    for byte in data:
        reg = table[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg


def _lanes_register(arr: np.ndarray) -> int:
    """Register (started at zero) over ``arr``, whose length is a multiple of the lane size.

    CRC is linear over GF(2): the register after ``a + b`` equals the register after ``a``
    pushed through ``len(b)`` zero bytes, xor the register of ``b`` alone. So the data is cut
    into lanes that numpy checksums side by side, and the lane registers are folded pairwise.
    """
    total = 0
    step = _SUPERBLOCK_BYTES - _SUPERBLOCK_BYTES % _LANE_BYTES
    for start in range(0, len(arr), step):
        block = arr[start : start + step]
        reg = _superblock_register(block)
        total = _apply(_zeros_operator(len(block)), total) ^ reg
    return total


def _superblock_register(block: np.ndarray) -> int:
    words = block.view("<u4").reshape(-1, _LANE_BYTES // 4)
    columns = np.ascontiguousarray(words.T)  # one row per word position, one column per lane
    regs = np.zeros(columns.shape[1], dtype=np.uint32)
    t0, t1, t2, t3 = _SLICE4
    for word in columns:
        regs ^= word
        regs = t3[regs & 0xFF] ^ t2[(regs >> 8) & 0xFF] ^ t1[(regs >> 16) & 0xFF] ^ t0[regs >> 24]
    # Leading zero registers stand for zero-byte lanes read from a zero register: they change
    # nothing, and they make the lane count a power of two for the pairwise fold.
    lanes = 1 << (len(regs) - 1).bit_length()
    regs = np.concatenate([np.zeros(lanes - len(regs), dtype=np.uint32), regs])
    span = _LANE_BYTES
    while len(regs) > 1:
        regs = _apply_array(_zeros_operator(span), regs[0::2]) ^ regs[1::2]
        span *= 2
    return int(regs[0])


@functools.lru_cache(maxsize=128)
def _zeros_operator(nbytes: int) -> np.ndarray:
    """The linear map "feed ``nbytes`` zero bytes" as four 256-entry tables, one per byte lane."""
    if nbytes == 0:
        return _identity_operator()
    if nbytes == 1:
        op = np.empty((4, 256), dtype=np.uint32)
        byte = np.arange(256, dtype=np.uint32)
        op[0] = _TABLE_NP
        for k in range(1, 4):
            op[k] = byte << (8 * (k - 1))
        op.flags.writeable = False
        return op
    half = _zeros_operator(nbytes // 2)
    op = _compose(half, half)
    if nbytes % 2:
        op = _compose(op, _zeros_operator(1))
    op.flags.writeable = False  # cached and shared
    return op


def _identity_operator() -> np.ndarray:
    byte = np.arange(256, dtype=np.uint32)
    op = np.stack([byte << (8 * k) for k in range(4)])
    op.flags.writeable = False
    return op


def _compose(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    return _apply_array(then, first.reshape(-1)).reshape(4, 256)


def _apply_array(op: np.ndarray, regs: np.ndarray) -> np.ndarray:
    return (
        op[0][regs & 0xFF]
        ^ op[1][(regs >> 8) & 0xFF]
        ^ op[2][(regs >> 16) & 0xFF]
        ^ op[3][regs >> 24]
    )


def _apply(op: np.ndarray, reg: int) -> int:
    return int(
        op[0][reg & 0xFF] ^ op[1][(reg >> 8) & 0xFF] ^ op[2][(reg >> 16) & 0xFF] ^ op[3][reg >> 24]
    )
