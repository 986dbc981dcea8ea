"""GA202 pretrained-weights-reinitialized: fires on re-initialized backbones, stays clean on loaded ones."""

from __future__ import annotations

import re

import pytest

from graphaudit.analysis import Analyses
from graphaudit.analysis.provenance import reference_status
from graphaudit.config import Settings
from graphaudit.engine import audit_paths
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover

pytestmark = pytest.mark.tf

ARCHITECTURES = ("vgg19", "mobilenetv2")
_TEST = re.compile(r"(\d[\d,]*)/(\d[\d,]*) ([A-Za-z ]+?) (exactly zero|exactly one|uniform within the glorot limit)")


# The catalogue names a width family's variant with its parameters.
CATALOGUE_NAME = {"MobileNetV2": "MobileNetV2 alpha=1.0"}


def findings(path, code="GA202", **settings):
    report = audit_paths([str(path)], Settings(**settings))
    assert not report.errors, [a.error for a in report.errors]
    return [f for f in report.findings if f.code == code]


def analyses(path, **settings) -> Analyses:
    (candidate,) = discover([str(path)], max_file_size=2**31)
    return Analyses(read(candidate, max_file_size=2**31), Settings(**settings))


def fired_tests(message: str) -> dict[str, tuple[int, int]]:
    """"52/52 BatchNorm betas exactly zero; ..." -> {"exactly zero": (fired, judged), ...} summed."""
    out: dict[str, list[int]] = {}
    for fired, judged, _what, how in _TEST.findall(message):
        slot = out.setdefault(how, [0, 0])
        slot[0] += int(fired.replace(",", ""))
        slot[1] += int(judged.replace(",", ""))
    return {k: tuple(v) for k, v in out.items()}


def expected_tests(zeros: int, ones: int, uniform: int) -> dict[str, tuple[int, int]]:
    """Every test fired on every variable it judged; kinds that judged nothing are left out."""
    counts = {"exactly zero": zeros, "exactly one": ones, "uniform within the glorot limit": uniform}
    return {how: (n, n) for how, n in counts.items() if n}


def layers_of(names) -> set[str]:
    return {n.rsplit("/", 1)[0] for n in names}


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("where", ["metagraph", "saved_model"])
def test_fires_on_load_then_global_init_then_save(artifacts, arch, where):
    name = f"initialization_{arch}_reinit"
    manifest = artifacts.manifest(name)
    path = artifacts.path(name) if where == "metagraph" else artifacts.folder(name) / manifest["saved_model"]
    saved = manifest["saved"] if where == "metagraph" else manifest["saved_model_saved"]
    assert saved["equal_to_pretrained"] == []  # TensorFlow's own reading: nothing of the file survived
    backbone = manifest["backbone_variables"]

    (finding,) = findings(path)
    assert finding.severity.value == "error" and finding.confidence.value == "high"
    assert finding.location.variables == tuple(sorted(backbone))
    assert finding.location.scope == ""
    layers = len(layers_of(backbone))
    assert finding.message.startswith(
        f"pretrained {CATALOGUE_NAME.get(manifest['architecture'], manifest['architecture'])} in the root scope ({manifest['backbone_params']:,} params) holds "
        f"fresh initializer values: {layers}/{layers} layers re-initialized (")
    zeros, ones = len(saved["all_zero"]), len(saved["all_one"])
    assert fired_tests(finding.message) == expected_tests(zeros, ones, len(backbone) - zeros - ones)
    assert f"`{manifest['late_init_op']}`" in " ".join(finding.evidence)
    assert any(e.startswith("initializers read from the graph's initializer ops") for e in finding.evidence)
    assert finding.fixup.title == "Run the initializer before loading the pretrained weights"
    code = finding.fixup.code
    assert "variables_initializer(new_variables)" in code
    # Initialize first, then load into the user's own session (the article's pitfall 1).
    assert code.index("global_variables_initializer()") < code.index("with sess.as_default():") < code.index(
        "backbone.load_weights(weights)")
    name = CATALOGUE_NAME.get(manifest["architecture"], manifest["architecture"])
    assert f"the {name}: `{sorted(backbone)[0]}` ... ({len(backbone)} variables)" in code
    assert ("graphaudit.reference import VGG19" in code) == (name == "VGG19")
    assert ("graphaudit.reference" in finding.fixup.detail) == (name == "VGG19")


