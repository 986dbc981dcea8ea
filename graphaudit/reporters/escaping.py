"""One escaping policy for every output: text from an artifact can neither control a terminal nor a CI log."""

# Names come from the artifact and may hold anything: ESC sequences that rewrite a terminal,
# newlines that start a GitHub workflow command (`::error file=...`), bidi overrides that make
# text read differently than it is, and bytes that are not UTF-8 (carried as lone surrogates by
# `surrogateescape`, which no UTF-8 stream can write). Each is shown as a visible escape instead.

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_KEEP_LINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A GitHub runner reads a workflow command from any line that starts with `::` once leading
# whitespace is trimmed; graphaudit's own multi-line text never starts a line that way.
_COMMAND_LINE = re.compile(r"^([ \t]*)::", re.MULTILINE)


def _one(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escape(text: str) -> str:
    """One line of text as printable, valid Unicode: `a\\x1bb`, `a\\nb`, `\\xff` for a non-UTF-8 byte."""
    if _UNSAFE.search(text):
        text = _UNSAFE.sub(_one, text)
    return _COMMAND_LINE.sub(_guard, text) if "::" in text else text


def escape_lines(text: str) -> str:
    """Multi-line text (fix-up code): newlines stay, everything else is escaped as by :func:`escape`,
    and no line can start a workflow command."""
    text = _UNSAFE_KEEP_LINES.sub(_one, text) if _UNSAFE_KEEP_LINES.search(text) else text
    return _COMMAND_LINE.sub(_guard, text) if "::" in text else text


def _guard(match: re.Match[str]) -> str:
    return match.group(1) + "\\x3a:"


def escape_tree(value: Any, *, multiline: frozenset[str] = frozenset()) -> Any:
    """A JSON-like tree with every string (keys too) escaped; keys in ``multiline`` keep newlines."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, dict):
        return {escape(k): (escape_lines(v) if k in multiline and isinstance(v, str)
                            else escape_tree(v, multiline=multiline)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [escape_tree(v, multiline=multiline) for v in value]
    return value


def html_text(text: str) -> str:
    """Text for HTML element content or a quoted attribute: escaped as by :func:`escape`, then
    `&`, `<`, `>`, `"` and `'` as character references, so a name can never open a tag."""
    import html

    return html.escape(escape(text), quote=True)


def html_lines(text: str) -> str:
    """Multi-line text (fix-up code) for a ``<pre>``: :func:`escape_lines`, then as :func:`html_text`."""
    import html

    return html.escape(escape_lines(text), quote=True)


def script_json(value: Any) -> str:
    """JSON for an inline ``<script type="application/json">``: every string escaped as by
    :func:`escape_tree`, and `<`, `>`, `&` written as ``\\u`` escapes, so no name can close the
    script element (``</script>``) or open a comment in it."""
    import json

    text = json.dumps(escape_tree(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def escaped_json(value: Any, *, multiline: frozenset[str] = frozenset()) -> str:
    """``json.dumps(escape_tree(value, multiline=multiline), indent=2)``, in one pass and without
    the pure-Python encoder that ``indent`` selects (an inspect of a checkpoint of 700k keys writes
    10 million values): strings go through the C ``encode_basestring_ascii``, each distinct one
    once. A value JSON writes some other way (a non-string key, an object JSON cannot write) is
    left to ``json`` itself, so the text is always what ``json.dumps`` writes."""
    import json
    from json.encoder import encode_basestring_ascii

    memo: dict[str, str] = {}
    lines_memo: dict[str, str] = {}
    out: list[str] = []
    put = out.append

    def text(s: str, keep_lines: bool) -> str:
        table = lines_memo if keep_lines else memo
        got = table.get(s)
        if got is None:
            got = table[s] = encode_basestring_ascii(escape_lines(s) if keep_lines else escape(s))
        return got

    def emit(v: Any, indent: str, keep_lines: bool = False) -> None:
        if isinstance(v, str):
            put(text(v, keep_lines))
        elif v is None:
            put("null")
        elif v is True:
            put("true")
        elif v is False:
            put("false")
        elif isinstance(v, int):
            put(int.__repr__(v))
        elif isinstance(v, float) and v == v and v not in (_INF, -_INF):
            put(float.__repr__(v))
        elif isinstance(v, dict):
            if not v:
                put("{}")
                return
            inner = indent + "  "
            put("{")
            first = True
            for k, item in v.items():
                if type(k) is not str:
                    raise _Unusual
                put("\n" + inner if first else ",\n" + inner)
                first = False
                put(text(k, False))
                put(": ")
                emit(item, inner, k in multiline and isinstance(item, str))
            put("\n" + indent + "}")
        elif isinstance(v, (list, tuple)):
            if not v:
                put("[]")
                return
            inner = indent + "  "
            put("[")
            first = True
            for item in v:
                put("\n" + inner if first else ",\n" + inner)
                first = False
                emit(item, inner)
            put("\n" + indent + "]")
        else:
            raise _Unusual

    try:
        emit(value, "")
    except _Unusual:
        return json.dumps(escape_tree(value, multiline=multiline), indent=2)
    return "".join(out)


_INF = float("inf")


class _Unusual(Exception):
    """A value :func:`escaped_json` leaves to ``json``."""
