"""Shared pytest setup: the `tf` marker and real TensorFlow artifacts built on first use."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

# Quiet TensorFlow's C++ logging in tests that import it; users' settings win.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Unknown ops or proto content degrade quietly for users and fail loudly here (like pyflakes).
os.environ.setdefault("GRAPHAUDIT_STRICT", "1")


def _load_builders():
    # Loaded by path, so it works whatever import mode or sys.path the test run uses.
    name = "graphaudit_fixture_builders"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "fixtures" / "build.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look the module up while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


class Artifacts:
    """Real TensorFlow artifacts by builder name, each built at most once into ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.builders = _load_builders()
        self._folders: dict[str, Path] = {}

    def names(self) -> list[str]:
        return self.builders.names()

    def folders(self, *names: str) -> dict[str, Path]:
        """Build what is missing of ``names`` in one batch (in parallel); return their folders."""
        todo = [n for n in names if n not in self._folders]
        if todo:
            stale = [n for n in todo if not self.builders.is_built(n, self.root)]
            if stale and importlib.util.find_spec("tensorflow") is None:
                # No skip: CI installs TensorFlow, and a skip would hide a broken install step.
                pytest.fail(f"tensorflow is needed to build {', '.join(stale)}; "
                            'install the test dependencies with `pip install -e ".[tf,test]"`')
            self._folders.update(self.builders.build(todo, self.root))
        return {n: self._folders[n] for n in names}

    def folder(self, name: str) -> Path:
        return self.folders(name)[name]

    def path(self, name: str) -> Path:
        """The artifact itself (what graphaudit is pointed at), per its manifest's ``root``."""
        return self.folder(name) / self.manifest(name)["root"]

    def manifest(self, name: str) -> dict[str, Any]:
        return self.builders.load_manifest(self.folder(name))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tf: needs TensorFlow installed (imports it in-process)")


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """Built once per session, or kept across runs in ``$GRAPHAUDIT_FIXTURES_DIR`` when set."""
    shared = os.environ.get("GRAPHAUDIT_FIXTURES_DIR")
    return Artifacts(Path(shared) if shared else tmp_path_factory.mktemp("artifacts"))
