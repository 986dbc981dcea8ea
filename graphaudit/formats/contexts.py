"""Serialized MetaGraph collection entries read at the wire level: control-flow contexts and node names."""

from __future__ import annotations

from graphaudit.formats.graphs import tensor_node as node_name
from graphaudit.formats.sniff import _fields

#: Control-flow context protos (control_flow.proto): the field of the pivot node, and of ValuesDef.
CONTEXTS = {"cond_context": (3, 5), "while_context": (5, 9)}


def message_fields(data: bytes) -> list[tuple[int, int, bytes]] | None:
    """The (number, wire type, payload) of each field, or None when ``data`` is not a message.

    The TensorBoard proto package has no control-flow protos, so their entries are read here.
    """
    try:
        return [(number, wire, data[start:end] if wire == 2 else b"")
                for number, wire, start, end in _fields(data, 0, len(data), len(data) + 1)]
    except ValueError:
        return None


def context_names(raw: bytes, pivot_field: int, values_field: int) -> tuple[str, set[str], set[str]]:
    """A context's pivot, the nodes of its values, and its external values (nodes outside it)."""
    fields = message_fields(raw) or []
    pivot = next((node_name(v.decode("utf-8", "replace")) for n, t, v in fields if n == pivot_field and t == 2), "")
    values: set[str] = set()
    external: set[str] = set()
    for n, t, v in fields:
        if n != values_field or t != 2:
            continue
        for m, u, x in message_fields(v) or []:
            if m == 1 and u == 2:  # ValuesDef.values
                values.add(node_name(x.decode("utf-8", "replace")))
            elif m == 2 and u == 2:  # ValuesDef.external_values: map entry, key = the outside tensor
                for k, w, y in message_fields(x) or []:
                    if k == 1 and w == 2:
                        external.add(node_name(y.decode("utf-8", "replace")))
    return pivot, values, external


def names_in(raw: bytes) -> set[str]:
    """Node names in a serialized protobuf: its printable strings, read through nested messages."""
    out: set[str] = set()

    def walk(data: bytes, depth: int) -> None:
        for _number, wire_type, value in message_fields(data) or []:
            if wire_type != 2:
                continue
            try:
                text = value.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            if text and text.isprintable():
                out.add(node_name(text))
            elif depth < 8:
                walk(value, depth + 1)

    walk(raw, 0)
    return out
