"""Time reading every value of a VGG19-sized checkpoint with graphaudit and with TensorFlow."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from graphaudit.formats import crc32c  # noqa: E402
from graphaudit.formats.checkpoint import Checkpoint  # noqa: E402

WORK = REPO / "bench" / "_work"


def build(prefix: Path) -> None:
    """VGG19 without its classifier: 20,024,384 float32 parameters, about 80 MB."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras

    model = tf_keras.applications.VGG19(weights=None, include_top=False, input_shape=(224, 224, 3))
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tf.train.Checkpoint(model=model).write(str(prefix))


def read_all_graphaudit(prefix: Path) -> float:
    ckpt = Checkpoint.open(prefix)
    total = 0.0
    for key in ckpt.keys():
        if ckpt.entry(key).dtype != "string":
            total += float(ckpt.value(key).sum(dtype=np.float64))  # touches every byte
    return total


def read_all_tensorflow(prefix: Path) -> float:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    total = 0.0
    for key, dtype in reader.get_variable_to_dtype_map().items():
        if dtype != tf.string:
            total += float(np.sum(reader.get_tensor(key), dtype=np.float64))
    return total


def verify_all(prefix: Path) -> None:
    ckpt = Checkpoint.open(prefix)
    for key in ckpt.keys():
        ckpt.verify(key)


def checksum_all_pure(prefix: Path) -> None:
    """What :meth:`Checkpoint.verify` costs when google_crc32c is not installed."""
    ckpt = Checkpoint.open(prefix)
    for key in ckpt.keys():
        for part in ckpt.parts(key):
            data = np.memmap(ckpt.shard_path(part.shard_id), np.uint8, "r", part.offset, (part.size,))
            crc32c.extend_pure(0, data)


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)

    prefix = WORK / "vgg19" / "ckpt"
    if args.rebuild or not Path(f"{prefix}.index").is_file():
        build(prefix)
    import tensorflow  # noqa: F401  (imported before timing, so neither side pays for it)

    size = sum(p.stat().st_size for p in prefix.parent.glob(f"{prefix.name}.*"))
    ckpt = Checkpoint.open(prefix)
    print(
        f"checkpoint: {prefix} ({size / 1e6:.1f} MB, {len(ckpt)} tensors, {ckpt.num_shards} shard)"
    )

    # Both readers must agree before their speed means anything; this also warms the page cache.
    ours, theirs = read_all_graphaudit(prefix), read_all_tensorflow(prefix)
    assert abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs)), (ours, theirs)

    graphaudit_s = median_seconds(lambda: read_all_graphaudit(prefix), args.repeat)
    tensorflow_s = median_seconds(lambda: read_all_tensorflow(prefix), args.repeat)
    print(f"read all values, median of {args.repeat}:")
    print(f"  graphaudit  {graphaudit_s * 1e3:8.1f} ms")
    print(f"  tensorflow  {tensorflow_s * 1e3:8.1f} ms")
    print(f"  ratio       {graphaudit_s / tensorflow_s:8.2f}x (graphaudit / tensorflow)")

    verify_s = median_seconds(lambda: verify_all(prefix), args.repeat)
    print(f"verify every tensor's crc32c ({crc32c.BACKEND}): {verify_s * 1e3:8.1f} ms")
    fallback_s = median_seconds(lambda: checksum_all_pure(prefix), args.repeat)
    print(f"crc32c of every tensor, numpy fallback:        {fallback_s * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
