"""graphaudit's text-format reader gives protobuf's own parse, byte for byte, and one-line errors."""

from __future__ import annotations

import math
import os
import re
import time
import warnings

import pytest
from google.protobuf import any_pb2, text_format
from google.protobuf.descriptor import FieldDescriptor as FD
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphaudit.formats import protos, textproto

FLOAT32_MAX = 3.4028234663852886e38


def reference(text: str, cls) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # protobuf's unescape on `\q`: kept as it is
        return text_format.Parse(text, cls()).SerializeToString(deterministic=True)


def ours(text: str, cls) -> bytes:
    # Deterministic: a map's order on the wire is otherwise the hash table's, not the text's.
    return textproto.parse(text, cls).SerializeToString(deterministic=True)


# ---------------------------------------------------------------------------- random messages

def _scalar(fd):
    t = fd.type
    if t in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return st.integers(-(1 << 31), (1 << 31) - 1)
    if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return st.integers(-(1 << 63), (1 << 63) - 1)
    if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
        return st.integers(0, (1 << 32) - 1)
    if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
        return st.integers(0, (1 << 64) - 1)
    if t == FD.TYPE_FLOAT:
        return st.floats(width=32)
    if t == FD.TYPE_DOUBLE:
        return st.floats()
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t == FD.TYPE_STRING:
        return st.text(max_size=12)
    if t == FD.TYPE_BYTES:
        return st.binary(max_size=12)
    if t == FD.TYPE_ENUM:
        # Open (proto3) enums print unknown numbers as numbers.
        return st.sampled_from([v.number for v in fd.enum_type.values]) | st.integers(-5, 300)
    raise AssertionError(fd.type)


@st.composite
def message(draw, cls, depth=3):
    msg = cls()
    fields = list(cls.DESCRIPTOR.fields)
    chosen = draw(st.lists(st.sampled_from(fields), max_size=6, unique_by=lambda f: f.number)) if fields else []
    for fd in chosen:
        if fd.containing_oneof is not None and msg.WhichOneof(fd.containing_oneof.name):
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            for _ in range(draw(st.integers(0, 2))):
                key = draw(_scalar(key_fd))
                if value_fd.message_type is not None:
                    if depth > 0:
                        getattr(msg, fd.name)[key].CopyFrom(draw(message(_class(value_fd), depth - 1)))
                else:
                    getattr(msg, fd.name)[key] = draw(_scalar(value_fd))
        elif fd.message_type is not None:
            if depth <= 0:
                continue
            if fd.message_type.full_name == "google.protobuf.Any":
                packed = any_pb2.Any()
                packed.Pack(draw(message(protos.TensorShapeProto, 1)))
                target = getattr(msg, fd.name).add() if fd.is_repeated else getattr(msg, fd.name)
                target.CopyFrom(packed)
                continue
            for _ in range(draw(st.integers(1, 2)) if fd.is_repeated else 1):
                sub = draw(message(_class(fd), depth - 1))
                if fd.is_repeated:
                    getattr(msg, fd.name).add().CopyFrom(sub)
                else:
                    getattr(msg, fd.name).CopyFrom(sub)
        elif fd.is_repeated:
            getattr(msg, fd.name).extend(draw(st.lists(_scalar(fd), max_size=3)))
        else:
            setattr(msg, fd.name, draw(_scalar(fd)))
    return msg


def _class(fd):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(fd.message_type)


PRINT_OPTIONS = st.fixed_dictionaries({
    "as_one_line": st.booleans(),
    "as_utf8": st.booleans(),
    "pointy_brackets": st.booleans(),
    "use_short_repeated_primitives": st.booleans(),
    "use_index_order": st.booleans(),
})


@pytest.mark.parametrize("cls", [protos.GraphDef, protos.MetaGraphDef, protos.SavedModel, protos.SavedObjectGraph],
                         ids=lambda c: c.DESCRIPTOR.name)
