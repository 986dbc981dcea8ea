"""Build the hostile files of issue 14 and measure graphaudit on each: exit code, lines, wall time, peak RSS.

    python -m fuzz.hostile build DIR        # writes DIR/<case>/... (sparse files: little disk)
    python -m fuzz.hostile run DIR [--only CASE...] [-- check options]
                                            # one `graphaudit check` process per case, measured
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
import struct
import zlib
from pathlib import Path

import numpy as np

from fuzz import builders as b

HERE = Path(__file__).resolve().parent
REGRESSIONS = HERE.parent / "tests" / "regressions"
GiB = 1024**3


def _keras_cfg() -> dict:
    return b.keras_config([("dense", "Dense", {"units": 3, "use_bias": True})])


def case_h5_attr_spin(d: Path) -> Path:
    """An 11 KB `.h5` whose root attribute read loops forever inside HDF5 (found by fuzz/)."""
    p = d / "spin.h5"
    shutil.copy(REGRESSIONS / "h5_attr_spin.h5", p)
    return p


def case_h5_unwritten_4gib(d: Path) -> Path:
    """A 14 KB `.h5` whose weight dataset says 4 GiB and was never written (reading it fills 4 GiB)."""
    import h5py

    p = d / "unwritten.h5"
    b.keras_h5(p, _keras_cfg(), {"dense": {"bias": np.zeros(3, "f4")}})
    with h5py.File(p, "a") as f:
        g = f["model_weights/dense"]
        g.create_dataset("dense/kernel:0", shape=(32768, 32768), dtype="f4")
        g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
    return p


def case_h5_unallocated_37gib(d: Path) -> Path:
    """A chunked 37 GiB dataset with no chunk allocated."""
    import h5py

    p = d / "unallocated.h5"
    b.keras_h5(p, _keras_cfg(), {"dense": {"bias": np.zeros(3, "f4")}})
    with h5py.File(p, "a") as f:
        g = f["model_weights/dense"]
        g.create_dataset("dense/kernel:0", shape=(100_000, 100_000), dtype="f4", chunks=(1024, 1024))
        g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
    return p


def _deflate_zeros(total: int) -> tuple[bytes, int]:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(64 * 1024**2)
    out, crc, left = [], 0, total
    while left:
        piece = chunk[:min(left, len(chunk))]
        crc = zlib.crc32(piece, crc)
        out.append(comp.compress(piece))
        left -= len(piece)
    out.append(comp.flush())
    return b"".join(out), crc


def _zip_with_raw_member(path: Path, name: str, raw: bytes, crc: int, file_size: int, compress_size: int) -> None:
    """A zip whose one deflated member carries the given header sizes, whatever its real data."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(_keras_cfg()))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
    data = bytearray(path.read_bytes())
    eocd = data.rindex(b"PK\x05\x06")
    cd_offset = int.from_bytes(data[eocd + 16:eocd + 20], "little")
    central, local_part = bytes(data[cd_offset:eocd]), bytes(data[:cd_offset])
    fname = name.encode()
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, compress_size, file_size,
                        len(fname), 0) + fname
    member_offset = len(local_part)
    cdir = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, compress_size, file_size,
                       len(fname), 0, 0, 0, 0, 0, member_offset) + fname
    body = local_part + local + raw
    new_cd = central + cdir
    count = int.from_bytes(data[eocd + 10:eocd + 12], "little") + 1
    eocd_rec = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count, count, len(new_cd), len(body), 0)
    path.write_bytes(body + new_cd + eocd_rec)


def case_keras_understated(d: Path) -> Path:
    """`model.weights.h5` says 1 MiB inflated; its deflate stream inflates to 3.75 GB."""
    raw, crc = _deflate_zeros(3_750_000_000)
    p = d / "understated.keras"
    _zip_with_raw_member(p, "model.weights.h5", raw, crc, file_size=1024**2, compress_size=len(raw))
    return p


