"""Time `graphaudit check` on synthetic GraphDefs of ~10k, 100k and 1M nodes against a bare protobuf parse.

Each graph is a chain of Keras-style conv blocks (variables with their initializers, reads,
Conv2D, BiasAdd, Relu) on `images`, with an `output`, plus one dead duplicate of the whole chain
on its own `input_1`: the seed's `vgg(images)` bug at scale. It is written with graphaudit's own
protobuf classes, so TensorFlow is not needed.

Every measurement runs in a fresh subprocess: the check (read, analyse, every enabled rule; the
interpreter's start-up and imports excluded), and a bare `GraphDef.ParseFromString` of the same
file (the floor: nothing can read the graph faster than protobuf parses it). The two alternate
round by round, and each round's check is divided by the parse measured just before it, in wall
and in CPU seconds (the CPU ratio holds steadier when other processes load the machine). Peak RSS
is each subprocess's own maximum resident set. `--phases` times the check's phases at the largest
size, with the process's peak and current RSS after each; `--code DIR` measures another
checkout's graphaudit (main, say) on the same graphs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

WORK = REPO / "bench" / "_work" / "duplicates"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
WIDTH = 8  # channels of every conv
NODES_PER_BLOCK = 25  # 20 for a live layer (2 variables with initializers, reads, conv) + 5 dead

DT_FLOAT, DT_INT32 = 1, 3

# Goals from the issue.
MAX_RATIO_AT_1M = 4.0
MAX_PER_NODE_GROWTH = 2.0
MAX_RSS_BYTES = 1024**3


# ------------------------------------------------------------------------------ the graph

def synthetic_graph(blocks: int):
    from graphaudit.formats import protos

    gd = protos.GraphDef()

    def node(name, op, inputs=(), **attrs):
        nd = gd.node.add()
        nd.name = name
        nd.op = op
        nd.input.extend(inputs)
        for key, value in attrs.items():
            av = nd.attr[key]
            if key in ("T", "dtype"):
                av.type = value
            elif isinstance(value, str):
                av.s = value.encode()
            elif isinstance(value, bool):
                av.b = value
            elif isinstance(value, list):
                av.list.i.extend(value)
        return nd

    def shape(av, dims):
        for d in dims:
            av.shape.dim.add().size = d

    def const(name, dtype, dims, values, colocate):
        nd = node(name, "Const", dtype=dtype)
        t = nd.attr["value"].tensor
        t.dtype = dtype
        for d in dims:
            t.tensor_shape.dim.add().size = d
        (t.int_val if dtype == DT_INT32 else t.float_val).extend(values)
        nd.attr["_class"].list.s.append(f"loc:@{colocate}".encode())

    def variable(name, dims, zeros):
        if zeros:
            init = f"{name}/Initializer/zeros"
            const(init, DT_FLOAT, dims, [0.0], name)
        else:
            init = f"{name}/Initializer/random_uniform"
            const(f"{init}/shape", DT_INT32, [len(dims)], list(dims), name)
            const(f"{init}/min", DT_FLOAT, [], [-0.2], name)
            const(f"{init}/max", DT_FLOAT, [], [0.2], name)
            node(f"{init}/RandomUniform", "RandomUniform", [f"{init}/shape"], T=DT_INT32, dtype=DT_FLOAT)
            node(f"{init}/sub", "Sub", [f"{init}/max", f"{init}/min"], T=DT_FLOAT)
            node(f"{init}/mul", "Mul", [f"{init}/RandomUniform", f"{init}/sub"], T=DT_FLOAT)
            node(init, "AddV2", [f"{init}/mul", f"{init}/min"], T=DT_FLOAT)
        v = node(name, "VarHandleOp", dtype=DT_FLOAT, shared_name=name, container="", debug_name=name)
        shape(v.attr["shape"], dims)
        node(f"{name}/IsInitialized/VarIsInitializedOp", "VarIsInitializedOp", [name])
        node(f"{name}/Assign", "AssignVariableOp", [name, init], dtype=DT_FLOAT, validate_shape=False)
        node(f"{name}/Read/ReadVariableOp", "ReadVariableOp", [name], dtype=DT_FLOAT)

    def forward(scope, x, layer):
        p = f"{scope}{layer}"
        node(f"{p}/Conv2D/ReadVariableOp", "ReadVariableOp", [f"{layer}/kernel"], dtype=DT_FLOAT)
        node(f"{p}/Conv2D", "Conv2D", [x, f"{p}/Conv2D/ReadVariableOp"], T=DT_FLOAT, data_format="NHWC",
             dilations=[1, 1, 1, 1], padding="SAME", strides=[1, 1, 1, 1], use_cudnn_on_gpu=True)
        node(f"{p}/BiasAdd/ReadVariableOp", "ReadVariableOp", [f"{layer}/bias"], dtype=DT_FLOAT)
        node(f"{p}/BiasAdd", "BiasAdd", [f"{p}/Conv2D", f"{p}/BiasAdd/ReadVariableOp"], T=DT_FLOAT,
             data_format="NHWC")
        node(f"{p}/Relu", "Relu", [f"{p}/BiasAdd"], T=DT_FLOAT)
        return f"{p}/Relu"

    for name in ("images", "input_1"):
        ph = node(name, "Placeholder", dtype=DT_FLOAT)
        shape(ph.attr["shape"], [-1, 32, 32, WIDTH])
    layers = [f"block{b}_conv" for b in range(1, blocks + 1)]
    for layer in layers:
        variable(f"{layer}/kernel", [3, 3, WIDTH, WIDTH], zeros=False)
        variable(f"{layer}/bias", [WIDTH], zeros=True)
    live = "images"
    for layer in layers:
        live = forward("model/", live, layer)
    node("output", "Identity", [live], T=DT_FLOAT)
    dead = "input_1"
    for layer in layers:  # the dead duplicate: the whole chain again, on its own placeholder
        dead = forward("", dead, layer)
    return gd


def graph_file(label: str, nodes: int) -> Path:
    path = WORK / f"graph_{label}.pb"
    if not path.is_file():
        WORK.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        # Maps sorted by key, as TensorFlow writes them.
        data = synthetic_graph(max(1, nodes // NODES_PER_BLOCK)).SerializeToString(deterministic=True)
        tmp = path.with_suffix(".partial")
        tmp.write_bytes(data)
        tmp.rename(path)
        print(f"  wrote {path.name}: {len(data) / 1e6:.1f} MB in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return path


# ------------------------------------------------------------------------------ measurements

_PARSE = """
import json, resource, sys, time
from graphaudit.formats import protos
path = sys.argv[1]
start, cpu = time.perf_counter(), time.process_time()
with open(path, "rb") as fh:
    data = fh.read()
