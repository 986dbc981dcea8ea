"""Cold-process wall time of `graphaudit check` against `saved_model_cli show --all` on one VGG19 SavedModel.

Usage: python bench/bench_check_vs_saved_model_cli.py [--repeat 5]

Builds (once, under bench/_work/) a TF1 SavedModel of `tf_keras.applications.VGG19(weights=None,
include_top=False)` with a serving signature, holding stand-in pretrained values (or, with
`--weights fresh`, initializer output, which makes GA202 fire and read every weight), then times each command in a fresh process, median
of N runs, in the same session so both see the same machine state. Goal: ratio <= 0.15.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work"

BUILD = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
import tf_keras
tf.compat.v1.disable_v2_behavior()
images = tf.compat.v1.placeholder(tf.float32, (None, 224, 224, 3), name="images")
vgg = tf_keras.applications.VGG19(weights=None, include_top=False, input_tensor=images)
out = tf.identity(vgg.output, name="features")
sess = tf.compat.v1.Session()
sess.run(tf.compat.v1.global_variables_initializer())
if sys.argv[2] == "pretrained":
    # Stand-in pretrained values (what a real export holds): seeded, not initializer-like.
    import numpy as np
    rng = np.random.default_rng(7)
    for v in vgg.weights:
        shape = tuple(v.shape)
        value = (0.01 + 0.05 * rng.random(shape)) if len(shape) == 1 else \
            rng.standard_normal(shape) * (1.5 / float(np.prod(shape[:-1]))) ** 0.5
        v.load(value.astype("float32"), sess)
builder = tf.compat.v1.saved_model.Builder(sys.argv[1])
sig = tf.compat.v1.saved_model.predict_signature_def({"images": images}, {"features": out})
builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
builder.save()
"""


def build(weights: str) -> Path:
    model = WORK / f"vgg19_saved_model_{weights}"
    if (model / "saved_model.pb").is_file():
        return model
    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(model, ignore_errors=True)
    subprocess.run([sys.executable, "-c", BUILD, str(model), weights], check=True)
    return model


def timed(cmd: list[str], repeat: int) -> tuple[float, list[float]]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return statistics.median(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--weights", choices=("pretrained", "fresh"), default="pretrained",
                        help="pretrained: stand-in trained values (GA202 stops at the first chunk); "
                             "fresh: initializer output (GA202 fires and reads all 80 MB)")
    args = parser.parse_args()
    MODEL = build(args.weights)
    bindir = Path(sys.executable).parent
    ours = [sys.executable, "-m", "graphaudit", "check", "--format", "json", str(MODEL)]
    cli = shutil.which("saved_model_cli", path=str(bindir)) or shutil.which("saved_model_cli")
    if cli is None:
        raise SystemExit("saved_model_cli not found: install tensorflow (pip install -e '.[tf]')")
    peer = [cli, "show", "--all", "--dir", str(MODEL)]
    size = sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file())
    print(f"SavedModel: {MODEL} ({size / 1e6:.1f} MB)")
    g_med, g_all = timed(ours, args.repeat)
    s_med, s_all = timed(peer, args.repeat)
    print(f"graphaudit check --format json : median {g_med:.3f}s  runs {[round(t, 3) for t in g_all]}")
    print(f"saved_model_cli show --all     : median {s_med:.3f}s  runs {[round(t, 3) for t in s_all]}")
    ratio = g_med / s_med
    print(f"ratio graphaudit / saved_model_cli = {ratio:.3f}  (goal <= 0.15: {'met' if ratio <= 0.15 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
