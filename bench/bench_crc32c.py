"""Time `inspect --verify-checksums` with graphaudit's numpy CRC-32C against the google-crc32c and crc32c wheels.

A checkpoint of `--mb` MB is written with graphaudit's own writer (formats/checkpoint_writer.py):
a few large tensors (most of the bytes) and many small ones (where per-call overhead shows). Each
backend runs `Checkpoint.verify` on every tensor in a fresh subprocess, rotated round by round,
and `graphaudit inspect --verify-checksums` runs once per backend. The backends:
- `numpy`: graphaudit's fallback (formats/crc32c.py), the peer of the ratios;
- `google_crc32c`: the `google-crc32c` wheel (the `fast` extra), if importable;
- `crc32c`: the `crc32c` wheel (ICRAR's, hardware CRC32 instructions), if importable.
Run it with an interpreter that has the wheels (a throw-away venv made with
`--system-site-packages`); the missing ones are skipped.
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

WORK = REPO / "bench" / "_work" / "crc32c"


def build(total_mb: int) -> Path:
    prefix = WORK / f"ckpt_{total_mb}mb" / "ckpt"
    if Path(f"{prefix}.index").is_file():
        return prefix
    import numpy as np

    from graphaudit.formats.checkpoint_writer import write_checkpoint

    rng = np.random.default_rng(0)
    big = total_mb * 1024**2 * 9 // 10 // 4 // 4  # four tensors hold 90% of the bytes
    tensors = {f"big_{k}/kernel": (lambda: rng.standard_normal(big, dtype=np.float32)) for k in range(4)}
    small = total_mb * 1024**2 // 10 // (64 * 4)
    for k in range(small):  # the rest in 256-byte tensors
        tensors[f"layer_{k:06d}/bias"] = rng.standard_normal(64, dtype=np.float32)
    start = time.perf_counter()
    write_checkpoint(prefix, tensors)
    print(f"  wrote {prefix}: {len(tensors):,} tensors in {time.perf_counter() - start:.0f}s", file=sys.stderr)
    return prefix


_SETUP = """
import sys
from graphaudit.formats import crc32c
backend = sys.argv[2]
if backend == "numpy":
    crc32c._native_extend = None
elif backend == "google_crc32c":
    import google_crc32c
    assert google_crc32c.implementation == "c"
    crc32c._native_extend = google_crc32c.extend
elif backend == "crc32c":
    import crc32c as icrar
    crc32c._native_extend = lambda crc, data: icrar.crc32c(data, crc)
"""

_VERIFY = _SETUP + """
import json, resource, time
from graphaudit.formats.checkpoint import Checkpoint
ckpt = Checkpoint.open(sys.argv[1])
keys = ckpt.keys()
start, cpu = time.perf_counter(), time.process_time()
for key in keys:
    ckpt.verify(key)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

_INSPECT = _SETUP + """
import contextlib, io, json, resource, time
from graphaudit.cli import main
start, cpu = time.perf_counter(), time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(["inspect", sys.argv[1] + ".index", "--verify-checksums"])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu, "code": code,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def available(backend: str) -> bool:
    if backend == "numpy":
        return True
    try:
        module = __import__(backend)
    except ImportError:
        return False
    return backend != "google_crc32c" or module.implementation == "c"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    prefix = build(args.mb)
    backends = [b for b in ("numpy", "google_crc32c", "crc32c") if available(b)]
    verify: dict[str, list[dict]] = {b: [] for b in backends}
    inspect: dict[str, dict] = {}
    for round_ in range(args.repeat):
        for b in backends:
            verify[b].append(run(_VERIFY, prefix, b))
            if round_ == 0:
                inspect[b] = run(_INSPECT, prefix, b)
    data = Path(f"{prefix}.data-00000-of-00001").stat().st_size
    print(f"\n{data / 1e6:.0f} MB of tensor data; verify = Checkpoint.verify on every tensor, "
          f"median of {args.repeat} rotated rounds")
    peer = statistics.median(r["seconds"] for r in verify["numpy"])
    print(f"  {'backend':14} {'verify s':>9} {'cpu':>6} {'MB/s':>7} {'vs numpy':>9} {'inspect s':>10} {'exit':>5}")
    for b in backends:
        secs = statistics.median(r["seconds"] for r in verify[b])
        print(f"  {b:14} {secs:9.3f} {statistics.median(r['cpu'] for r in verify[b]):6.2f} "
              f"{data / 1e6 / secs:7.0f} {peer / secs:8.1f}x {inspect[b]['seconds']:10.2f} {inspect[b]['code']:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
