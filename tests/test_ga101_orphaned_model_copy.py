"""GA101 orphaned-model-copy: the seed's `vgg(images)` copy fires in every format; clean twins stay clean."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf

SEED = ["dup_vgg19", "dup_mobilenetv2"]
FORMATS = ["meta", "frozen", "frozen --output", "saved_model"]


def findings(path, code="GA101", **settings):
    report = audit_paths([str(path)], Settings(**settings))
    assert not report.errors, [a.error for a in report.errors]
    return [f for f in report.findings if f.code == code]


def artifact_of(artifacts, name: str, fmt: str):
    """The artifact of ``fmt`` that builder ``name`` wrote, and the settings to check it with."""
    m = artifacts.manifest(name)
    folder = artifacts.folder(name)
    if fmt == "meta":
        return folder / m["root"], {}
    if fmt == "frozen":
        return folder / m["frozen"]["file"], {}
    if fmt == "frozen --output":
        return folder / m["frozen"]["file"], {"outputs": (m["output_node"],)}
    if fmt == "saved_model":
        return folder / m["saved_model"], {}
    raise ValueError(fmt)


def shape_text(dims) -> str:
    return "(" + ", ".join("?" if d is None else f"{d:,}" for d in dims) + ")"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", SEED)
def test_the_seed_scenario_fires(artifacts, name, fmt):
    artifacts.folders(*SEED)
    m = artifacts.manifest(name)
    path, settings = artifact_of(artifacts, name, fmt)
    got = findings(path, **settings)
    assert len(got) == 1, got
    f = got[0]
    first, last = m["dead_top_scopes"]
    dead = f"`{first}/` ... `{last}/`"
    twin = f"`{m['copy_scope']}/`"
    # The numbers are TensorFlow's: the ops the call created that compute with a weight, and
    # the model's parameters.
    assert len(m["dead_ops"]) == len(m["copy_ops"])
    assert f.message == (
        f"{dead} ({len(m['dead_ops']):,} ops, {m['params']:,} params) is an unused copy of {twin}: it reads the "
        f"same weights, hangs off the placeholder `{m['dead_input']}` {shape_text(m['dead_input_shape'])} that "
        "nothing feeds, and reaches no root")
    assert m["params"] == m["keras_params"]
    assert f.severity.value == "error" and f.confidence.value == "high"
    assert f.location.graph == ("tags:serve" if fmt == "saved_model" else "graph")
    assert f.location.scope == ""
    assert f.location.nodes == (m["dead_input"], m["dead_output"])
    assert f.location.variables == tuple(m["weights"])
    assert f.fixup.title == "Pass `input_tensor=` to the model's constructor instead of calling the model on a tensor"
    # The code speaks the finding's names: the architecture, and the placeholder the copy hangs off.
    arch = {"dup_vgg19": "VGG19", "dup_mobilenetv2": "MobileNetV2"}[name]
    assert f"tf_keras.applications.{arch}(" in f.fixup.code and "input_tensor=images" in f.fixup.code
    assert f"builds the copy on `{m['dead_input']}`" in f.fixup.code
    # The reference wrapper is a VGG19: offered for a VGG19 only.
    assert ("graphaudit.reference" in f.fixup.code) == (arch == "VGG19")
    assert ("graphaudit.reference" in f.fixup.detail) == (arch == "VGG19")
    roots = f.evidence[0]
    if fmt == "saved_model":
        assert roots == "roots: 1 declared root(s) (signature output)"
    elif fmt == "frozen --output":
        assert roots == "roots: 1 declared root(s) (user output)"
    else:
        # No declared root: the dead copy's last op is a sink too, and inference leaves it out.
        assert roots.startswith(f"roots: 1 root(s) inferred from graph sinks (`{m['output_node']}`), leaving out ")
        assert f"(`{m['dead_output']}`" in roots
    assert f"the copy's last op `{m['dead_output']}` feeds nothing" in f.evidence
    # Reading the same variables makes it GA101's, not GA102's.
    assert findings(path, "GA102", **settings) == []


def test_control_flow_v2_batchnorm_conds_compare_by_function_body(artifacts):
    m = artifacts.manifest("dup_mobilenetv2_cfv2")
    # Each copy's BatchNorm conds are `If` ops calling functions of their own names.
    assert m["if_ops"] > 0 and m["function_count"] >= m["if_ops"]
    (f,) = findings(artifacts.path("dup_mobilenetv2_cfv2"))
    assert f.message.startswith(
        f"`{m['dead_top_scopes'][0]}/` ... `{m['dead_top_scopes'][1]}/` ({len(m['dead_ops']):,} ops, "
        f"{m['params']:,} params) is an unused copy of `{m['copy_scope']}/`")
    assert f.location.nodes == (m["dead_input"], m["dead_output"])


def test_names_cannot_find_the_dead_copy(artifacts):
    """With `input_tensor=`, the only copy has exactly the dead copy's names, and it is clean."""
    bad, good = artifacts.manifest("dup_vgg19"), artifacts.manifest("dup_vgg19_clean")
    assert good["copy_ops"] == bad["dead_ops"]
    assert good["live_output"] == bad["dead_output"]
    assert findings(artifacts.path("dup_vgg19_clean")) == []
    assert findings(artifacts.path("dup_vgg19_clean"), "GA102") == []


