"""GA203 checkpoint-name-drift: the model built five times, the checkpoint of its first build."""

from __future__ import annotations

import pytest

from graphaudit.analysis.name_drift import find_renames
from graphaudit.artifact import Artifact, Format, Variable
from graphaudit.config import Settings
from graphaudit.engine import audit_paths

pytestmark = pytest.mark.tf

ARCHITECTURES = ("vgg19", "mobilenetv2")


def report_of(path, **settings):
    report = audit_paths([str(path)], Settings(**settings))
    assert not report.errors, [a.error for a in report.errors]
    return report


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("where", ["metagraph", "saved_model"])
def test_fires_on_the_fifth_build_against_the_first_builds_checkpoint(artifacts, arch, where):
    name = f"initialization_{arch}_drift"
    manifest = artifacts.manifest(name)
    path = artifacts.path(name) if where == "metagraph" else artifacts.folder(name) / manifest["saved_model"]
    drift = manifest["drift"]  # `_4` variable -> the first build's key, checked against the checkpoint by TF
    assert sorted(drift) == manifest["used_build_variables"]
    suffix = f"_{manifest['builds'] - 1}"

    report = report_of(path)
    ga203 = [f for f in report.findings if f.code == "GA203"]
    # One finding, for the build the outputs use; the unused copies are GA101/GA102's business.
    assert [set(f.location.variables) for f in ga203] == [set(drift)], [f.message for f in ga203]
    finding = ga203[0]
    assert finding.severity.value == "error"
    first = sorted(drift)[0]
    assert finding.message.startswith(
        f"{len(drift):,} variables ({manifest['used_build_params']:,} params) get no value from the checkpoint, "
        f"which holds them under other names: `{first}` -> `{drift[first]}`")
    assert finding.message.endswith(
        f"the `{suffix}` suffix means the model was built {manifest['builds']} times in this graph, and the "
        "checkpoint holds the first build's names")
    for variable in sorted(drift)[:5]:
        assert any(e.startswith(f"`{variable}` -> checkpoint key `{drift[variable]}`") for e in finding.evidence)
    assert finding.fixup.title == "Build the model once per graph, or restore the checkpoint under its saved names"
    assert "clear_session()" in finding.fixup.detail
    # The restore code maps this drift's own suffix back to the checkpoint's names.
    assert f'v.op.name.replace("{suffix}/", "/", 1): v for v in backbone.weights' in finding.fixup.code
    assert "tf.compat.v1.train.Saver(var_list={" in finding.fixup.code

    # GA201 does not report the variables GA203 explains.
    ga201 = {v for f in report.findings if f.code == "GA201" for v in f.location.variables}
    assert not ga201 & set(drift)
    # ... unless GA203 is turned off.
    without = report_of(path, ignore=("GA203",))
    assert set(drift) <= {v for f in without.findings if f.code == "GA201" for v in f.location.variables}


@pytest.mark.parametrize("name", ["initialization_vgg19_loaded", "initialization_vgg19_reinit"])
def test_clean_when_names_match(artifacts, name):
    report = report_of(artifacts.path(name))
    assert [f for f in report.findings if f.code in ("GA201", "GA203")] == []


class _FakeCheckpoint:
    """Just the index: keys with shapes and dtypes."""

    def __init__(self, entries):
        self.entries = entries

    def keys(self):
        return sorted(self.entries)

    def entry(self, key):
        shape, dtype = self.entries[key]
        return type("Entry", (), {"shape": shape, "dtype": dtype})()


def _artifact(variables, keys):
    art = Artifact(path="x", format=Format.METAGRAPH)
    for name, shape in variables.items():
        art.variables[name] = Variable(name=name, dtype="float32", shape=shape, graph="graph")
    art.checkpoint = _FakeCheckpoint({k: (s, "float32") for k, s in keys.items()})
    return art


def test_renames_by_suffix_scope_dropped_and_scope_added():
    art = _artifact(
        {"block1_conv1_4/kernel": (3, 3, 3, 64), "model/vgg19/block2_conv1/bias": (128,),
         "dense/kernel": (10, 2), "conv2d_5/kernel": (3, 3, 8, 8), "odd_1/kernel": (4,)},
        {"block1_conv1/kernel": (3, 3, 3, 64), "vgg19/block2_conv1/bias": (128,),
         "classifier/dense/kernel": (10, 2), "conv2d/kernel": (3, 3, 8, 16), "odd/kernel": (5,)},
    )
    renames = find_renames(art, art.variables)
    assert {n: (r.key, r.how, r.scope, r.suffix) for n, r in renames.items()} == {
        "block1_conv1_4/kernel": ("block1_conv1/kernel", "suffix", "", "_4"),
        "model/vgg19/block2_conv1/bias": ("vgg19/block2_conv1/bias", "drop-scope", "model/", ""),
        "dense/kernel": ("classifier/dense/kernel", "add-scope", "classifier/", ""),
    }  # shapes must agree: `conv2d_5` and `odd_1` have no twin of their shape


def test_ambiguous_added_scopes_are_not_guessed():
    art = _artifact({"dense/kernel": (10, 2)}, {"a/dense/kernel": (10, 2), "b/dense/kernel": (10, 2)})
    assert find_renames(art, art.variables) == {}
