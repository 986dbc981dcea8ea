"""Name and number formatting shared by analyses, rules and reporters."""

from __future__ import annotations

from typing import Iterable


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def name_list(names: Iterable[str], limit: int = 3) -> str:
    names = list(names)
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def common_scope(names: Iterable[str]) -> str:
    """The longest shared ``a/b/`` prefix of variable names, without the trailing slash."""
    split = [n.split("/")[:-1] for n in names]
    if not split:
        return ""
    prefix = split[0]
    for parts in split[1:]:
        k = 0
        while k < min(len(prefix), len(parts)) and prefix[k] == parts[k]:
            k += 1
        prefix = prefix[:k]
        if not prefix:
            break
    return "/".join(prefix)