@pytest.mark.parametrize("fmt", ["meta", "frozen", "saved_model"])
def test_correct_input_tensor_usage_stays_clean(artifacts, fmt):
    m = artifacts.manifest("dup_mobilenetv2_clean")
    assert m["input_tensor"] and len(m["copy_ops"]) == len(artifacts.manifest("dup_mobilenetv2")["copy_ops"])
    path, settings = artifact_of(artifacts, "dup_mobilenetv2_clean", fmt)
    assert findings(path, **settings) == []
    assert findings(path, "GA102", **settings) == []


def test_frozen_graph_pruned_to_its_output_stays_clean(artifacts):
    m = artifacts.manifest("dup_mobilenetv2")
    pruned = m["frozen_pruned"]
    # Freezing to `output` drops the dead copy: its last op is gone from the GraphDef.
    assert m["dead_output"] not in pruned["nodes"] and m["dead_output"] in m["frozen"]["nodes"]
    assert findings(artifacts.folder("dup_mobilenetv2") / pruned["file"]) == []
    assert findings(artifacts.path("graphdef_pb")) == []


def test_siamese_branches_that_both_feed_the_output_stay_clean(artifacts):
    m = artifacts.manifest("dup_siamese")
    # Each branch is a full copy of the backbone, big enough to report if it were dead.
    assert m["both_branches_needed"] and len(m["branch_ops"]) >= Settings().min_duplicate_ops
    assert findings(artifacts.path("dup_siamese")) == []
    assert findings(artifacts.folder("dup_siamese") / m["frozen"]["file"]) == []


@pytest.mark.parametrize(("name", "key"), [
    ("dup_cond", None),  # control flow v2: learning-phase `If`s and a tf.cond with equal branches
    ("dup_gradients", None),  # train op collection: the gradient subgraph
    ("dup_gradients", "graphdef"),  # the same graph bare: roots inferred
    ("dup_summary", None),  # an unused summary op, roots inferred
    ("dup_summary", "saved_model"),  # ... and with a signature: the summary reaches no root
])
def test_must_stay_clean(artifacts, name, key):
    m = artifacts.manifest(name)
    path = artifacts.folder(name) / m[key] if key else artifacts.path(name)
    if name == "dup_cond":
        assert m["if_ops"] > 0
    if name == "dup_gradients":
        assert m["gradient_ops"] > 0
    assert findings(path) == []
    assert findings(path, "GA102") == []


@pytest.mark.parametrize("name", ["tf1_meta_ckpt_clean", "graphdef_pbtxt"])
def test_keras_load_weights_placeholders_and_assigns_stay_clean(artifacts, name):
    m = artifacts.manifest(name)
    loads = m["weight_loads"]
    # `Placeholder_N` -> `AssignVariableOp_N` pairs: many structurally equal, none reached.
    assert len(loads) >= 2 and all(w["assign"].startswith("AssignVariableOp") for w in loads)
    assert findings(artifacts.path(name)) == []
    assert findings(artifacts.path(name), "GA102") == []


def test_a_tiny_duplicate_below_the_threshold_stays_clean(artifacts):
    m = artifacts.manifest("dup_tiny")
    ops = len(m["dead_ops"])
    assert ops < Settings().min_duplicate_ops
    assert findings(artifacts.path("dup_tiny")) == []
    # The threshold is the only reason: at its size, the same dead copy is reported.
    (f,) = findings(artifacts.path("dup_tiny"), min_duplicate_ops=ops)
    assert f.message.startswith(f"`{m['dead_output'].split('/')[0]}/` ({ops:,} ops, {m['params']:,} params) "
                                "is an unused copy of ")
    assert f.location.nodes == (m["dead_input"], m["dead_output"])
    assert findings(artifacts.path("dup_tiny"), min_duplicate_ops=ops + 1) == []


def test_static_path_imports_no_tensorflow_and_output_is_deterministic(artifacts):
    path = artifacts.path("dup_mobilenetv2")
    code = (
        "import sys\n"
        "from graphaudit.cli import app\n"
        "try:\n"
        f"    app([\"check\", {str(path)!r}, \"--format\", \"json\", \"--select\", \"GA1\"])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert not any(m == 'tensorflow' or m.startswith(('tensorflow.', 'keras', 'tf_keras')) "
        "for m in sys.modules), sorted(m for m in sys.modules if 'tensorflow' in m)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
            for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert runs[0].stdout == runs[1].stdout
    report = json.loads(runs[0].stdout)
    assert [f["code"] for f in report["artifacts"][0]["findings"]] == ["GA101"]
