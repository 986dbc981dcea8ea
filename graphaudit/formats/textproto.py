"""Protobuf text format read by transcoding it to wire bytes, field by field, from the message descriptors."""

from __future__ import annotations

import math
import re
import struct
import warnings

from google.protobuf import descriptor as pb_descriptor
from google.protobuf import descriptor_pool, message_factory, text_encoding, text_format

# upb's binary parser stops at 100 levels of nesting; deeper text could not be read back anyway,
# and a bound here keeps a hostile `a{a{a{...` from costing depth x size in copies.
MAX_DEPTH = 100

# The same tokens as protobuf's own text tokenizer (identifier, number, the two quoted strings),
# plus any other single character, which the parser then rejects with its position. A field name
# keeps the `:` and `{` that follow it (`name:`, `attr {`): a third fewer tokens to walk.
_TOKEN = re.compile(
    r"\s*("
    r'"[^"\n\\]*(?:\\.[^"\n\\]*)*"'
    r"|[A-Za-z_][0-9A-Za-z_+-]*(?::(?: ?[{<])?| ?[{<])?"
    r"|(?:[0-9+-]|\.[0-9])[0-9A-Za-z_.+-]*"
    r"|'[^'\n\\]*(?:\\.[^'\n\\]*)*'"
    r"|\S)"
)
# A comment runs from `#` to the end of the line, unless the `#` is inside a string.
_COMMENT_OR_STRING = re.compile(
    r'"[^"\n\\]*(?:\\.[^"\n\\]*)*"'
    r"|'[^'\n\\]*(?:\\.[^'\n\\]*)*'"
    r"|#[^\n]*"
)
_OCTAL_FLOAT = re.compile(r"-?0[0-9]")

_ANY = "google.protobuf.Any"
_FD = pb_descriptor.FieldDescriptor

# Field kinds: how a value token becomes wire bytes.
(K_MSG, K_GROUP, K_STRING, K_BYTES, K_INT32, K_INT64, K_UINT32, K_UINT64, K_SINT32, K_SINT64,
 K_FIXED32, K_FIXED64, K_SFIXED32, K_SFIXED64, K_FLOAT, K_DOUBLE, K_BOOL, K_ENUM) = range(18)

_KINDS = {
    _FD.TYPE_MESSAGE: (K_MSG, 2), _FD.TYPE_GROUP: (K_GROUP, 3), _FD.TYPE_STRING: (K_STRING, 2),
    _FD.TYPE_BYTES: (K_BYTES, 2), _FD.TYPE_INT32: (K_INT32, 0), _FD.TYPE_INT64: (K_INT64, 0),
    _FD.TYPE_UINT32: (K_UINT32, 0), _FD.TYPE_UINT64: (K_UINT64, 0), _FD.TYPE_SINT32: (K_SINT32, 0),
    _FD.TYPE_SINT64: (K_SINT64, 0), _FD.TYPE_FIXED32: (K_FIXED32, 5), _FD.TYPE_FIXED64: (K_FIXED64, 1),
    _FD.TYPE_SFIXED32: (K_SFIXED32, 5), _FD.TYPE_SFIXED64: (K_SFIXED64, 1), _FD.TYPE_FLOAT: (K_FLOAT, 5),
    _FD.TYPE_DOUBLE: (K_DOUBLE, 1), _FD.TYPE_BOOL: (K_BOOL, 0), _FD.TYPE_ENUM: (K_ENUM, 0),
}
# (lowest, highest) accepted by each integer kind, as protobuf's text parser checks them.
_RANGES = {
    K_INT32: (-(1 << 31), (1 << 31) - 1), K_SINT32: (-(1 << 31), (1 << 31) - 1),
    K_SFIXED32: (-(1 << 31), (1 << 31) - 1), K_INT64: (-(1 << 63), (1 << 63) - 1),
    K_SINT64: (-(1 << 63), (1 << 63) - 1), K_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    K_UINT32: (0, (1 << 32) - 1), K_FIXED32: (0, (1 << 32) - 1),
    K_UINT64: (0, (1 << 64) - 1), K_FIXED64: (0, (1 << 64) - 1),
}
_TRUE = frozenset(("true", "t", "1", "True"))
_FALSE = frozenset(("false", "f", "0", "False"))
_MASK64 = (1 << 64) - 1
_SMALL = [bytes((v,)) for v in range(128)]


