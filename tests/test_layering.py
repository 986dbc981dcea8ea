"""The import graph of graphaudit/: no cycles, and every arrow points down the pipeline (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "graphaudit"

#: The pipeline's stages, lowest first. A module may import its own stage or a lower one;
#: modules not listed (engine, api, cli, precommit, pytest_plugin, testing, inspection, demo,
#: reference, the package itself) are front ends and may import any stage.
STAGES = (
    ("graphaudit.errors", "graphaudit.names", "graphaudit.version", "graphaudit.records", "graphaudit.findings",
     "graphaudit.bulk"),
    ("graphaudit.model", "graphaudit.artifact", "graphaudit.config"),
    ("graphaudit.formats",),
    ("graphaudit.catalog",),
    ("graphaudit.analysis",),
    ("graphaudit.rules",),
    ("graphaudit.reporters", "graphaudit.docs"),
)

#: Only formats/ knows protobuf, wire bytes and files: analysis and rules see the typed model.
NO_FORMATS = ("graphaudit.analysis", "graphaudit.rules")


#: Protobuf and wire knowledge (generated proto classes, the wire format, formats' internals) lives
#: in formats/ only; everyone else goes through formats' public functions. The harness (testing/)
#: writes artifacts as TensorFlow does, so it builds protobufs too: it is the writer's side of the
#: same boundary, and only the pytest plugin imports it.
WIRE_MODULES = ("graphaudit.formats", "graphaudit.testing")
WIRE_PACKAGES = ("google.protobuf", "tensorboard", "tensorflow.core")
#: formats' public face: whole modules, or the names a module exports to the rest of graphaudit.
FORMATS_PUBLIC_MODULES = ("graphaudit.formats.editing", "graphaudit.formats.live")
FORMATS_PUBLIC_NAMES = {
    "graphaudit.formats.readers": {"read"},
    "graphaudit.formats.sniff": {"discover", "artifact_roots", "current_checkpoint", "Candidate", "SearchOptions"},
    "graphaudit.formats.checkpoint_writer": {"write_checkpoint"},
}
TESTING_USERS = ("graphaudit.testing", "graphaudit.pytest_plugin")


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def compiled_modules() -> set[str]:
    """The optional C extensions (setup.py): modules that import nothing of graphaudit."""
    return {".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts) for path in PACKAGE.rglob("*.c")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every graphaudit module that ``name`` imports, anywhere in the file (functions, TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    out: set[str] = set()

    def nearest(module: str) -> str | None:
        while module and module not in known:
            module = module.rpartition(".")[0]
        return module or None

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import mod` imports the submodule; `from mod import name` the module.
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith("graphaudit"):
                found = nearest(target)
                if found and found != name:
                    out.add(found)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    compiled = compiled_modules()
    known = set(mods) | compiled
    graph = {name: imports_of(name, path, known) for name, path in mods.items()}
    graph.update((name, set()) for name in compiled)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def stage_of(module: str) -> int:
    for k, names in enumerate(STAGES):
        if any(module == n or module.startswith(n + ".") for n in names):
            return k
    return len(STAGES)


def violations(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    out = set()
    for module, targets in graph.items():
        for target in targets:
            if stage_of(target) > stage_of(module):
                out.add((module, target))
            if module.startswith(NO_FORMATS) and target.startswith("graphaudit.formats"):
                out.add((module, target))
    return out


def raw_imports(name: str, path: Path) -> list[tuple[str, tuple[str, ...] | None]]:
    """Each import of a module: (absolute module, names taken from it, or None for `import m`)."""
    is_package = path.name == "__init__.py"
    out: list[tuple[str, tuple[str, ...] | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            out.append((module, tuple(a.name for a in node.names)))
    return out


def wire_violations(mods: dict[str, Path]) -> set[tuple[str, str]]:
    """Imports of protobuf or of formats' internals outside formats/ (and the harness)."""
    out = set()
    for name, path in mods.items():
        if name.startswith(WIRE_MODULES):
            continue
        for module, names in raw_imports(name, path):
            if module.startswith(WIRE_PACKAGES):
                out.add((name, module))
                continue
            if module == "graphaudit.formats":
                targets = [(f"{module}.{n}", None) for n in names or ("",)]
            elif module.startswith("graphaudit.formats."):
                targets = [(module, names)]
            else:
                continue
            for target, taken in targets:
                if target in FORMATS_PUBLIC_MODULES:
                    continue
                public = FORMATS_PUBLIC_NAMES.get(target)
                if public is None or taken is None or not set(taken) <= public:
                    out.add((name, target + ("" if taken is None else f" ({', '.join(sorted(set(taken) - (public or set())))})")))
    return out


