"""The pre-commit hook: map the changed files pre-commit passes to artifact roots, audit each root once."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from graphaudit.formats.sniff import artifact_roots

__all__ = ["artifact_roots", "main", "run"]


def main(argv: Sequence[str] | None = None) -> int:
    """``graphaudit-hook [check options] FILE...``: ``graphaudit check --pre-commit`` under another name."""
    from graphaudit.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["check", "--pre-commit", *args])


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
