"""The one map from what TensorFlow accepts as a checkpoint path to the checkpoint's prefix."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from graphaudit.errors import ArtifactError

# A V2 bundle's data shard (`model.ckpt.data-00000-of-00001`) and a V1 table's shard
# (`model.ckpt-00000-of-00002`).
SHARD_RE = re.compile(r"\.data-\d{5}-of-\d{5}$")
V1_SHARD_RE = re.compile(r"-(\d{5})-of-(\d{5})$")


def file_prefix(name: str) -> str | None:
    """The prefix a checkpoint file name (`.index`, `.data-*` shard) or a `.meta` belongs to."""
    for suffix in (".index", ".meta"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    shard = SHARD_RE.search(name)
    return name[: shard.start()] if shard else None


def meta_prefix(meta: Path) -> Path:
    """The prefix a `.meta` (or a graph file named like one) was saved beside."""
    prefix = file_prefix(meta.name)
    return meta.with_name(prefix) if prefix is not None and meta.name.endswith(".meta") else meta.with_suffix("")


def has_v1_files(prefix: str | os.PathLike[str]) -> bool:
    """A V1 checkpoint at `prefix`: the table file itself, or its shards `prefix-00000-of-00002`."""
    return bool(v1_files(os.fspath(prefix)))


def v1_files(prefix: str) -> list[str]:
    """The table files of the V1 checkpoint at ``prefix``: the file itself, or its shards."""
    if os.path.isfile(prefix):
        return [prefix]
    return sorted(glob.glob(glob.escape(prefix) + "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]"))


def meta_checkpoint_prefix(meta: Path) -> Path | None:
    """The checkpoint a `.meta` was saved with: a V2 bundle (`prefix.index`) or a V1 table; None
    when neither lies beside it (`import_meta_graph` reads a `.meta` alone)."""
    prefix = meta_prefix(meta)
    if prefix.with_name(prefix.name + ".index").is_file() or has_v1_files(prefix):
        return prefix
    return None


def find_checkpoint_prefix(path: str | os.PathLike[str]) -> str:
    """Map what a user or pre-commit passes to a checkpoint prefix.

    Accepts a prefix, its ``.index`` or ``.data-NNNNN-of-NNNNN`` file, or a folder holding a
    ``checkpoint`` state file, a SavedModel's ``variables/variables.index``, or one ``*.index``.
    """
    path = os.fspath(path)
    if os.path.isfile(path + ".index"):
        return path
    if not os.path.exists(path):
        raise ArtifactError(path, f"no such file or folder; {siblings(path)}")
    prefix = file_prefix(os.path.basename(path))
    if prefix is not None and not path.endswith(".meta") and os.path.isfile(path):
        return path[: len(path) - len(os.path.basename(path))] + prefix
    if not os.path.isdir(path):
        raise ArtifactError(
            path,
            "expected a checkpoint prefix, its .index or .data-NNNNN-of-NNNNN file, or a folder",
        )
    state_file = os.path.join(path, "checkpoint")
    if os.path.isfile(state_file):
        prefix = prefix_from_state(path, state_file)
        if prefix is not None:
            return prefix
    saved_model = os.path.join(path, "variables", "variables")
    if os.path.isfile(saved_model + ".index"):
        return saved_model
    indexes = sorted(name for name in os.listdir(path) if name.endswith(".index"))
    if len(indexes) == 1:
        return os.path.join(path, indexes[0][: -len(".index")])
    if indexes:
        raise ArtifactError(
            path,
            f"expected one checkpoint or a `checkpoint` file naming the current one;"
            f" found {len(indexes)}: {_listing(indexes)}",
        )
    raise ArtifactError(
        path,
        "expected a `checkpoint` file, variables/variables.index or a *.index file;"
        f" found: {_listing(sorted(os.listdir(path))) or 'nothing'}",
    )


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def siblings(prefix: str) -> str:
    """The `.index` files beside a prefix that names none, for the error that says so."""
    folder = os.path.dirname(prefix) or "."
    try:
        indexes = sorted(name for name in os.listdir(folder) if name.endswith(".index"))
    except OSError:
        return f"folder {folder} does not exist"
    return f"found: {_listing(indexes)}" if indexes else f"found no .index file in {folder}"


_ESCAPE_RE = re.compile(rb"\\([0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)")
_SIMPLE_ESCAPES = {
    b"n": b"\n",
    b"t": b"\t",
    b"r": b"\r",
    b"a": b"\a",
    b"b": b"\b",
    b"f": b"\f",
    b"v": b"\v",
}


def prefix_from_state(folder: str, state_file: str) -> str | None:
    """Read ``model_checkpoint_path`` from a text-format CheckpointState ``checkpoint`` file."""
    try:
        with open(state_file, "rb") as f:
            text = f.read(1 << 20)
    except OSError:
        return None
    match = re.search(rb'^\s*model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"', text, re.MULTILINE)
    if not match:
        return None
    path = _ESCAPE_RE.sub(_unescape, match.group(1)).decode("utf-8", "surrogateescape")
    candidates = [path if os.path.isabs(path) else os.path.join(folder, path)]
    # Checkpoints copied from another machine keep that machine's absolute paths.
    candidates.append(os.path.join(folder, os.path.basename(path)))
    for candidate in candidates:
        if os.path.isfile(candidate + ".index"):
            return candidate
    return None


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    if code[:1] == b"x":
        return bytes([int(code[1:], 16)])
    return _SIMPLE_ESCAPES.get(code, code)
