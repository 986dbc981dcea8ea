"""Cold-process wall time of `graphaudit check` and `inspect` against `saved_model_cli show --all` on VGG19 SavedModels.

Usage: python bench/bench_check_vs_saved_model_cli.py [--rounds 5] [--rss]

Builds (once, under bench/_work/) two TF1 SavedModels of `tf_keras.applications.VGG19(weights=None,
include_top=False)` with a serving signature: one holding stand-in pretrained values, one holding
fresh initializer output (GA202 fires). Each round runs every command once on both models, in a
rotated order, each in a fresh process, so graphaudit and its peer see the same machine state; the
medians over the rounds give the ratios. Goal: check <= 0.10x saved_model_cli on both models.
Bytecode is written once before timing (an installed package has it; PYTHONDONTWRITEBYTECODE=1
would recompile all of graphaudit on every start). With --rss, one more process prints the peak
RSS after each phase of a check: imports, read, analyses and rules, report.
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


def _env() -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(cmd: list[str], pythonpath: str | None = None) -> float:
    env = _env()
    # This checkout's graphaudit unless PYTHONPATH says otherwise (an editable install may point elsewhere).
    env["PYTHONPATH"] = pythonpath or os.environ.get("PYTHONPATH") or str(WORK.parent.parent)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return elapsed


PHASES = r"""
import resource, sys, time
def mark(what, t0=[time.perf_counter()]):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {what:<22} peak RSS {rss:7.1f} MB   at {time.perf_counter() - t0[0]:6.3f} s")
mark("interpreter")
from graphaudit.config import Options, resolve
from graphaudit.engine import check_artifact
from graphaudit.formats.readers import read
from graphaudit.formats.sniff import discover
from graphaudit.rules import BY_CODE
mark("imports")
settings = resolve(Options(), BY_CODE)
from graphaudit.config import DEFAULT_MAX_FILE_SIZE
art = read(discover([sys.argv[1]], max_file_size=DEFAULT_MAX_FILE_SIZE)[0], max_file_size=DEFAULT_MAX_FILE_SIZE)
mark("read")
result = check_artifact(art, settings)
mark("analyses and rules")
import io
from graphaudit.findings import Report
from graphaudit.reporters import get_reporter
get_reporter("json", io.StringIO()).write(Report((result,)))
mark("json report")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", "--repeat", type=int, default=5)
    parser.add_argument("--rss", action="store_true", help="also print the peak RSS after each phase")
    parser.add_argument("--compare", metavar="CHECKOUT",
                        help="also time the graphaudit of this checkout (e.g. an older commit) in the same rounds")
    args = parser.parse_args()
    models = {w: build(w) for w in ("pretrained", "fresh")}
    bindir = Path(sys.executable).parent
    cli = shutil.which("saved_model_cli", path=str(bindir)) or shutil.which("saved_model_cli")
    if cli is None:
        raise SystemExit("saved_model_cli not found: install tensorflow (pip install -e '.[tf]')")
    commands: dict = {}
    paths: dict = {}
    for w, model in models.items():
        size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
        print(f"SavedModel ({w}): {model} ({size / 1e6:.1f} MB)")
        commands[("check", w)] = [sys.executable, "-m", "graphaudit", "check", "--isolated", "--format", "json", str(model)]
        commands[("inspect", w)] = [sys.executable, "-m", "graphaudit", "inspect", "--format", "json", str(model)]
        commands[("saved_model_cli", w)] = [cli, "show", "--all", "--dir", str(model)]
        if args.compare:
            for what in ("check", "inspect"):
                commands[(what + "@compare", w)] = commands[(what, w)]
                paths[(what + "@compare", w)] = str(Path(args.compare).resolve())
    for key, cmd in commands.items():  # warm-up, not timed: bytecode and the page cache
        run_once(cmd, paths.get(key))
    times: dict = {key: [] for key in commands}
    keys = list(commands)
    for r in range(args.rounds):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            times[key].append(run_once(commands[key], paths.get(key)))
    med = {key: statistics.median(ts) for key, ts in times.items()}
    for key, ts in times.items():
        print(f"{key[0] + ' (' + key[1] + ')':<28} median {med[key]:.3f}s  runs {[round(t, 3) for t in ts]}")
    for w in models:
        peer = med[("saved_model_cli", w)]
        for what in [k for k, kw in med if kw == w and k != "saved_model_cli"]:
            ratio = med[(what, w)] / peer
            print(f"ratio {what:<15} / saved_model_cli ({w:<10}) = {ratio:.3f}"
                  + (f"  (goal <= 0.10: {'met' if ratio <= 0.10 else 'NOT met'})" if what.startswith("check") else ""))
    if args.rss:
        for w, model in models.items():
            print(f"phases of a check ({w}):")
            env = dict(_env(), PYTHONPATH=os.environ.get("PYTHONPATH") or str(WORK.parent.parent))
            subprocess.run([sys.executable, "-c", PHASES, str(model)], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