gd = protos.GraphDef()
gd.ParseFromString(data)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "cpu": time.process_time() - cpu, "nodes": len(gd.node),
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_CHECK = """
import json, resource, sys, time
from graphaudit.config import Settings
from graphaudit.engine import audit_paths
import graphaudit.rules, graphaudit.analysis.structure  # imported before timing: start-up is not the check
path = sys.argv[1]
start, cpu = time.perf_counter(), time.process_time()
report = audit_paths([path], Settings())
seconds = time.perf_counter() - start
cpu = time.process_time() - cpu
assert not report.errors, report.errors[0].error
found = [f for f in report.findings if f.code == "GA101"]
print(json.dumps({"seconds": seconds, "cpu": cpu, "nodes": report.artifacts[0].stats.nodes,
                  "ga101": [f.message for f in found],
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


# The check's phases: the functions below are wrapped with timers, and the check runs as usual.
# A phase's time includes the phases it calls (reading includes the protobuf parse); "peak RSS"
# is the process's maximum resident set when the phase ends.
PHASES = [
    ("read (whole reader)", "graphaudit.formats.readers", "read_graphdef"),
    ("  read: protobuf parse", "graphaudit.formats.readers", "_parse_binary"),
    ("  read: node columns (wire.py)", "graphaudit.formats.wire", "scan_nodes"),
    ("  read: variables", "graphaudit.formats.graphs", "collect_variables"),
    ("structural hashing", "graphaudit.analysis.structure", "graph_structure"),
    ("  node keys", "graphaudit.analysis.structure", "wire_local_keys"),
    ("  topological order", "graphaudit.analysis.structure", "topological_order"),
    ("  class ids (hashing)", "graphaudit.analysis.structure", "_classify"),
    ("  copy components", "graphaudit.analysis.structure", "components"),
    ("reachability", "graphaudit.analysis.reachability", "reach"),
    ("root inference", "graphaudit.analysis.reachability", "infer_roots"),
    ("update analysis", "graphaudit.analysis.updates", "analyse_updates"),
    ("variable roles", "graphaudit.analysis.roles", "variable_roles"),
    ("provenance", "graphaudit.analysis.provenance", "provenance"),
    ("dead copies", "graphaudit.analysis.copies", "dead_copies"),
]

_PHASES = """
import importlib, json, resource, sys, time
from graphaudit.config import Settings
from graphaudit.engine import audit_paths
import graphaudit.rules, graphaudit.analysis, graphaudit.formats.readers
phases = {}