def test_vgg19_message_names_the_conv_layers(artifacts):
    manifest = artifacts.manifest("initialization_vgg19_reinit")
    biases = len(manifest["saved"]["all_zero"])
    kernels = len(manifest["backbone_variables"]) - biases
    (finding,) = findings(artifacts.path("initialization_vgg19_reinit"))
    assert (f"({biases}/{biases} conv biases exactly zero; {kernels}/{kernels} conv kernels uniform within the "
            "glorot limit)") in finding.message


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("where", ["root", "saved_model", "finetuned"])
def test_clean_when_loaded_correctly_or_finetuned(artifacts, arch, where):
    name = f"initialization_{arch}_loaded"
    manifest = artifacts.manifest(name)
    path = artifacts.path(name) if where == "root" else artifacts.folder(name) / manifest[where]
    facts = manifest["finetuned_saved"] if where == "finetuned" else manifest["saved"]
    backbone = manifest["backbone_variables"]
    if where == "finetuned":
        assert len(facts["equal_to_pretrained"]) < len(backbone)  # training moved the weights
    else:
        assert sorted(facts["equal_to_pretrained"]) == sorted(backbone)
    assert findings(path) == []
    # The statistics judged every variable, and none as fresh initializer output.
    verdicts = analyses(path).weight_verdicts
    assert {n: v.fresh for n, v in verdicts.items()} == {n: False for n in backbone}


def test_tf2_clone_model_fires_on_saved_model_and_checkpoint(artifacts):
    name = "initialization_tf2_clone_model"
    manifest = artifacts.manifest(name)
    folder = artifacts.folder(name)
    backbone = manifest["backbone_variables"]
    zeros, ones = len(manifest["clone"]["all_zero"]), len(manifest["clone"]["all_one"])
    for path in (folder / manifest["root"], folder / manifest["checkpoint"]):
        (finding,) = findings(path)
        assert finding.location.variables == tuple(sorted(backbone))
        assert fired_tests(finding.message) == expected_tests(zeros, ones, len(backbone) - zeros - ones)
    assert findings(folder / manifest["original"]) == []


def test_initializers_come_from_metadata_or_the_catalogue_when_the_graph_has_none(artifacts):
    name = "initialization_tf2_clone_model"
    manifest = artifacts.manifest(name)
    folder = artifacts.folder(name)
    sources = {v.spec.source for v in analyses(folder / manifest["checkpoint"]).weight_verdicts.values()}
    assert sources == {"catalogue"}  # a bare checkpoint: only the fingerprint knows the initializers
    saved_model = analyses(folder / manifest["root"]).weight_verdicts
    assert "catalogue" not in {v.spec.source for v in saved_model.values()}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_weights_file_compares_exactly(artifacts, arch):
    reinit = f"initialization_{arch}_reinit"
    manifest = artifacts.manifest(reinit)
    weights = str(artifacts.folder(reinit) / manifest["weights"])
    backbone = manifest["backbone_variables"]
    (finding,) = findings(artifacts.path(reinit), weights=weights)
    n = len(backbone)
    assert finding.message.endswith(f"; {n}/{n} differ from `{manifest['weights']}` and hold initializer values")
    assert f"compared exactly with `{manifest['weights']}` (--weights): {n:,} initializer values" in finding.evidence

    loaded = f"initialization_{arch}_loaded"
    lm = artifacts.manifest(loaded)
    weights = str(artifacts.folder(loaded) / lm["weights"])
    for where, expected in (("root", "equals reference"), ("finetuned", None)):
        path = artifacts.path(loaded) if where == "root" else artifacts.folder(loaded) / lm[where]
        assert findings(path, weights=weights) == []
        facts = analyses(path, weights=weights)
        status = reference_status(facts.artifact, facts.reference_weights, backbone, facts.weight_verdicts)
        equal = set(lm["saved" if where == "root" else "finetuned_saved"]["equal_to_pretrained"])
        assert {n for n, s in status.items() if s == "equals reference"} == equal
        assert {n for n, s in status.items() if s == "differs from reference (trained)"} == set(backbone) - equal
        if expected:
            assert equal == set(backbone)


def test_live_keras_model_goes_through_the_same_rule():
    """No format-specific code in GA202: a live tf_keras clone (values and initializers from the
    live reader) fires the same way as the saved artifacts."""
    import os

    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import numpy as np
    import tf_keras

    import graphaudit

    model = tf_keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    rng = np.random.default_rng(7)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    clone = tf_keras.models.clone_model(model)
    names = sorted(w.name.split(":")[0] for w in model.weights)
    report = graphaudit.audit(clone, select=["GA202"], isolated=True)
    (finding,) = report.findings
    assert finding.location.variables == tuple(names)
    assert graphaudit.audit(model, select=["GA202"], isolated=True).findings == []
    tf_keras.backend.clear_session()
