"""formats.contexts: control-flow context entries of a MetaGraph read at the wire level."""

from __future__ import annotations

from graphaudit.formats.contexts import CONTEXTS, context_names, message_fields, names_in
from graphaudit.formats.table import encode_varint


def field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def test_a_cond_context_gives_its_pivot_values_and_external_values():
    values_def = (field(1, b"cond/Switch:1") + field(1, b"cond/mul:0")
                  + field(2, field(1, b"x:0") + field(2, b"cond/Switch:0")))
    raw = field(1, b"cond/cond_text") + field(3, b"cond/pivot_t:0") + field(5, values_def)
    pivot, values, external = context_names(raw, *CONTEXTS["cond_context"])
    assert pivot == "cond/pivot_t"
    assert values == {"cond/Switch", "cond/mul"}
    assert external == {"x"}
    assert names_in(raw) >= {"cond/cond_text", "cond/pivot_t", "cond/Switch", "cond/mul", "x"}


def test_bytes_that_are_not_a_message_give_none():
    assert message_fields(b"\x0a\x05ab") is None  # a length past the end
    assert message_fields(b"\x00") is None  # field number 0
    assert context_names(b"\xff", *CONTEXTS["while_context"]) == ("", set(), set())
