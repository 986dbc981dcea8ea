"""Column-wise reading of a serialized GraphDef's nodes with numpy, without Python work per node.

Reading a million NodeDefs field by field through the protobuf API costs several times what
parsing them does. This module reads the same bytes in bulk: the C extension (_wire.scan) in one
pass over the records, with node names hashed once and looked up by their bytes; without it,
numpy walks all nodes at once through their fields (bytes protobuf has validated) and the strings
come out of one ``bytes.split``. It yields names, ops, data and control inputs (as CSR arrays),
and the span of every attr entry, from which structural hashing builds attr keys without touching
NodeDefs. Read in C, names stay spans of the buffer (decoded when read) and the name index is the
C table, not a dict.

It expects the usual layout, in which fields come in field-number order (what TensorFlow and
protobuf write). Anything else makes :func:`scan_nodes` return None, and callers fall back to
the protobuf API.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from google.protobuf.message import DecodeError

from graphaudit.artifact import AttrKind

try:
    from graphaudit.formats import _wire as native
except ImportError:  # installed without a C compiler: numpy does the same walk
    native = None
else:
    Sequence.register(native.Names)
# Tests turn the C walk off to compare it with the numpy one.
USE_NATIVE = True

# NodeDef field tags (field number << 3 | wire type 2).
_NAME, _OP, _INPUT, _DEVICE, _ATTR = 0x0A, 0x12, 0x1A, 0x22, 0x2A
_LATER_FIELDS = (0x32, 0x3A)  # experimental_debug_info, experimental_type: skipped
# After this many rounds over a repeated field, the few nodes left are walked in Python.
_VECTOR_ROUNDS = 12
_MAX_PORT_DIGITS = 6


@lru_cache(maxsize=1)
def _records_class():
    """A message that reads a GraphDef's `node` field as raw bytes: node boundaries at C speed."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="graphaudit/wire_records.proto", package="graphaudit_wire",
                                             syntax="proto3")
    msg = fdp.message_type.add(name="NodeRecords")
    msg.field.add(name="node", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("graphaudit_wire.NodeRecords"))


@dataclass
class NodeColumns:
    """What :func:`scan_nodes` reads: one entry per node, in GraphDef order."""

    names: Sequence[str]  # a list, or (read in C) a sequence decoding each name when read
    index: Mapping[str, int]
    ops: list[str]
    op_codes: np.ndarray  # int64 index into op_table
    op_table: list[str]
    in_offsets: np.ndarray  # CSR over data inputs: node i's are in_nodes[in_offsets[i]:in_offsets[i+1]]
    in_nodes: np.ndarray
    in_ports: np.ndarray
    ctrl_offsets: np.ndarray
    ctrl_nodes: np.ndarray
    dangling: list[tuple[int, str]]
    attrs: "AttrEntries"
    node_start: np.ndarray  # node i's NodeDef is buf[node_start[i]:node_end[i]]
    node_end: np.ndarray


class NodeDefs(Sequence):
    """The NodeDefs of a scanned GraphDef, each parsed from its bytes when asked for.

    Holding these instead of the parsed GraphDef lets the protobuf tree of a big graph go: only
    the nodes whose attrs something reads are ever parsed again.
    """

    __slots__ = ("_buf", "_start", "_end", "_cls")

    def __init__(self, buf: bytes, start: np.ndarray, end: np.ndarray, cls) -> None:
        self._buf, self._start, self._end, self._cls = buf, start, end, cls

    def __len__(self) -> int:
        return len(self._start)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self._cls.FromString(self._buf[int(self._start[i]):int(self._end[i])])


@dataclass
class AttrEntries:
    """Every attr map entry of every node: its bytes in ``buf`` and its parts."""

    buf: bytes
    node: np.ndarray  # owning node of each entry, entries grouped by node in wire order
    start: np.ndarray  # the entry's bytes (key and AttrValue, with framing)
    end: np.ndarray
    key_start: np.ndarray
    key_len: np.ndarray
    key_prefix: np.ndarray  # uint64: the key's first 8 bytes, big-endian, zero-padded (orders like the key)
    value_start: np.ndarray  # the AttrValue's bytes
    value_end: np.ndarray
    value_tag: np.ndarray  # first byte of the AttrValue: which oneof field it holds
    list_tag: np.ndarray  # for a list value, the first byte inside the ListValue (else 0)
    offsets: np.ndarray  # CSR: node i's entries are [offsets[i], offsets[i+1])
    kind: np.ndarray  # AttrKind (artifact.py) of each entry, from its tags
    type_code: np.ndarray  # a `type` value's DataType number (its first byte), else 0
    private: np.ndarray  # the key starts with `_`

    def has_key(self, key: str) -> np.ndarray:
        """A boolean mask of the entries whose key is ``key``."""
        prefix, length = key_prefix(key)
        return (self.key_prefix == np.uint64(prefix)) & (self.key_len == length)