class TextProtoError(ValueError):
    """The text is not a valid text-format message; ``str`` is one line with line and column."""

    def __init__(self, detail: str, line: int, column: int):
        super().__init__(f"line {line}, column {column}: {detail}")
        self.detail, self.line, self.column = detail, line, column


class Unsupported(Exception):
    """The text uses a feature this reader leaves to protobuf's own parser (extensions, groups)."""


class _Fail(Exception):
    def __init__(self, index: int, detail: str):
        self.index, self.detail = index, detail


def varint(v: int) -> bytes:
    if v < 0x80:
        return _SMALL[v]
    out = bytearray()
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


class _Spec:
    """One message type's fields by text name: (kind, tag bytes, sub, repeated, field descriptor).

    ``sub`` is the message's own _Spec for message fields and the value numbers by name for enums.
    """

    __slots__ = ("fields", "descriptor", "is_any")

    def __init__(self, descriptor):
        self.descriptor = descriptor
        self.is_any = descriptor.full_name == _ANY
        self.fields: dict[str, tuple] = {}


_SPECS: dict[object, _Spec] = {}
# What may follow a message field's name inside its token, as TensorFlow and protobuf print it.
_OPENERS = {" {": "{", "{": "{", ": {": "{", ":{": "{", " <": "<", "<": "<", ": <": "<", ":<": "<"}
_NAME = re.compile(r"[A-Za-z_][0-9A-Za-z_+-]*")


def _entry(fields: dict, t: str):
    """The entry of a name token whose `:` or `{` came after other whitespace (`node\n{`), else None."""
    m = _NAME.match(t)
    if m is None or m.end() == len(t):
        return None
    rest = "".join(t[m.end():].split())
    entry = fields.get(m.group())
    if entry is None:
        return None
    return entry[:5] + ({":": ":", "{": "{", "<": "<", ":{": "{", ":<": "<"}[rest],)


def _spec(descriptor) -> _Spec:
    """The _Spec of ``descriptor``, with those of every message type it reaches (built once)."""
    spec = _SPECS.get(descriptor)
    if spec is not None:
        return spec
    todo = [descriptor]
    made = {descriptor: _Spec(descriptor)}
    while todo:
        desc = todo.pop()
        fields = made[desc].fields
        for fd in desc.fields:
            kind, wire = _KINDS[fd.type]
            sub = None
            if kind in (K_MSG, K_GROUP):
                sub = _SPECS.get(fd.message_type) or made.get(fd.message_type)
                if sub is None:
                    sub = made[fd.message_type] = _Spec(fd.message_type)
                    todo.append(fd.message_type)
            elif kind == K_ENUM:
                sub = {v.name: v.number for v in fd.enum_type.values}
            entry = (kind, varint((fd.number << 3) | wire), sub, fd.is_repeated, fd, "")
            names = [fd.name]
            if kind == K_GROUP:
                names.append(fd.message_type.name)  # text names a group by its type's name
            for name in names:
                fields[name] = entry
                fields[name + ":"] = entry[:5] + (":",)
                if kind in (K_MSG, K_GROUP):
                    for joined, opener in _OPENERS.items():
                        fields[name + joined] = entry[:5] + (opener,)
    _SPECS.update(made)
    return made[descriptor]


def _strip_comments(text: str) -> str:
    # Lines keep their numbers, and columns before a comment stay put.
    return _COMMENT_OR_STRING.sub(lambda m: "" if m.group()[0] == "#" else m.group(), text)


