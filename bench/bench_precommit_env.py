"""Measure the hook environment `pre-commit try-repo` builds for graphaudit: install time, size, no TensorFlow.

Runs the real thing: a scratch git repo holding the committed example with a missing backbone and
a `.pre-commit-config.yaml` whose `repo:` is this checkout at its HEAD commit, with an empty
PRE_COMMIT_HOME, so pre-commit clones it and pip-installs graphaudit (`language: python`) from
scratch (`pre-commit install-hooks`), then `pre-commit run --all-files`. (`try-repo` does the
same but builds its environment in a temporary store it deletes, so it cannot be measured.)
Needs the package index that pip is configured with. Prints the install time, the environment's
size on disk, the packages it holds, and the hook's output.

    python bench/bench_precommit_env.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "tf1_missing_backbone"


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return proc, time.monotonic() - start


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="ga-precommit-") as scratch:
        scratch = Path(scratch)
        work = scratch / "work"
        shutil.copytree(EXAMPLE, work / "models" / "tf1_missing_backbone")
        for cmd in (["init", "-q"], ["add", "-A"]):
            subprocess.run(["git", *cmd], cwd=work, check=True)
        home = scratch / "home"
        # No pip cache: the install is measured from the package index, as on a fresh machine.
        env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never", "PIP_NO_CACHE_DIR": "1"}
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.strip()
        (work / ".pre-commit-config.yaml").write_text(
            f"repos:\n- repo: {REPO}\n  rev: {rev}\n  hooks:\n  - id: graphaudit\n")
        subprocess.run(["git", "add", "-A"], cwd=work, check=True)
        pre_commit = [sys.executable, "-m", "pre_commit"]
        install, cold = _run([*pre_commit, "install-hooks"], work, env)
        if install.returncode != 0:
            print(install.stdout + install.stderr, file=sys.stderr)
            return 1
        first, warm = _run([*pre_commit, "run", "--all-files"], work, env)
        envs = sorted(home.glob("repo*/py_env-*"))
        print(f"hook output (exit code {first.returncode}):\n{first.stdout}{first.stderr}")
        if not envs:
            print("no hook environment was built", file=sys.stderr)
            return 1
        py = envs[0] / "bin" / "python"
        frozen = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                                text=True).stdout.split()
        heavy = [p for p in frozen if p.lower().startswith(("tensorflow==", "tf-keras", "keras==", "tf_keras"))]
        print(f"environment: {envs[0].name}, {_size(envs[0]) / 1e6:.1f} MB on disk, {len(frozen)} packages")
        print("packages: " + ", ".join(frozen))
        print(f"install-hooks (clone + virtualenv + pip install): {cold:.1f} s; run --all-files: {warm:.1f} s")
        print(f"tensorflow in the hook environment: {heavy or 'none'}")
        return 0 if not heavy and first.returncode == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
