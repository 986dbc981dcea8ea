"""GA202's weight statistics: quality figures, speed against reading the bytes, memory on a multi-GB checkpoint.

    python bench/bench_weight_stats.py --quality   # false-positive rate and power (no TensorFlow)
    python bench/bench_weight_stats.py --speed     # VGG19 checkpoint (80 MB): statistics vs numpy reading
    python bench/bench_weight_stats.py --rss [GB]  # peak RSS auditing a synthetic checkpoint (default 2.3 GB)

Work files (checkpoints written with TensorFlow) go to bench/_work/weight_stats/ and are reused.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "_work" / "weight_stats"
TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1", "CUDA_VISIBLE_DEVICES": ""}


def quality() -> None:
    """The figures tests/test_weight_stats.py asserts, printed."""
    spec = importlib.util.spec_from_file_location("weight_stats_corpus", ROOT / "tests" / "test_weight_stats.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    start = time.perf_counter()
    f = module.quality_figures()
    elapsed = time.perf_counter() - start
    print(f"power: {f['power']:.2%} of {f['fresh_n']:,} fresh-init tensors (>= 64 elements, "
          f"{len(f['by_init'])} initializers) judged fresh")
    for init, (hit, total) in sorted(f["by_init"].items()):
        print(f"  {init:26s} {hit}/{total}")
    print(f"false positives: {f['false_hits']}/{f['trained_n']} trained-like tensors on the catalogued "
          f"architectures' weights (FPR {f['fpr']:.3%})")
    for family, (hit, total) in sorted(f["by_family"].items()):
        print(f"  {family:26s} {hit}/{total}")
    print(f"trained BatchNorm statistics and biases taken for constants: {f['constant_hits']}/{f['constant_n']}")
    print(f"64-element tensors: {f['tiny_hits']}/{f['tiny_n']} trained-like ones judged fresh "
          f"({f['tiny_hits'] / f['tiny_n']:.1%}; the known limit, per initializer below)")
    for init, (hit, total) in sorted(f["by_tiny"].items()):
        print(f"  {init:26s} {hit}/{total}")
    print(f"({elapsed:.1f}s)")


# ----------------------------------------------------------------------------- VGG19 speed

_WRITE_VGG19 = r"""
import sys, numpy as np, tensorflow as tf, tf_keras
tf.compat.v1.disable_v2_behavior()
tf.compat.v1.set_random_seed(1)
images = tf.compat.v1.placeholder(tf.float32, (None, 32, 32, 3))
vgg = tf_keras.applications.VGG19(weights=None, include_top=False, input_tensor=images)
sess = tf.compat.v1.Session()
sess.run(tf.compat.v1.global_variables_initializer())
saver = tf.compat.v1.train.Saver()
saver.save(sess, sys.argv[1] + "/fresh/model.ckpt")            # fresh initializer output
rng = np.random.default_rng(1)
for w in vgg.weights:                                            # trained-like values
    v = sess.run(w)
    w.load(v + rng.laplace(0, np.abs(v).mean() + 0.01, v.shape).astype(v.dtype), sess)
