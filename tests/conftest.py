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


TF_MODULES = ("tensorflow", "tf_keras", "keras")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite tests/goldens/*.txt from the current output instead of comparing")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tf: needs TensorFlow installed (imports it in-process)")


def _imports_tensorflow_at_top(path: Path) -> bool:
    import ast

    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError):
        return False
    for node in tree.body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if any(n.split(".")[0] in TF_MODULES for n in names):
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without TensorFlow, `-m "not tf"` skips collecting modules that import it at the top.

    Such a module is wholly `tf` (it cannot even be imported); any other run collects it and
    fails loudly when TensorFlow is missing.
    """
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    if "not tf" not in " ".join((config.getoption("markexpr") or "").replace("(", " ").split()):
        return None
    if importlib.util.find_spec("tensorflow") is not None:
        return None
    return True if _imports_tensorflow_at_top(collection_path) else None


def _imports_tensorflow(func: Any, cache: dict[Any, bool]) -> bool:
    """Whether the source of ``func`` imports TensorFlow or Keras anywhere in its body."""
    import ast
    import inspect
    import textwrap

    if func not in cache:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        except (OSError, TypeError, SyntaxError):
            tree = None
        cache[func] = tree is not None and any(
            any(a.name.split(".")[0] in TF_MODULES for a in node.names) if isinstance(node, ast.Import) else
            isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in TF_MODULES
            for node in ast.walk(tree))
    return cache[func]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `tf` what needs TensorFlow: tests that use the built TensorFlow artifacts (the
    `artifacts` fixture, directly or through another fixture), and tests whose body or fixtures
    import tensorflow, tf_keras or keras."""
    cache: dict[Any, bool] = {}
    for item in items:
        if item.get_closest_marker("tf") is not None:
            continue
        names = getattr(item, "fixturenames", ())
        funcs = [getattr(item, "function", None)]
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        funcs += [d.func for name in names for d in defs.get(name, ())]
        if "artifacts" in names or any(f is not None and _imports_tensorflow(f, cache) for f in funcs):
            item.add_marker(pytest.mark.tf)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A test not marked `tf` must not import TensorFlow: `-m "not tf"` runs without it.

    Caught here when TensorFlow is installed and not yet imported; the TF-free run catches the rest.
    """
    before = {m for m in TF_MODULES if m in sys.modules}
    result = yield
    if item.get_closest_marker("tf") is None:
        new = sorted(m for m in TF_MODULES if m in sys.modules and m not in before)
        if new:
            pytest.fail(f"{item.nodeid} imports {', '.join(new)} but is not marked `tf`", pytrace=False)
    return result


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    """Built once per session, or kept across runs in ``$GRAPHAUDIT_FIXTURES_DIR`` when set."""
    shared = os.environ.get("GRAPHAUDIT_FIXTURES_DIR")
    return Artifacts(Path(shared) if shared else tmp_path_factory.mktemp("artifacts"))


GOLDENS = Path(__file__).parent / "goldens"


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """``golden(name, text)``: compare ``text`` with tests/goldens/<name>.txt, or rewrite it under
    ``pytest --update-goldens``. Review the diff of a rewrite like code."""

    def check(name: str, text: str) -> None:
        __tracebackhide__ = True
        path = GOLDENS / f"{name}.txt"
        if request.config.getoption("--update-goldens"):
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            return
        if not path.is_file():
            pytest.fail(f"no golden file {path.relative_to(GOLDENS.parent.parent)}; create it with "
                        "`python -m pytest --update-goldens`", pytrace=False)
        expected = path.read_text()
        if text != expected:
            import difflib

            diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                                f"goldens/{name}.txt", "now"))
            pytest.fail(f"the console output differs from goldens/{name}.txt "
                        f"(`python -m pytest --update-goldens` accepts it):\n{diff}", pytrace=False)

    return check
