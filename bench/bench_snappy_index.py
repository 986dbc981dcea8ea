"""Time reading a ~60 MB snappy-compressed checkpoint `.index` with cramjam and with the pure-Python decoder.

The index is built without TensorFlow and without network: TF2-style keys (`model/block_N/layer_M/
kernel/.ATTRIBUTES/VARIABLE_VALUE`, optimizer slots beside them), BundleEntryProtos with real
offsets and CRC-32Cs into one small data shard, cut into 256 KiB blocks as TensorFlow's
TableBuilder cuts them (formats/table.write_table) and each block compressed by real snappy
(cramjam's, with copies, as TensorFlow's snappy writes them). The same entries are also written
uncompressed: the peer, so the ratios show what snappy decoding costs.

Every measurement is a fresh subprocess, rotated round by round:
- `open`: `Checkpoint.open` + `keys()` (the whole index read and decoded);
- `inspect`: `graphaudit inspect` on the `.index` (CLI, start-up included);
- `check`: `graphaudit check` on the `.index` (CLI, start-up included);
each with cramjam, with the pure-Python decoder (its 8 MiB budget lifted), and on the uncompressed peer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _fresh import run  # noqa: E402 - bench/ is the script's folder, first on sys.path

WORK = REPO / "bench" / "_work" / "snappy_index"
GOAL_SECONDS = 10.0


def build(target_mb: float) -> tuple[Path, Path]:
    """Prefixes of the snappy-compressed and the uncompressed index (built once, then reused)."""
    snappy_prefix, plain_prefix = WORK / f"snappy_{target_mb:g}mb" / "ckpt", WORK / f"plain_{target_mb:g}mb" / "ckpt"
    if Path(f"{snappy_prefix}.index").is_file() and Path(f"{plain_prefix}.index").is_file():
        return snappy_prefix, plain_prefix
    import numpy as np
    from cramjam import snappy as cramjam_snappy

    from graphaudit.formats import crc32c, protos
    from graphaudit.formats.checkpoint_writer import BLOCK_SIZE, BUNDLE_VERSION
    from graphaudit.formats.table import NO_COMPRESSION, SNAPPY_COMPRESSION, write_table

    start = time.perf_counter()
    n = int(target_mb * 1e6 / 13.7)  # each entry compresses to about 13.7 bytes (4,444,444 keys: 60.9 MB)
    rng = np.random.default_rng(0)
    width = 4
    values = rng.standard_normal((n, width), dtype=np.float32)
    keys = []
    for i in range(n):
        block, layer, slot = divmod(i, 150)[0], (i // 3) % 50, i % 3
        base = f"model/block_{block:05d}/layer_{layer:02d}/kernel"
        keys.append(f"{base}/.ATTRIBUTES/VARIABLE_VALUE" if slot == 0 else
                    f"{base}/.OPTIMIZER_SLOT/optimizer/{'mv'[slot - 1]}/.ATTRIBUTES/VARIABLE_VALUE")
    order = sorted(range(n), key=lambda i: keys[i].encode())
    header = protos.BundleHeaderProto(num_shards=1, endianness=0)
    header.version.producer = BUNDLE_VERSION
    rows = [(b"", header.SerializeToString())]
    raw = values[order].tobytes()
    for pos, i in enumerate(order):
        data = raw[pos * width * 4:(pos + 1) * width * 4]
        entry = protos.BundleEntryProto(dtype=1, offset=pos * width * 4, size=width * 4,
                                        crc32c=crc32c.mask(crc32c.value(data)))
        entry.shape.dim.add().size = width
        rows.append((keys[i].encode(), entry.SerializeToString()))
    for prefix, compression in ((snappy_prefix, SNAPPY_COMPRESSION), (plain_prefix, NO_COMPRESSION)):
        prefix.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{prefix}.data-00000-of-00001").write_bytes(raw)
        index = write_table(rows, block_size=BLOCK_SIZE, compression=compression,
                            compress=lambda b: bytes(cramjam_snappy.compress_raw(b)))
        Path(f"{prefix}.index").write_bytes(index)
        print(f"  wrote {prefix}.index: {len(index) / 1e6:.1f} MB, {n:,} keys", file=sys.stderr)
    print(f"  built in {time.perf_counter() - start:.0f}s", file=sys.stderr)
    return snappy_prefix, plain_prefix


_SETUP = """
import sys
backend = sys.argv[2]
if backend == "python":
    from graphaudit.formats import snappy, table
    snappy.BACKEND = "python"
    table.PURE_SNAPPY_BUDGET = 1 << 40  # measured, not refused
"""

_OPEN = _SETUP + """
import json, resource, time
from graphaudit.formats.checkpoint import Checkpoint
start, cpu = time.perf_counter(), time.process_time()
keys = Checkpoint.open(sys.argv[1]).keys()
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "keys": len(keys),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_CLI = _SETUP + """
import json, resource, time, io, contextlib
start, cpu = time.perf_counter(), time.process_time()
from graphaudit.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main([sys.argv[3], sys.argv[1] + ".index", "--format", "json"] if sys.argv[3] == "check"
                    else [sys.argv[3], sys.argv[1] + ".index"])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "code": code,
                  "out": len(out.getvalue()), "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=60.0, help="size of the compressed index (default 60)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--what", default="open,inspect,check")
    args = ap.parse_args(argv)
    snappy_prefix, plain_prefix = build(args.mb)
    runs = [(f"{what} {label}", what, prefix, backend)
            for what in args.what.split(",")
            for label, prefix, backend in (("cramjam", snappy_prefix, "cramjam"), ("pure Python", snappy_prefix, "python"),
                                           ("uncompressed", plain_prefix, "cramjam"))]
    rows: dict[str, list[dict]] = {label: [] for label, *_ in runs}
    for _ in range(args.repeat):
        for label, what, prefix, backend in runs:
            rows[label].append(run(_OPEN, prefix, backend) if what == "open" else run(_CLI, prefix, backend, what))
    size = Path(f"{snappy_prefix}.index").stat().st_size
    plain = Path(f"{plain_prefix}.index").stat().st_size
    print(f"\nindex: {size / 1e6:.1f} MB snappy-compressed ({plain / 1e6:.1f} MB uncompressed), "
          f"median of {args.repeat} rotated rounds")
    print(f"  {'':26} {'seconds':>8} {'cpu':>7} {'peak RSS':>9} {'vs uncompressed':>16}")
    failed = False
    for label, rs in rows.items():
        what = label.split()[0]
        secs = statistics.median(r["seconds"] for r in rs)
        peer = statistics.median(r["seconds"] for r in rows[f"{what} uncompressed"])
        print(f"  {label:26} {secs:8.2f} {statistics.median(r['cpu'] for r in rs):7.2f} "
              f"{max(r['rss'] for r in rs) / 2**20:7.0f}MB {secs / peer:15.2f}x")
        if "uncompressed" not in label:
            failed |= secs >= GOAL_SECONDS
    codes = {label: sorted({r.get("code") for r in rs}) for label, rs in rows.items() if "check" in label}
    if codes:
        print(f"  check exit codes: {codes}")
    print(f"  goal: every read of the {size / 1e6:.0f} MB index under {GOAL_SECONDS:.0f}s: {'OVER' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
