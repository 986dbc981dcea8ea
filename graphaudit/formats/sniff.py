"""Find artifacts under paths and tell their format from their content, not their names."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from graphaudit.artifact import Format
from graphaudit.errors import ArtifactError

TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_SHARD_RE = re.compile(r"\.data-\d{5}-of-\d{5}$")
_TEXT_FIELD_RE = re.compile(rb"^\s*(?:#[^\n]*\n\s*)*([a-z_]+)\s*[:{<]")
_GRAPHDEF_TEXT_FIELDS = {b"node", b"library", b"versions", b"version", b"debug_info"}
_METAGRAPH_TEXT_FIELDS = {b"meta_info_def", b"graph_def", b"saver_def", b"collection_def",
                          b"signature_def", b"asset_file_def", b"object_graph_def"}
_SAVED_MODEL_TEXT_FIELDS = {b"saved_model_schema_version", b"meta_graphs"}
# Files that are part of another artifact, never artifacts on their own.
_MEMBER_NAMES = {"checkpoint", "fingerprint.pb", "keras_metadata.pb"}

EXPECTED = ("expected a SavedModel folder, a GraphDef (.pb/.pbtxt), a MetaGraphDef (.meta), "
            "a checkpoint (.index), or a Keras .h5/.keras file")


@dataclass(frozen=True)
class Candidate:
    """An artifact to read: its root path and format, or why it cannot be read."""

    path: str
    format: Format | None
    error: str | None = None


def _head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _tail(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - n))
        return fh.read(n)


def sniff_file(path: Path) -> Format | None:
    """The format of one file from its bytes, or None if it is no TensorFlow artifact."""
    head = _head(path)
    if not head:
        return None
    if head.startswith(HDF5_MAGIC):
        return Format.KERAS_H5
    if head.startswith(ZIP_MAGIC):
        return Format.KERAS_V3
    if path.stat().st_size >= 48 and _tail(path, 8) == TABLE_MAGIC:
        return Format.CHECKPOINT
    m = _TEXT_FIELD_RE.match(head)
    if m and _looks_text(head):
        field = m.group(1)
        if field in _SAVED_MODEL_TEXT_FIELDS:
            return Format.SAVED_MODEL_V1  # refined by the reader (v1 or v2)
        if field in _METAGRAPH_TEXT_FIELDS:
            return Format.METAGRAPH
        if field in _GRAPHDEF_TEXT_FIELDS:
            return Format.GRAPHDEF_TEXT
        return None
    return _sniff_binary_proto(head)


def _looks_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # The cut at 4096 bytes may split a character; be lenient at the end only.
        try:
            head[:-4].decode("utf-8")
        except UnicodeDecodeError:
            return False
    return b"\x00" not in head


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(buf):
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


_OP_NAME_RE = re.compile(rb"^[A-Za-z>_][A-Za-z0-9>_]*$")


def _sniff_binary_proto(head: bytes) -> Format | None:
    """Guess GraphDef / MetaGraphDef / SavedModel from the first top-level field.

    The guess only orders the readers' attempts: each reader validates what it parsed.
    """
    try:
        tag, pos = _read_varint(head, 0)
    except ValueError:
        return None
    field, wire = tag >> 3, tag & 7
    if field == 1 and wire == 0:
        return Format.SAVED_MODEL_V1  # saved_model_schema_version
    if wire != 2 or field not in (1, 2, 3, 4, 5, 6, 7):
        return None
    if field == 1:
        # GraphDef.node (NodeDef: name=1, op=2) or MetaGraphDef.meta_info_def.
        try:
            length, pos = _read_varint(head, pos)
            sub_tag, p2 = _read_varint(head, pos)
            if sub_tag == 0x0A:
                n, p3 = _read_varint(head, p2)
                op_tag, p4 = _read_varint(head, p3 + n)
                if op_tag == 0x12:
                    m, p5 = _read_varint(head, p4)
                    if _OP_NAME_RE.match(head[p5:p5 + m]):
                        return Format.GRAPHDEF
        except (ValueError, IndexError):
            pass
        return Format.METAGRAPH
    if field == 2:
        return Format.METAGRAPH  # graph_def first, or SavedModel.meta_graphs; reader tells
    return Format.GRAPHDEF if field == 4 else Format.METAGRAPH


def checkpoint_prefix(index_path: Path) -> Path:
    return index_path.with_name(index_path.name[: -len(".index")]) if index_path.name.endswith(".index") \
        else index_path


def is_saved_model_dir(path: Path) -> bool:
    return any((path / n).is_file() for n in SAVED_MODEL_FILES)


def artifact_root_for(file: str | os.PathLike[str]) -> Path:
    """Map a file name (as pre-commit passes them) to the root of the artifact it belongs to."""
    p = Path(file)
    if p.name in SAVED_MODEL_FILES or p.name in ("fingerprint.pb", "keras_metadata.pb"):
        return p.parent
    if p.parent.name == "variables" and is_saved_model_dir(p.parent.parent):
        return p.parent.parent
    if p.name.endswith(".index") or _SHARD_RE.search(p.name):
        prefix = p.name[: -len(".index")] if p.name.endswith(".index") else _SHARD_RE.sub("", p.name)
        meta = p.with_name(prefix + ".meta")
        if meta.is_file():
            return meta
        return p.with_name(prefix + ".index")
    return p


def discover(paths: Iterable[str | os.PathLike[str]], *, max_file_size: int) -> list[Candidate]:
    """Every artifact under ``paths``, sorted, each root once."""
    out: dict[str, Candidate] = {}
    for raw in paths:
        p = Path(raw)
        for cand in _discover_one(p, max_file_size=max_file_size):
            out.setdefault(cand.path, cand)
    return [out[k] for k in sorted(out)]


def _discover_one(p: Path, *, max_file_size: int) -> Iterator[Candidate]:
    if not p.exists() and not p.is_symlink():
        yield Candidate(str(p), None, "no such file or folder")
        return
    if p.is_dir():
        if is_saved_model_dir(p):
            yield Candidate(str(p), Format.SAVED_MODEL_V1)
            return
        found = list(_walk(p, p.resolve(), max_file_size=max_file_size))
        if not found:
            listing = sorted(x.name for x in p.iterdir())[:5]
            seen = ", ".join(f"`{n}`" for n in listing) if listing else "nothing"
            yield Candidate(str(p), None, f"no TensorFlow artifact in this folder ({EXPECTED}); found: {seen}")
        yield from found
        return
    fmt, err = _classify_file(p, max_file_size=max_file_size, explicit=True)
    yield Candidate(str(_root_of(p, fmt)), fmt, err)


def _root_of(p: Path, fmt: Format | None) -> Path:
    if fmt is Format.CHECKPOINT:
        return artifact_root_for(p)
    return p


def _classify_file(p: Path, *, max_file_size: int, explicit: bool) -> tuple[Format | None, str | None]:
    try:
        size = p.stat().st_size
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"
    if size == 0:
        return None, f"file is empty; {EXPECTED}" if explicit else None
    if _SHARD_RE.search(p.name):
        return None, None if not explicit else "this is a checkpoint data shard; pass its `.index` or `.meta`"
    try:
        fmt = sniff_file(p)
    except OSError as exc:
        return None, f"cannot read: {exc.strerror}"
    if fmt is None:
        if not explicit:
            return None, None
        head = _head(p, 16)
        shown = head.decode("latin-1").encode("unicode_escape").decode("ascii")
        return None, f"not a TensorFlow artifact ({EXPECTED}); found bytes starting `{shown}`"
    if fmt is not Format.CHECKPOINT and size > max_file_size:
        return fmt, (f"file is {_human(size)}, over the {_human(max_file_size)} size cap "
                     "(raise it with --max-file-size)")
    return fmt, None


def _walk(folder: Path, top: Path, *, max_file_size: int) -> Iterator[Candidate]:
    """Artifacts below ``folder``; symlinks that leave ``top`` are reported, not followed."""
    try:
        entries = sorted(folder.iterdir(), key=lambda e: e.name)
    except OSError as exc:
        yield Candidate(str(folder), None, f"cannot list folder: {exc.strerror}")
        return
    names = {e.name for e in entries}
    for e in entries:
        if e.is_symlink():
            target = e.resolve()
            if not _inside(target, top):
                yield Candidate(str(e), None, f"symlink leaves the audited folder (points to `{target}`); not followed")
                continue
        if e.is_dir():
            if is_saved_model_dir(e):
                yield Candidate(str(e), Format.SAVED_MODEL_V1)
            elif e.name not in ("__pycache__", ".git"):
                yield from _walk(e, top, max_file_size=max_file_size)
            continue
        if not e.is_file() or e.name in _MEMBER_NAMES:
            continue
        if e.name.endswith(".index") and e.name[: -len(".index")] + ".meta" in names:
            continue  # the .meta is the root of this checkpoint
        fmt, err = _classify_file(e, max_file_size=max_file_size, explicit=False)
        if fmt is None and err is None:
            continue
        yield Candidate(str(_root_of(e, fmt)), fmt, err)


def _inside(target: Path, top: Path) -> bool:
    try:
        target.relative_to(top)
        return True
    except ValueError:
        return False


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def ensure_inside(path: Path, top: Path, what: str) -> None:
    """Refuse a member file (e.g. ``variables/``) that a symlink takes outside the artifact."""
    if path.is_symlink() or any(p.is_symlink() for p in path.parents if _inside(p, top)):
        if not _inside(path.resolve(), top.resolve()):
            raise ArtifactError(path, f"{what} is a symlink that leaves the artifact (to `{path.resolve()}`)")


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
