"""Bad input: exit code 2, one line naming the file and what was expected, and the rest still audited."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from graphaudit.cli import main
from graphaudit.formats import protos

pytestmark = pytest.mark.tf


def _copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.parent.iterdir():
            shutil.copy2(f, dst / f.name)
        dst = dst / src.name
    return dst


def _cyclic_graphdef() -> bytes:
    gd = protos.GraphDef()
    for name, callee in (("f", "g"), ("g", "f")):
        fn = gd.library.function.add()
        fn.signature.name = name
        node = fn.node_def.add(name="call", op=callee)
        del node
    gd.node.add(name="x", op="f")
    return gd.SerializeToString()


def _make_cases(artifacts, root: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path given to graphaudit, regex the error line must match)."""
    cases: dict[str, tuple[Path, str]] = {}
    sm = artifacts.path("tf1_saved_model_clean")
    meta = artifacts.path("tf1_meta_ckpt_clean")

    d = _copy(sm, root / "truncated_sm")
    pb = d / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 2])
    cases["truncated saved_model.pb"] = (d, r"saved_model\.pb`?: expected a binary SavedModel protobuf; it does not parse")

    d = _copy(sm, root / "garbage_sm")
    (d / "saved_model.pb").write_bytes(bytes(range(256)) * 8)
    cases["garbage saved_model.pb"] = (d, r"expected a binary SavedModel protobuf")

    p = root / "broken.pbtxt"
    p.write_text('node {\n  name: "x"\n  op: "Const"\n  attr { key: "value" value { tensor { dtype: DT_FLOAT \n')
    cases["invalid pbtxt"] = (p, r"broken\.pbtxt: expected a text-format GraphDef; ")

    p = root / "empty_folder"
    p.mkdir()
    cases["empty folder"] = (p, r"empty_folder: no TensorFlow artifact in this folder .*found: nothing")

    d = _copy(meta, root / "missing_shard")
    for f in d.parent.glob("*.data-*"):
        f.unlink()
    cases["missing data shard"] = (d, r"data-00000-of-00001.* missing")

    d = _copy(meta, root / "short_shard")
    shard = next(d.parent.glob("*.data-*"))
    shard.write_bytes(shard.read_bytes()[:10])
    cases["short data shard"] = (d, r"data-00000-of-00001")

    p = root / "cyclic.pb"
    p.write_bytes(_cyclic_graphdef())
    cases["cyclic function library"] = (p, r"cyclic\.pb: function library is cyclic: f -> g -> f")

    outside = root / "outside_target"
    _copy(sm, outside)
    link_dir = root / "with_symlink"
    link_dir.mkdir()
    os.symlink(outside, link_dir / "escape")
    cases["symlink leaving the folder"] = (link_dir, r"escape: symlink leaves the audited folder")

    d = _copy(sm, root / "too_big")
    cases["file over the size cap"] = (d, r"over the [\d,]+-byte size cap")
    return cases


def test_each_bad_input_is_one_line_and_exit_2(artifacts, tmp_path, capsys):
    cases = _make_cases(artifacts, tmp_path)
    for label, (path, pattern) in cases.items():
        extra = ["--max-file-size", "1000"] if label == "file over the size cap" else []
        code = main(["check", str(path), "--no-color", *extra])
        out, err = capsys.readouterr()
        text = out + err
        assert code == 2, (label, text)
        assert "Traceback" not in text, (label, text)
        error_lines = [line.replace(": error: ", ": ", 1) for line in text.splitlines() if ": error: " in line]
        assert len(error_lines) == 1, (label, text)
        assert re.search(pattern, error_lines[0]), (label, pattern, error_lines[0])


def test_other_artifacts_are_still_audited(artifacts, tmp_path, capsys):
    cases = _make_cases(artifacts, tmp_path / "bad")
    good = _copy(artifacts.path("tf1_meta_ckpt_missing_backbone"), tmp_path / "good")
    paths = [str(p) for p, _ in cases.values()] + [str(good)]
    code = main(["check", "--format", "json", *paths])
    data = json.loads(capsys.readouterr().out)
    assert code == 2
    by_path = {a["path"]: a for a in data["artifacts"]}
    assert by_path[str(good)]["error"] is None
    assert [f["code"] for f in by_path[str(good)]["findings"]] == ["GA201"]
    assert data["summary"]["errors"] == len([a for a in data["artifacts"] if a["error"]]) >= len(cases) - 1


def test_nothing_is_written_next_to_audited_files(artifacts, tmp_path):
    d = _copy(artifacts.path("tf1_saved_model_clean"), tmp_path / "sm")
    before = sorted((p.relative_to(d), p.stat().st_mtime_ns) for p in d.rglob("*"))
    main(["check", str(d), "--format", "json"])
    main(["inspect", str(d), "--format", "json"])
    after = sorted((p.relative_to(d), p.stat().st_mtime_ns) for p in d.rglob("*"))
    assert before == after


def test_inspect_verifies_checksums_on_request(artifacts, tmp_path, capsys):
    meta = _copy(artifacts.path("tf1_meta_ckpt_clean"), tmp_path / "ck")
    assert main(["inspect", "--verify-checksums", str(meta)]) == 0
    assert "checksums verified" in capsys.readouterr().out
    shard = next(meta.parent.glob("*.data-*"))
    data = bytearray(shard.read_bytes())
    data[5] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert main(["inspect", str(meta)]) == 0  # values are not read unless asked
    capsys.readouterr()
    assert main(["inspect", "--verify-checksums", str(meta)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fails its checksum" in err[0] and "data-00000-of-00001" in err[0]
