"""Structure-aware fuzzing of every reader through the engine and all four reporters.

    python -m fuzz.harness --cases 300 --seed 1        # every family, 300 cases each
    python -m fuzz.harness --family h5 --cases 2000    # one family
    python -m fuzz.harness --keep tests/regressions    # keep each failing file there

Each case is a well-formed artifact built by fuzz/builders.py from a seeded random generator,
then, for most cases, mutated (bytes flipped, truncated, spliced, or fields set to hostile
values). A case fails when graphaudit breaks a promise of issue 14: an exception escapes the
engine or a reporter, an error line names a Python exception class, an output is not valid
UTF-8 or carries a raw control character, or the case outlives its time budget.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from fuzz import builders as b

# Names that try every trick: terminal escapes, workflow commands, bidi, huge ports, empties.
HOSTILE_NAMES = ["dense", "vgg19/block1_conv1", "a\x1b[2Jb", "x\n::error file=a::b", "\u202egnp.exe", "",
                 "a:99999999999999999999", "^ctrl", "n:0:1", "/", "::warning::w", "x" * 300, "é/ü", "%0A"]
OPS = ["Placeholder", "Const", "VariableV2", "VarHandleOp", "Identity", "MatMul", "Conv2D", "Relu", "Assign",
       "AssignVariableOp", "ReadVariableOp", "ApplyAdam", "RestoreV2", "SaveV2", "NoOp", "StatefulPartitionedCall",
       "PartitionedCall", "FusedBatchNormV3", "f0", "f1", ""]
_CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|Exit)\b|\bBadZipFile\b|Traceback")


def _name(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(HOSTILE_NAMES)
    return f"{rng.choice(['m', 'vgg19', 'model_1', 'a/b'])}/{rng.choice(['conv', 'dense', 'bn'])}_{rng.randrange(4)}"


def _nodes(rng: random.Random, n: int) -> list[tuple[str, str, list[str]]]:
    nodes: list[tuple[str, str, list[str]]] = []
    for k in range(n):
        name = _name(rng) if rng.random() < 0.2 else f"n{k}"
        inputs = []
        for _ in range(rng.randrange(3)):
            if nodes or rng.random() < 0.2:
                src = rng.choice(nodes)[0] if nodes else _name(rng)
                port = rng.choice(["", "", ":0", ":1", f":{rng.randrange(1 << 40)}", ":x"])
                inputs.append(("^" if rng.random() < 0.1 else "") + src + port)
        nodes.append((name, rng.choice(OPS), inputs))
    return nodes


def _graphdef(rng: random.Random):
    gd = b.graphdef(_nodes(rng, rng.randrange(1, 40)))
    for f in range(rng.randrange(3)):
        fn = gd.library.function.add()
        fn.signature.name = f"f{f}"
        fn.signature.input_arg.add(name="i")
        for name, op, inputs in _nodes(rng, rng.randrange(1, 6)):
            fn.node_def.add(name=name, op=op, input=[i if rng.random() < 0.5 else f"{i}:output:{rng.randrange(1 << 40)}"
                                                     for i in inputs])
    return gd


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """Flip, truncate, splice or repeat: one to three edits anywhere in the bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not out:
            break
        kind = rng.randrange(5)
        i = rng.randrange(len(out))
        if kind == 0:
            out[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[i] = rng.choice([0, 0x7F, 0x80, 0xFF])
        elif kind == 2:
            del out[i:]
        elif kind == 3:
            j = rng.randrange(len(out))
            out[i:i] = out[j:j + rng.randrange(1, 64)]
        else:
            out[i:i + 4] = rng.randrange(1 << 32).to_bytes(4, "little")
    return bytes(out)


def _maybe_mutate(rng: random.Random, data: bytes) -> bytes:
    return _mutate(rng, data) if rng.random() < 0.7 else data


def gen_graphdef(rng: random.Random, d: Path) -> Path:
    gd = _graphdef(rng)
    if rng.random() < 0.3:
        from google.protobuf import text_format

        text = text_format.MessageToString(gd)
        if rng.random() < 0.3:  # deep nesting through attr funcs
            depth = rng.choice([50, 120, 400])
            text = ('node { name: "d" op: "PartitionedCall" attr { key: "f" value { '
                    + 'func { name: "g" attr { key: "a" value { ' * depth + "b: true" + " } } }" * depth + " } } }\n")
        p = d / "graph.pbtxt"
        p.write_bytes(_maybe_mutate(rng, text.encode()) if rng.random() < 0.5 else text.encode())
        return p
    p = d / "graph.pb"
    p.write_bytes(_maybe_mutate(rng, gd.SerializeToString()))
    return p


def _tensors(rng: random.Random) -> dict[bytes, np.ndarray]:
    out = {}
    for _ in range(rng.randrange(1, 6)):
        key = _name(rng).encode("utf-8") + rng.choice([b"", b"\xff", b"\x1b[1m", b"/kernel", b"/bias"])
        shape = tuple(rng.randrange(1, 5) for _ in range(rng.randrange(3)))
        out[key] = np.asarray(rng.choice([np.zeros, np.ones])(shape, "f4"))
    return out


def gen_metagraph(rng: random.Random, d: Path) -> Path:
    gd = _graphdef(rng)
    names = [n.name for n in gd.node if n.op in ("VariableV2", "VarHandleOp")]
    mg = b.metagraph(gd, names)
    if rng.random() < 0.5:
        mg.saver_def.restore_op_name = rng.choice([n.name for n in gd.node] or ["save/restore_all"])
    if rng.random() < 0.5:
        mg.collection_def["train_op"].node_list.value.append(rng.choice([n.name for n in gd.node] or ["x"]))
    if rng.random() < 0.3:
        mg.collection_def["variables"].bytes_list.value.append(os.urandom(rng.randrange(1, 20)))
    (d / "model.ckpt.meta").write_bytes(_maybe_mutate(rng, mg.SerializeToString()))
    if rng.random() < 0.8:
        b.checkpoint(d / "model.ckpt", _tensors(rng))
    return d / "model.ckpt.meta"


def gen_saved_model(rng: random.Random, d: Path) -> Path:
    gd = _graphdef(rng)
    mg = b.metagraph(gd, [n.name for n in gd.node if n.op in ("VariableV2", "VarHandleOp")])
    sig = mg.signature_def["serving_default"]
    sig.outputs["out"].name = rng.choice([n.name for n in gd.node]) + ":0"
    if rng.random() < 0.4:  # a TF2 object graph with children pointing anywhere
        og = mg.object_graph_def
        for k in range(rng.randrange(1, 6)):
            node = og.nodes.add()
            child = node.children.add()
            child.node_id = rng.randrange(-1, 10)
            child.local_name = _name(rng)
            if rng.random() < 0.5:
                node.variable.name = _name(rng)
                node.variable.dtype = rng.choice([1, 3, 7, 99])
    folder = b.saved_model(d / "sm", mg, _tensors(rng) if rng.random() < 0.8 else None)
    pb = folder / "saved_model.pb"
    pb.write_bytes(_maybe_mutate(rng, pb.read_bytes()))
    return folder


def gen_checkpoint(rng: random.Random, d: Path) -> Path:
    prefix = d / "model.ckpt"
    b.checkpoint(prefix, _tensors(rng), compression=rng.choice([0, 0, 1]))
    index = Path(f"{prefix}.index")
    if rng.random() < 0.3:  # entries that lie: huge shapes, strings, offsets past the shard
        items = [(b"", b.bundle_header(rng.choice([1, 1, 2, 0])))]
        for k in range(rng.randrange(1, 4)):
            shape = [rng.choice([1, 3, 1 << 20, 1 << 31, 1 << 62]) for _ in range(rng.randrange(3))]
            items.append((b"t%d" % k, b.bundle_entry(rng.choice([1, 3, 7, 14, 99]), shape, rng.randrange(1 << 33),
                                                     rng.randrange(1 << 33), rng.randrange(1 << 32))))
        index.write_bytes(b.table(items))
    else:
        index.write_bytes(_maybe_mutate(rng, index.read_bytes()))
    if rng.random() < 0.2:
        shard = Path(f"{prefix}.data-00000-of-00001")
        shard.write_bytes(_mutate(rng, shard.read_bytes()))
    return index


def _keras_layers(rng: random.Random) -> list[tuple[str, str, dict]]:
    layers = []
    for k in range(rng.randrange(1, 5)):
        cfg = {"units": 3, "use_bias": rng.random() < 0.8}
        if rng.random() < 0.3:
            cfg[rng.choice(["kernel_initializer", "trainable", "layers"])] = rng.choice(
                [None, 1, "glorot_uniform", [], {"class_name": "Zeros"}, {"class_name": 3}, "x" * 10])
        layers.append((_name(rng) if rng.random() < 0.3 else f"dense_{k}",
                       rng.choice(["Dense", "Conv2D", "BatchNormalization", "Functional", "Lambda"]), cfg))
    return layers


def _keras_json(rng: random.Random, layers) -> str:
    roll = rng.random()
    if roll < 0.1:
        return "[" * rng.choice([10, 2000, 50000]) + "]" * 10
    if roll < 0.2:
        return json.dumps(rng.choice([[], 3, "x", None, {"config": []}, {"class_name": "Functional", "config": 5}]))
    return json.dumps(b.keras_config(layers))


def gen_h5(rng: random.Random, d: Path) -> Path:
    import h5py

    layers = _keras_layers(rng)
    # HDF5 group names: no empty name, and `/` would nest one layer inside another.
    layers = [(name.replace("/", "_") or "unnamed", cls, cfg) for name, cls, cfg in layers]
    layers = list({name: (name, cls, cfg) for name, cls, cfg in layers}.values())
    weights = {name: {"kernel": np.ones((3, 3), "f4"), "bias": np.zeros(3, "f4")} for name, _, _ in layers}
    p = d / "model.h5"
    b.keras_h5(p, _keras_json(rng, layers), weights)
    if rng.random() < 0.3:
        with h5py.File(p, "a") as f:
            group = f["model_weights"][next(iter(weights))]
            kind = rng.randrange(3)
            if kind == 0:  # never written, sized past any file
                del group[f"{next(iter(weights))}/kernel:0"]
                group.create_dataset(f"{next(iter(weights))}/kernel:0", shape=(1 << 15, 1 << 15), dtype="f4")
            elif kind == 1:  # a link out of the file
                f["model_weights"]["outside"] = h5py.ExternalLink("/etc/passwd", "/x")
            else:  # weight names that point nowhere
                group.attrs["weight_names"] = [b"nowhere:0", "\x1b[2J::error::x".encode()]
    p.write_bytes(_maybe_mutate(rng, p.read_bytes()))
    return p


def gen_keras(rng: random.Random, d: Path) -> Path:
    layers = _keras_layers(rng)
    p = d / "model.keras"
    weights = {"dense": [np.ones((3, 3), "f4"), np.zeros(3, "f4")]}
    b.keras_v3(p, b.keras_config(layers), weights, compression=rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    if rng.random() < 0.3:
        import warnings

        with zipfile.ZipFile(p, "a") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a duplicate member, on purpose: the last one wins
            zf.writestr("config.json", _keras_json(rng, layers))
    p.write_bytes(_maybe_mutate(rng, p.read_bytes()))
    return p


FAMILIES: dict[str, Callable[[random.Random, Path], Path]] = {
    "graphdef": gen_graphdef, "metagraph": gen_metagraph, "saved_model": gen_saved_model,
    "checkpoint": gen_checkpoint, "h5": gen_h5, "keras": gen_keras,
}


def check_case(path: Path, *, timeout: float = 10.0) -> str | None:
    """Audit ``path`` and render it every way; the broken promise, or None."""
    from graphaudit.config import Settings
    from graphaudit.engine import audit_paths
    from graphaudit.reporters import FORMATS, get_reporter

    settings = Settings()
    if "timeout" in Settings.__dataclass_fields__:
        settings = Settings(timeout=timeout)
    try:
        report = audit_paths([str(path)], settings)
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        return f"audit raised {type(exc).__name__}: {str(exc)[:200]}"
    for result in report.artifacts:
        if result.error and _CLASS_NAME.search(result.error):
            return f"error names an exception class: {result.error[:300]}"
    for fmt in FORMATS:
        buffer = io.StringIO()
        try:
            get_reporter(fmt, buffer, color=False).write(report)
            text = buffer.getvalue()
            text.encode("utf-8")
        except Exception as exc:  # noqa: BLE001
            return f"{fmt} reporter raised {type(exc).__name__}: {str(exc)[:200]}"
        if re.search("[\x00-\x08\x0b-\x1f\x7f]", text):
            return f"{fmt} output holds a raw control character"
        commands = [ln for ln in text.splitlines() if ln.lstrip().startswith("::")]
        if fmt != "github" and commands:
            return f"{fmt} output starts a workflow command: {commands[0][:120]}"
        if fmt == "github" and any(not re.match(r"::(error|warning|notice) (file=|title=)", ln) for ln in commands):
            return "github output holds a workflow command of the artifact's making"
    return None


def run_case(family: str, seed: int, work: Path, *, timeout: float = 10.0,
             isolate: bool = False) -> tuple[str | None, Path]:
    """Build and check one case; ``isolate`` checks it in a forked child, so that a hang or a
    crash of the code under test (say, a graphaudit without a time budget) counts as a failure."""
    d = work / f"{family}-{seed}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    rng = random.Random(f"{family}:{seed}")
    path = FAMILIES[family](rng, d)
    if not isolate:
        return check_case(path, timeout=timeout), path
    return _isolated(lambda: check_case(path, timeout=timeout), timeout + 30), path


def _isolated(work: Callable[[], str | None], limit: float) -> str | None:
    import select
    import signal

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            problem = work()
        except BaseException as exc:  # noqa: BLE001
            problem = f"the harness raised {type(exc).__name__}"
        os.write(write_fd, (problem or "").encode("utf-8", "backslashreplace"))
        os._exit(0)
    os.close(write_fd)
    ready, _, _ = select.select([read_fd], [], [], limit)
    out = b""
    if ready:
        while chunk := os.read(read_fd, 65536):
            out += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if not ready:
        return f"hung: no answer after {limit:g} s"
    if os.WIFSIGNALED(status):
        return f"the process died ({signal.Signals(os.WTERMSIG(status)).name})"
    return out.decode("utf-8") or None


def keep_failure(path: Path, family: str, problem: str, keep: Path) -> Path:
    """Copy a failing case (file or folder) into ``keep``, named by its content's hash."""
    root = path if path.is_dir() else path.parent
    digest = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            digest.update(p.name.encode("utf-8", "surrogateescape") + p.read_bytes())
    target = keep / f"{family}-{digest.hexdigest()[:12]}"
    if not target.exists():
        shutil.copytree(root, target, symlinks=True)
        (target / "PROBLEM.txt").write_text(f"{path.relative_to(root) if path != root else '.'}\n{problem}\n",
                                            encoding="utf-8", errors="backslashreplace")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=[*FAMILIES, "all"], default="all")
    ap.add_argument("--cases", type=int, default=200, help="cases per family")
    ap.add_argument("--seed", type=int, default=0, help="first seed; cases use seed, seed+1, ...")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--keep", type=Path, help="copy each failing case into this folder")
    ap.add_argument("--isolate", action="store_true",
                    help="check each case in a forked child: a hang or a crash counts as a failure")
    args = ap.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")  # strict-mode warnings about unknown content are expected here
    families = list(FAMILIES) if args.family == "all" else [args.family]
    totals = {}
    with tempfile.TemporaryDirectory(prefix="graphaudit-fuzz-") as tmp:
        for family in families:
            failures, examples, start = 0, [], time.monotonic()
            for seed in range(args.seed, args.seed + args.cases):
                problem, path = run_case(family, seed, Path(tmp), timeout=args.timeout, isolate=args.isolate)
                if problem:
                    failures += 1
                    if len(examples) < 3:
                        examples.append(f"seed {seed}: {problem}")
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        keep_failure(path, family, problem, args.keep)
                shutil.rmtree(Path(tmp) / f"{family}-{seed}", ignore_errors=True)
            totals[family] = (args.cases, failures)
            print(f"{family:12} {args.cases:6} cases {failures:5} failures {time.monotonic() - start:7.1f} s", flush=True)
            for line in examples:
                print(f"    {line}", flush=True)
    return 1 if any(f for _, f in totals.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