saver.save(sess, sys.argv[1] + "/trained/model.ckpt")
"""


def _vgg19() -> Path:
    folder = WORK / "vgg19"
    if not (folder / "trained" / "model.ckpt.index").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", _WRITE_VGG19, str(folder)], check=True, env={**os.environ, **TF_ENV})
    return folder


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speed() -> None:
    import numpy as np

    from graphaudit.analysis import Analyses
    from graphaudit.config import Settings
    from graphaudit.formats.readers import read
    from graphaudit.formats.sniff import discover

    folder = _vgg19()
    for kind in ("fresh", "trained"):
        meta = folder / kind / "model.ckpt.meta"
        (candidate,) = discover([str(meta)], max_file_size=2**31)
        artifact = read(candidate, max_file_size=2**31)
        ckpt = artifact.checkpoint
        data = [Path(ckpt.shard_path(i)) for i in range(ckpt.num_shards)]
        nbytes = sum(p.stat().st_size for p in data)

        def stats(artifact=artifact):
            facts = Analyses(artifact, Settings())
            return facts.weight_verdicts

        def read_bytes(data=data):
            for p in data:
                np.fromfile(p, dtype=np.uint8).sum(dtype=np.uint64)

        def copy_tensors(ckpt=ckpt):
            for key in ckpt.keys():
                np.array(ckpt.value(key))

        verdicts = stats()
        fresh = sum(1 for v in verdicts.values() if v.fresh)
        t_stats, t_read, t_copy = _best(stats), _best(read_bytes), _best(copy_tensors)
        print(f"VGG19 checkpoint, {kind} values ({nbytes / 1e6:.1f} MB, {len(verdicts)} variables, "
              f"{fresh} judged fresh):")
        print(f"  GA202 statistics       {t_stats * 1e3:8.1f} ms")
        print(f"  numpy fromfile + sum   {t_read * 1e3:8.1f} ms   ratio {t_stats / t_read:5.1f}x")
        print(f"  numpy copy per tensor  {t_copy * 1e3:8.1f} ms   ratio {t_stats / t_copy:5.1f}x")


# -------------------------------------------------------------------- multi-GB checkpoint RSS

_WRITE_BIG = r"""
import sys, numpy as np, tensorflow as tf, tf_keras
from graphaudit.catalog import load_catalog
from graphaudit.analysis.initializers import spec_from_config
prefix, towers = sys.argv[1], int(sys.argv[2])
catalog = load_catalog()
fp = catalog.fingerprints["VGG19"]
rng = np.random.default_rng(5)
parts = []
for t in range(towers):
    names, tensors = [], []
    for w in fp.weights:
        shape = tuple(25088 if d is None else d for d in w.shape)   # 224x224 input: Flatten gives 25088
        init = catalog.initializers[w.initializer]
        spec = spec_from_config(init["class_name"], init["config"], shape, "bench")
        if spec.kind == "uniform":
            value = rng.uniform(spec.params["low"], spec.params["high"], shape).astype(np.float32)
        else:
            value = np.full(shape, spec.params["value"], np.float32)
        names.append(f"tower_{t}/{w.name}")
        tensors.append(tf.constant(value))
        del value
    part = f"{prefix}_part{t}"
    tf.raw_ops.SaveV2(prefix=part, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors)
    parts.append(part)
    del tensors
tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=parts, destination_prefix=prefix)
"""


def rss(gigabytes: float) -> None:
    from graphaudit.catalog import load_catalog

    fp = load_catalog().fingerprints["VGG19"]
    per_tower = 4 * sum(math.prod(25088 if d is None else d for d in w.shape) for w in fp.weights)
    towers = max(1, round(gigabytes * 1e9 / per_tower))
    prefix = WORK / f"synthetic_{towers}x_vgg19" / "ckpt"
    if not prefix.with_name("ckpt.index").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing {towers} VGG19 (with top) towers of fresh initializer values with TensorFlow ...")
        subprocess.run([sys.executable, "-c", _WRITE_BIG, str(prefix), str(towers)], check=True,
                       env={**os.environ, **TF_ENV})
    size = sum(p.stat().st_size for p in prefix.parent.glob("ckpt.data-*"))
    largest = max(math.prod(25088 if d is None else d for d in w.shape) for w in fp.weights) * 4
    audit = ("import resource, sys\n"
             "from graphaudit.cli import main\n"
             f"code = main(['check', {str(prefix) + '.index'!r}, '--select', 'GA202', '--format', 'json', "
             "'--isolated'])\n"
             "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
             "sys.exit(code)\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", audit], capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    maxrss_kb = int(proc.stderr.split("MAXRSS_KB")[1].split()[0])
    import json

    report = json.loads(proc.stdout)
    findings = report["artifacts"][0]["findings"]
    print(f"synthetic checkpoint: {size / 1e9:.2f} GB in one shard, {towers} VGG19 towers, largest tensor "
          f"{largest / 1e6:.0f} MB, all fresh initializer values")
    print(f"  graphaudit check --select GA202: exit {proc.returncode}, {len(findings)} GA202 findings, "
          f"{elapsed:.1f}s ({size / 1e9 / elapsed:.2f} GB/s)")
    print(f"  peak RSS: {maxrss_kb / 1024:.0f} MB (goal < 500 MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--rss", nargs="?", const=2.3, type=float, metavar="GB")
    args = parser.parse_args()
    if not (args.quality or args.speed or args.rss):
        args.quality = args.speed = True
        args.rss = 2.3
    if args.quality:
        quality()
    if args.speed:
        speed()
    if args.rss:
        rss(args.rss)
    return 0


if __name__ == "__main__":
    sys.exit(main())
