"""`graphaudit fix` on hand-built artifacts: what it prunes, renames and untrains, and what it leaves manual (TF: test_fix_tf.py)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from graphaudit.api import settings_for
from graphaudit.cli import main
from graphaudit.fix import fix
from graphaudit.formats import protos
from graphaudit.formats.checkpoint import Checkpoint
from graphaudit.testing.harness import check, mlp, mobilenet, placeholder, resnet, vgg

CASES = Path(__file__).parent / "cases"


def _cases(name):
    """The builders of a rule's hand-built cases (tests/cases/test_cases_<rule>.py)."""
    spec = importlib.util.spec_from_file_location(f"_fix_{name}", CASES / f"test_cases_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GA101, GA102, GA201, GA203, GA302 = (_cases(n) for n in ("ga101", "ga102", "ga201", "ga203", "ga302"))


def digest(root: Path) -> dict[str, str]:
    base = root if root.is_dir() else root.parent
    return {str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*")) if p.is_file()}


def repair(case, tmp_path, **options):
    path = Path(case.write(tmp_path / "in"))
    before = digest(path)
    out = tmp_path / "out"
    result = fix(str(path), str(out), settings_for(options, isolated=True))
    assert digest(path) == before, "fix changed the original"
    fixed_path = out / path.relative_to(path.parent if path.is_file() else path) if path.is_file() else out
    return result, fixed_path


def graph_of(path: Path):
    """The rewritten graph and (for a .meta / SavedModel) its MetaGraph."""
    if path.is_dir():
        sm = protos.SavedModel.FromString((path / "saved_model.pb").read_bytes())
        return sm.meta_graphs[0].graph_def, sm.meta_graphs[0]
    if path.suffix == ".meta":
        mg = protos.MetaGraphDef.FromString(path.read_bytes())
        return mg.graph_def, mg
    return protos.GraphDef.FromString(path.read_bytes()), None


def assert_consistent(path: Path) -> None:
    """Every input names a node; every saver lists the same keys as the checkpoint beside it."""
    gd, mg = graph_of(path)
    names = {n.name for n in gd.node}
    for n in gd.node:
        for ref in n.input:
            assert ref.lstrip("^").split(":")[0] in names, f"`{n.name}` reads missing `{ref}`"
    savers = [n for n in gd.node if n.op in ("SaveV2", "RestoreV2")]
    by_name = {n.name: n for n in gd.node}
    for n in savers:
        keys = [k.decode() for k in by_name[n.input[1].split(":")[0]].attr["value"].tensor.string_val]
        slices = by_name[n.input[2].split(":")[0]].attr["value"].tensor.string_val
        assert len(slices) == len(keys) == len(n.attr["dtypes"].list.type)
        if n.op == "SaveV2":
            assert len(n.input) - 3 == len(keys)
        prefix = path.parent / path.stem if path.suffix == ".meta" else path / "variables" / "variables"
        if Path(str(prefix) + ".index").exists():
            assert sorted(keys) == Checkpoint.open(prefix).keys()


@pytest.mark.parametrize("build", [
    lambda: GA102.rebuilt(vgg), lambda: GA102.rebuilt(vgg, unused=4), lambda: GA102.rebuilt(resnet, scoped=True),
    lambda: GA102.rebuilt(mobilenet, scoped=True, fmt="saved_model"), GA102.mlp_rebuilt,
    lambda: GA102.rebuilt(vgg, fmt="graphdef"),
], ids=["vgg", "vgg-five", "resnet-scoped", "mobilenet-saved-model", "mlp", "vgg-graphdef"])
def test_unused_instances_leave_with_their_variables_and_checkpoint_keys(tmp_path, build):
    case = build()
    (before,) = [f for f in check(case) if f.code == "GA102"]
    assert before.fixup.automatic
    result, out = repair(case, tmp_path)
    assert [(o.finding.code, o.fixed) for o in result.outcomes] == [("GA102", True)]
    assert not [f for f in check(_read(out)) if f.code.startswith("GA1")]
    gd, mg = graph_of(out)
    names = {n.name for n in gd.node}
    assert not names & set(before.location.variables), "an unused instance's variable is still there"
    assert_consistent(out)
    if mg is not None:
        kept = {protos.VariableDef.FromString(b).variable_name.split(":")[0]
                for b in mg.collection_def["variables"].bytes_list.value}
        assert kept <= names and not kept & set(before.location.variables)


@pytest.mark.parametrize("build", [
    lambda: GA101.built_twice(vgg), lambda: GA101.built_twice(resnet, "saved_model"),
    lambda: GA101.built_twice(mobilenet), GA101.mlp_twice, lambda: GA101.built_twice(vgg, "graphdef"),
    GA101.trained_twice,
], ids=["vgg", "resnet-saved-model", "mobilenet", "mlp", "vgg-graphdef", "ref-variables-train-op"])
def test_a_dead_copy_goes_and_the_shared_weights_stay(tmp_path, build):
    case = build()
    (before,) = [f for f in check(case) if f.code == "GA101"]
    result, out = repair(case, tmp_path)
    assert [(o.finding.code, o.fixed) for o in result.outcomes if o.finding.code == "GA101"] == [("GA101", True)]
    assert not [f for f in check(_read(out)) if f.code == "GA101"]
    gd, _ = graph_of(out)
    names = {n.name for n in gd.node}
    assert "input_1" not in names and set(before.location.variables) <= names | {
        v for v in before.location.variables if "/" not in v}
    assert_consistent(out)


@pytest.mark.parametrize("build", [
    lambda: GA203.second_build(vgg), lambda: GA203.second_build(vgg, resource=False),
    lambda: GA203.second_build(resnet, "saved_model"), lambda: GA203.second_build(mobilenet, saver=True),
    GA203.scope_added_in_the_graph,
], ids=["vgg", "vgg-ref", "resnet-saved-model", "mobilenet-restore-op", "mlp-scope-added"])
def test_drifted_keys_are_copied_to_the_names_the_graph_restores(tmp_path, build):
    case = build()
    (before,) = [f for f in check(case) if f.code == "GA203"]
    src = Checkpoint.open(_prefix(Path(case.path())))
    result, out = repair(case, tmp_path)
    assert [(o.finding.code, o.fixed) for o in result.outcomes if o.finding.code == "GA203"] == [("GA203", True)]
    assert not [f for f in check(_read(out)) if f.code in ("GA203", "GA201")]
    ck = Checkpoint.open(_prefix(out))
    for name in before.location.variables:
        assert name in ck.keys(), f"`{name}` is still not in the checkpoint"
    # The values moved with their keys: each restored name holds what the drifted key held.
    renames = [line for line in before.evidence if " -> checkpoint key " in line]
    for line in renames:
        var, key = line.split("`")[1], line.split("`")[3]
        assert (ck.value(var) == src.value(key)).all()


def test_a_trainable_backbone_leaves_the_trainable_collection(tmp_path):
    case = GA302.compiled(vgg, fmt="meta")
    (before,) = [f for f in check(case, pretrained=["backbone/*"]) if f.code == "GA302"]
    assert before.fixup.automatic
    result, out = repair(case, tmp_path, pretrained=["backbone/*"])
    assert [(o.finding.code, o.fixed) for o in result.outcomes] == [("GA302", True)]
    assert not [f for f in check(_read(out), pretrained=["backbone/*"]) if f.code == "GA302"]
    _, mg = graph_of(out)
    trainable = {protos.VariableDef.FromString(b).variable_name.split(":")[0]
                 for b in mg.collection_def["trainable_variables"].bytes_list.value}
    assert trainable == {"head/dense/kernel", "head/dense/bias"}


def test_a_flag_from_keras_metadata_is_no_collection_to_edit(tmp_path):
    from graphaudit.testing.harness import keras_layer

    case = GA302.keras_frozen_layers()  # keras_metadata.pb, not the collection, says what trains
    case.keras.append(keras_layer("block1_conv1", "Conv2D", trainable=True))
    found = [f for f in check(case, pretrained=["block*"]) if f.code == "GA302"]
    assert found and all(not f.fixup.automatic for f in found)


def test_a_clean_artifact_is_copied_unchanged(tmp_path):
    x = placeholder("features", (None, 16))
    net = mlp("model", x, (16, 8))
    case = GA102.graph(x, net, outputs=[net.out], saver=True)
    result, out = repair(case, tmp_path)
    assert result.outcomes == [] and result.files == []
    assert digest(out) == digest(Path(case.path()))


# ------------------------------------------------------------------------------------------ the command


def test_the_command_prints_a_diff_and_exits_as_check_does(tmp_path, capsys):
    path = GA102.rebuilt(vgg).write(tmp_path / "in")
    code = main(["fix", path, "-o", str(tmp_path / "new" / "out")])  # parents are created too
    out = capsys.readouterr().out
    assert code == 0
    assert "--- a/model.ckpt.meta" in out and "-node `block1_conv1/kernel` (VarHandleOp)" in out
    assert "-key `block1_conv1/kernel`" in out and "fixed  GA102 duplicate-model-instance" in out
    assert out.rstrip().endswith("left after fixing: no findings")
    assert main(["check", str(tmp_path / "new" / "out" / "model.ckpt.meta")]) == 0


def test_findings_left_manual_exit_1(tmp_path, capsys):
    path = GA201.saver_for_head_only(vgg).write(tmp_path / "in")
    assert main(["fix", path, "-o", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "manual GA201 uninitialized-variable: its evidence does not make an automatic fix safe" in out
    assert out.rstrip().endswith("left after fixing: 1 finding (GA201)")


@pytest.mark.parametrize("args, message", [
    ([], "give either -o OUT"),
    (["-o", "OUT", "--in-place"], "give either -o OUT"),
    (["-o", "IN"], "must not overlap"),
])
def test_usage_errors_are_one_line_with_exit_2(tmp_path, capsys, args, message):
    path = GA102.rebuilt(vgg).write(tmp_path / "in")
    args = [a.replace("OUT", str(tmp_path / "out")).replace("IN", str(tmp_path / "in")) for a in args]
    assert main(["fix", path, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_garbage_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "model.pb"
    bad.write_bytes(b"\x0a\xff\xff garbage")
    assert main(["fix", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("graphaudit: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_in_place_rewrites_the_artifact(tmp_path, capsys):
    path = GA102.rebuilt(vgg, unused=2).write(tmp_path / "in")
    assert main(["fix", path, "--in-place"]) == 0
    assert main(["check", path]) == 0
    assert_consistent(Path(path))


def test_json_and_show_fixes_say_automatic_or_manual(tmp_path, capsys):
    path = GA102.rebuilt(vgg).write(tmp_path / "in")
    main(["check", path, "--format", "json"])
    (finding,) = json.loads(capsys.readouterr().out)["artifacts"][0]["findings"]
    assert finding["fixup"]["applicability"] == "automatic"
    main(["check", path, "--show-fixes"])
    assert "applies: automatic: `graphaudit fix` repairs the artifact" in capsys.readouterr().out
    manual = GA201.saver_for_head_only(vgg).write(tmp_path / "manual")
    main(["check", manual, "--format", "json"])
    (finding,) = json.loads(capsys.readouterr().out)["artifacts"][0]["findings"]
    assert finding["fixup"]["applicability"] == "manual"


def _prefix(path: Path) -> Path:
    return path.with_suffix("") if path.suffix == ".meta" else path / "variables" / "variables"


def _read(path: Path):
    from graphaudit.formats.readers import read
    from graphaudit.formats.sniff import discover

    (candidate,) = discover([str(path)], max_file_size=1 << 30)
    return read(candidate, max_file_size=1 << 30)


def test_in_place_keeps_a_checkpoint_it_does_not_change(tmp_path, capsys):
    path = Path(GA302.compiled(vgg, fmt="meta").write(tmp_path / "in"))
    data = sorted(p.name for p in path.parent.glob("*.data-*"))
    assert main(["fix", str(path), "--in-place", "--pretrained", "backbone/*"]) == 0
    assert sorted(p.name for p in path.parent.glob("*.data-*")) == data
    assert Checkpoint.open(path.with_suffix("")).keys()


def test_a_copy_s_checkpoint_state_file_points_at_the_copy(tmp_path):
    case = GA102.rebuilt(vgg)
    path = Path(case.write(tmp_path / "in"))
    state = path.parent / "checkpoint"
    state.write_text(f'model_checkpoint_path: "{path.parent.resolve()}/model.ckpt"\n'
                     f'all_model_checkpoint_paths: "{path.parent.resolve()}/model.ckpt"\n')
    fix(str(path), str(tmp_path / "out"), settings_for({}, isolated=True))
    copied = (tmp_path / "out" / "checkpoint").read_text()
    assert copied == 'model_checkpoint_path: "model.ckpt"\nall_model_checkpoint_paths: "model.ckpt"\n'
    assert str(tmp_path / "in") in state.read_text()  # the original is left as it was
