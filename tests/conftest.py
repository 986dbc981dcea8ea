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


FIXTURES = Path(__file__).parent / "fixtures"


def _load_by_path(name: str, path: Path):
    # Loaded by path, so it works whatever import mode or sys.path the test run uses.
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look the module up while it executes
        spec.loader.exec_module(module)
    return sys.modules[name]


def _forkserver():
    return _load_by_path("graphaudit_fixture_forkserver", FIXTURES / "forkserver.py")


def _load_builders():
    return _forkserver().load_builders(FIXTURES / "build.py")


class Artifacts:
    """Real TensorFlow artifacts by builder name, each built at most once into ``root``.

    Builds run in the background, two at a time, from the session's start (see ``prefetch``), on
    servers that import TensorFlow once and fork a child per build (tests/fixtures/forkserver.py).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.builders = _load_builders()
        self._folders: dict[str, Path] = {}
        self._pool = _forkserver().BuildPool(self.builders, root, self.builders.MAX_PARALLEL) \
            if hasattr(os, "fork") else None

    def names(self) -> list[str]:
        return self.builders.names()

    def prefetch(self, names: list[str]) -> None:
        """Start building ``names`` in the background, in this order, while other tests run."""
        if self._pool is not None and importlib.util.find_spec("tensorflow") is not None:
            self._pool.prefetch(names)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def folders(self, *names: str) -> dict[str, Path]:
        """Build what is missing of ``names`` (first in the queue, in parallel); return their folders."""
        todo = [n for n in names if n not in self._folders]
        if todo:
            stale = [n for n in todo if not self.builders.is_built(n, self.root)]
            if stale and importlib.util.find_spec("tensorflow") is None:
                # No skip: CI installs TensorFlow, and a skip would hide a broken install step.
                pytest.fail(f"tensorflow is needed to build {', '.join(stale)}; "
                            'install the test dependencies with `pip install -e ".[tf,test]"`')
            if self._pool is not None:
                self._pool.wait(todo)
                self._folders.update({n: self.builders.target(n, self.root) for n in todo})
            else:
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


WANTED = pytest.StashKey[list]()
EARLY = pytest.StashKey[list]()


class _ModuleNames:
    """Which builder names a test module's functions spell, read from its source (never run)."""

    def __init__(self, path: Path, registered: list[str]) -> None:
        import ast

        self.registered = registered
        try:
            self.tree = ast.parse(path.read_text(), str(path))
        except (OSError, SyntaxError):
            self.tree = None
        body = self.tree.body if self.tree else []
        self.defs: dict[str, Any] = {n.name: n for n in body
                                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        self.defs.update({t.id: n for n in body if isinstance(n, (ast.Assign, ast.AnnAssign))
                          for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                          if isinstance(t, ast.Name)})

    def wanted(self, roots: list[str], params: list[str]) -> list[str]:
        """Names spelled in ``roots`` (module-level functions, fixtures, classes) and in the
        module-level functions and constants they refer to; the whole module when none is found.
        An f-string that starts with text, like ``f"provenance_tf1_{name}"``, stands for the names
        it spells with the test's parameters ``params`` in its fields, or else for every name it
        can spell."""
        import ast
        import re

        out: dict[str, None] = {}
        seen: set[str] = set()
        queue = [r for r in roots if r in self.defs]
        nodes = [self.defs[r] for r in queue] if queue else [self.tree] if self.tree else []
        seen.update(queue)
        while nodes:
            for node in ast.walk(nodes.pop(0)):
                if isinstance(node, ast.Constant) and node.value in self.registered:
                    out[node.value] = None
                elif isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
                    fields = ["(?:" + "|".join(map(re.escape, params)) + ")"] if params else []
                    for field in fields + [".+"]:
                        pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else field
                                          for v in node.values)
                        found = [n for n in self.registered if re.fullmatch(pattern, n)]
                        if found:
                            out.update(dict.fromkeys(found))
                            break
                elif isinstance(node, ast.Name) and node.id in self.defs and node.id not in seen:
                    seen.add(node.id)
                    nodes.append(self.defs[node.id])
        return list(out)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note which artifacts the selected tests need, in the order they will first need them, so
    the session can build them in the background from its first test on (``_prebuild_artifacts``)."""
    selected = [i for i in session.items if i.get_closest_marker("skip") is None]  # e.g. an empty parameter set
    # Test modules with long runs of their own (a `start_early(tmp_path_factory)` function) start
    # them at the first test too (``_start_early``).
    session.config.stash[EARLY] = list(dict.fromkeys(
        m for m in (getattr(i, "module", None) for i in selected) if hasattr(m, "start_early")))
    items = [i for i in selected if "artifacts" in getattr(i, "fixturenames", ())]
    if not items:
        return
    registered = _load_builders().names()
    modules: dict[Path, _ModuleNames] = {}
    wanted: dict[str, None] = {}
    for item in items:
        path = Path(item.path)
        if path not in modules:
            modules[path] = _ModuleNames(path, registered)
        cls = getattr(item, "cls", None)
        roots = [cls.__name__] if cls is not None else [getattr(item, "originalname", item.name)]
        callspec = getattr(item, "callspec", None)
        params = [v for v in (callspec.params.values() if callspec else ()) if isinstance(v, str)]
        wanted.update(dict.fromkeys(modules[path].wanted(roots + list(item.fixturenames), params)))
    session.config.stash[WANTED] = list(wanted)


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
def artifacts(tmp_path_factory: pytest.TempPathFactory):
    """Built once per session, or kept across runs in ``$GRAPHAUDIT_FIXTURES_DIR`` when set."""
    shared = os.environ.get("GRAPHAUDIT_FIXTURES_DIR")
    built = Artifacts(Path(shared) if shared else tmp_path_factory.mktemp("artifacts"))
    yield built
    built.close()


@pytest.fixture(scope="session", autouse=True)
def _prebuild_artifacts(request: pytest.FixtureRequest) -> None:
    """Queue every artifact the selected tests name, from the first test on (see ``_wanted``)."""
    wanted = request.config.stash.get(WANTED, [])
    if wanted:
        request.getfixturevalue("artifacts").prefetch(wanted)


@pytest.fixture(scope="session", autouse=True)
def _start_early(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Start the selected modules' long runs at the first test; stop what is left at session end."""
    procs = [p for module in request.config.stash.get(EARLY, []) for p in module.start_early(tmp_path_factory)]
    yield
    for proc in procs:  # a session that stopped early (`-x`) never waited for them
        if proc.poll() is None:
            proc.kill()
            proc.wait()


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