@settings(max_examples=int(os.environ.get("TEXTPROTO_EXAMPLES", 60)), deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_messages_printed_by_protobuf_parse_to_the_same_bytes(cls, data):
    msg = data.draw(message(cls))
    options = data.draw(PRINT_OPTIONS)
    text = text_format.MessageToString(msg, **options)
    assert ours(text, cls) == reference(text, cls), text


# ---------------------------------------------------------------------------- the text format's features

FEATURES = {
    "pointy brackets and separators": ('node < name: "a"; op: "Const", attr < key: "dtype" value < type: DT_FLOAT > > >',
                                       protos.GraphDef),
    "escapes": (r'''node { name: "a\n\t\"q\"\'\\\001\x7f\u00e9\U0001F600" op: 'it\'s' }''', protos.GraphDef),
    "utf-8 and octal utf-8": ('node { name: "é\\303\\251" op: "x" }', protos.GraphDef),
    "adjacent strings join": ('node { name: "ab" "cd" \'ef\' op: "x" }', protos.GraphDef),
    "bytes with every byte": ('tensor_content: "' + "".join(f"\\{b:03o}" for b in range(256)) + '\\x0\\xf"',
                              protos.TensorProto),
    "floats": ("float_val: [1.0f, -2.5e-5, inf, -inf, nan, -Infinity, 1e40, .5, 5., 1E+3, 0.0, -0.0, 3F]",
               protos.TensorProto),
    "doubles": ("double_val: 1e-300 double_val: -nan double_val: 1.7976931348623157e308 double_val: 5e-324",
                protos.TensorProto),
    "integers": ("int_val: [-2147483648, 2147483647, 0x7f, -0x10, 010, 0] int64_val: -9223372036854775808 "
                 "uint32_val: 4294967295 uint64_val: 18446744073709551615 dtype: 3", protos.TensorProto),
    "enums by name and number": ("dtype: DT_HALF", protos.TensorProto),
    "enum by number": ("dtype: 19", protos.TensorProto),
    "open enum, unknown number": ("dtype: 999", protos.TensorProto),
    "booleans": ("node { name: \"a\" op: \"x\" attr { key: \"k\" value { list { b: [true, false, t, f, 1, 0, True, "
                 "False] } } } }", protos.GraphDef),
    "comments": ('# header\nnode { # a node\n  name: "a#b" # not in the string\n  op: \'#\'\n}\n# end', protos.GraphDef),
    "message lists": ('node: [{ name: "a" op: "x" }, < name: "b" op: "y" >] node [] node { name: "c" op: "z" }',
                      protos.GraphDef),
    "empty scalar list": ('node { name: "a" op: "x" input: [] }', protos.GraphDef),
    "colon before a message": ('node: { name: "a" op: "x" attr: { key: "k" value: { i: -5 } } }', protos.GraphDef),
    "maps, repeated keys": ('node { name: "a" op: "x" attr { key: "k" value { i: 1 } } attr { key: "k" value { f: 2 } } }',
                            protos.GraphDef),
    "expanded Any": ('meta_info_def { any_info { [type.googleapis.com/tensorboard.TensorShapeProto] { dim { size: 3 '
                     'name: "d" } unknown_rank: false } } }', protos.MetaGraphDef),
    "expanded Any, pointy and with a colon": ('meta_info_def { any_info < [type.googleapis.com/tensorboard.TensorShapeProto]: '
                                             '< dim < size: -1 > > > }', protos.MetaGraphDef),
    "plain Any": ('meta_info_def { any_info { type_url: "x/y" value: "\\001\\002" } }', protos.MetaGraphDef),
    "no whitespace": ('node{name:"a"op:"x"attr{key:"k"value{shape{dim{size:-1}dim{size:3}}}}}', protos.GraphDef),
    "empty text": ("", protos.GraphDef),
    "only comments and blanks": ("\n  # nothing\n\t\n", protos.GraphDef),
}


@pytest.mark.parametrize("case", sorted(FEATURES))
def test_text_format_features_parse_as_protobuf_parses_them(case):
    text, cls = FEATURES[case]
    assert ours(text, cls) == reference(text, cls)


def test_float_fields_keep_float32_rounding_and_overflow():
    msg = textproto.parse("float_val: [1e40, -1e40, 0.1, 3.4028235e38]", protos.TensorProto)
    assert msg.float_val[0] == math.inf and msg.float_val[1] == -math.inf
    assert msg.float_val[2] == pytest.approx(0.1, rel=1e-7) and msg.float_val[3] == FLOAT32_MAX


# ---------------------------------------------------------------------------- errors: one line, with the place

ERRORS = {
    "unknown field": ('node {\n  name: "a"\n  opp: "x"\n}', protos.GraphDef,
                      'line 3, column 3: message type `tensorboard.NodeDef` has no field named `opp`'),
    "unclosed message": ('node {\n  name: "a"\n', protos.GraphDef,
                         "line 3, column 1: expected `}` to close `NodeDef`, found the end of the text"),
    "wrong closer": ('node < name: "a" }', protos.GraphDef,
                     "line 1, column 18: expected a field name, found `}`"),
    "stray closer": ('node { name: "a" } }', protos.GraphDef, "line 1, column 20: expected a field name, found `}`"),
    "missing colon": ('node { name "a" }', protos.GraphDef, 'line 1, column 13: expected `:` after `name`, found `"a"`'),
    "unterminated string": ('node {\n  name: "a\n}', protos.GraphDef,
                            "line 2, column 9: string missing its closing quote in `name`"),
    "number for a string": ("node { name: 5 }", protos.GraphDef,
                            "line 1, column 14: expected a quoted string for `name`, found `5`"),
    "int out of range": ("int_val: 2147483648", protos.TensorProto,
                         "line 1, column 10: value out of range for `int_val`: 2147483648"),
    "negative unsigned": ("uint32_val: -1", protos.TensorProto,
                          "line 1, column 13: value out of range for `uint32_val`: -1"),
    "not a number": ("int_val: 12abc", protos.TensorProto, "line 1, column 10: couldn't parse integer: 12abc"),
    "bad float": ("float_val: 1.2.3", protos.TensorProto, "line 1, column 12: couldn't parse float: 1.2.3"),
    "octal float": ("float_val: 01.5", protos.TensorProto, "line 1, column 12: invalid octal float 01.5"),
    "unknown enum": ("dtype: DT_NOPE", protos.TensorProto,
                     'line 1, column 8: enum type "tensorboard.DataType" has no value named DT_NOPE.'),
    "bad bool": ('node { name: "a" op: "x" attr { key: "k" value { b: yes } } }', protos.GraphDef,
                 'line 1, column 53: expected "true" or "false", found yes'),
    "value missing at the end": ("int_val:", protos.TensorProto,
                                 "line 1, column 9: expected a value for `int_val`, found the end of the text"),
    "bad list": ("int_val: [1 2]", protos.TensorProto, "line 1, column 13: expected `,` or `]` in the list of `int_val`, found `2`"),
    "unknown Any type": ('meta_info_def { any_info { [type.googleapis.com/no.Such] { } } }', protos.MetaGraphDef,
                         "line 1, column 29: type `no.Such` of the Any is not a known message type"),
    "Any without a URL": ('meta_info_def { any_info { [tensorboard.TensorShapeProto] { } } }', protos.MetaGraphDef,
                          "line 1, column 28: expected a type URL like `type.googleapis.com/tensorboard.TensorShapeProto`"
                          " inside `[...]`"),
    "stray character": ('node { name: "a" @ }', protos.GraphDef, "line 1, column 18: message type `tensorboard.NodeDef` "
                                                                  "has no field named `@`"),
    "not UTF-8 in a string field": ('node { name: "\\377" op: "x" }', protos.GraphDef,
                                    "line 1, column 14: string field `name` is not valid UTF-8 (invalid start byte)"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_malformed_text_is_one_line_with_line_and_column(case):
    text, cls, expected = ERRORS[case]
    with pytest.raises(textproto.TextProtoError) as info:
        textproto.to_wire(text, cls.DESCRIPTOR)
    assert str(info.value) == expected
    with pytest.raises(text_format.ParseError):  # protobuf refuses it too
        text_format.Parse(text, cls())


def test_positions_agree_with_protobufs_own_parser_on_the_first_bad_token():
    for text in ('node {\n  name: "a"\n  opp: "x"\n}', 'node {\n\n   name "a" }', "\n\n  int_val: 2147483648"):
        cls = protos.TensorProto if "int_val" in text else protos.GraphDef
        with pytest.raises(text_format.ParseError) as theirs:
            text_format.Parse(text, cls())
        with pytest.raises(textproto.TextProtoError) as mine:
            textproto.to_wire(text, cls.DESCRIPTOR)
        assert (mine.value.line, mine.value.column) == (theirs.value.GetLine(), theirs.value.GetColumn()), text


def test_extensions_and_groups_are_left_to_protobuf():
    with pytest.raises(textproto.Unsupported, match=r"extension `\[pkg\.ext\]`"):
        textproto.to_wire('node { name: "a" op: "x" } [pkg.ext] { }', protos.GraphDef.DESCRIPTOR)


# ---------------------------------------------------------------------------- hostile text stays bounded

def test_deep_nesting_stops_at_the_depth_limit_without_recursion():
    text = "library { function { node_def { attr { key: 'a' value { " + "func { attr { key: 'k' value { " * 5000
    start = time.monotonic()
    with pytest.raises(textproto.TextProtoError, match=r"^line 1, column \d+: messages nest deeper than 100 levels$"):
        textproto.to_wire(text, protos.GraphDef.DESCRIPTOR)
    assert time.monotonic() - start < 2


def test_within_the_depth_limit_the_binary_parser_accepts_what_was_transcoded():
    body = "b: true"
    for _ in range(31):  # 98 levels: just under the limit
        body = f"func {{ name: 'f' attr {{ key: 'k' value {{ {body} }} }} }}"
    text = f"library {{ function {{ node_def {{ name: 'n' op: 'x' attr {{ key: 'a' value {{ {body} }} }} }} }} }}"
    assert ours(text, protos.GraphDef) == reference(text, protos.GraphDef)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(cut=st.integers(0, 10**6), junk=st.sampled_from(["", "{", "}", "<", ":", "[", "]", '"', "'", "\\", "#", "-",
                                                         "x", "0x", "@", "\n", ",", "[a.b/c]"]))
def test_mutated_text_either_parses_as_protobuf_or_fails_with_one_line(cut, junk):
    base = ('node {\n  name: "a\\001"\n  op: "Const"\n  attr {\n    key: "value"\n    value {\n      tensor {\n'
            "        dtype: DT_FLOAT\n        float_val: [1.5, -inf]\n      }\n    }\n  }\n}\n"
            'versions { producer: 1 }\nlibrary { function { signature { name: "f" } } }\n')
    k = cut % (len(base) + 1)
    text = base[:k] + junk + base[k + (cut // (len(base) + 1)) % 4:]
    try:
        theirs = reference(text, protos.GraphDef)
    except text_format.ParseError:
        theirs = None
    try:
        mine = ours(text, protos.GraphDef)
    except textproto.TextProtoError as exc:
        assert re.fullmatch(r"line \d+, column \d+: [^\n]+", str(exc)), str(exc)
        mine = None
    except textproto.Unsupported:
        return
    except Exception as exc:  # the wire parse of what was transcoded: only the UTF-8 of a string field
        assert "DecodeError" in type(exc).__name__, repr(exc)
        mine = None
    if theirs is not None:
        assert mine == theirs, text


# ---------------------------------------------------------------------------- text that TensorFlow wrote

@pytest.mark.tf
@pytest.mark.parametrize("name, file", [("graphdef_pbtxt", "graph.pbtxt"),
                                        ("tf1_saved_model_text", "saved_model/saved_model.pbtxt")])
def test_tensorflow_written_fixtures_parse_as_protobuf_parses_them(artifacts, name, file):
    path = artifacts.folder(name) / file
    text = path.read_text(encoding="utf-8")
    cls = protos.SavedModel if path.name == "saved_model.pbtxt" else protos.GraphDef
    assert ours(text, cls) == reference(text, cls)
    assert len(text) > 4000 and "attr {" in text


@pytest.mark.tf
def test_a_graph_tensorflow_writes_as_text_with_odd_values_parses_as_protobuf_parses_it(tmp_path):
    import numpy as np
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.constant([np.inf, -np.inf, np.nan, 1e-5, -0.0, 3.4e38, 1e-45], tf.float32, name="floats")
        tf.constant([-(2**63), 2**63 - 1, -1], tf.int64, name="int64s")
        tf.constant(["é\n\"q\"", "\x00\xff", ""], name="strings")
        tf.constant(np.arange(4096, dtype=np.float32).reshape(64, 64) / 7, name="content")  # tensor_content bytes
        tf.constant(np.array([True, False]), name="bools")

        @tf.function
        def twice(x):
            return tf.cond(x > 0, lambda: x * 2.0, lambda: x - 1.0)

        twice.get_concrete_function(tf.TensorSpec([], tf.float32)).add_to_graph(graph)
    tf.io.write_graph(graph.as_graph_def(), str(tmp_path), "g.pbtxt", as_text=True)
    text = (tmp_path / "g.pbtxt").read_text(encoding="utf-8")
    assert "tensor_content" in text and "library" in text
    assert ours(text, protos.GraphDef) == reference(text, protos.GraphDef)


# ---------------------------------------------------------------------------- through the CLI

def _findings(path, capsys) -> tuple[int, list]:
    import json

    from graphaudit.cli import main

    code = main(["check", str(path), "--format", "json", "--isolated"])
    art = json.loads(capsys.readouterr().out)["artifacts"][0]
    assert art["error"] is None, art["error"]
    return code, [{k: v for k, v in f.items() if k != "location"} | {"nodes": f["location"]["nodes"]}
                  for f in art["findings"]]


@pytest.mark.parametrize("with_functions", [False, True], ids=["wire scan", "with a function library"])
def test_a_graph_in_text_and_in_binary_gets_the_same_findings(tmp_path, capsys, with_functions):
    import numpy as np

    import handmade as h

    nodes = [h.node("images", "Placeholder", dtype="float", shape=(-1, 4)),
             h.node("input_1", "Placeholder", dtype="float", shape=(-1, 4)),
             h.node("c", "Const", value=np.arange(6, dtype="float32").reshape(2, 3) / 7)]
    live, dead = "images", "input_1"
    for k in range(12):  # the seed's bug: the model applied twice, one copy dead
        nodes += h.variable(f"dense_{k}/kernel", shape=(4, 4))
        for scope, x in (("model/", live), ("", dead)):
            nodes += [h.node(f"{scope}dense_{k}/MatMul", "MatMul", x, f"dense_{k}/kernel/read", T="float"),
                      h.node(f"{scope}dense_{k}/Relu", "Relu", f"{scope}dense_{k}/MatMul", T="float")]
        live, dead = f"model/dense_{k}/Relu", f"dense_{k}/Relu"
    nodes.append(h.node("output", "Identity", live, T="float"))
    functions = [h.function("f", [("x", "float")], {"y": "n:y:0"}, h.node("n", "Identity", "x", T="float"))] \
        if with_functions else []
    gd = h.graph_def(*nodes, functions=functions)
    (tmp_path / "graph.pb").write_bytes(gd.SerializeToString(deterministic=True))
    (tmp_path / "graph.pbtxt").write_text(text_format.MessageToString(gd), encoding="utf-8")
    binary = _findings(tmp_path / "graph.pb", capsys)
    text = _findings(tmp_path / "graph.pbtxt", capsys)
    assert text == binary
    assert [f["code"] for f in text[1]] == ["GA101"], text
    assert text[1][0]["nodes"] == ["input_1", "dense_11/Relu"]
    assert text[1][0]["message"].startswith("`dense_0/` ... `dense_11/` (24 ops, 192 params) is an unused copy of `model/`")


def test_a_malformed_pbtxt_is_one_error_line_with_its_place(tmp_path, capsys):
    from graphaudit.cli import main

    path = tmp_path / "graph.pbtxt"
    path.write_text('node {\n  name: "a"\n  opp: "Const"\n}\n', encoding="utf-8")
    assert main(["check", str(path), "--no-color", "--isolated"]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in (out + err).splitlines() if ": error: " in line]
    assert errors == [f"{path}: error: expected a text-format GraphDef; line 3, column 3: message type "
                      "`tensorboard.NodeDef` has no field named `opp`"]
    assert "Traceback" not in out + err


def test_a_pbtxt_over_the_text_limit_is_refused_before_parsing(tmp_path, capsys, monkeypatch):
    from graphaudit.cli import main
    from graphaudit.formats import readers

    monkeypatch.setattr(readers, "MAX_TEXT_BYTES", 1000)
    path = tmp_path / "graph.pbtxt"
    path.write_text('node { name: "a" op: "NoOp" }\n' * 100, encoding="utf-8")
    assert main(["check", str(path), "--no-color", "--isolated"]) == 2
    out = capsys.readouterr().out
    assert f"{path}: error: text-format GraphDef is 3,000 bytes; graphaudit parses text protobufs of at most 1,000; " \
           "save it in binary form instead" in out