def rss_now():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def wrap(label, module, attr):
    mod = importlib.import_module(module)
    fn = getattr(mod, attr)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            row = phases.setdefault(label, [0.0, 0, 0])
            row[0] += time.perf_counter() - start
            row[1] = max(row[1], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
            row[2] = max(row[2], rss_now())
    # Patch every reference a graphaudit module holds (under any name, or in a dispatch table).
    for other in list(sys.modules.values()):
        if not getattr(other, "__name__", "").startswith("graphaudit"):
            continue
        for key, value in list(vars(other).items()):
            if value is fn:
                setattr(other, key, timed)
            elif isinstance(value, dict) and any(v is fn for v in value.values()):
                for k in [k for k, v in value.items() if v is fn]:
                    value[k] = timed


for label, module, attr in json.loads(sys.argv[2]):
    try:
        wrap(label, module, attr)
    except (ImportError, AttributeError):
        pass  # a phase this version of graphaudit does not have
start = time.perf_counter()
report = audit_paths([sys.argv[1]], Settings())
total = time.perf_counter() - start
phases["whole check"] = [total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, rss_now()]
print(json.dumps(phases))
"""


CODE = REPO


def measure(script: str, path: Path, *extra: str) -> dict:
    # Bytecode may be written (an installed package has it): with PYTHONDONTWRITEBYTECODE set, the
    # modules a check imports lazily would be compiled inside every timed check (~16 ms at 10k).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run([sys.executable, "-c", script, str(path), *extra], capture_output=True, text=True,
                          check=False, cwd=CODE, env={**env, "PYTHONPATH": str(CODE)})
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each: a parse then a check per size); medians")
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--phases", action="store_true", help="also time the check's phases at the largest size")
    parser.add_argument("--code", type=Path, default=REPO,
                        help="checkout whose graphaudit is measured (default: this one), e.g. to compare with main")
    args = parser.parse_args(argv)
    global CODE
    CODE = args.code.resolve()

    paths = {label: graph_file(label, SIZES[label]) for label in args.sizes}
    runs: dict[str, dict[str, list[dict]]] = {label: {"parse": [], "check": []} for label in args.sizes}
    # Round by round, a parse then a check of each size: load from other processes hits both alike,
    # and each ratio compares a check with the parse measured just before it.
    for _ in range(args.repeat):
        for label in args.sizes:
            runs[label]["parse"].append(measure(_PARSE, paths[label]))
            runs[label]["check"].append(measure(_CHECK, paths[label]))

    rows = []
    for label in args.sizes:
        parse, check = runs[label]["parse"], runs[label]["check"]
        assert check[0]["nodes"] == parse[0]["nodes"], (check[0]["nodes"], parse[0]["nodes"])
        assert len(check[0]["ga101"]) == 1, check[0]["ga101"]
        rows.append({"label": label, "nodes": parse[0]["nodes"], "mb": paths[label].stat().st_size / 1e6,
                     "parse": statistics.median(r["seconds"] for r in parse),
                     "check": statistics.median(r["seconds"] for r in check),
                     "ratio": statistics.median(c["seconds"] / p["seconds"] for p, c in zip(parse, check)),
                     "cpu_ratio": statistics.median(c["cpu"] / p["cpu"] for p, c in zip(parse, check)),
                     "parse_rss": max(r["rss"] for r in parse), "check_rss": max(r["rss"] for r in check),
                     "finding": check[0]["ga101"][0]})

    print(f"{'graph':>6} {'nodes':>10} {'MB':>7} {'parse s':>8} {'check s':>8} {'check/parse':>11} "
          f"{'CPU ratio':>9} {'us/node':>8} {'parse RSS':>10} {'check RSS':>10}")
    for r in rows:
        print(f"{r['label']:>6} {r['nodes']:>10,} {r['mb']:>7.1f} {r['parse']:>8.2f} {r['check']:>8.2f} "
              f"{r['ratio']:>10.2f}x {r['cpu_ratio']:>8.2f}x {r['check'] / r['nodes'] * 1e6:>8.2f} "
              f"{r['parse_rss'] / 2**20:>8.0f}MB {r['check_rss'] / 2**20:>8.0f}MB")
    print(f"({args.repeat} interleaved rounds; check/parse is the median of each round's wall-time ratio, "
          "CPU ratio the same in CPU seconds, steadier on a loaded machine)")
    print(f"finding at {rows[-1]['label']}: {rows[-1]['finding'][:160]}")
    if args.phases:
        last = rows[-1]
        phases = measure(_PHASES, paths[last["label"]], json.dumps(PHASES))
        print(f"where the check's time goes at {last['label']} (one run; x = multiples of the median bare parse; "
              "indented phases are part of the one above):")
        print(f"  {'phase':<40} {'seconds':>8} {'x parse':>7} {'peak RSS':>9} {'RSS now':>8}")
        for name in [label for label, _, _ in PHASES] + ["whole check"]:
            seconds, peak, now = phases.get(name, (0.0, 0, 0))
            if seconds >= 0.005:
                print(f"  {name:<40} {seconds:7.2f}s {seconds / last['parse']:6.2f}x {peak / 2**20:7.0f}MB "
                      f"{now / 2**20:6.0f}MB")
    by = {r["label"]: r for r in rows}
    if "1M" in by:
        big = by["1M"]
        verdicts = [("check within {:.0f}x bare parse at 1M".format(MAX_RATIO_AT_1M), big["ratio"] <= MAX_RATIO_AT_1M),
                    ("peak RSS under 1 GB at 1M", big["check_rss"] < MAX_RSS_BYTES)]
        if "10k" in by:
            small = by["10k"]
            growth = (big["check"] / big["nodes"]) / (small["check"] / small["nodes"])
            verdicts.append((f"per-node time at 1M within {MAX_PER_NODE_GROWTH:.0f}x of 10k ({growth:.2f}x)",
                             growth <= MAX_PER_NODE_GROWTH))
        for text, ok in verdicts:
            print(f"  {'ok  ' if ok else 'MISS'} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
