"""The C loops over strings (graphaudit/analysis/_classes.c ``strings_with``, ``parts``) give what
their Python twins in graphaudit/bulk.py give (the joined text; partition/rpartition), and both
what a test per string gives, on varied strings: every str kind, newlines, empty ones."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings, strategies as st

from graphaudit import bulk
from graphaudit.analysis.columns import VariableColumns
from graphaudit.artifact import Variable, VariableTable
from graphaudit.bulk import Joined, first_parts, last_parts

native = bulk._loops()
needs_native = pytest.mark.skipif(native is None, reason="graphaudit.analysis._classes is not built here")


@contextlib.contextmanager
def python_twins():
    """The Python twins, whether or not the extension is built."""
    was = bulk.USE_NATIVE
    bulk.USE_NATIVE = False
    try:
        yield
    finally:
        bulk.USE_NATIVE = was


# Pieces of every str kind (1, 2 and 4 bytes per code point), the joint of the joined text, and
# names as TF1, TF2, Keras 3 and graph tensors spell them.
PIECES = ["/", "//", "a", "ab", "aa", "aaa", "\n", "x\ny", "é", "ÿ", "层", "\U0001f600", "\udc80", "\x00",
          "kernel", "kernel:0", ":0", "Adam", "Adam_1", "optimizer", ".OPTIMIZER_SLOT", "VARIABLE_VALUE",
          "vgg19/block1_conv1/kernel/Adam_1", "model/block_0/layer_0/kernel/.ATTRIBUTES/VARIABLE_VALUE",
          "optimizer/_variables/3", "layers/dense/vars/0", ""]
piece = st.one_of(st.sampled_from(PIECES), st.text(max_size=5),
                  st.text(alphabet=st.sampled_from("a/\nb"), max_size=6))
string = st.lists(piece, max_size=6).map("".join)
strings = st.lists(string, max_size=40)
needle = st.one_of(st.sampled_from(PIECES + ["a/", "/a", "aa/", "\na", "a\n", "é/", "/层", "\U0001f600/"]),
                   st.text(max_size=4), st.text(alphabet=st.sampled_from("a/\n"), min_size=1, max_size=4))


def _oracle(strings, needle, mode):
    test = (str.__contains__, str.startswith, str.endswith)[mode]
    return [k for k, s in enumerate(strings) if test(s, needle)]


def _answers(strings, needle):
    joined = Joined(strings)
    return [joined.containing(needle), joined.starting(needle), joined.ending(needle)]


@settings(max_examples=400, deadline=None)
@given(strings=strings, needle=needle)
def test_joined_answers_as_a_test_per_string_both_ways(strings, needle):
    expected = [_oracle(strings, needle, mode) for mode in range(3)]
    with python_twins():
        assert _answers(strings, needle) == expected
    assert _answers(strings, needle) == expected
    if native is not None:
        assert [native.strings_with(strings, needle, mode) for mode in range(3)] == expected


@settings(max_examples=100, deadline=None)
@given(strings=st.lists(st.sampled_from(["aaa", "aa", "a", "a\na", "b/aa", "", "é/aa", "层a"]), min_size=70, max_size=200),
       needle=st.sampled_from(["a", "aa", "a\na", "\na", "/aa", "层a"]))
def test_many_hits_and_overlapping_needles(strings, needle):
    # Past 64 hits the joined text's positions come from the pieces between them.
    expected = [_oracle(strings, needle, mode) for mode in range(3)]
    with python_twins():
        assert _answers(strings, needle) == expected
    assert _answers(strings, needle) == expected


@settings(max_examples=300, deadline=None)
@given(strings=strings, needle=needle)
def test_sorted_strings_start_with_a_prefix_in_one_run(strings, needle):
    strings = sorted(set(strings))
    assert Joined(strings, ordered=True).starting(needle) == _oracle(strings, needle, 1)


@settings(max_examples=400, deadline=None)
@given(strings=strings)
def test_parts_are_partition_and_rpartition(strings):
    lasts = [s.rpartition("/")[2] for s in strings]
    firsts = [s.partition("/")[0] for s in strings]
    with python_twins():
        assert last_parts(strings) == lasts
        assert first_parts(strings) == firsts
    for got, expected in ((last_parts(strings), lasts), (first_parts(strings), firsts)):
        assert got == expected
        assert all(type(p) is str for p in got)
        # Equal parts are one object.
        assert len({id(p) for p in got}) == len(set(got))


@needs_native
@settings(max_examples=200, deadline=None)
@given(strings=strings, last=st.booleans())
def test_native_parts_equal_their_twin(strings, last):
    with python_twins():
        expected = (last_parts if last else first_parts)(strings)
    assert native.parts(strings, last) == expected
    assert native.parts(tuple(strings), last) == expected


def test_sorted_names_repeat_parts_in_runs_and_elsewhere():
    names = sorted(f"{s}/block{b}/{leaf}" for s in ("a", "é", "层", "\U0001f600") for b in range(30)
                   for leaf in ("kernel", "bias", "kernel:0", "Adam", "é", "层"))
    leaves = last_parts(names)
    assert leaves == [n.rpartition("/")[2] for n in names]
    assert len({id(p) for p in leaves}) == 6
    # a part of a wide string that is narrow itself equals (and is) the narrow one
    assert last_parts(["层/ab", "x/ab"]) == ["ab", "ab"] and len({id(p) for p in last_parts(["层/ab", "x/ab"])}) == 1


class Name(str):
    pass


def test_str_subclasses_and_other_sequences_fall_back_to_the_twins():
    strings = [Name("a/b"), "c/b", Name("b")]
    assert Joined(strings).containing("b") == [0, 1, 2]
    assert Joined(strings).starting("b") == [2]
    assert Joined(strings).ending("/b") == [0, 1]
    assert Joined(("a", "ba")).containing("a") == [0, 1]
    with pytest.raises(TypeError):
        Joined(["a", 3]).containing("a")  # type: ignore[list-item]
    with pytest.raises((TypeError, AttributeError)):
        last_parts(["a", None])  # type: ignore[list-item]


@needs_native
def test_native_loops_refuse_what_is_not_a_str():
    for bad in (["a", b"a"], ["a", Name("a")], 3):
        with pytest.raises(TypeError):
            native.strings_with(bad, "a", 0)
        with pytest.raises(TypeError):
            native.parts(bad, True)
    with pytest.raises(ValueError):
        native.strings_with(["a"], "a", 3)


def test_a_tables_columns_share_one_joined_text_and_find_by_prefix_in_runs():
    names = sorted(["optimizer/_variables/1", "optimizer/_variables/10", "optimizer/iter", "a/Adam", "a/Adam_1",
                    "é/kernel:0", "b/kernel", "optimizer/_variables/2/x"])
    table = VariableTable(names, ["float32"] * len(names), [()] * len(names))
    columns = VariableColumns(table)
    assert columns.joined_keys is columns.joined_names and columns.joined_names.ordered
    assert columns.joined_keys.starting("optimizer/_variables/") == _oracle(names, "optimizer/_variables/", 1)
    assert columns.leaves == [n.rpartition("/")[2] for n in names]
    assert columns.firsts == [n.partition("/")[0] for n in names]
    plain = VariableColumns({n: Variable(name=n, checkpoint_key=n) for n in names})
    assert not plain.joined_names.ordered and plain.joined_keys is not plain.joined_names
    assert plain.joined_keys.starting("optimizer/") == columns.joined_keys.starting("optimizer/")
