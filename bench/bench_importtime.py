"""The `-X importtime` top of a cold `graphaudit` command: self time by module and summed by package.

Usage: python bench/bench_importtime.py [--runs 5] [--top 10] [--code CHECKOUT] -- check --format json PATH

Runs the command `--runs` times in fresh processes (bytecode written first; PYTHONDONTWRITEBYTECODE
unset, as an installed package has its bytecode), keeps each module's smallest self time over the
runs (the least disturbed figure on a shared machine), and prints the top modules and packages with
the total. `--code` measures another checkout (e.g. an older commit) instead of this one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def importtimes(args: list[str], code: str) -> dict[str, int]:
    """Self time in microseconds of each module imported by one cold run."""
    env = dict(os.environ, PYTHONPATH=code, NO_COLOR="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # A neutral cwd: `python -m` puts the working directory ahead of PYTHONPATH.
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphaudit", *args], cwd="/",
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = line[len("import time:"):].split("|")
        out[name.strip()] = out.get(name.strip(), 0) + int(self_us)
    if not out:
        raise SystemExit(f"no import times from {args}: {proc.stderr[-500:]}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--code", default=str(HERE), help="the checkout whose graphaudit is measured")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the graphaudit arguments, after --")
    args = parser.parse_args()
    command = [a for a in args.command if a != "--"] or ["--version"]
    code = str(Path(args.code).resolve())
    importtimes(command, code)  # warm-up: bytecode and the page cache
    best: dict[str, int] = {}
    for _ in range(args.runs):
        for name, us in importtimes(command, code).items():
            best[name] = min(best.get(name, us), us)
    by_package: dict[str, int] = defaultdict(int)
    for name, us in best.items():
        by_package[name.split(".")[0]] += us
    print(f"graphaudit {' '.join(command)}  ({code}; smallest self time of {args.runs} runs; "
          f"load {os.getloadavg()[0]:.2f})")
    print(f"{len(best)} modules, {sum(best.values()) / 1000:.1f} ms in all")
    print("top modules:   " + ", ".join(f"{n} {us / 1000:.1f}" for n, us in
                                         sorted(best.items(), key=lambda kv: -kv[1])[:args.top]))
    print("top packages:  " + ", ".join(f"{n} {us / 1000:.1f}" for n, us in
                                         sorted(by_package.items(), key=lambda kv: -kv[1])[:args.top]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
