"""A cold `graphaudit check` imports only what the artifact and the output format need."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from graphaudit.formats import protos
from graphaudit.testing.files import write_checkpoint

RUN = r"""
import runpy, sys
sys.argv = ["graphaudit"] + sys.argv[1:]
try:
    runpy.run_module("graphaudit", run_name="__main__")
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
sys.stderr.write("\nMODULES " + " ".join(sorted(sys.modules)) + "\nEXIT " + str(code) + "\n")
"""


def _modules(*args: str) -> tuple[set[str], str, int]:
    env = dict(os.environ, NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)
    tail = proc.stderr.rsplit("\nMODULES ", 1)
    assert len(tail) == 2, proc.stderr
    names, code = tail[1].split("\nEXIT ")
    return set(names.split()), proc.stdout, int(code)


def _tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture()
def binary_graph(tmp_path):
    graph = protos.GraphDef()
    node = graph.node.add(name="x", op="Placeholder")
    node.attr["dtype"].type = 1
    graph.node.add(name="y", op="Relu", input=["x"])
    path = tmp_path / "model.pb"
    path.write_bytes(graph.SerializeToString())
    return path


@pytest.fixture()
def checkpoint(tmp_path):
    prefix = tmp_path / "model.ckpt"
    write_checkpoint(prefix, {"dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4)})
    return tmp_path / "model.ckpt.index"


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_machine_formats_import_no_rich_no_hdf5(binary_graph, fmt):
    modules, out, code = _modules("check", "--isolated", "--format", fmt, str(binary_graph))
    assert code in (0, 1), out
    loaded = _tops(modules) & {"rich", "pygments", "h5py", "tensorflow", "keras", "tf_keras"}
    assert loaded == set(), f"--format {fmt} on a binary GraphDef imported {sorted(loaded)}"


def test_console_on_a_pipe_imports_no_syntax_highlighter(binary_graph):
    modules, out, code = _modules("check", "--isolated", "--show-fixes", str(binary_graph))
    assert code in (0, 1), out
    assert "rich.console" in modules  # the console report is rich's
    assert "pygments" not in _tops(modules) and "rich.syntax" not in modules


def test_a_checkpoint_alone_imports_no_hdf5_and_no_tensorflow(checkpoint):
    modules, out, code = _modules("check", "--isolated", "--format", "json", str(checkpoint))
    assert code in (0, 1), out
    assert '"error": null' in out
    assert _tops(modules) & {"h5py", "tensorflow", "rich", "pygments"} == set()


def test_a_text_graph_still_parses(tmp_path):
    path = tmp_path / "graph.pbtxt"
    path.write_text('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n')
    modules, out, code = _modules("check", "--isolated", "--format", "json", str(path))
    assert code == 0, out
    assert '"nodes": 1' in out
