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
    assert "numpy.ma" not in modules  # numpy 2 imports it for a bare np.unique: 10-20 ms of start-up


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
    assert "numpy.ma" not in modules


def test_a_text_graph_still_parses(tmp_path):
    path = tmp_path / "graph.pbtxt"
    path.write_text('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n')
    modules, out, code = _modules("check", "--isolated", "--format", "json", str(path))
    assert code == 0, out
    assert '"nodes": 1' in out


def test_version_imports_nothing_but_the_version():
    modules, out, code = _modules("--version")
    assert code == 0 and out.startswith("graphaudit ")
    assert {m for m in modules if m.startswith("graphaudit")} == {"graphaudit", "graphaudit.cli", "graphaudit.version"}
    assert _tops(modules) & {"numpy", "typer", "rich", "google", "tomllib"} == set()


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"]])
def test_help_imports_typer_but_no_numpy_protobuf_or_rules(args):
    modules, out, code = _modules(*args)
    assert code == 0 and "Usage: graphaudit" in out
    assert "typer" in _tops(modules)  # help texts are typer's own
    assert _tops(modules) & {"numpy", "google", "tensorboard", "rich", "tomllib"} == set()
    assert not any(m.startswith(("graphaudit.rules", "graphaudit.analysis", "graphaudit.formats")) for m in modules)


def test_a_plain_check_builds_no_typer_app_and_reads_no_config(binary_graph):
    modules, out, code = _modules("check", "--isolated", "--format", "json", str(binary_graph))
    assert code in (0, 1) and '"error": null' in out
    assert _tops(modules) & {"typer", "click", "tomllib"} == set()
    assert "graphaudit.commands" not in modules


def test_a_check_typer_must_parse_still_runs(binary_graph):
    # `-fjson` (a short option glued to its value) is left to typer; the audit is the same.
    modules, out, code = _modules("check", "--isolated", "-fjson", str(binary_graph))
    assert code in (0, 1) and '"error": null' in out
    assert "graphaudit.commands" in modules


def test_a_checkpoint_reads_no_keras_reader_and_the_catalog_without_importlib_resources(checkpoint):
    # The variable makes the provenance analysis read the architecture catalogue.
    modules, out, code = _modules("check", "--isolated", "--format", "json", str(checkpoint))
    assert code in (0, 1) and '"error": null' in out and "graphaudit.catalog.matcher" in modules
    assert "graphaudit.formats.keras" not in modules and "zipfile" not in modules
    assert {"importlib.resources", "gzip", "tempfile"} & modules == set()