def case_keras_ratio_lie(d: Path) -> Path:
    """A 1.9 MB `.keras` whose member inflates to 1.9 GB; its header overstates the compressed size
    so that the header ratio looks like 95:1."""
    total = 1_900_000_000
    raw, crc = _deflate_zeros(total)
    p = d / "ratio_lie.keras"
    _zip_with_raw_member(p, "model.weights.h5", raw, crc, file_size=total, compress_size=total // 95)
    return p


def _write_sparse(path: Path, size: int, head: bytes = b"", tail: bytes = b"") -> None:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
        if tail:
            fh.seek(size - len(tail))
            fh.write(tail)


def case_sparse_3gb_index(d: Path) -> Path:
    """A valid checkpoint index stretched to 3 GB by a sparse hole before its footer."""
    table = b.table([(b"", b.bundle_header()), (b"w", b.bundle_entry(b.DT_FLOAT, (1,), 0, 4))])
    prefix = d / "model.ckpt"
    _write_sparse(Path(f"{prefix}.index"), 3 * 10**9, head=table[:-48], tail=table[-48:])
    Path(f"{prefix}.data-00000-of-00001").write_bytes(bytes(4))
    return Path(f"{prefix}.index")


def case_string_2e31(d: Path) -> Path:
    """A string tensor of 2**31 elements in a sparse 2 GiB shard."""
    count = 2**31
    size = count + 4
    prefix = d / "model.ckpt"
    Path(f"{prefix}.index").write_bytes(b.table([(b"", b.bundle_header()),
                                                 (b"names", b.bundle_entry(b.DT_STRING, (count,), 0, size))]))
    _write_sparse(Path(f"{prefix}.data-00000-of-00001"), size)
    return Path(f"{prefix}.index")


def case_snappy_60mb_index(d: Path) -> Path:
    """A 60 MB index whose one data block is 30 million one-byte snappy literals (30 MB inflated)."""
    n = 30_000_000
    compressed = bytearray(b.varint(n)) + bytes([0 << 2, ord("a")]) * n
    prefix = d / "model.ckpt"
    # One data block holding the entries; the table writer compresses it with these bytes.
    items = [(b"", b.bundle_header())]
    blocks = iter([bytes(compressed)])  # the first block written is the data block
    Path(f"{prefix}.index").write_bytes(
        b.table(items, compression=1, compress=lambda raw: next(blocks, None) or b.snappy_literals(raw)))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(b"")
    return Path(f"{prefix}.index")


def case_pbtxt_30mb(d: Path) -> Path:
    """A 30 MB text GraphDef: 150,000 nodes with inputs and attrs."""
    p = d / "big.pbtxt"
    with open(p, "w") as fh:
        k = 0
        while fh.tell() < 30 * 1024**2:
            fh.write(f'node {{\n  name: "layer_{k}/conv"\n  op: "Conv2D"\n  input: "layer_{k - 1}/conv"\n'
                     f'  input: "layer_{k}/kernel"\n  attr {{\n    key: "T"\n    value {{\n      type: DT_FLOAT\n    }}\n  }}\n'
                     f'  attr {{\n    key: "strides"\n    value {{\n      list {{\n        i: 1\n        i: 1\n        i: 1\n'
                     f'        i: 1\n      }}\n    }}\n  }}\n}}\n')
            k += 1
    return p


def case_pbtxt_150_deep(d: Path) -> Path:
    """A 7 KB text GraphDef whose attr values nest 150 deep (`func { attr { value { func ...`)."""
    depth = 150
    text = 'node { name: "x" op: "PartitionedCall" attr { key: "f" value { '
    text += 'func { name: "g" attr { key: "a" value { ' * depth + "b: true" + " } } }" * depth
    text += " } } }\n"
    p = d / "deep.pbtxt"
    p.write_text(text)
    return p


def case_deep_json_keras(d: Path) -> Path:
    """A `.keras` whose config.json nests 100,000 lists deep."""
    p = d / "deep.keras"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", '{"class_name": "Functional", "config": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return p


def case_deep_json_h5(d: Path) -> Path:
    """A tf_keras `.h5` whose model_config layers nest 5,000 models deep."""
    depth = 5000
    cfg = ('{"class_name": "Functional", "config": {"name": "m", "layers": [' * depth
           + '{"class_name": "Dense", "config": {"name": "d"}}' + "]}}" * depth)
    p = d / "deep.h5"
    b.keras_h5(p, cfg, {"d": {"bias": np.zeros(3, "f4")}})
    return p


def case_port_overflow(d: Path) -> Path:
    """A 125-byte GraphDef whose function body names output 99999999999999999999 (past a C long)."""
    gd = b.graphdef([("x", "Placeholder", []), ("c", "f", ["x"])])
    fn = gd.library.function.add()
    fn.signature.name = "f"
    fn.signature.input_arg.add(name="i")
    fn.node_def.add(name="a", op="Relu", input=["i"])
    fn.node_def.add(name="r", op="Identity", input=["a:activations:99999999999999999999"])
    fn.ret["o"] = "r:output:0"
    p = d / "port.pb"
    p.write_bytes(gd.SerializeToString())
    return p


def case_symlink_dot_loops(d: Path) -> Path:
    """Two `-> .` symlinks in one folder, next to one GraphDef."""
    (d / "m.pb").write_bytes(b.graphdef(b.small_graph()).SerializeToString())
    os.symlink(".", d / "a")
    os.symlink(".", d / "b")
    return d


def case_symlink_file_loop(d: Path) -> Path:
    """Two files that are symlinks to each other."""
    os.symlink("y.pb", d / "x.pb")
    os.symlink("x.pb", d / "y.pb")
    return d


def case_non_utf8_names(d: Path) -> Path:
    """A file name and checkpoint keys that are not UTF-8."""
    folder = Path(os.fsdecode(os.fsencode(str(d)) + b"/ckpt\xff"))
    folder.mkdir()
    b.checkpoint(folder / "model.ckpt", {b"dense\xff/kernel": np.ones((3, 3), "f4"),
                                          b"dense\xfe/bias": np.zeros(3, "f4")})
    return d


EVIL = "evil\x1b[2J\n::error file=ci.yml,line=1::pwned\u202e"  # proto strings must be UTF-8


def case_injection_names(d: Path) -> Path:
    """A MetaGraph + checkpoint: file names with ESC, newline, `::error` and a non-UTF-8 byte;
    variables named with ESC, newline and `::error`; checkpoint keys that are not UTF-8. GA201
    fires on the variables, so their names reach every reporter."""
    nodes = [("x", "Placeholder", []), (f"{EVIL}/w", "VariableV2", []),
             (f"{EVIL}/w/read", "Identity", [f"{EVIL}/w"]), ("y", "MatMul", ["x", f"{EVIL}/w/read"])]
    stem = os.fsencode(str(d)) + b"/\x1b[31m\n::error ::x\xff"
    meta = b.metagraph(b.graphdef(nodes), [f"{EVIL}/w"])
    Path(os.fsdecode(stem + b".meta")).write_bytes(meta.SerializeToString())
    b.checkpoint(Path(os.fsdecode(stem)), {b"other\xff\x1b/w": np.ones((3, 3), "f4")})
    # The folder, not the `.meta`: given alone, this `.meta` is misread as a GraphDef (sniff.py).
    return d


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}
# Extra options per case: the ones a finding needs to fire.
OPTIONS = {"injection_names": ["--output", "y"], "h5_attr_spin": ["--timeout", "10"],
           "non_utf8_names": ["--format", "json"]}