def _position(text: str, index: int) -> tuple[int, int]:
    """Line and column (1-based) of token ``index``; past the last token, the end of the text."""
    pos = len(text)
    for k, m in enumerate(_TOKEN.finditer(text)):
        if k == index:
            pos = m.start(1)
            break
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def to_wire(text: str, descriptor, *, max_depth: int = MAX_DEPTH) -> bytes:
    """The wire bytes of the text-format message ``text`` of type ``descriptor``.

    Raises TextProtoError (one line, with its line and column) for malformed text, and
    Unsupported where the text needs extensions or groups.
    """
    if "#" in text:
        text = _strip_comments(text)
    toks = _TOKEN.findall(text)
    n = len(toks)
    toks.extend(("", "", ""))  # lookahead past the end reads "", which no rule accepts
    try:
        return _transcode(toks, n, _spec(descriptor), max_depth)
    except _Fail as fail:
        line, column = _position(text, fail.index)
        raise TextProtoError(fail.detail, line, column) from None


def parse(text: str, cls, *, max_depth: int = MAX_DEPTH):
    """``text`` parsed as a ``cls`` message (see :func:`to_wire`)."""
    msg = cls()
    msg.ParseFromString(to_wire(text, cls.DESCRIPTOR, max_depth=max_depth))
    return msg


def _show(tok: str) -> str:
    if not tok:
        return "the end of the text"
    return f"`{tok[:40]}`" + ("..." if len(tok) > 40 else "")


def _transcode(toks: list[str], n: int, spec: _Spec, max_depth: int) -> bytes:
    fields = spec.fields
    out: list[bytes] = []
    # One frame per open message: the parent's (out, spec, closer) and how to close this one.
    stack: list[tuple] = []
    closer = ""  # the top level ends at the end of the tokens
    i = 0
    while True:
        t = toks[i]
        entry = fields.get(t)
        if entry is None:
            entry = _entry(fields, t)
        if entry is None:
            if t == closer:
                if not stack:
                    if i != n:
                        raise _Fail(i, f"expected a field name, found {_show(t)}")
                    return b"".join(out)
                body = b"".join(out)
                out, spec, closer, tag, in_list, any_type, entry = stack.pop()
                fields = spec.fields
                if any_type is not None:
                    out.append(_pack_any(any_type, body))
                else:
                    out.append(tag)
                    out.append(varint(len(body)))
                    out.append(body)
                i += 1
                if in_list:
                    t = toks[i]
                    if t == ",":
                        i += 1
                        t = toks[i]
                        if t != "{" and t != "<":
                            raise _Fail(i, f"expected `{{` to start the next `{entry[4].name}` in the list, found {_show(t)}")
                        if len(stack) >= max_depth:
                            raise _Fail(i, f"messages nest deeper than {max_depth} levels")
                        stack.append((out, spec, closer, tag, True, None, entry))
                        out, spec = [], entry[2]
                        fields, closer = spec.fields, "}" if t == "{" else ">"
                        i += 1
                        continue
                    if t != "]":
                        raise _Fail(i, f"expected `,` or `]` in the list of `{entry[4].name}`, found {_show(t)}")
                    i += 1
                t = toks[i]
                if t == "," or t == ";":
                    i += 1
                continue
            if t == "[":
                # An expanded Any: its message's frame, once closed, becomes the Any's two fields.
                i, any_type = _any_header(toks, i, spec)
                if len(stack) >= max_depth:
                    raise _Fail(i, f"messages nest deeper than {max_depth} levels")
                stack.append((out, spec, closer, b"", False, any_type, None))
                out, spec = [], _spec(any_type.DESCRIPTOR)
                fields, closer = spec.fields, "}" if toks[i] == "{" else ">"
                i += 1
                continue
            if t == "" and i >= n:
                raise _Fail(i, f"expected `{closer}` to close `{spec.descriptor.name}`, found the end of the text")
            if t in ("}", ">", "{", "<", ":", ",", ";", "]"):
                raise _Fail(i, f"expected a field name, found {_show(t)}")
            m = _NAME.match(t)
            raise _Fail(i, f"message type `{spec.descriptor.full_name}` has no field named {_show(m.group() if m else t)}")
        kind = entry[0]
        opener = entry[5]
        i += 1
        t = toks[i]
        if kind == K_MSG:
            if opener == "{" or opener == "<":
                # `name {`: the opening brace came with the name.
                if len(stack) >= max_depth:
                    raise _Fail(i - 1, f"messages nest deeper than {max_depth} levels")
                stack.append((out, spec, closer, entry[1], False, None, entry))
                out, spec = [], entry[2]
                fields, closer = spec.fields, "}" if opener == "{" else ">"
                continue
            if t == ":" and opener == "":
                i += 1
                t = toks[i]
            in_list = False
            if t == "[" and entry[3]:
                i += 1
                t = toks[i]
                if t == "]":
                    i += 1
                    t = toks[i]
                    if t == "," or t == ";":
                        i += 1
                    continue
                in_list = True
            if t != "{" and t != "<":
                raise _Fail(i, f"expected `{{` or `<` to open `{entry[4].name}`, found {_show(t)}")
            if len(stack) >= max_depth:
                raise _Fail(i, f"messages nest deeper than {max_depth} levels")
            stack.append((out, spec, closer, entry[1], in_list, None, entry))
            out, spec = [], entry[2]
            fields, closer = spec.fields, "}" if t == "{" else ">"
            i += 1
            continue
        if kind == K_GROUP:
            raise Unsupported(f"group field `{entry[4].name}`")
        if opener != ":":
            if t != ":":
                raise _Fail(i, f"expected `:` after `{entry[4].name}`, found {_show(t)}")
            i += 1
        if toks[i] == "[" and entry[3]:
            i += 1
            if toks[i] == "]":
                i += 1
            else:
                while True:
                    i = _scalar(toks, i, entry, out)
                    t = toks[i]
                    i += 1
                    if t == "]":
                        break
                    if t != ",":
                        raise _Fail(i - 1, f"expected `,` or `]` in the list of `{entry[4].name}`, found {_show(t)}")
        else:
            t = toks[i]
            # Fast paths for what TensorFlow writes most: plain strings, enum names, small ints.
            if kind == K_STRING and t[:1] == '"' and "\\" not in t and len(t) > 1 and toks[i + 1][:1] != '"':
                b = t[1:-1].encode("utf-8")
                out.append(entry[1] + varint(len(b)) + b)
                i += 1
            elif kind == K_ENUM and t in entry[2]:
                out.append(entry[1] + varint(entry[2][t] & _MASK64))
                i += 1
            elif kind == K_INT64 and t.isdigit() and t[0] != "0" and len(t) < 19:
                out.append(entry[1] + varint(int(t)))
                i += 1
            else:
                i = _scalar(toks, i, entry, out)
        t = toks[i]
        if t == "," or t == ";":
            i += 1


