"""Graphs TensorFlow refuses to import (dangling inputs, a node name used twice): one error line, exit 2."""

from __future__ import annotations

import pytest

from graphaudit.cli import main

GOOD = 'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n'


@pytest.mark.parametrize("body, message", [
    ('node { name: "y" op: "Relu" input: "gone" }',
     "node `y` reads `gone`, which names no node of the graph; expected every input to name a node "
     "(TensorFlow refuses to import this graph)"),
    ('node { name: "y" op: "Relu" input: "x" input: "^init" }\nnode { name: "z" op: "Add" input: "y" input: "w:1" }',
     "node `y` reads `^init`, which names no node of the graph (and 1 more dangling inputs); expected every "
     "input to name a node (TensorFlow refuses to import this graph)"),
    ('node { name: "x" op: "Relu" input: "x" }',
     "node name `x` is used twice; expected unique node names (TensorFlow refuses to import this graph)"),
])
def test_a_graph_tensorflow_refuses_is_one_error_line_and_exit_2(tmp_path, capsys, body, message):
    path = tmp_path / "model.pbtxt"
    path.write_text(GOOD + body + "\n")
    ok = tmp_path / "ok.pbtxt"
    ok.write_text(GOOD)
    assert main(["check", str(path), str(ok)]) == 2
    err = capsys.readouterr()
    lines = [ln for ln in (err.out + err.err).splitlines() if "error" in ln]
    assert lines == [f"{path}: error: {message}"]
