"""`escaped_json`: the text `json.dumps(escape_tree(value), indent=2)` writes, in one pass."""

from __future__ import annotations

import enum
import json

from hypothesis import given, settings, strategies as st

from graphaudit.reporters.escaping import escape_tree, escaped_json

# Text from an artifact may hold anything: controls, bidi overrides, lone surrogates, `::`.
text = st.lists(st.sampled_from(["a", "/", ":", "\n", "\x1b", "\u202e", "\udcff", "é", "\"", "\\", " ", "::"]),
                max_size=8).map("".join) | st.text(max_size=6)
scalars = (text | st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True))
trees = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                     | st.dictionaries(st.sampled_from(["code", "name", "x\n", "\u202e"]) | text, inner, max_size=4),
                     max_leaves=30)


def oracle(value, multiline=frozenset()):
    return json.dumps(escape_tree(value, multiline=multiline), indent=2)


@settings(max_examples=200, deadline=None)
@given(trees)
def test_the_text_is_what_json_writes_of_the_escaped_tree(value):
    assert escaped_json(value) == oracle(value)
    assert escaped_json(value, multiline=frozenset({"code"})) == oracle(value, frozenset({"code"}))


class Source(str, enum.Enum):
    RESTORED = "restored"


class Level(enum.IntEnum):
    HIGH = 2


def test_subclasses_and_values_json_writes_its_own_way_match_too():
    for value in [{"source": Source.RESTORED, "level": Level.HIGH, "big": 10**30, "t": (1, [2.5, -0.0])},
                  {"code": "a\n::b\x1b"},
                  [float("nan"), float("inf"), -float("inf")], {}, [], "", {"": {"": []}}]:
        assert escaped_json(value, multiline=frozenset({"code"})) == oracle(value, frozenset({"code"}))


def test_a_value_json_cannot_write_fails_as_json_does():
    import pytest

    with pytest.raises(TypeError):
        escaped_json({"x": object()})
