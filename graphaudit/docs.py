"""Rule pages generated from the rules' own docstrings (docs/rules/*.md and `graphaudit explain`)."""

from __future__ import annotations

import sys
from pathlib import Path

from graphaudit.rules import ALL_RULES, Rule
from graphaudit.rules.base import DOC_SECTIONS


def rule_markdown(rule: type[Rule]) -> str:
    sections = rule.sections()
    lines = [
        f"# {rule.code} {rule.name}",
        "",
        f"{rule.summary()}",
        "",
        f"- **Default severity:** {rule.severity.value}",
        f"- **Confidence:** {rule.confidence.value}",
        f"- **Family:** {rule.code[:3]}xx",
        "",
    ]
    for title in DOC_SECTIONS:
        lines += [f"## {title}", "", sections.get(title, "").strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def index_markdown() -> str:
    lines = ["# Rules", "", "Generated from the rules' docstrings by `python -m graphaudit.docs docs/rules`.", "",
             "| code | name | severity | summary |", "| --- | --- | --- | --- |"]
    for r in ALL_RULES:
        lines.append(f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.value} | {r.summary()} |")
    return "\n".join(lines) + "\n"


def expected_pages() -> dict[str, str]:
    pages = {f"{r.code}.md": rule_markdown(r) for r in ALL_RULES}
    pages["index.md"] = index_markdown()
    return pages


def write_pages(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_pages().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m graphaudit.docs docs/rules
    for p in write_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rules")):
        print(p)
