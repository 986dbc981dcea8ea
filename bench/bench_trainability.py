"""Time the trainability audit (Keras readers, update and slot analyses, GA301-GA303) against loading with Keras."""

# The peer is what a user runs to answer the same question by hand: load the model with
# tf_keras (`load_model` for `.h5`, `tf.saved_model.load` for the SavedModel) and read the
# layers' `trainable` flags and the optimizer's variables. Both are timed in the same run, on
# a ResNet50 (23.6M params) fine-tuned for one step with its base left trainable.

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

WORK = REPO / "bench" / "_work" / "trainability"


def build(folder: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    base = keras.applications.ResNet50(input_shape=(32, 32, 3), include_top=False, weights=None)
    inputs = keras.layers.Input((32, 32, 3))
    logits = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    model = keras.Model(inputs, logits)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    model.fit(rng.uniform(size=(4, 32, 32, 3)).astype("float32"), rng.integers(0, 10, 4), verbose=0)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(str(folder / "model.h5"))
    model.save(str(folder / "saved_model"), save_format="tf")


def graphaudit_once(path: Path) -> tuple[float, list[str]]:
    from graphaudit.config import Settings
    from graphaudit.engine import audit_paths

    start = time.perf_counter()
    report = audit_paths([str(path)], Settings(select=("GA3",)))
    elapsed = time.perf_counter() - start
    assert not report.errors, report.errors
    return elapsed, sorted(f.code for f in report.findings)


def peer_once(path: Path) -> float:
    """In a fresh interpreter, as a user would: import TF, load, read the flags and slots."""
    code = (
        "import os, sys, time; os.environ['TF_USE_LEGACY_KERAS'] = '1'; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'\n"
        "start = time.perf_counter()\n"
        "import tensorflow as tf, tf_keras\n"
        f"path = {str(path)!r}\n"
        "if path.endswith('.h5'):\n"
        "    m = tf_keras.models.load_model(path)\n"
        "    flags = [l.trainable for l in m.layers[1].layers]; slots = len(m.optimizer.variables())\n"
        "else:\n"
        "    m = tf.saved_model.load(path)\n"
        "    flags = [v.trainable for v in m.variables]; slots = len(m.optimizer.variables())\n"
        "print(time.perf_counter() - start)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def graphaudit_fresh(path: Path) -> float:
    """graphaudit in a fresh interpreter too, imports included: the same footing as the peer."""
    code = (
        "import sys, time; start = time.perf_counter()\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from graphaudit.config import Settings\nfrom graphaudit.engine import audit_paths\n"
        f"audit_paths([{str(path)!r}], Settings(select=('GA3',)))\n"
        "print(time.perf_counter() - start)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not (WORK / "saved_model" / "saved_model.pb").exists():
        build(WORK)
    for name in ("model.h5", "saved_model"):
        path = WORK / name
        _, codes = graphaudit_once(path)
        ours = statistics.median(graphaudit_fresh(path) for _ in range(args.repeat))
        theirs = statistics.median(peer_once(path) for _ in range(args.repeat))
        print(f"{name:12s} graphaudit {ours:6.2f}s  keras load {theirs:6.2f}s  ratio {theirs / ours:5.1f}x  "
              f"findings {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
