"""`graphaudit check models/ --jobs 1` against `--jobs 2` on 200 small SavedModels, cold processes.

Builds one clean and one broken TF1 SavedModel with TensorFlow once (the test fixture builders),
copies them 200 times under bench/_work/jobs/models/ (every fourth one broken), then times the
CLI in fresh processes, alternating the two settings, and prints the medians and the speed-up.
The two reports must be byte-identical.

    python bench/bench_jobs.py [--copies 200] [--repeat 3]
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

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "_work" / "jobs"
BUILDERS = {"clean": "tf1_saved_model_clean", "broken": "tf1_saved_model_partial_restore"}


def build_models(copies: int) -> Path:
    fixtures = Path(os.environ.get("GRAPHAUDIT_FIXTURES_DIR", WORK / "fixtures"))
    subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "build.py"), str(fixtures),
                    *BUILDERS.values()], check=True, stdout=subprocess.DEVNULL)
    models = WORK / "models"
    if models.exists():
        shutil.rmtree(models)
    for k in range(copies):
        kind = "broken" if k % 4 == 3 else "clean"
        shutil.copytree(fixtures / BUILDERS[kind] / "saved_model", models / f"m{k:03d}_{kind}" / "saved_model")
    return models


def check(models: Path, jobs: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "graphaudit", "check", str(models), "--isolated", "--jobs", str(jobs),
           "--format", "json", "-o", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr}")
    return elapsed


def _burn(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def parallel_capacity(n: int = 3_000_000) -> float:
    """The speed-up two processes can get on this machine right now: pure CPU work, 1 vs 2 at once.

    On a machine shared with other jobs, two "CPUs" may give far less than 2x; the audit's speed-up
    is to be read against this figure, measured in the same run.
    """
    import multiprocessing

    one = _burn(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])  # workers started before timing
        start = time.perf_counter()
        pool.map(_burn, [n, n])
        both = time.perf_counter() - start
    return 2 * one / both


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    models = build_models(args.copies)
    times: dict[int, list[float]] = {1: [], 2: []}
    capacity: list[float] = []
    check(models, 1, WORK / "warmup.json")  # page cache and .pyc files, for both settings alike
    for _ in range(args.repeat):
        capacity.append(parallel_capacity())
        for jobs in (1, 2):
            times[jobs].append(check(models, jobs, WORK / f"report_jobs{jobs}.json"))
    same = (WORK / "report_jobs1.json").read_bytes() == (WORK / "report_jobs2.json").read_bytes()
    t1, t2 = statistics.median(times[1]), statistics.median(times[2])
    print(f"{args.copies} SavedModels, {os.cpu_count()} CPUs, median of {args.repeat} cold runs each")
    print(f"--jobs 1: {t1:.2f} s  ({', '.join(f'{t:.2f}' for t in times[1])})")
    print(f"--jobs 2: {t2:.2f} s  ({', '.join(f'{t:.2f}' for t in times[2])})")
    print(f"speed-up: {t1 / t2:.2f}x; reports byte-identical: {same}")
    print(f"machine's parallel capacity in the same run (pure CPU, 2 processes vs 1): "
          f"{statistics.median(capacity):.2f}x ({', '.join(f'{c:.2f}' for c in capacity)})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