def harness_users(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(m, t) for m, targets in graph.items() for t in targets
            if t.startswith("graphaudit.testing") and not m.startswith(TESTING_USERS)}


def test_the_import_graph_has_no_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_every_import_points_down_the_pipeline():
    found = sorted(violations(import_graph()))
    assert not found, "imports of a later stage, or of formats/ from analysis or rules:\n" + "\n".join(
        f"  {a} -> {b}" for a, b in found)


def test_only_formats_knows_protobuf_and_the_wire():
    found = sorted(wire_violations(modules()))
    assert not found, ("protobuf or formats internals outside formats/ (use formats' public functions, or "
                       "move the code into formats/):\n" + "\n".join(f"  {a} -> {b}" for a, b in found))


def test_the_harness_is_imported_only_by_the_pytest_plugin():
    found = sorted(harness_users(import_graph()))
    assert not found, "graphaudit.testing builds protobufs; only tests and the pytest plugin may use it:\n" + \
        "\n".join(f"  {a} -> {b}" for a, b in found)


def test_the_wire_checker_sees_protobuf_and_formats_internals(tmp_path):
    pkg = tmp_path / "graphaudit"
    (pkg / "formats").mkdir(parents=True)
    for rel in ("__init__.py", "formats/__init__.py", "formats/protos.py", "formats/readers.py",
                "formats/editing.py"):
        (pkg / rel).write_text("from google.protobuf import text_format\n")
    (pkg / "fix.py").write_text("def f():\n    from google.protobuf import text_format\n"
                                "from graphaudit.formats import protos, editing\n"
                                "from .formats.readers import read, parse_proto\n")
    (pkg / "engine.py").write_text("from graphaudit.formats.readers import read\nimport graphaudit.formats.editing\n")
    mods = modules(pkg)
    assert wire_violations(mods) == {
        ("graphaudit.fix", "google.protobuf"),
        ("graphaudit.fix", "graphaudit.formats.protos"),
        ("graphaudit.fix", "graphaudit.formats.readers (parse_proto)"),
        ("graphaudit", "google.protobuf"),
    }


def test_the_checker_sees_imports_inside_functions_and_type_checking_blocks(tmp_path):
    pkg = tmp_path / "graphaudit"
    (pkg / "analysis").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "findings.py").write_text("def f():\n    from graphaudit.reporters import x\n")
    (pkg / "reporters.py").write_text("from graphaudit.findings import Finding\n")
    (pkg / "analysis" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..formats import wire\n")
    (pkg / "formats.py").write_text("")
    mods = modules(pkg)
    graph = {name: imports_of(name, path, set(mods)) for name, path in mods.items()}
    assert cycles(graph) == [["graphaudit.findings", "graphaudit.reporters"]]
    assert ("graphaudit.analysis", "graphaudit.formats") in violations(graph)
    assert ("graphaudit.findings", "graphaudit.reporters") in violations(graph)


def test_readers_analysis_and_the_model_name_no_rule():
    """Facts are rule-agnostic: which rule explains what is decided in rules/ (e.g. GA201 leaves
    renamed variables to GA203 there), so no string in formats/, analysis/ or the model is a rule
    code (a reader states a fact such as `Artifact.values_missing`; the engine words it for rules)."""
    import re

    found = []
    for name, path in modules().items():
        if not name.startswith(("graphaudit.formats", "graphaudit.analysis", "graphaudit.model",
                                "graphaudit.artifact")):
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        found += [f"{name}:{node.lineno} {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                  and re.search(r"\bGA\d{3}\b", node.value)]
    assert not found, "rule codes in formats/analysis/model code:\n" + "\n".join(found)
