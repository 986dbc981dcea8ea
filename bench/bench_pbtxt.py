"""Time graphaudit's text-format reader on ~30 MB `.pbtxt` GraphDefs against protobuf's `text_format.Parse`.

Two graphs, both printed by protobuf's own text printer (what `tf.io.write_graph(..., as_text=True)`
writes): "nodes" is `bench_duplicates.py`'s chain of conv blocks (many small nodes and attrs),
"tensors" is a frozen-style graph whose Consts hold `tensor_content` (long octal-escaped strings).

Every measurement runs in a fresh subprocess, round by round:
- `textproto`: graphaudit's reader, text to a parsed GraphDef (transcode, then the binary parse);
- `text_format`: `text_format.Parse` on the file's first `--peer-mb` MB, cut at a node (at about
  0.2 MB/s the whole file would take minutes; `--peer-mb 0` parses all of it);
- `check .pbtxt` / `check .pb`: the whole `graphaudit check` of the text file and of the same
  graph in binary form (start-up and imports excluded).
Ratios are throughputs (MB/s) measured in the same round. Peak RSS is each subprocess's own.
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
sys.path.insert(0, str(REPO / "bench"))

WORK = REPO / "bench" / "_work" / "pbtxt"
GOAL_SECONDS = 10.0


def build(kind: str, target_mb: float) -> tuple[Path, Path]:
    text_path, binary_path = WORK / f"{kind}_{target_mb:g}mb.pbtxt", WORK / f"{kind}_{target_mb:g}mb.pb"
    if text_path.is_file() and binary_path.is_file():
        return text_path, binary_path
    import numpy as np
    from google.protobuf import text_format

    from bench_duplicates import synthetic_graph

    start = time.perf_counter()
    if kind == "nodes":
        gd = synthetic_graph(max(1, int(target_mb * 1e6 / 8000)))  # about 8 KB of text per block
    else:
        gd = synthetic_graph(max(1, int(target_mb * 1e6 / 80000)))
        rng = np.random.default_rng(0)
        for k in range(int(target_mb * 1e6 / 60000)):  # each Const prints as about 60 KB of escapes
            nd = gd.node.add(name=f"frozen/const_{k}", op="Const")
            nd.attr["dtype"].type = 1
            t = nd.attr["value"].tensor
            t.dtype = 1
            for d in (3, 3, 8, 64):
                t.tensor_shape.dim.add().size = d
            t.tensor_content = rng.standard_normal(3 * 3 * 8 * 64, dtype=np.float32).tobytes()
    WORK.mkdir(parents=True, exist_ok=True)
    text_path.write_text(text_format.MessageToString(gd), encoding="utf-8")
    binary_path.write_bytes(gd.SerializeToString(deterministic=True))
    print(f"  wrote {text_path.name}: {text_path.stat().st_size / 1e6:.1f} MB text, "
          f"{binary_path.stat().st_size / 1e6:.1f} MB binary, {len(gd.node):,} nodes "
          f"in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return text_path, binary_path


_OURS = """
import json, resource, sys, time
from graphaudit.formats import protos, textproto
start, cpu = time.perf_counter(), time.process_time()
text = open(sys.argv[1], encoding="utf-8").read()
gd = protos.GraphDef.FromString(textproto.to_wire(text, protos.GraphDef.DESCRIPTOR))
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "bytes": len(text),
                  "nodes": len(gd.node), "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_PEER = """
import json, resource, sys, time
from google.protobuf import text_format
from graphaudit.formats import protos
text = open(sys.argv[1], encoding="utf-8").read()
limit = int(float(sys.argv[2]) * 1e6)
if limit and len(text) > limit:
    text = text[:text.index("\\nnode {", limit) + 1]  # whole nodes only
start, cpu = time.perf_counter(), time.process_time()
gd = text_format.Parse(text, protos.GraphDef())
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "bytes": len(text),
                  "nodes": len(gd.node), "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_CHECK = """
import json, os, resource, sys, time
from graphaudit.config import Settings
from graphaudit.engine import audit_paths
import graphaudit.rules, graphaudit.analysis.structure  # imported before timing: start-up is not the check
start, cpu = time.perf_counter(), time.process_time()
report = audit_paths([sys.argv[1]], Settings())
seconds = time.perf_counter() - start
assert not report.errors, report.errors[0].error
print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu, "bytes": os.path.getsize(sys.argv[1]),
                  "nodes": report.artifacts[0].stats.nodes, "codes": sorted({f.code for f in report.findings}),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=30.0, help="size of each text file (default 30)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peer-mb", type=float, default=3.0, help="MB of the file text_format parses (0: all)")
    ap.add_argument("--kinds", default="nodes,tensors")
    args = ap.parse_args(argv)
    failed = False
    for kind in args.kinds.split(","):
        text_path, binary_path = build(kind, args.mb)
        rows: dict[str, list[dict]] = {"textproto": [], "text_format": [], "check .pbtxt": [], "check .pb": []}
        for _ in range(args.repeat):
            rows["textproto"].append(run(_OURS, text_path))
            rows["text_format"].append(run(_PEER, text_path, args.peer_mb))
            rows["check .pbtxt"].append(run(_CHECK, text_path))
            rows["check .pb"].append(run(_CHECK, binary_path))
        size = text_path.stat().st_size
        print(f"\n{kind}: {text_path.name}, {size / 1e6:.1f} MB text, {rows['textproto'][0]['nodes']:,} nodes, "
              f"median of {args.repeat} interleaved rounds")
        print(f"  {'':14} {'MB':>6} {'seconds':>8} {'cpu':>7} {'MB/s':>7} {'peak RSS':>9} {'RSS/text':>8}")
        peer_rate = statistics.median(r["bytes"] / r["seconds"] for r in rows["text_format"])
        for label, rs in rows.items():
            secs = statistics.median(r["seconds"] for r in rs)
            cpu = statistics.median(r["cpu"] for r in rs)
            mb = rs[0]["bytes"] / 1e6
            rss = max(r["rss"] for r in rs)
            print(f"  {label:14} {mb:6.1f} {secs:8.2f} {cpu:7.2f} {mb / secs:7.2f} {rss / 2**20:7.0f}MB "
                  f"{rss / rs[0]['bytes']:8.1f}")
        ours_rate = statistics.median(r["bytes"] / r["seconds"] for r in rows["textproto"])
        check_text = statistics.median(r["seconds"] for r in rows["check .pbtxt"])
        check_bin = statistics.median(r["seconds"] for r in rows["check .pb"])
        same = {tuple(r["codes"]) for r in rows["check .pbtxt"] + rows["check .pb"]}
        print(f"  textproto / text_format throughput: {ours_rate / peer_rate:.1f}x "
              f"(text_format would take {size / peer_rate:.0f}s on the whole file)")
        print(f"  check .pbtxt / check .pb: {check_text / check_bin:.2f}x; same findings: {len(same) == 1}")
        verdict = "ok" if check_text < GOAL_SECONDS else "OVER"
        failed |= check_text >= GOAL_SECONDS
        print(f"  goal: check of the {size / 1e6:.0f} MB .pbtxt under {GOAL_SECONDS:.0f}s: {check_text:.2f}s {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
