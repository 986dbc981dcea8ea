"""The pre-commit hook: map the changed files pre-commit passes to artifact roots, audit each root once."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from graphaudit.formats.sniff import artifact_root_for, is_saved_model_dir, sniff_file


def artifact_roots(files: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The artifacts that ``files`` belong to, each once, sorted.

    `saved_model.pb` or `variables/variables.index` give the SavedModel folder, `model.ckpt.index`
    or a data shard give the sibling `model.ckpt.meta` (or the `.index` alone). Files that are gone
    (deleted in this commit) and files that hold no TensorFlow artifact (a `.pbtxt` label map, say)
    are left out: the hook's file pattern matches by name, the content decides.
    """
    roots: set[str] = set()
    for name in files:
        root = artifact_root_for(name)
        if root.is_dir():
            if is_saved_model_dir(root):
                roots.add(os.fspath(root))
            continue
        if not root.is_file():
            continue
        try:
            if sniff_file(root) is None:
                continue
        except OSError:
            pass  # unreadable: let the audit say so, in one line
        roots.add(os.fspath(root))
    return sorted(roots, key=lambda p: Path(p).as_posix())


def main(argv: Sequence[str] | None = None) -> int:
    """``graphaudit-hook [check options] FILE...``: ``graphaudit check --pre-commit`` under another name."""
    from graphaudit.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main(["check", "--pre-commit", *args])


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
