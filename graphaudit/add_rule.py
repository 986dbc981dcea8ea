"""`python -m graphaudit.add_rule GA204 rule-name --family initialization`: write a new rule's skeleton."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {"1": "duplicates", "2": "initialization", "3": "trainability"}

RULE = '''"""{code}: {summary_lower}"""

from __future__ import annotations

from typing import Iterator

from graphaudit.findings import Confidence, Finding, Fixup, Severity
from graphaudit.rules.base import Rule, name_list, plural

_FIX_CODE = """\\
# TF1: what to write instead
...

# TF2: what to write instead
...
"""


class {cls}(Rule):
    """{summary}

    ## What it does
    TODO: what the rule checks, in the terms of the artifact (ops, variables, roots, values),
    and which evidence it needs for `{severity}`/high; what weaker evidence gives.

    ## Why is this bad?
    TODO: what goes wrong at run time, with the error or the wrong numbers a user sees.

    ## Example
    ```python
    # TODO: the code that produces the defect
    ```

    ## Use instead
    ```python
    # TODO: the same code, fixed
    ```

    ## Fix-up
    TODO: what the finding's fix-up says, and the code it shows.

    ## Evidence
    TODO: the facts with numbers that the finding lists.
    """

    code = "{code}"
    name = "{name}"
    headline = "TODO: the symptom in one line, with code, for the README's rule table"
    severity = Severity.{severity_upper}
    confidence = Confidence.HIGH

    def check(self, artifact, facts) -> Iterator[Finding]:
        # Read shared facts from `facts` (analysis/__init__.py); add a fact there, not here.
        return iter(())

    def _finding(self, artifact, names: list[str]) -> Finding:
        return self.finding(
            artifact, f"{{plural(len(names), 'variable')}} ...: {{name_list(names)}}", variables=names,
            evidence=[],
            fixup=Fixup(title="TODO: an imperative title", detail="TODO", code=_FIX_CODE),
        )
'''

TEST = '''"""{code} {name} on hand-built artifacts (see docs/contributing.md): bad cases fire, good twins stay clean."""

from __future__ import annotations

import pytest

from graphaudit.testing.harness import assert_clean, assert_findings, graph, head, placeholder, render, resnet, vgg

IMAGE = (None, 32, 32, 3)


def case(family, defect: bool):
    """TODO: build the artifact with the defect (``defect=True``) or its fixed twin."""
    img = placeholder("images", IMAGE)
    net = family("backbone", img)
    top = head("head", net.out, 8)
    return graph(img, net, top, outputs=[top.out], saver=True)


# TODO: at least 5 bad and 5 good cases, from more than one architecture family and format.
BAD = {{
    "vgg": (lambda: case(vgg, True), "backbone/block1_conv1/kernel", r"TODO: the message, with its numbers"),
    "resnet": (lambda: case(resnet, True), "backbone/conv1_conv/kernel", r"TODO: the message, with its numbers"),
}}


@pytest.mark.parametrize("build, where, message", BAD.values(), ids=BAD.keys())
def test_the_defect_is_reported(build, where, message):
    assert_findings(build(), "{code}", where, message=message)


GOOD = {{
    "vgg": lambda: case(vgg, False),
    "resnet": lambda: case(resnet, False),
}}


@pytest.mark.parametrize("build", GOOD.values(), ids=GOOD.keys())
def test_the_fixed_twin_is_clean(build):
    assert_clean(build(), "{code}")


def test_console_output(golden):
    golden("{code}", render(case(vgg, True), "{code}"))
'''


def _class_name(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("-"))


def add_rule(code: str, name: str, summary: str, severity: str, root: Path = ROOT) -> list[Path]:
    """Write the rule module, register it, write its harness test, and regenerate the docs."""
    if not re.fullmatch(r"GA\d{3}", code):
        raise ValueError(f"code `{code}`: expected GA and three digits, e.g. GA204")
    if not re.fullmatch(r"[a-z]+(-[a-z]+)*", name):
        raise ValueError(f"name `{name}`: expected kebab-case, e.g. checkpoint-name-drift")
    family = FAMILIES.get(code[2])
    if family is None:
        raise ValueError(f"code `{code}`: no rule family GA{code[2]}xx yet; expected one of "
                         + ", ".join(f"GA{k}xx ({v})" for k, v in FAMILIES.items()))
    if severity not in ("error", "warning", "info"):
        raise ValueError(f"severity `{severity}`: expected error, warning or info")
    registry = root / "graphaudit" / "rules" / "__init__.py"
    text = registry.read_text()
    if code in _codes_in_use(root):
        raise ValueError(f"code `{code}` is taken (codes are never reused)")
    module = name.replace("-", "_")
    cls = _class_name(name)
    rule_path = root / "graphaudit" / "rules" / family / f"{module}.py"
    test_path = root / "tests" / "cases" / f"test_cases_{code.lower()}.py"
    for path in (rule_path, test_path):
        if path.exists():
            raise ValueError(f"{path.relative_to(root)} exists already")
    summary = summary.rstrip(".")
    rule_path.write_text(RULE.format(code=code, name=name, cls=cls, summary=summary + ".",
                                     summary_lower=summary[0].lower() + summary[1:], severity=severity,
                                     severity_upper=severity.upper()))
    test_path.write_text(TEST.format(code=code, name=name))
    # Register: import it and list it, next to the others.
    text = text.replace("\n\n#: Every rule, in code order.",
                        f"\nfrom graphaudit.rules.{family}.{module} import {cls}\n\n#: Every rule, in code order.", 1)
    text = text.replace("    ],\n    key=lambda r: r.code,", f"        {cls},\n    ],\n    key=lambda r: r.code,", 1)
    registry.write_text(text)
    return [rule_path, test_path, registry]


def _codes_in_use(root: Path) -> set[str]:
    """Codes of the rules, and the retired codes listed in rules/__init__.py."""
    rules = root / "graphaudit" / "rules"
    used = {m for path in rules.rglob("*.py") for m in re.findall(r'^    code = "(GA\d{3})"', path.read_text(), re.M)}
    retired = (rules / "__init__.py").read_text().split("RETIRED_CODES", 1)[-1]
    return used | set(re.findall(r'"(GA\d{3})"\s*:', retired))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphaudit.add_rule", description=__doc__)
    parser.add_argument("code", help="the new code, e.g. GA204 (never reuse one)")
    parser.add_argument("name", help="kebab-case name, e.g. checkpoint-dtype-drift")
    parser.add_argument("--summary", default="Finds TODO.", help="the docstring's first line")
    parser.add_argument("--severity", default="warning", help="error, warning or info")
    args = parser.parse_args(argv)
    try:
        written = add_rule(args.code, args.name, args.summary, args.severity)
    except ValueError as exc:
        print(f"add_rule: {exc}", file=sys.stderr)
        return 2
    from graphaudit import docs

    written += docs.write_pages(ROOT / "docs" / "rules")
    written.append(docs.write_readme(ROOT / "README.md"))
    for path in written:
        print(path.relative_to(ROOT))
    print("next: fill in the TODOs, then `python -m pytest tests/cases/test_cases_"
          f"{args.code.lower()}.py --update-goldens` once the cases pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
