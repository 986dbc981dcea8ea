"""Raw (unframed) snappy decompression in pure Python, for snappy-compressed table blocks."""

from __future__ import annotations

_LITERAL, _COPY1, _COPY2, _COPY4 = 0, 1, 2, 3


class SnappyError(ValueError):
    """The input is not valid raw snappy data; the message says what was expected."""


def uncompressed_length(data: bytes | bytearray | memoryview) -> int:
    """Return the length that the varint preamble of ``data`` announces."""
    return _preamble(memoryview(data).cast("B"))[0]


def decompress(data: bytes | bytearray | memoryview) -> bytes:
    """Decompress one raw snappy buffer: a varint length, then literal and copy elements."""
    src = memoryview(data).cast("B")
    expected, pos = _preamble(src)
    out = bytearray()
    end = len(src)
    while pos < end:
        tag = src[pos]
        pos += 1
        kind = tag & 3
        if kind == _LITERAL:
            length = (tag >> 2) + 1
            if length > 60:
                # Tags 60..63 say the length minus one follows in 1..4 little-endian bytes.
                width = length - 60
                if pos + width > end:
                    raise SnappyError(
                        f"literal length at byte {pos - 1} runs past the end of the input"
                    )
                length = int.from_bytes(src[pos : pos + width], "little") + 1
                pos += width
            if pos + length > end:
                raise SnappyError(
                    f"literal of {length} bytes at byte {pos}"
                    f" needs {pos + length - end} more input bytes"
                )
            out += src[pos : pos + length]
            pos += length
        else:
            pos = _copy(src, pos, tag, kind, out)
        if len(out) > expected:
            raise SnappyError(
                f"elements decode to more than the {expected} bytes the preamble announces"
            )
    if len(out) != expected:
        raise SnappyError(
            f"preamble announces {expected} bytes but the elements decode to {len(out)}"
        )
    return bytes(out)


def _copy(src: memoryview, pos: int, tag: int, kind: int, out: bytearray) -> int:
    """Append the copy element whose tag byte was at ``pos - 1``; return the position after it."""
    if kind == _COPY1:
        width = 1
        length = 4 + ((tag >> 2) & 7)
    else:
        width = 2 if kind == _COPY2 else 4
        length = (tag >> 2) + 1
    if pos + width > len(src):
        raise SnappyError(f"copy at byte {pos - 1} runs past the end of the input")
    offset = int.from_bytes(src[pos : pos + width], "little")
    if kind == _COPY1:
        offset |= (tag >> 5) << 8
    if offset == 0 or offset > len(out):
        raise SnappyError(
            f"copy at byte {pos - 1} reaches back {offset} bytes but only {len(out)} are decoded"
        )
    start = len(out) - offset
    if offset >= length:
        out += out[start : start + length]
    else:
        # An overlapping copy repeats the last `offset` bytes over and over.
        out += (out[start:] * -(-length // offset))[:length]
    return pos + width


def _preamble(src: memoryview) -> tuple[int, int]:
    value = 0
    for i in range(min(5, len(src))):  # a varint32 takes at most 5 bytes
        byte = src[i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value > 0xFFFFFFFF:
                break
            return value, i + 1
    raise SnappyError("missing or malformed length preamble (expected a varint32)")


try:  # the `fast` extra: Rust snappy, about 20-80 times faster than the loop above
    from cramjam import snappy as _cramjam_snappy
except ImportError:  # pragma: no cover - depends on the environment
    _cramjam_snappy = None

#: Which implementation :func:`decompress_fast` uses: ``"cramjam"`` or ``"python"``.
BACKEND = "python" if _cramjam_snappy is None else "cramjam"


def decompress_fast(data: bytes | bytearray | memoryview, *, native: bool = True) -> bytes:
    """:func:`decompress`, through cramjam when it is installed; bad input gets the same message."""
    if native and _cramjam_snappy is not None:
        expected = uncompressed_length(data)
        try:
            out = bytes(_cramjam_snappy.decompress_raw(bytes(data)))
        except Exception:  # noqa: BLE001 - cramjam's error type varies by version
            out = None
        if out is not None and len(out) == expected:
            return out
    return decompress(data)  # the pure reader says precisely what is wrong


def compress_literals(raw: bytes) -> bytes:
    """Valid raw snappy of ``raw`` stored as literals only (no copies): for writing tables."""
    out = bytearray()
    n = len(raw)
    while True:  # the preamble: the uncompressed length as a varint
        out.append(n & 0x7F | (0x80 if n >= 0x80 else 0))
        n >>= 7
        if not out[-1] & 0x80:
            break
    for start in range(0, len(raw), 65536):
        chunk = raw[start:start + 65536]
        out += bytes([61 << 2]) + (len(chunk) - 1).to_bytes(2, "little") + chunk  # tag 61: 2-byte length
    return bytes(out)