class _Malformed(Exception):
    pass


def _varint(a: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and byte lengths of the varints at ``pos`` (all at once)."""
    top = len(a) - 1
    b = a[np.minimum(pos, top)].astype(np.int64)
    value = b & 0x7F
    length = np.ones(len(pos), dtype=np.int64)
    more = np.flatnonzero(b >= 0x80)
    shift = 7
    while len(more):
        if shift > 56:
            raise _Malformed("varint too long")
        b = a[np.minimum(pos[more] + length[more], top)].astype(np.int64)
        value[more] |= (b & 0x7F) << shift
        length[more] += 1
        more = more[b >= 0x80]
        shift += 7
    return value, length


def _py_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def _repeated(a: np.ndarray, buf: bytes, cursor: np.ndarray, end: np.ndarray, tag: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Spans of a repeated length-delimited field at each node's cursor; advances ``cursor``.

    Returns (node, occurrence, start, length) arrays, grouped by round; ``cursor`` is updated in
    place to just after each node's last occurrence.
    """
    nodes, ks, starts, lengths = [], [], [], []
    top = len(a) - 1
    active = np.flatnonzero((cursor < end) & (a[np.minimum(cursor, top)] == tag))
    k = 0
    while len(active):
        if k >= _VECTOR_ROUNDS and len(active) < 4096:
            break
        ln, vl = _varint(a, cursor[active] + 1)
        st = cursor[active] + 1 + vl
        nodes.append(active)
        ks.append(np.full(len(active), k, dtype=np.int64))
        starts.append(st)
        lengths.append(ln)
        cursor[active] = st + ln
        keep = (cursor[active] < end[active]) & (a[np.minimum(cursor[active], top)] == tag)
        active = active[keep]
        k += 1
    # The long tail (an init op with thousands of control inputs): plain Python.
    for i in active.tolist():
        c, e, kk = int(cursor[i]), int(end[i]), k
        tail_n, tail_k, tail_s, tail_l = [], [], [], []
        while c < e and buf[c] == tag:
            ln, s = _py_varint(buf, c + 1)
            tail_n.append(i)
            tail_k.append(kk)
            tail_s.append(s)
            tail_l.append(ln)
            c = s + ln
            kk += 1
        cursor[i] = c
        nodes.append(np.asarray(tail_n, dtype=np.int64))
        ks.append(np.asarray(tail_k, dtype=np.int64))
        starts.append(np.asarray(tail_s, dtype=np.int64))
        lengths.append(np.asarray(tail_l, dtype=np.int64))
    if not nodes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    return np.concatenate(nodes), np.concatenate(ks), np.concatenate(starts), np.concatenate(lengths)


def _optional(a: np.ndarray, cursor: np.ndarray, end: np.ndarray, tag: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(has, start, length) of an optional length-delimited field at each cursor; advances it."""
    top = len(a) - 1
    has = (cursor < end) & (a[np.minimum(cursor, top)] == tag)
    start = np.zeros(len(cursor), dtype=np.int64)
    length = np.zeros(len(cursor), dtype=np.int64)
    idx = np.flatnonzero(has)
    if len(idx):
        ln, vl = _varint(a, cursor[idx] + 1)
        start[idx] = cursor[idx] + 1 + vl
        length[idx] = ln
        cursor[idx] = start[idx] + ln
    return has, start, length


def _strings(a: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> list[str]:
    """The byte spans (sorted, disjoint) as a list of str, through ``bytes.split`` a chunk at a time.

    Each span is preceded by framing bytes (a tag and a length) that no span holds; the one just
    before it becomes the separator. Node names, ops and inputs never hold a newline; if one did,
    the count comes out wrong and the caller falls back. Chunks bound the temporary copies.
    """
    if not len(starts):
        return []
    if starts[0] < 1 or (starts[1:] <= starts[:-1] + lengths[:-1] + 1).any():
        raise _Malformed("overlapping strings")
    out: list[str] = []
    for c in range(0, len(starts), _CHUNK):
        out.extend(_chunk_strings(a, starts[c:c + _CHUNK], lengths[c:c + _CHUNK]))
    return out


_CHUNK = 1 << 17


def _chunk_strings(a: np.ndarray, s: np.ndarray, ln: np.ndarray) -> list[str]:
    lo = int(s[0]) - 1
    hi = int(s[-1] + ln[-1])
    copy = a[lo:hi].copy()
    s = s - lo
    copy[s - 1] = 0x0A
    # Alternating runs: a gap, then a separator and its string; one repeat builds the mask.
    gaps = np.empty(len(s), dtype=np.int64)
    gaps[0] = 0
    gaps[1:] = (s[1:] - 1) - (s[:-1] + ln[:-1])
    runs = np.empty(2 * len(s), dtype=np.int64)
    runs[0::2] = gaps
    runs[1::2] = ln + 1
    pattern = np.zeros(len(runs), dtype=bool)
    pattern[1::2] = True
    inside = np.repeat(pattern, runs)
    parts = copy[inside].tobytes().decode("utf-8", "replace").split("\n")[1:]
    if len(parts) != len(s):
        raise _Malformed("a name holds a newline")
    return parts


def _ports(a: np.ndarray, start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``name:port`` spans: the port (0 when absent) and the length of ``name``."""
    end = start + length
    port = np.zeros(len(start), dtype=np.int64)
    base = length.copy()
    found = np.zeros(len(start), dtype=bool)
    digits_ok = np.ones(len(start), dtype=bool)
    top = len(a) - 1
    for k in range(1, _MAX_PORT_DIGITS + 2):
        pos = end - k
        valid = (pos > start) & ~found & digits_ok
        b = a[np.clip(pos, 0, top)]
        colon = valid & (b == ord(":")) & (k > 1)
        if colon.any():
            idx = np.flatnonzero(colon)
            value = np.zeros(len(idx), dtype=np.int64)
            for d in range(k - 1, 0, -1):
                value = value * 10 + (a[end[idx] - d].astype(np.int64) - ord("0"))
            port[idx] = value
            base[idx] = length[idx] - k
            found[idx] = True
        digits_ok &= (b >= ord("0")) & (b <= ord("9"))
    return port, base


def scan_nodes(buf: bytes) -> NodeColumns | None:
    """Read the nodes of a serialized GraphDef; None when its layout is not the usual one."""
    try:
        return _scan(buf)
    except _Malformed:
        return None


def node_records(buf: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """(start, end) of every node record of a serialized GraphDef, tag and length included.

    None when the nodes do not come first and back to back (the usual layout), or when the bytes
    are not a protobuf message at all (the caller's full parse then says why).
    """
    try:
        starts, _, end = _records(buf)
    except (_Malformed, DecodeError):
        return None
    return starts, end


def _records(buf: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(record start, body start, end) of each node record; the top level is checked by protobuf."""
    if native is not None and USE_NATIVE:
        got = native.records(buf)
        if got is None:
            raise _Malformed("node records are not first and back to back")
        starts, body, end = (np.frombuffer(col, dtype=np.int64) for col in got)
        return starts, body, end
    records = _records_class()()
    records.ParseFromString(buf)
    n = len(records.node)
    a = np.frombuffer(buf, dtype=np.uint8)
    lengths = np.fromiter(map(len, records.node), dtype=np.int64, count=n)
    del records
    # Node records come first, one after the other: tag, varint length, body.
    vlen = _vlen(lengths)
    size = 1 + vlen + lengths
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(size[:-1], out=starts[1:])
    if n and (starts[-1] + size[-1] > len(a) or (a[starts] != 0x0A).any()):
        raise _Malformed("node records are not contiguous")
    body = starts + 1 + vlen
    end = body + lengths
    if n:
        got, _ = _varint(a, starts + 1)
        if (got != lengths).any():
            raise _Malformed("node lengths disagree")
    return starts, body, end


def _scan(buf: bytes) -> NodeColumns:
    if native is not None and USE_NATIVE:
        return _scan_native(buf)
    _, body, end = _records(buf)
    n = len(body)
    a = np.frombuffer(buf, dtype=np.uint8)
    name_start, name_len, op_start, op_len, in_node, in_start, in_len, at_node, at_start, at_len = \
        _walk(a, buf, body, end)

    # Inputs: `^ctrl`, `name`, `name:port`, in order per node.
    control = a[np.minimum(in_start, len(a) - 1)] == ord("^")
    port, base_len = _ports(a, in_start, in_len)
    port[control] = 0
    base_start = in_start + control
    base_len = np.where(control, in_len - 1, base_len)
    if (base_len <= 0).any():
        raise _Malformed("an empty input name")

    names, index, ops, op_codes, op_table, ids = _strings_and_ids(a, n, name_start, name_len, op_start, op_len,
                                                                  base_start, base_len)
    dangling_mask = ids < 0
    dangling = _dangling(buf, in_node[dangling_mask], in_start[dangling_mask], in_len[dangling_mask])
    data = ~control & ~dangling_mask
    ctrl = control & ~dangling_mask
    in_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(in_node[data], minlength=n), out=in_offsets[1:])
    ctrl_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(in_node[ctrl], minlength=n), out=ctrl_offsets[1:])

    attrs = _attr_entries(a, buf, n, at_node, at_start, at_len)
    return NodeColumns(names=names, index=index, ops=ops, op_codes=op_codes, op_table=op_table,
                       in_offsets=in_offsets, in_nodes=ids[data], in_ports=port[data],
                       ctrl_offsets=ctrl_offsets, ctrl_nodes=ids[ctrl], dangling=dangling, attrs=attrs,
                       node_start=body, node_end=end)


def _dangling(buf: bytes, node, start, length) -> list[tuple[int, str]]:
    """(node, input as written) of the inputs that name no node."""
    return [(i, buf[s:s + ln].decode("utf-8", "replace"))
            for i, s, ln in zip(node.tolist(), start.tolist(), length.tolist())]


def _scan_native(buf: bytes) -> NodeColumns:
    """:func:`_scan` in one pass of C (_wire.scan): the same columns, and the names looked up in C."""
    got = native.scan(buf)
    if got is None:
        raise _Malformed("not the usual layout, or a name used twice or holding a newline")
    (body, end, name_start, name_len, op_codes, op_spans, in_offsets, in_nodes, in_ports, ctrl_offsets, ctrl_nodes,
     dangling, slots, at_node, at_start, at_end, at_key_start, at_key_len, at_key_prefix, at_value_start, at_value_tag,
     at_list_tag, at_kind, at_type_code, at_private, at_offsets) = got

    def i64(raw):
        return np.frombuffer(raw, dtype=np.int64)

    def i32(raw):
        return np.frombuffer(raw, dtype=np.int32)

    def u8(raw):
        return np.frombuffer(raw, dtype=np.uint8)

    names = native.names(buf, i64(name_start), i64(name_len))
    spans = i64(op_spans).reshape(-1, 2)
    op_table = native.strings(buf, spans[:, 0].copy(), spans[:, 1].copy())
    op_codes = i64(op_codes)
    ops = np.array(op_table + [None], dtype=object)[op_codes].tolist()  # the None keeps the array 1-D
    triples = i64(dangling).reshape(-1, 3)
    end32 = i32(at_end)
    attrs = AttrEntries(buf=buf, node=i32(at_node), start=i32(at_start), end=end32, key_start=i32(at_key_start),
                        key_len=i32(at_key_len), key_prefix=np.frombuffer(at_key_prefix, dtype=np.uint64),
                        value_start=i32(at_value_start), value_end=end32, value_tag=u8(at_value_tag),
                        list_tag=u8(at_list_tag), offsets=i64(at_offsets), kind=np.frombuffer(at_kind, dtype=np.int8),
                        type_code=u8(at_type_code), private=np.frombuffer(at_private, dtype=bool))
    return NodeColumns(names=names, index=NameIndex(names, slots, buf), ops=ops, op_codes=op_codes,
                       op_table=op_table, in_offsets=i64(in_offsets), in_nodes=i64(in_nodes), in_ports=i64(in_ports),
                       ctrl_offsets=i64(ctrl_offsets), ctrl_nodes=i64(ctrl_nodes),
                       dangling=_dangling(buf, triples[:, 0], triples[:, 1], triples[:, 2]), attrs=attrs,
                       node_start=i64(body), node_end=i64(end))


class NameIndex(Mapping):
    """Node name -> node id of a GraphDef scanned in C, looked up in the C scan's table of name spans.

    It stands for the dict ``{name: i}``: a million-node graph needs no dict of a million names.
    """

    __slots__ = ("_names", "_slots", "_buf")

    def __init__(self, names: Sequence[str], slots, buf: bytes) -> None:
        self._names, self._slots, self._buf = names, slots, buf

    def __getitem__(self, name):
        if isinstance(name, str):
            i = native.lookup(self._slots, self._buf, name)
            if i >= 0:
                return i
        raise KeyError(name)

    def get(self, name, default=None):
        if isinstance(name, str):
            i = native.lookup(self._slots, self._buf, name)
            if i >= 0:
                return i
        return default

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and native.lookup(self._slots, self._buf, name) >= 0

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _walk(a: np.ndarray, buf: bytes, body: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """The spans of each node's name, op, inputs and attr entries, all nodes at once with numpy."""
    cursor = body.copy()
    has_name, name_start, name_len = _optional(a, cursor, end, _NAME)
    has_op, op_start, op_len = _optional(a, cursor, end, _OP)
    if not has_name.all() or not has_op.all():
        raise _Malformed("a node without a name or an op")
    in_node, _, in_start, in_len = _repeated(a, buf, cursor, end, _INPUT)
    _optional(a, cursor, end, _DEVICE)
    at_node, _, at_start, at_len = _repeated(a, buf, cursor, end, _ATTR)
    for tag in _LATER_FIELDS:
        _optional(a, cursor, end, tag)
    if (cursor != end).any():
        raise _Malformed("fields out of the usual order")
    order = np.argsort(in_node, kind="stable")  # rounds come in order: sorted runs, merged cheaply
    in_node, in_start, in_len = in_node[order], in_start[order], in_len[order]
    return name_start, name_len, op_start, op_len, in_node, in_start, in_len, at_node, at_start, at_len


def _strings_and_ids(a: np.ndarray, n: int, name_start, name_len, op_start, op_len, base_start, base_len):
    """Names, the name index, ops and their codes, and the node id of every input (-1: none)."""
    # Names first (they stay), then ops and input names a chunk at a time: each chunk's strings
    # become op codes and node ids at once, so no list of every input name is ever held.
    names = _strings(a, name_start, name_len)
    index = dict(zip(names, range(n)))
    if len(index) != n:
        raise _Malformed("duplicate node names")
    op_code_of: dict[str, int] = {}
    op_codes = np.empty(n, dtype=np.int64)
    for c in range(0, n, _CHUNK):
        chunk = _strings(a, op_start[c:c + _CHUNK], op_len[c:c + _CHUNK])
        for op in dict.fromkeys(chunk):  # the few distinct ops, in order of first appearance
            op_code_of.setdefault(op, len(op_code_of))
        op_codes[c:c + len(chunk)] = np.fromiter(map(op_code_of.__getitem__, chunk), dtype=np.int64,
                                                 count=len(chunk))
    op_table = list(op_code_of)
    ops = [op_table[c] for c in op_codes.tolist()]
    ids = np.empty(len(base_start), dtype=np.int64)
    for c in range(0, len(base_start), _CHUNK):
        chunk = _strings(a, base_start[c:c + _CHUNK], base_len[c:c + _CHUNK])
        ids[c:c + len(chunk)] = np.fromiter(map(index.get, chunk, itertools.repeat(-1)), dtype=np.int64,
                                            count=len(chunk))
    return names, index, ops, op_codes, op_table, ids


def _attr_entries(a: np.ndarray, buf: bytes, n: int, node: np.ndarray, start: np.ndarray,
                  length: np.ndarray) -> AttrEntries:
    # Offsets into a buffer under 2 GiB fit 32 bits: half the memory of a million nodes' entries.
    # Each column is narrowed as soon as it is final, and temporaries go early: a 1M-node graph
    # has millions of entries, and twenty full-width temporaries at once cost half a gigabyte.
    small = np.int32 if len(buf) < 2**31 - 1 else np.int64
    order = np.argsort(node, kind="stable")
    node, start, length = node[order], start[order], length[order]
    del order
    end = start + length
    top = len(a) - 1
    # A map entry: key (field 1), then value (field 2) or nothing.
    if len(start) and ((length == 0).any() or (a[np.minimum(start, top)] != 0x0A).any()):
        raise _Malformed("an attr entry without a key first")
    key_len, vl = _varint(a, start + 1)
    key_start = start + 1 + vl
    del vl
    entry_start = (start - 1 - _vlen(length)).astype(small)
    del start, length
    key_end = key_start + key_len
    has_value = (key_end < end) & (a[np.minimum(key_end, top)] == 0x12)
    if (~has_value & (key_end != end)).any():
        raise _Malformed("an attr entry with extra fields")
    value_len, vl2 = _varint(a, key_end + 1)
    value_start = np.where(has_value, key_end + 1 + vl2, end)
    del vl2, key_end
    value_end = np.where(has_value, value_start + value_len, end)
    del value_len, has_value
    if (value_end != end).any():
        raise _Malformed("an attr entry with extra fields")
    del value_end  # equal to end
    value_tag = np.where(end > value_start, a[np.minimum(value_start, top)], 0).astype(np.uint8)
    # For a list, the first field inside the ListValue (after its tag and length). Only lists: the
    # varint after another value's tag may be a 10-byte negative int.
    list_tag = np.zeros(len(value_tag), dtype=np.uint8)
    lists = np.flatnonzero(value_tag == 0x0A)
    if len(lists):
        list_len, vl3 = _varint(a, value_start[lists] + 1)
        inner = value_start[lists] + 1 + vl3
        list_tag[lists] = np.where(list_len > 0, a[np.minimum(inner, top)], 0)
        del list_len, inner, vl3
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(node, minlength=n), out=offsets[1:])
    kind = np.full(len(value_tag), AttrKind.OTHER, dtype=np.int8)
    for tag, k in _VALUE_KINDS.items():
        kind[value_tag == tag] = k
    is_list = value_tag == _LIST
    kind[is_list] = AttrKind.LIST
    for tag, k in _LIST_KINDS.items():
        kind[is_list & (list_tag == tag)] = k
    del is_list
    type_code = np.where(kind == AttrKind.TYPE, a[np.minimum(value_start + 1, top)], 0).astype(np.uint8)
    private = a[np.minimum(key_start, top)] == ord("_") if len(a) else np.zeros(len(key_start), dtype=bool)
    key_prefix = prefix8(buf, key_start, key_len)
    end = end.astype(small)
    return AttrEntries(buf=buf, node=node.astype(small), start=entry_start, end=end,
                       key_start=key_start.astype(small), key_len=key_len.astype(small), key_prefix=key_prefix,
                       value_start=value_start.astype(small), value_end=end, value_tag=value_tag,
                       list_tag=list_tag, offsets=offsets, kind=kind, type_code=type_code, private=private)


# AttrValue's oneof fields (tags: field number << 3 | wire type) and ListValue's repeated fields.
_LIST = 0x0A
_VALUE_KINDS = {0x30: AttrKind.TYPE, 0x3A: AttrKind.SHAPE, 0x42: AttrKind.TENSOR, 0x52: AttrKind.FUNC}
_LIST_KINDS = {0x3A: AttrKind.LIST_SHAPE, 0x42: AttrKind.LIST_TENSOR, 0x4A: AttrKind.LIST_FUNC}


def prefix8(buf: bytes, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each span as a big-endian uint64, bytes past the span zeroed."""
    if not len(start):
        return np.zeros(0, dtype=np.uint64)
    # Every byte offset seen as the start of an 8-byte big-endian word: one gather reads them all.
    # Spans within 8 bytes of the end read from a padded copy of the tail (not of the whole buffer).
    whole = max(len(buf) - 7, 0)
    value = np.zeros(len(start), dtype=np.uint64)
    inside = start < whole
    if whole:
        words = np.ndarray(shape=(whole,), dtype=">u8", buffer=buf, offset=0, strides=(1,))
        value[inside] = words[start[inside]]
    if not inside.all():
        base = max(len(buf) - 8, 0)
        tail = buf[base:] + bytes(8)
        tail_words = np.ndarray(shape=(len(tail) - 7,), dtype=">u8", buffer=tail, offset=0, strides=(1,))
        value[~inside] = tail_words[start[~inside] - base]
    short = length < 8
    if short.any():
        drop = (8 - length[short]).astype(np.uint64) * np.uint64(8)
        value[short] = (value[short] >> drop) << drop
    return value


def key_prefix(key: str) -> tuple[int, int]:
    """(prefix, length) of an attr key, as :func:`prefix8` computes them."""
    raw = key.encode()
    return int.from_bytes((raw[:8] + bytes(8))[:8], "big"), len(raw)


def _vlen(values: np.ndarray) -> np.ndarray:
    out = np.ones(len(values), dtype=np.int64)
    for limit in (1 << 7, 1 << 14, 1 << 21, 1 << 28):
        out += values >= limit
    return out
