"""Fix-up snippets, without TensorFlow: every printed snippet parses, has a known header and assumes only the documented names."""

from __future__ import annotations

import ast
import builtins
import importlib
import re
from pathlib import Path

import pytest

from graphaudit.catalog import load_catalog
from graphaudit.rules import ALL_RULES, BY_CODE
from graphaudit.rules.snippets import ASSUMED, fenced_blocks, finetune_patterns, split
from graphaudit.testing.harness import check

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "tests" / "cases").glob("test_cases_ga*.py"))


def free_names(code: str) -> set[str]:
    """Names a snippet reads before (or without) binding them, builtins left out."""
    tree = ast.parse(code)
    bound: set[str] = set()
    free: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_Name(self, node: ast.Name) -> None:
            if isinstance(node.ctx, ast.Load):
                if node.id not in bound and not hasattr(builtins, node.id):
                    free.add(node.id)
            else:
                bound.add(node.id)

        def _comprehension(self, node, *parts) -> None:
            # The generators bind the target before the element is evaluated.
            for gen in node.generators:
                self.visit(gen.iter)
                for n in ast.walk(gen.target):
                    if isinstance(n, ast.Name):
                        bound.add(n.id)
                for condition in gen.ifs:
                    self.visit(condition)
            for part in parts:
                self.visit(part)

        def visit_ListComp(self, node) -> None:
            self._comprehension(node, node.elt)

        visit_SetComp = visit_GeneratorExp = visit_ListComp

        def visit_DictComp(self, node) -> None:
            self._comprehension(node, node.key, node.value)

        def visit_Lambda(self, node: ast.Lambda) -> None:
            bound.update(a.arg for a in node.args.args)
            self.generic_visit(node)

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            bound.add(node.name)
            bound.update(a.arg for a in node.args.args)
            self.generic_visit(node)

        def visit_alias(self, node: ast.alias) -> None:
            bound.add((node.asname or node.name).split(".")[0])

    # Statements in order, so that a name bound above counts as defined below.
    for stmt in tree.body:
        Visitor().visit(stmt)
    return free


def check_snippet(rule, header: str, code: str) -> None:
    __tracebackhide__ = True
    known = {t.header for t in rule.fixup_templates}
    assert header in known, f"{rule.code}: header {header!r} is none of the rule's templates {sorted(known)}"
    assert "$" not in code, f"{rule.code}: unrendered template name in {code!r}"
    missing = free_names(code) - set(ASSUMED)
    assert not missing, f"{rule.code} `{header}` uses undefined names {sorted(missing)}:\n{code}"


def case_findings():
    """Every finding the hand-built test cases give (each case module's `BAD`-style tables)."""
    out = []
    for path in CASES:
        module = importlib.import_module(f"tests.cases.{path.stem}")
        for name, value in vars(module).items():
            if not (name.isupper() and isinstance(value, dict)):
                continue
            for entry in value.values():
                build = entry[0] if isinstance(entry, tuple) and entry and callable(entry[0]) else entry
                if not callable(build) or getattr(build, "__module__", "") == "typing":
                    continue
                try:
                    case = build()
                except TypeError:
                    continue  # not a builder of no arguments
                out.extend(check(case))
    return out


@pytest.fixture(scope="module")
def findings():
    return case_findings()


def test_every_snippet_a_finding_prints_has_a_known_header_and_only_documented_names(findings):
    with_code = [f for f in findings if f.fixup.code]
    rules = {f.code for f in with_code}
    # The corpus exercises every rule that prints code; a rule whose findings never do is a gap here.
    assert rules >= {"GA201", "GA202", "GA203", "GA301", "GA302", "GA303"}, sorted(rules)
    for f in with_code:
        for snippet in split(f.fixup.code):
            check_snippet(BY_CODE[f.code], snippet.header, snippet.code)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_the_docs_show_exactly_the_rule_s_rendering_of_every_template(rule):
    sections = rule.sections()
    shown = fenced_blocks(sections["Use instead"]) + fenced_blocks(sections["Fix-up"])
    rendered = [s.text() for s in rule.example_snippets()]
    assert shown == rendered
    assert {s.header for s in rule.example_snippets()} == {t.header for t in rule.fixup_templates}
    for s in rule.example_snippets():
        check_snippet(rule, s.header, s.code)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_explain_prints_only_tested_snippets(rule):
    """`graphaudit explain` prints the Example, then code the example snippets hold and nothing else."""
    from graphaudit.docs import rule_markdown

    blocks = fenced_blocks(rule_markdown(rule))
    example = fenced_blocks(rule.sections()["Example"])
    assert blocks[:len(example)] == example
    assert blocks[len(example):] == [s.text() for s in rule.example_snippets()]


