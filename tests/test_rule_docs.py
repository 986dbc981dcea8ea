"""The catalogue is consistent and docs/rules/ is exactly what the rules' docstrings generate."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from graphaudit.cli import main
from graphaudit.docs import expected_pages, rule_markdown
from graphaudit.rules import ALL_RULES, RETIRED_CODES
from graphaudit.rules.base import DOC_SECTIONS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_shape(rule):
    assert re.fullmatch(r"GA\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert rule.code not in RETIRED_CODES
    assert rule.missing_sections() == [], f"{rule.code} docstring lacks {rule.missing_sections()}"
    module_file = Path(inspect.getfile(rule)).stem
    assert module_file == rule.name.replace("-", "_")
    assert rule.__name__ == "".join(p.capitalize() for p in rule.name.split("-"))
    sections = rule.sections()
    assert "```python" in sections["Example"] and "```python" in sections["Use instead"]


def test_codes_and_names_are_unique():
    codes = [r.code for r in ALL_RULES]
    names = [r.name for r in ALL_RULES]
    assert len(set(codes)) == len(codes) and len(set(names)) == len(names)


def test_docs_pages_match_docstrings():
    expected = expected_pages()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    stale = sorted(n for n in expected if on_disk.get(n) != expected[n])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale and not extra, (
        f"docs/rules is out of date (stale: {stale}, extra: {extra}); "
        "regenerate with `python -m graphaudit.docs docs/rules`")


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_explain_prints_the_page(rule, capsys):
    assert main(["explain", rule.code]) == 0
    assert capsys.readouterr().out == rule_markdown(rule)


def test_sections_are_in_order():
    for rule in ALL_RULES:
        assert list(rule.sections()) == list(DOC_SECTIONS), rule.code


def test_readme_rule_table_is_generated():
    from graphaudit.docs import with_readme_table

    readme = (DOCS.parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme == with_readme_table(readme), (
        "README.md's rule table differs from the rules; regenerate with `python -m graphaudit.docs docs/rules`")


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_a_headline(rule):
    assert rule.headline and not rule.headline.startswith("TODO") and not rule.headline.endswith(".")