# Cases measured with another command than `check`: what reads the whole string tensor.
COMMANDS = {"string_2e31": ["inspect", "--verify-checksums"]}


def build(root: Path, only: list[str] | None = None) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, fn in CASES.items():
        if only and name not in only:
            continue
        d = root / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        out[name] = fn(d)
        (d / ".target").write_bytes(os.fsencode(str(out[name])))
    return out


def _disk(path: Path) -> tuple[int, int]:
    """(apparent bytes, bytes on disk) of a file or folder."""
    total = used = 0
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    for p in paths:
        st = p.stat()
        total += st.st_size
        used += st.st_blocks * 512
    return total, used


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["measure-one"]:
        return _measure_one(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["build", "run"])
    ap.add_argument("root", type=Path)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--limit", type=float, default=120.0)
    args, rest = ap.parse_known_args(argv)
    if args.action == "build":
        for name, path in build(args.root, args.only).items():
            print(f"{name}: {path!r}")
        return 0
    rows = run_measured(args.root, limit=args.limit, only=args.only, extra=rest)
    ok = all(r["exit"] in (0, 1, 2) and not r["traceback"] and r["wall_s"] < 20 and (r["peak_rss_mb"] or 0) < 1024
             and not r["raw_esc"] and r["valid_utf8"] and not r["workflow_command"] for r in rows)
    return 0 if ok else 1


def _measure_one(cmd: list[str]) -> int:
    """Run ``cmd``, then print its peak RSS (KB) on the last stderr line: one process, one figure."""
    import resource

    proc = subprocess.run([os.fsencode(c) if isinstance(c, str) else c for c in cmd])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stderr.write(f"\n@@peak_rss_kb={peak}\n")
    return proc.returncode


def run_measured(root: Path, *, limit: float, only: list[str] | None, extra: list[str]) -> list[dict]:
    """Each case under `measure-one`, so its peak RSS is its own."""
    rows = []
    for name in CASES:
        if only and name not in only:
            continue
        marker = root / name / ".target"
        if not marker.exists():
            continue
        target = os.fsencode(os.fsdecode(marker.read_bytes()))
        command = COMMANDS.get(name, ["check", "--no-color"])
        cmd = [sys.executable, "-m", "fuzz.hostile", "measure-one", sys.executable, "-m", "graphaudit",
               command[0], target, *command[1:], *OPTIONS.get(name, []), *extra]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            timed_out = True
        wall = time.monotonic() - start
        try:
            (out + err).decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        text = (out + err).decode("utf-8", "replace")
        peak = None
        if "@@peak_rss_kb=" in text:
            peak = int(text.rsplit("@@peak_rss_kb=", 1)[1].split()[0])
            text = text.rsplit("@@peak_rss_kb=", 1)[0].rstrip()
        lines = [ln for ln in text.splitlines() if ": error: " in ln]
        apparent, used = _disk(Path(os.fsdecode(target)))
        row = {"case": name, "exit": None if timed_out else proc.returncode, "wall_s": round(wall, 2),
               "peak_rss_mb": round(peak / 1024, 1) if peak else None, "error_lines": len(lines),
               "traceback": "Traceback" in text, "raw_esc": "\x1b" in text, "valid_utf8": utf8,
               "workflow_command": any(ln.lstrip().startswith("::") for ln in text.splitlines()),
               "size_mb": round(apparent / 1e6, 2), "disk_mb": round(used / 1e6, 2),
               "line": (lines[0] if lines else (text.strip().splitlines() or [""])[0])[:220]}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=True), flush=True)
    return rows


if __name__ == "__main__":
    sys.exit(main())
