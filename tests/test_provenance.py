"""Provenance: pretrained groups from --weights files, fingerprints, weight loads and Keras metadata."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from graphaudit.analysis import Analyses
from graphaudit.analysis.provenance import EvidenceKind, open_reference
from graphaudit.config import Settings
from graphaudit.errors import ArtifactError
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover

pytestmark = pytest.mark.tf


def analyses(path, **settings) -> Analyses:
    (candidate,) = discover([str(path)], max_file_size=2**31)
    return Analyses(read(candidate, max_file_size=2**31), Settings(**settings))


def test_weights_file_is_evidence_for_the_backbone(artifacts):
    name = "initialization_vgg19_reinit"
    manifest = artifacts.manifest(name)
    weights = str(artifacts.folder(name) / manifest["weights"])
    (group,) = analyses(artifacts.path(name), weights=weights).pretrained_groups
    assert group.variables == tuple(sorted(manifest["backbone_variables"]))
    # strongest first: what says the values were loaded, then what says which architecture it is
    assert group.kinds == (EvidenceKind.WEIGHTS_FILE, EvidenceKind.WEIGHT_LOAD_OPS, EvidenceKind.FINGERPRINT)
    n = len(manifest["backbone_variables"])
    assert group.evidence[0].detail == f"{n} variables match `{manifest['weights']}` (--weights) by name and shape"


def test_weights_file_matches_drifted_names_by_their_layer(artifacts):
    # `_4` variables match the file's `block1_conv1/kernel`: every build is that architecture.
    reinit = artifacts.manifest("initialization_mobilenetv2_reinit")
    weights = str(artifacts.folder("initialization_mobilenetv2_reinit") / reinit["weights"])
    name = "initialization_mobilenetv2_drift"
    manifest = artifacts.manifest(name)
    facts = analyses(artifacts.folder(name) / manifest["saved_model"], weights=weights)
    ref = facts.reference_weights
    for variable, key in manifest["drift"].items():
        assert ref.lookup(variable, facts.artifact.variables[variable].shape).key == key
    groups = [g for g in facts.pretrained_groups if g.suffix == f"_{manifest['builds'] - 1}"]
    assert [g.kinds[0] for g in groups] == [EvidenceKind.WEIGHTS_FILE]


def test_keras_metadata_names_the_nested_application(artifacts):
    name = "initialization_tf2_clone_model"
    manifest = artifacts.manifest(name)
    (group,) = analyses(artifacts.path(name)).pretrained_groups
    assert group.kinds == (EvidenceKind.METADATA, EvidenceKind.FINGERPRINT)  # a nested base outranks the shape
    meta = next(e for e in group.evidence if e.kind is EvidenceKind.METADATA)
    assert meta.detail.startswith("Keras record: `keras_metadata.pb` nests model `mobilenetv2_1.00_32` (MobileNetV2 alpha=1.0")
    assert f"({len(manifest['backbone_variables'])} variables)" in meta.detail


def test_inspect_shows_the_provenance_lines(artifacts):
    name = "initialization_vgg19_loaded"
    manifest = artifacts.manifest(name)
    line = (f"provenance: root scope (VGG19, include_top=False, {manifest['backbone_params']:,} params) "
            "pretrained: weight-loading ops, fingerprint match")
    console = subprocess.run([sys.executable, "-m", "graphaudit", "inspect", str(artifacts.path(name))],
                             capture_output=True, text=True, check=True)
    assert line in console.stdout
    data = json.loads(subprocess.run(
        [sys.executable, "-m", "graphaudit", "inspect", "--format", "json", str(artifacts.path(name))],
        capture_output=True, text=True, check=True).stdout)
    assert data["provenance"] == [line.removeprefix("provenance: ")]


def test_inspect_lists_one_line_per_build(artifacts):
    name = "initialization_mobilenetv2_drift"
    manifest = artifacts.manifest(name)
    data = json.loads(subprocess.run(
        [sys.executable, "-m", "graphaudit", "inspect", "--format", "json",
         str(artifacts.folder(name) / manifest["saved_model"])], capture_output=True, text=True, check=True).stdout)
    layers = [line.split(" (MobileNetV2")[0] for line in data["provenance"]]
    assert layers == ["root scope"] + [f"root scope, layers `*_{k}`" for k in range(1, manifest["builds"])]


def test_weights_and_checks_never_import_tensorflow(artifacts):
    name = "initialization_vgg19_reinit"
    manifest = artifacts.manifest(name)
    weights = artifacts.folder(name) / manifest["weights"]
    code = (
        "import sys\n"
        "from graphaudit.cli import main\n"
        f"code = main(['check', {str(artifacts.path(name))!r}, '--weights', {str(weights)!r}, '--format', 'json'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras'))\n"
        "print('EXIT', code, 'IMPORTED', bad, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "EXIT 1 IMPORTED []" in proc.stderr
    assert '"code": "GA202"' in proc.stdout


def _write_h5(path, layers):
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in layers], dtype=object)
        for layer, weights in layers.items():
            group = f.create_group(layer)
            group.attrs["weight_names"] = np.array([f"{layer}/{w}:0".encode() for w in weights], dtype=object)
            for w, value in weights.items():
                group.create_dataset(f"{layer}/{w}:0", data=value)


def test_reference_lookup_and_chunked_compare(tmp_path):
    kernel = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    path = tmp_path / "w.h5"
    _write_h5(path, {"conv": {"kernel": kernel, "bias": np.zeros(5, np.float32)}})
    ref = open_reference(str(path))
    assert ref.lookup("conv/kernel", (3, 4, 5)).key == "conv/kernel"
    assert ref.lookup("scope/conv_3/kernel:0", (3, 4, 5)).key == "conv/kernel"
    assert ref.lookup("conv/kernel", (3, 4, 6)) is None  # shapes must agree
    weight = ref.lookup("conv/kernel", (3, 4, 5))
    assert ref.compare(weight, kernel)
    changed = kernel.copy()
    changed[2, 3, 4] += 1
    assert not ref.compare(weight, changed)
    assert [c.shape for c in ref.chunks(weight, 2)] == [(2, 4, 5), (1, 4, 5)]
    ref.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04rest", "--weights: expected a Keras .h5 weights file (HDF5); found a zip archive"),
        (b"not hdf5 at all", "--weights: expected a Keras .h5 weights file (HDF5); found no HDF5 signature"),
        (None, "--weights: no such file; expected a Keras .h5 weights file"),
    ],
)
def test_bad_weights_files_give_one_line(tmp_path, content, message):
    path = tmp_path / "weights.h5"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArtifactError) as info:
        open_reference(str(path))
    assert message in str(info.value)


def test_hdf5_without_keras_layers_is_refused(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ArtifactError, match="expected Keras weights"):
        open_reference(str(path))