def _scalar(toks: list[str], i: int, entry: tuple, out: list[bytes]) -> int:
    """Append one scalar value's tag and bytes; return the index after its token(s)."""
    kind, tag = entry[0], entry[1]
    t = toks[i]
    if kind == K_STRING or kind == K_BYTES:
        first = i
        parts = []
        while t[:1] == '"' or t[:1] == "'":
            if len(t) < 2:
                raise _Fail(i, f"string missing its closing quote in `{entry[4].name}`")
            s = t[1:-1]
            if "\\" in s:
                try:
                    with warnings.catch_warnings():
                        # protobuf's unescape keeps an unknown escape (`\q`) as it is, as protobuf's parser does.
                        warnings.simplefilter("ignore", DeprecationWarning)
                        parts.append(text_encoding.CUnescape(s))
                except (ValueError, UnicodeError) as exc:
                    raise _Fail(i, f"bad escape in string: {exc}") from None
            else:
                parts.append(s.encode("utf-8"))
            i += 1
            t = toks[i]
        if not parts:
            raise _Fail(i, f"expected a quoted string for `{entry[4].name}`, found {_show(t)}")
        b = parts[0] if len(parts) == 1 else b"".join(parts)
        if kind == K_STRING and i - first >= 1:
            try:
                b.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Fail(first, f"string field `{entry[4].name}` is not valid UTF-8 ({exc.reason})") from None
        out.append(tag + varint(len(b)) + b)
        return i
    try:
        if kind == K_FLOAT or kind == K_DOUBLE:
            if _OCTAL_FLOAT.match(t):
                raise ValueError(f"invalid octal float {t}")
            try:
                v = float(t)
            except ValueError:
                v = text_format.ParseFloat(t)
            if kind == K_DOUBLE:
                out.append(tag + struct.pack("<d", v))
            else:
                try:
                    out.append(tag + struct.pack("<f", v))
                except OverflowError:
                    out.append(tag + struct.pack("<f", math.copysign(math.inf, v)))
            return i + 1
        if kind == K_ENUM:
            v = entry[2].get(t)
            if v is None:
                v = text_format.ParseEnum(entry[4], t)
            out.append(tag + varint(v & _MASK64))
            return i + 1
        if kind == K_BOOL:
            if t in _TRUE:
                out.append(tag + b"\x01")
            elif t in _FALSE:
                out.append(tag + b"\x00")
            else:
                raise ValueError(f'expected "true" or "false", found {t[:40]}')
            return i + 1
        try:
            v = int(t, 0)
        except ValueError:
            v = text_format._ParseAbstractInteger(t)  # C octal (`010`), with protobuf's own message
        lo, hi = _RANGES[kind]
        if not lo <= v <= hi:
            raise ValueError(f"value out of range for `{entry[4].name}`: {t[:40]}")
        if kind <= K_UINT64:
            out.append(tag + varint(v & _MASK64))
        elif kind == K_SINT32:
            out.append(tag + varint(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF))
        elif kind == K_SINT64:
            out.append(tag + varint(((v << 1) ^ (v >> 63)) & _MASK64))
        else:
            out.append(tag + struct.pack({K_FIXED32: "<I", K_FIXED64: "<Q", K_SFIXED32: "<i", K_SFIXED64: "<q"}[kind], v))
        return i + 1
    except ValueError as exc:
        detail = str(exc) if t else f"expected a value for `{entry[4].name}`, found the end of the text"
        raise _Fail(i, detail[:1].lower() + detail[1:]) from None


