"""Discovery: a real-world repository tree is searched quietly; explicit paths and claimed names are read or fail."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from graphaudit.cli import main
from graphaudit.formats.ignore import parse_pattern
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import SearchOptions, discover

_spec = importlib.util.spec_from_file_location("realworld_tree", Path(__file__).parent / "fixtures" / "realworld_tree.py")
realworld = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(realworld)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    facts = realworld.build(root)
    return root, facts


def _run(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def _json(capsys, *args) -> tuple[int, dict]:
    code = main(["check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_realworld_tree_is_clean_and_every_artifact_is_read(tree, capsys, monkeypatch):
    root, facts = tree
    monkeypatch.chdir(root)
    code, data = _json(capsys, ".", "--isolated")
    assert code == 0, data
    by_path = {os.path.relpath(a["path"], "."): a for a in data["artifacts"]}
    assert sorted(by_path) == sorted(facts["artifacts"] + facts["lfs"])
    assert [p for p, a in by_path.items() if a["error"]] == []
    assert [p for p, a in by_path.items() if a["warning"]] == facts["lfs"]
    assert by_path[facts["lfs"][0]]["warning"] == "Git LFS pointer: run `git lfs pull`"
    assert {p: a["format"] for p, a in by_path.items() if a["format"]} == {
        "models/ckpt/model.ckpt-100.index": "checkpoint",
        "models/frozen/frozen_inference_graph.pb": "graphdef",
        "models/frozen/graph.pbtxt": "graphdef_text",
        "models/graph_only/export": "saved_model_v1",
        "models/keras/model.h5": "keras_h5",
        "models/keras/model.keras": "keras_v3",
        "models/keras/model.weights.h5": "keras_v3",
        "models/serving/1/model": "saved_model_v1",
        "models/session_bundle/export-00000-of-00001": "checkpoint_v1",
        "models/tf1/model.ckpt.meta": "metagraph",
    }
    assert [a["stats"]["variables"] for p, a in sorted(by_path.items()) if p.startswith("models/keras")] == [2, 2, 2]
    note = by_path["models/graph_only/export"]["notes"]
    assert note == ["SavedModel has no `variables/` folder: audited as a graph; 2 variables have no values to read, "
                    "so GA201 (uninitialized-variable), GA202 (pretrained-weights-reinitialized), "
                    "GA203 (checkpoint-name-drift) were not checked"]
    skipped = {kind: n for kind, n in data["summary"]["skipped"].items()}
    expected = {kind: len(paths) for kind, paths in facts["skipped"].items()}
    expected["text file"] += 1  # examples/tf1_clean/manifest.json, copied with the checkpoint
    assert skipped == expected


def test_verbose_lists_each_skipped_kind_and_what_was_excluded(tree, capsys, monkeypatch):
    root, facts = tree
    monkeypatch.chdir(root)
    code, text = _run(capsys, "check", ".", "--isolated", "--verbose", "--no-color")
    assert code == 0, text
    lines = text.splitlines()
    total = sum(len(v) for v in facts["skipped"].values()) + 1
    assert f"skipped {total} files that are not TensorFlow artifacts" in lines
    for kind, paths in facts["skipped"].items():
        at = lines.index(f"  {kind}: {len(paths) + (kind == 'text file')}")
        listed = set()
        for line in lines[at + 1:]:
            if not line.startswith("    "):
                break
            listed.add(line.strip())
        assert set(paths) <= listed, (kind, listed)
    excluded = {line.strip().split(" (")[0] for line in lines if line.startswith("    ./")}
    assert excluded == {f"./{p}" for p in facts["never_searched"]}


def test_only_a_broken_file_whose_name_claims_a_format_fails(tree, capsys, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(tree[0], root, symlinks=True)
    (root / "models/broken").mkdir()
    (root / "models/broken/model.keras").write_bytes(b"PK\x03\x04 truncated download")
    (root / "models/broken/sm").mkdir()
    (root / "models/broken/sm/saved_model.pb").write_bytes(bytes(range(200, 256)) * 4)
    (root / "data/junk.pb").write_bytes(bytes(range(200, 256)) * 4)  # a .pb that claims nothing
    (root / "data/random.keras.bak").write_bytes(b"\x0a\x05hello")
    truncated = (root / "models/keras/model.h5").read_bytes()[:700]
    (root / "models/broken/resnet_model.h5").write_bytes(truncated)  # a download cut short
    (root / "data/cache.h5").write_bytes(truncated)  # a data file: not named as a model
    code, data = _json(capsys, str(root), "--isolated")
    assert code == 2
    errors = {os.path.relpath(a["path"], root): a["error"] for a in data["artifacts"] if a["error"]}
    assert sorted(errors) == ["models/broken/model.keras", "models/broken/resnet_model.h5", "models/broken/sm"]
    assert errors["models/broken/resnet_model.h5"].startswith("expected an HDF5 file; it does not open")
    assert errors["models/broken/model.keras"].startswith("expected a Keras 3 .keras zip; it does not open")
    assert "expected a binary SavedModel protobuf" in errors["models/broken/sm"]
    assert data["summary"]["skipped"]["protobuf that is not a TensorFlow graph"] == 2  # label_map.pb, junk.pb
    assert data["summary"]["skipped"]["HDF5 file that does not open (not named as a model)"] == 1


def test_protobufs_of_other_messages_are_not_graphs(tmp_path):
    """A FileDescriptorSet (as TensorFlow's wheel ships `*-descriptor-set.proto.bin`) opens like a
    GraphDef: a name string, then a second string (`package: "tensorflow"`)."""
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet()
    fdp = fds.file.add(name="tensorflow/core/protobuf/status.proto", package="tensorflow", syntax="proto3")
    fdp.dependency.append("google/protobuf/any.proto")
    fdp.message_type.add(name="StatusProto").field.add(name="code", number=1, type=5)
    (tmp_path / "status-descriptor-set.proto.bin").write_bytes(fds.SerializeToString())
    (tmp_path / "spm.model").write_bytes(realworld.sentencepiece_model())
    found = discover([str(tmp_path)])
    assert list(found) == [found.candidates[0]] and found.candidates[0].error.startswith("no TensorFlow artifact")
    assert found.skipped == {"binary file": [str(tmp_path / "spm.model"),
                                             str(tmp_path / "status-descriptor-set.proto.bin")]}


def test_lfs_pointers_fail_the_run_only_when_asked(tree, capsys):
    root, facts = tree
    lfs = str(root / facts["lfs"][0])
    code, text = _run(capsys, "check", lfs, "--isolated", "--no-color")
    assert code == 0 and f"{lfs}: warning: Git LFS pointer: run `git lfs pull`" in text
    code, text = _run(capsys, "check", lfs, "--isolated", "--no-color", "--lfs-pointers", "error")
    assert code == 2 and f"{lfs}: error: Git LFS pointer: run `git lfs pull`" in text


def test_explicit_paths_are_artifacts(tree, capsys):
    root, _ = tree
    code, text = _run(capsys, "check", str(root / "tokenizer/spm.model"), "--isolated", "--no-color")
    assert code == 2 and "not a TensorFlow artifact" in text and "found bytes starting" in text
    code, text = _run(capsys, "check", str(root / "data/mscoco_label_map.pbtxt"), "--isolated", "--no-color")
    assert code == 2 and "expected a text-format GraphDef" in text


@pytest.mark.parametrize("given", ["model.ckpt", "model.ckpt.index", "model.ckpt.data-00000-of-00001"])
def test_checkpoint_paths_as_tensorflow_takes_them(tree, given):
    root, _ = tree
    (cand,) = discover([str(root / "models/tf1" / given)])
    assert (cand.path, cand.format.value, cand.error) == (str(root / "models/tf1/model.ckpt.meta"), "metagraph", None)
    art = read(cand, max_file_size=2**31)
    assert art.checkpoint is not None and len(art.checkpoint.keys()) == len(art.variables) == 10


def test_checkpoint_folder_and_prefix_without_meta(tree):
    root, _ = tree
    ckpt = root / "models/ckpt"
    for given in (ckpt, ckpt / "model.ckpt-100", ckpt / "model.ckpt-100.data-00000-of-00001"):
        (cand,) = discover([str(given)])
        assert (cand.path, cand.format.value) == (str(ckpt / "model.ckpt-100.index"), "checkpoint"), given


def test_inspect_takes_the_current_checkpoint_of_a_training_folder(tree, tmp_path, capsys):
    folder = tmp_path / "train"
    shutil.copytree(tree[0] / "models/ckpt", folder)
    for f in (tree[0] / "models/ckpt").glob("model.ckpt-100.*"):
        shutil.copy(f, folder / f.name.replace("-100", "-50"))
    assert len(discover([str(folder)])) == 2  # `check` audits every checkpoint kept
    code, text = _run(capsys, "inspect", str(folder), "--format", "json")
    assert code == 0 and json.loads(text)["path"] == str(folder / "model.ckpt-100.index")


def test_index_beside_a_meta_that_is_no_graph_is_read_as_a_checkpoint(tree, tmp_path):
    folder = tmp_path / "ck"
    folder.mkdir()
    for f in (tree[0] / "models/ckpt").glob("model.ckpt-100.*"):
        shutil.copy(f, folder / f.name.replace("model.ckpt-100", "snapshot"))
    # Unity and other tools write `.meta` files too: a text one beside a checkpoint is not its graph.
    (folder / "snapshot.meta").write_text("fileFormatVersion: 2\nguid: 1234\n")
    for given in (folder / "snapshot.index", folder):
        (cand,) = discover([str(given)])
        assert (cand.path, cand.format.value, cand.error) == (str(folder / "snapshot.index"), "checkpoint", None)
        assert list(read(cand, max_file_size=2**31).variables) == ["w"]
    # A binary `.meta` that does not parse is the checkpoint's broken graph: an error naming it.
    (folder / "snapshot.meta").write_bytes(b"\x0a\xff\xff\x01 truncated")
    (cand,) = discover([str(folder / "snapshot.index")])
    assert cand.path == str(folder / "snapshot.meta")
    with pytest.raises(Exception, match="expected a binary MetaGraphDef protobuf; it does not parse"):
        read(cand, max_file_size=2**31)


def test_lone_meta_is_audited_as_a_graph(tree, tmp_path, capsys):
    meta = tmp_path / "graph.meta"
    shutil.copy(tree[0] / "models/tf1/model.ckpt.meta", meta)
    code, data = _json(capsys, str(meta), "--isolated")
    assert code == 0, data
    (art,) = data["artifacts"]
    assert art["format"] == "metagraph" and art["stats"]["variables"] == 10 and art["findings"] == []
    assert art["notes"][0].startswith("no checkpoint beside the `.meta` (`graph.index`): audited as a graph; "
                                      "10 variables have no values to read")
    code, text = _run(capsys, "inspect", str(meta))
    assert code == 0 and "note: no checkpoint beside the `.meta`" in text


def test_v1_checkpoint_values_read_statically(tree):
    (cand,) = discover([str(tree[0] / "models/session_bundle/export-00000-of-00001")])
    art = read(cand, max_file_size=2**31)
    assert art.format.value == "checkpoint_v1"
    assert [(v.name, v.dtype, v.shape) for v in art.variables.values()] == [("w", "float32", (3, 2))]
    assert art.checkpoint.value("w").shape == (3, 2)


# ---------------------------------------------------------------------------- exclusion rules

@pytest.mark.parametrize("pattern, path, is_dir, matches", [
    ("*.log", "debug.log", False, True),
    ("*.log", "a/b/debug.log", False, True),
    ("build/", "build", True, True),
    ("build/", "build", False, False),
    ("build/", "src/build", True, True),
    ("/scratch", "scratch", True, True),
    ("/scratch", "a/scratch", True, False),
    ("doc/*.txt", "doc/notes.txt", False, True),
    ("doc/*.txt", "doc/server/notes.txt", False, False),
    ("**/logs", "a/b/logs", True, True),
    ("logs/**", "logs/a/b.txt", False, True),
    ("a/**/b", "a/x/y/b", False, True),
    ("a/**/b", "a/b", False, True),
    ("model?.h5", "model1.h5", False, True),
    ("model[0-9].h5", "modelx.h5", False, False),
    ("\\#hash", "#hash", False, True),
])
def test_gitignore_patterns(pattern, path, is_dir, matches):
    pat = parse_pattern(pattern)
    assert pat is not None and (not pat.dir_only or is_dir) == (not pat.dir_only or is_dir)
    assert (bool(pat.regex.match(path)) and (is_dir or not pat.dir_only)) is matches


def test_gitignore_negation_comments_and_nesting(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("# comment\n*.pb\n!keep.pb\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("!frozen_graph.pb\n")
    for rel in ("drop.pb", "keep.pb", "sub/frozen_graph.pb", "sub/other.pb"):
        (tmp_path / rel).write_bytes(b"\x00")
    found = discover([str(tmp_path)])
    excluded = sorted(os.path.relpath(e.split(" (")[0], tmp_path) for e in found.excluded)
    assert excluded == [".git", "drop.pb", "sub/other.pb"]
    # A .gitignore above the searched folder applies too (inside the same work tree).
    found = discover([str(tmp_path / "sub")])
    assert [os.path.basename(e.split(" (")[0]) for e in found.excluded] == ["other.pb"]
    assert discover([str(tmp_path)], options=SearchOptions(respect_gitignore=False)).excluded == \
        [f"{tmp_path}/.git (excluded by default)"]


def test_exclude_and_extend_exclude_from_config(tree, tmp_path, capsys):
    root = tmp_path / "repo"
    shutil.copytree(tree[0], root, symlinks=True)
    config = root / "graphaudit.toml"
    config.write_text('extend-exclude = ["models/keras", "*.pbtxt"]\n')
    code, data = _json(capsys, str(root), "--config", str(config))
    paths = {os.path.relpath(a["path"], root) for a in data["artifacts"]}
    assert code == 0 and "models/keras/model.h5" not in paths and "models/frozen/graph.pbtxt" not in paths
    assert "models/frozen/frozen_inference_graph.pb" in paths
    # `exclude` replaces the default names; a folder with a `pyvenv.cfg` stays a virtual environment.
    found = discover([str(root)], options=SearchOptions(exclude=("node_modules",)))
    reasons = {os.path.relpath(e.split(" (")[0], root): e.split(" (", 1)[1] for e in found.excluded}
    assert reasons == {".venv": "virtual environment)", "env": "virtual environment)", "node_modules": "exclude)",
                       "build": ".gitignore `build/`)", "debug.log": ".gitignore `*.log`)",
                       "scratch": ".gitignore `/scratch`)"}
    assert any(c.path.endswith(os.path.join(".git", "HEAD")) for c in found) is False
    config.write_text('exclude = "node_modules"\nunknown-key = 1\n')
    code, text = _run(capsys, "check", str(root), "--config", str(config))
    assert code == 2 and "unknown key `unknown-key`" in text


# ---------------------------------------------------------------------------- walk safety

def test_symlink_loops_and_links_out_of_the_folder(tmp_path, capsys, tree):
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    shutil.copy(tree[0] / "models/keras/model.keras", root / "a" / "model.keras")
    os.symlink("..", root / "a" / "up")  # a loop back to the top
    os.symlink("loop", root / "loop")  # a link to itself
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "notes.txt").write_text("x")
    os.symlink(outside / "notes.txt", root / "notes.txt")
    os.symlink(tree[0] / "models/keras/model.keras", root / "linked.keras")
    code, data = _json(capsys, str(root), "--isolated")
    assert code == 2
    by_path = {os.path.relpath(a["path"], root): a for a in data["artifacts"]}
    assert by_path["a/model.keras"]["error"] is None
    assert by_path["linked.keras"]["error"].startswith("symlink leaves the audited folder")
    assert sorted(by_path) == ["a/model.keras", "linked.keras"]
    assert data["summary"]["skipped"] == {"broken symlink or symlink loop": 1,
                                          "symlink leaving the folder (not followed)": 1}
    code, data = _json(capsys, str(root), "--isolated", "--follow-links")
    assert code == 0 and len(data["artifacts"]) == 2


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_folder_is_one_error(tmp_path, capsys, tree):
    root = tmp_path / "r"
    (root / "locked").mkdir(parents=True)
    shutil.copy(tree[0] / "models/keras/model.keras", root / "model.keras")
    os.chmod(root / "locked", 0)
    try:
        code, text = _run(capsys, "check", str(root), "--isolated", "--no-color")
    finally:
        os.chmod(root / "locked", 0o755)
    assert code == 2 and "Traceback" not in text
    assert f"{root / 'locked'}: error: cannot list folder: Permission denied" in text


# ---------------------------------------------------------------------------- Keras 3 files in full

def _keras(path: Path, config: dict, datasets: dict[str, np.ndarray], *, backslash: bool = False) -> int:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for name, value in datasets.items():
            f.create_dataset(name.replace("/", "\\") if backslash and name.startswith("layers") and
                             name.count("/") > 2 else name, data=value)
    with zipfile.ZipFile(path, "w") as z:
        sep = "\\" if backslash else "/"
        z.writestr(f".{sep}config.json" if backslash else "config.json", json.dumps(config))
        z.writestr("metadata.json", json.dumps({"keras_version": "3.15.0"}))
        z.writestr("model.weights.h5", buf.getvalue())
    with h5py.File(io.BytesIO(buf.getvalue()), "r") as f:
        count = []
        f.visititems(lambda n, o: count.append(n) if isinstance(o, h5py.Dataset) else None)
    return len(count)


def _load(path: Path):
    (cand,) = discover([str(path)])
    return read(cand, max_file_size=2**31)


def test_keras3_lstm_cell_weights_are_read(tmp_path):
    lstm = {"class_name": "LSTM", "config": {"name": "lstm", "units": 4, "use_bias": True, "trainable": False}}
    cfg = realworld.sequential_config(lstm, realworld.dense_config("head", 2))
    data = {"layers/lstm/cell/vars/0": np.ones((8, 16), "f4"), "layers/lstm/cell/vars/1": np.ones((4, 16), "f4"),
            "layers/lstm/cell/vars/2": np.ones((16,), "f4"), "layers/dense/vars/0": np.ones((4, 2), "f4"),
            "layers/dense/vars/1": np.ones((2,), "f4"), "optimizer/vars/0": np.zeros((), "i8")}
    n = _keras(tmp_path / "m.keras", cfg, data)
    art = _load(tmp_path / "m.keras")
    assert len(art.variables) + len(art.keras.optimizer_weights) == n == 6
    assert list(art.variables) == ["lstm/cell/kernel", "lstm/cell/recurrent_kernel", "lstm/cell/bias",
                                   "head/kernel", "head/bias"]
    assert art.variables["head/kernel"].trainable is True
    assert art.variables["lstm/cell/kernel"].keras_layer == "sequential/lstm"


def test_keras3_subclassed_model_keeps_stored_paths(tmp_path):
    cfg = {"module": None, "class_name": "MyModel", "config": {"name": "my_model", "trainable": True}}
    data = {"encoder/vars/0": np.ones((3, 3), "f4"), "encoder/vars/1": np.ones((3,), "f4"),
            "head/dense/vars/0": np.ones((3, 1), "f4"), "optimizer/vars/0": np.zeros((), "i8"),
            "optimizer/vars/1": np.zeros((3, 3), "f4")}
    n = _keras(tmp_path / "m.keras", cfg, data)
    art = _load(tmp_path / "m.keras")
    assert sorted(art.variables) == ["encoder/0", "encoder/1", "head/dense/0"]
    assert len(art.variables) + len(art.keras.optimizer_weights) == n == 5


def test_keras3_nested_functional_and_backslash_names(tmp_path):
    inner = {"class_name": "Functional", "config": {"name": "backbone", "trainable": False, "layers": [
        {"class_name": "InputLayer", "config": {"name": "in"}},
        {"class_name": "Conv2D", "config": {"name": "conv", "use_bias": True}}]}}
    cfg = {"class_name": "Functional", "config": {"name": "model", "layers": [
        {"class_name": "InputLayer", "config": {"name": "image"}}, inner, realworld.dense_config("logits", 2)]}}
    data = {"layers/functional/layers/conv2d/vars/0": np.ones((3, 3, 3, 4), "f4"),
            "layers/functional/layers/conv2d/vars/1": np.ones((4,), "f4"),
            "layers/dense/vars/0": np.ones((4, 2), "f4"), "layers/dense/vars/1": np.ones((2,), "f4")}
    for backslash in (False, True):
        path = tmp_path / f"m{backslash}.keras"
        n = _keras(path, cfg, data, backslash=backslash)
        art = _load(path)
        assert list(art.variables) == ["conv/kernel", "conv/bias", "logits/kernel", "logits/bias"], backslash
        assert len(art.variables) == n == 4
        assert art.variables["conv/kernel"].trainable is False
        assert art.variables["conv/kernel"].trainable_source == \
            "Keras config.json: layer `conv` model `backbone` has trainable=false"
        assert art.value_of("conv/bias").shape == (4,)


def test_unreadable_folder_and_file_are_errors_whoever_runs_the_test(tmp_path, capsys, monkeypatch, tree):
    """The same as above where the test runs as root (which reads any folder): the OS refusal is simulated."""
    import graphaudit.formats.sniff as sniff

    root = tmp_path / "r"
    (root / "locked").mkdir(parents=True)
    shutil.copy(tree[0] / "models/keras/model.keras", root / "model.keras")
    (root / "frozen_graph.pb").write_bytes(b"\x0a")
    real_scandir, real_head = os.scandir, sniff._head

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def head(path, n=4096):
        if str(path).endswith("frozen_graph.pb"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_head(path, n)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(sniff, "_head", head)
    code, text = _run(capsys, "check", str(root), "--isolated", "--no-color")
    assert code == 2 and "Traceback" not in text
    assert f"{root / 'locked'}: error: cannot list folder: Permission denied" in text
    assert f"{root / 'frozen_graph.pb'}: error: cannot read: Permission denied" in text
    assert "2 unreadable" in text


def test_a_truncated_graphdef_is_an_error_whatever_its_name(tmp_path, capsys):
    from graphaudit.testing import harness as h

    x = h.placeholder("images", (None, 8))
    case = h.graph(x, h.dense("head", x, (8, 4)), format="graphdef", name="model")
    data = Path(case.path()).read_bytes()
    (tmp_path / "exported.bin").write_bytes(data[: len(data) * 2 // 3])
    (tmp_path / "blob.bin").write_bytes(b"\x0a\xff\xff\xff\xff\x0f")  # no node to recognise: skipped
    code, data = _json(capsys, str(tmp_path), "--isolated")
    assert code == 2
    assert [(os.path.basename(a["path"]), a["format"]) for a in data["artifacts"]] == [("exported.bin", "graphdef")]
    assert data["artifacts"][0]["error"].startswith("expected a binary GraphDef protobuf; it does not parse")
    assert data["summary"]["skipped"] == {"binary file": 1}


def test_this_checkout_is_searched_without_unreadable_files(capsys):
    """`graphaudit check .` in graphaudit's own checkout, with its virtual environment inside (CI
    creates one there), exits on findings only."""
    repo = Path(__file__).resolve().parents[1]
    code, data = _json(capsys, str(repo), "--config", str(repo / "pyproject.toml"))
    assert [a["path"] for a in data["artifacts"] if a["error"]] == []
    assert code in (0, 1)
    assert str(repo / "examples" / "tf1_clean" / "model.ckpt.meta") in [a["path"] for a in data["artifacts"]]


def test_pre_commit_hook_warns_on_an_lfs_pointer_and_passes(tree, capsys):
    from graphaudit.precommit import main as hook

    root, facts = tree
    code = hook(["--isolated", "--no-color", str(root / facts["lfs"][0]), str(root / "data/mscoco_label_map.pbtxt")])
    text = capsys.readouterr().out
    assert code == 0
    assert f"{root / facts['lfs'][0]}: warning: Git LFS pointer: run `git lfs pull`" in text
    assert "mscoco_label_map" not in text


@pytest.mark.parametrize("collections", [False, True])
def test_a_meta_named_file_without_a_graph_gets_the_metagraph_readers_error(tmp_path, capsys, collections):
    # A MetaGraphDef that opens with meta_info_def (tags only) and holds no graph_def: the wire
    # check cannot call it a graph, but its name says MetaGraphDef, so the MetaGraph reader (not
    # the GraphDef one, "node `` has none") says what is missing.
    from tensorboard.compat.proto import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    meta.meta_info_def.tags.append("serve")
    if collections:
        meta.collection_def["variables"].bytes_list.value.append(b"x")
    path = tmp_path / "model.meta"
    path.write_bytes(meta.SerializeToString())
    code, report = _json(capsys, str(path))
    [art] = report["artifacts"]
    assert (code, art["format"]) == (2, "metagraph")
    assert art["error"] == "expected a MetaGraphDef with a graph_def; it holds no graph nodes"