def test_the_documented_names_are_the_assumed_ones():
    doc = (ROOT / "docs" / "fixup-snippets.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(\w+)` \|", doc, re.M))
    assert table == set(ASSUMED)


def layer_variables(architecture: str, scope: str = "") -> list[str]:
    """Variable names of a catalogue architecture, `scope/layer/weight`."""
    fp = load_catalog().fingerprints[architecture]
    prefix = f"{scope}/" if scope else ""
    return [f"{prefix}{w.layer}/{w.weight}" for w in fp.weights if not w.top]


@pytest.mark.parametrize("architecture, scope, last", [
    ("VGG19", "", "block5_*"),
    ("VGG16", "vgg16", "vgg16/block5_*"),
    ("MobileNetV2 alpha=0.35", "", "block_16_*"),
    ("ResNet50", "model/resnet50", "model/resnet50/conv5_*"),
    ("EfficientNetB0", "", "block7a_*"),
])
def test_finetune_patterns_name_the_architecture_s_blocks(architecture, scope, last):
    """The trained layers' blocks, in the architecture's own naming: never another family's pattern."""
    names = layer_variables(architecture, scope)
    block = last.rsplit("/", 1)[-1][:-1]
    in_last = [n for n in names if n.rsplit("/", 2)[-2].startswith(block)]
    assert finetune_patterns(in_last, scope) == [last]
    patterns = finetune_patterns(names, scope)
    assert last in patterns
    from graphaudit.analysis.provenance import matches_any

    assert all(matches_any(n, patterns) for n in names)


def test_a_group_without_numbered_blocks_gets_its_layers():
    assert finetune_patterns(["head/dense/kernel", "head/dense/bias"], "head") == ["head/dense/*"]
    assert finetune_patterns(["block1_conv1/kernel", "block2_conv1/bias"]) == ["block1_*", "block2_*"]


@pytest.mark.parametrize("how, scope, suffix, variable, key", [
    ("suffix", "", "_4", "block1_conv1_4/kernel", "block1_conv1/kernel"),
    ("suffix", "", "_1,_4", "block4_conv1_4/kernel", "block4_conv1/kernel"),
    ("drop-scope", "model/", "", "model/vgg19/block1_conv1/kernel", "vgg19/block1_conv1/kernel"),
    ("add-scope", "tower/", "", "block1_conv1/kernel", "tower/block1_conv1/kernel"),
])
def test_ga203_s_key_expression_maps_the_variable_to_its_checkpoint_key(how, scope, suffix, variable, key):
    from graphaudit.rules.initialization.checkpoint_name_drift import key_expression

    imports, expression = key_expression(how, scope, suffix)

    class Op:
        name = variable

    class V:
        op = Op()

    namespace: dict = {"v": V()}
    exec(imports, namespace)
    assert eval(expression, namespace) == key


def test_ga101_names_the_architecture_and_offers_the_wrapper_only_for_vgg19():
    from graphaudit.rules.duplicates.orphaned_model_copy import build_once_snippets

    vgg = build_once_snippets("VGG19", "input_3")
    assert "tf_keras.applications.VGG19(" in vgg[0].code and "`input_3`" in vgg[0].code
    assert "graphaudit.reference" in vgg[1].header
    (mobilenet,) = build_once_snippets("MobileNetV2 alpha=0.35")
    assert "tf_keras.applications.MobileNetV2(\n        alpha=0.35, include_top=False" in mobilenet.code
    assert build_once_snippets(None) == []
    for snippet in [*vgg, mobilenet]:
        assert "tf.keras.applications" not in snippet.code  # Keras 3 refuses graph tensors


def test_the_name_check_catches_what_the_old_snippets_assumed():
    old = "train_op = optimizer.minimize(loss, var_list=head_vars)\nlogits = head(vgg.output)\n"
    assert free_names(old) - set(ASSUMED) == {"optimizer", "head_vars", "head", "vgg"}
    assert free_names("x = [v for v in backbone.weights]\ny = {k: v for k, v in x}\n") == {"backbone"}
