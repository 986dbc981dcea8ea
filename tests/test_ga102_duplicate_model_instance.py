"""GA102 duplicate-model-instance: a model built five times fires in every format; single builds stay clean."""

from __future__ import annotations

import pytest

from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf

NAME = "dup_five_instances"


def findings(path, code="GA102", **settings):
    report = audit_paths([str(path)], Settings(**settings))
    assert not report.errors, [a.error for a in report.errors]
    return [f for f in report.findings if f.code == code]


def artifact_of(artifacts, fmt: str):
    m = artifacts.manifest(NAME)
    folder = artifacts.folder(NAME)
    if fmt == "meta":
        return folder / m["root"], {}
    if fmt == "frozen --output":
        return folder / m["frozen"]["file"], {"outputs": (m["output_node"],)}
    if fmt == "saved_model":
        return folder / m["saved_model"], {}
    raise ValueError(fmt)


def suffixes(m) -> list[str]:
    """Each instance's Keras suffix, from the names TensorFlow gave its first variable."""
    heads = [inst["weights"][0].split("/")[0] for inst in m["instances"]]
    return [h[len(heads[0]):] for h in heads]


@pytest.mark.parametrize("fmt", ["meta", "frozen --output", "saved_model"])
def test_five_instances_fire_once_naming_the_live_one(artifacts, fmt):
    m = artifacts.manifest(NAME)
    path, settings = artifact_of(artifacts, fmt)
    got = findings(path, **settings)
    assert len(got) == 1, got
    f = got[0]
    tails = suffixes(m)
    assert tails[0] == "" and len(set(tails)) == 5
    live = tails[m["live_instance"]]
    listing = ", ".join(f"`{t}`" if t else "none" for t in sorted(tails, key=lambda t: (len(t), t)))
    dead = [inst for k, inst in enumerate(m["instances"]) if k != m["live_instance"]]
    assert m["unused_params"] == sum(inst["params"] for inst in dead)
    assert f.message == (
        f"the same model is instantiated 5 times with separate variables (suffixes {listing}); only the instance "
        f"with suffix `{live}` is used, and the other 4 hold {m['unused_params']:,} unused params "
        f"({m['unused_bytes']:,} bytes)")
    assert f.severity.value == "warning"
    assert f.location.graph == ("tags:serve" if fmt == "saved_model" else "graph")
    assert f.location.variables == tuple(sorted(w for inst in dead for w in inst["weights"]))
    assert set(f.location.nodes) == {inst["output"] for inst in dead}
    assert f.fixup.title == "Build the model once and reuse it, or reset the graph between experiments"
    assert "tf.compat.v1.reset_default_graph()" in f.fixup.detail
    # A tiny hand-rolled model the catalogue does not know: no constructor to print, so no code.
    assert f.fixup.code == ""
    # One evidence line per instance, with TensorFlow's own op count and parameters.
    for k, inst in enumerate(m["instances"]):
        label = f"with suffix `{tails[k]}`" if tails[k] else "with no suffix"
        state = "read by the roots" if k == m["live_instance"] else "reaches no root"
        line = (f"the instance {label}: {len(inst['ops']):,} ops, {len(inst['weights'])} variables "
                f"({inst['params']:,} params), {state}")
        assert line in f.evidence, (line, f.evidence)
    # Separate variables: no instance is a weight-sharing copy of another.
    assert findings(path, "GA101", **settings) == []


def test_frozen_without_a_declared_output_infers_it(artifacts):
    m = artifacts.manifest(NAME)
    path = artifacts.folder(NAME) / m["frozen"]["file"]
    (f,) = findings(path)
    inferred = f"roots: 1 root(s) inferred from graph sinks (`{m['output_node']}`), leaving out 4 "
    assert f.evidence[0].startswith(inferred)


@pytest.mark.parametrize("name", ["dup_mobilenetv2_clean", "dup_vgg19_clean", "tf1_meta_ckpt_clean", "dup_siamese"])
def test_a_model_built_once_stays_clean(artifacts, name):
    assert findings(artifacts.path(name)) == []


def test_a_threshold_above_the_instance_size_silences_it(artifacts):
    m = artifacts.manifest(NAME)
    ops = len(m["instances"][0]["ops"])
    path = artifacts.path(NAME)
    assert len(findings(path, min_duplicate_ops=ops)) == 1
    assert findings(path, min_duplicate_ops=ops + 1) == []