def _any_header(toks: list[str], i: int, spec: _Spec) -> tuple[int, "_AnyType"]:
    """Read ``[type.googleapis.com/pkg.Type]`` (and an optional `:`) inside an Any; return the index of its `{`."""
    start = i
    i += 1
    url = []
    while toks[i] not in ("]", ""):
        url.append(toks[i])
        i += 1
    if toks[i] != "]":
        raise _Fail(start, "expected `]` to close the bracketed name")
    name = "".join(url)
    if not spec.is_any:
        raise Unsupported(f"extension `[{name}]`")
    if "/" not in name:
        raise _Fail(start, f"expected a type URL like `type.googleapis.com/{name}` inside `[...]`")
    i += 1
    if toks[i] == ":":
        i += 1
    if toks[i] not in ("{", "<"):
        raise _Fail(i, f"expected `{{` or `<` after `[{name}]`, found {_show(toks[i])}")
    type_name = name.rsplit("/", 1)[1]
    try:
        cls = message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(type_name))
    except KeyError:
        raise _Fail(start + 1, f"type `{type_name}` of the Any is not a known message type") from None
    return i, _AnyType(cls, name)


class _AnyType:
    __slots__ = ("cls", "url", "DESCRIPTOR")

    def __init__(self, cls, url: str):
        self.cls, self.url, self.DESCRIPTOR = cls, url, cls.DESCRIPTOR


def _pack_any(any_type: _AnyType, body: bytes) -> bytes:
    # protobuf's parser packs the expanded message by serializing it: do the same, so the
    # bytes equal its own (field order, packed repeated scalars).
    msg = any_type.cls()
    msg.ParseFromString(body)
    value = msg.SerializeToString()
    url = any_type.url.encode("utf-8")
    return b"\x0a" + varint(len(url)) + url + b"\x12" + varint(len(value)) + value
