"""Find artifacts under paths and tell their format from their content, not their names."""

# Two modes. A path given explicitly is an artifact: it is read, or it is an error. Inside a
# folder being searched, a file is a candidate only when its name or its magic says so and a
# cheap structural check of its bytes agrees; everything else is skipped and counted by kind. A
# file whose name claims a format (`saved_model.pb`, `*.ckpt.index`, `*.keras`, ...) is handed to
# its reader even when the check fails, so a broken model is an error, never a silent skip.
# The structural checks walk tags and lengths only; the readers do the one real parse.

from __future__ import annotations

import mmap
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import field
from pathlib import Path
from typing import Iterable

from graphaudit.artifact import Format
from graphaudit.errors import ArtifactError
from graphaudit.formats.checkpoint_paths import SHARD_RE, V1_SHARD_RE, file_prefix, prefix_from_state
from graphaudit.formats.ignore import (DEFAULT_EXCLUDE, IgnoreFile, enclosing_gitignores, is_ignored,
                                       parse_patterns, read_gitignore)
from graphaudit.records import dataclass

TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
LFS_HINT = "Git LFS pointer: run `git lfs pull`"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# Members of another artifact, never artifacts on their own.
_MEMBER_NAMES = {"checkpoint", "fingerprint.pb", "keras_metadata.pb"}
# Names that say "TensorFlow graph" on their own: `frozen_inference_graph.pb`, `graph.pbtxt`,
# `tensorflow_inception_graph.pb`, `frozen_model.pb`. A bare `.pb` may be any protobuf.
_GRAPH_NAME_RE = re.compile(r"(^|[_.\-])(graph|frozen[_a-z]*|inference[_a-z]*)\.pb(txt)?$", re.IGNORECASE)
_MODEL_EXTS = (".pb", ".pbtxt", ".meta", ".index", ".h5", ".hdf5", ".keras", ".ckpt")
# Keras weight files written by tf_keras and Keras 3 (`save_weights`).
_KERAS_WEIGHTS_RE = re.compile(r"\.weights\.h5$|\.weights\.hdf5$")
# A truncated `.h5` is a broken model when its name says model (`model.h5`, `vgg19_weights.h5`,
# `ckpt-10.h5`); a data file that does not open is not this tool's business.
_MODEL_H5_RE = re.compile(r"(model|weight|ckpt|checkpoint|keras).*\.(h5|hdf5)$")

EXPECTED = ("expected a SavedModel folder, a GraphDef (.pb/.pbtxt), a MetaGraphDef (.meta), "
            "a checkpoint (prefix, .index or .data-* shard), or a Keras .h5/.keras file")


@dataclass(frozen=True)
class Candidate:
    """An artifact to read: its root path and format, or why it cannot be read.

    ``warning`` marks an artifact that is present only as a Git LFS pointer: reported, not read.
    """

    path: str
    format: Format | None
    error: str | None = None
    warning: str | None = None


@dataclass
class Discovery(Sequence[Candidate]):
    """What a search found: the candidates (this sequence), the files skipped by kind, and the
    paths left out by exclusion rules (default folders, `exclude`, `.gitignore`)."""

    candidates: list[Candidate] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)

    def __getitem__(self, i):  # type: ignore[override]
        return self.candidates[i]

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.candidates)

    @property
    def skipped_count(self) -> int:
        return sum(len(v) for v in self.skipped.values())


@dataclass(frozen=True)
class SearchOptions:
    """How a folder search chooses files (explicit paths are always read)."""

    exclude: tuple[str, ...] | None = None  # replaces DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    exclude_base: str | None = None  # folder `exclude` patterns are relative to (the config's)
    respect_gitignore: bool = True
    follow_links: bool = False
    lfs_pointers_fail: bool = False


@dataclass(frozen=True)
class Verdict:
    """What one file is: a format to read, an error, an LFS warning, or a kind of skipped file."""

    format: Format | None = None
    error: str | None = None
    warning: str | None = None
    skip: str | None = None


# ---------------------------------------------------------------------------- bytes

def _head(path: Path | str, n: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _tail(path: Path | str, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - n))
        return fh.read(n)


def _read_varint(buf, pos: int, end: int | None = None) -> tuple[int, int]:
    end = len(buf) if end is None else end
    result = shift = 0
    while pos < end:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


def _fields(buf, start: int, end: int, limit: int) -> Iterator[tuple[int, int, int, int]]:
    """(field, wire type, value start, value end) of a message's top-level fields; ValueError when
    the bytes are not a message (bad tag, a length past the end, a group)."""
    pos = start
    count = 0
    while pos < end and count < limit:
        # One-byte tags and lengths are read inline: a varint call each was most of the sniff.
        tag = buf[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _read_varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            _, nxt = _read_varint(buf, pos, end)
        elif wire == 1:
            nxt = pos + 8
        elif wire == 2:
            length = buf[pos] if pos < end else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = _read_varint(buf, pos, end)
            nxt = pos + length
        elif wire == 5:
            nxt = pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        if nxt > end:
            raise ValueError("field runs past the end")
        yield number, wire, pos, nxt
        pos = nxt
        count += 1


_NODE_NAME_RE = re.compile(rb"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_OP_NAME_RE = re.compile(rb"^[A-Za-z>_][A-Za-z0-9>_]*$")
# REGISTER_OP refuses names that are not CamelCase; internal ops start with `_` (`_Arg`, `_Recv`).
_TF_OP_NAME_RE = re.compile(rb"^_?[A-Z][A-Za-z0-9>_]*$")
_PRINTABLE_RE = re.compile(rb"^[^\x00-\x1f\x7f]*$")
# How many top-level fields and nodes the structural check looks at: enough that no other
# protobuf passes by chance, few enough that a 2 GB frozen graph is checked in milliseconds.
_MAX_FIELDS = 4096
_MAX_NODES = 64


def _is_nodedef(buf, start: int, end: int) -> bool:
    """A NodeDef: its name (field 1), its op (field 2, CamelCase as TensorFlow requires of op
    names), then inputs and device as printable strings, attrs as map entries, nothing else.
    A FileDescriptorSet (`name: "x.proto"`, `package: "tensorflow"`) or a sentencepiece model
    (`piece`, then a float score) fails it."""
    try:
        fields = list(_fields(buf, start, end, 256))
    except ValueError:
        return False
    if len(fields) < 2 or fields[0][:2] != (1, 2) or fields[1][:2] != (2, 2):
        return False
    if not (_NODE_NAME_RE.match(bytes(buf[fields[0][2]:fields[0][3]]))
            and _TF_OP_NAME_RE.match(bytes(buf[fields[1][2]:fields[1][3]]))):
        return False
    for number, wire, s, e in fields[2:]:
        if wire != 2 or not 3 <= number <= 7:
            return False
        if number in (3, 4) and not _PRINTABLE_RE.match(bytes(buf[s:e])):
            return False
        if number == 5:  # map<string, AttrValue> entry: key first
            try:
                first = next(_fields(buf, s, e, 1), None)
            except ValueError:
                return False
            if first is None or first[:2] != (1, 2):
                return False
    return True


def _opens_with_nodedef(buf, end: int) -> bool:
    """Whole NodeDefs up to a field that runs past the end of the file, which opens like a node."""
    pos = 0
    nodes = 0
    try:
        while pos < end and nodes < _MAX_FIELDS:
            tag, pos = _read_varint(buf, pos, end)
            if tag != 0x0A:
                return False
            length, pos = _read_varint(buf, pos, end)
            if pos + length > end:  # cut here: the part that is left must open with name and op
                fields = list(_fields(buf, pos, end, 2))
                return (len(fields) == 2 and fields[0][:2] == (1, 2) and fields[1][:2] == (2, 2)
                        and bool(_NODE_NAME_RE.match(bytes(buf[fields[0][2]:fields[0][3]])))
                        and bool(_TF_OP_NAME_RE.match(bytes(buf[fields[1][2]:fields[1][3]]))))
            if nodes < _MAX_NODES and not _is_nodedef(buf, pos, pos + length):
                return False
            nodes += 1
            pos += length
    except ValueError:
        return nodes > 0  # cut inside a tag or a length, after whole nodes
    return False


def _is_graphdef(buf, start: int, end: int) -> bool:
    """GraphDef: node=1, library=2 (FunctionDefLibrary), version=3 (varint), versions=4, debug_info=5."""
    nodes = other = 0
    try:
        for number, wire, s, e in _fields(buf, start, end, _MAX_FIELDS):
            if number == 1 and wire == 2:
                if nodes < _MAX_NODES and not _is_nodedef(buf, s, e):
                    return False
                nodes += 1
            elif (number in (2, 4, 5) and wire == 2) or (number == 3 and wire == 0):
                other += 1
            else:
                return False
    except ValueError:
        return False
    if nodes:
        return True
    # A graph of functions only: its library must hold a FunctionDef (signature = OpDef, name first).
    return other > 0 and _has_function(buf, start, end)


def _has_function(buf, start: int, end: int) -> bool:
    try:
        for number, wire, s, e in _fields(buf, start, end, _MAX_FIELDS):
            if number == 2 and wire == 2:
                for n2, w2, s2, e2 in _fields(buf, s, e, 1):
                    if n2 == 1 and w2 == 2:  # FunctionDefLibrary.function
                        for n3, w3, s3, e3 in _fields(buf, s2, e2, 1):
                            if n3 == 1 and w3 == 2:  # FunctionDef.signature (OpDef)
                                for n4, w4, s4, e4 in _fields(buf, s3, e3, 1):
                                    return n4 == 1 and w4 == 2 and bool(_OP_NAME_RE.match(bytes(buf[s4:e4])))
    except ValueError:
        return False
    return False


def _is_metagraph(buf, start: int, end: int) -> bool:
    """MetaGraphDef: fields 1..7, all messages, with a graph_def (field 2) that is a GraphDef."""
    graph = False
    try:
        for number, wire, s, e in _fields(buf, start, end, _MAX_FIELDS):
            if wire != 2 or not 1 <= number <= 7:
                return False
            if number == 2:
                if not _is_graphdef(buf, s, e):
                    return False
                graph = True
    except ValueError:
        return False
    return graph


def _is_saved_model(buf, start: int, end: int) -> bool:
    """SavedModel: saved_model_schema_version=1 (varint) and meta_graphs=2, the first a MetaGraphDef."""
    metas = 0
    try:
        for number, wire, s, e in _fields(buf, start, end, _MAX_FIELDS):
            if number == 1 and wire == 0:
                continue
            if number != 2 or wire != 2:
                return False
            if metas == 0 and not _is_metagraph(buf, s, e):
                return False
            metas += 1
    except ValueError:
        return False
    return metas > 0


def binary_proto_format(path: Path | str) -> Format | None:
    """GraphDef, MetaGraphDef or SavedModel when the file's wire structure is one, else None."""
    with open(path, "rb") as fh:
        try:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return None
    with buf:
        end = len(buf)
        first = buf[0] if end else 0
        if first == 0x08:
            return Format.SAVED_MODEL_V1 if _is_saved_model(buf, 0, end) else None
        if first == 0x12:
            if _is_saved_model(buf, 0, end):
                return Format.SAVED_MODEL_V1
            return Format.METAGRAPH if _is_metagraph(buf, 0, end) else None
        if first == 0x0A:
            if _is_graphdef(buf, 0, end):
                return Format.GRAPHDEF
            if _is_metagraph(buf, 0, end):
                return Format.METAGRAPH
            # A GraphDef cut short (a truncated download) still opens with a whole first node:
            # that is a broken graph, for the reader to report, not a file to skip.
            return Format.GRAPHDEF if _opens_with_nodedef(buf, end) else None
        if first in (0x1A, 0x22, 0x2A, 0x32, 0x3A):  # a MetaGraphDef written without meta_info_def
            return Format.METAGRAPH if _is_metagraph(buf, 0, end) else None
    return None


# Text format as TensorFlow writes it: fields in field-number order, so a GraphDef opens with a
# node's name and op, a MetaGraphDef with meta_info_def or graph_def, a SavedModel with its
# schema version or first meta graph. A label map (`item {`) or YAML (`version: 2`) does not.
_COMMENTS = rb"\A\s*(?:#[^\n]*\n\s*)*"
_OPEN = rb"\s*:?\s*[{<]\s*"
_TEXT_GRAPHDEF_RE = re.compile(_COMMENTS + rb"(?:node" + _OPEN + rb"name\s*:\s*[\"'][^\"'\n]*[\"']\s*op\s*:"
                               + rb"|library" + _OPEN + rb"function" + _OPEN + rb"signature" + _OPEN + rb")")
_TEXT_METAGRAPH_RE = re.compile(_COMMENTS + rb"(?:meta_info_def" + _OPEN + rb"|graph_def" + _OPEN + rb"node" + _OPEN + rb")")
_TEXT_SAVED_MODEL_RE = re.compile(_COMMENTS + rb"(?:saved_model_schema_version\s*:\s*\d+\s*)?meta_graphs" + _OPEN)


def text_proto_format(head: bytes) -> Format | None:
    if _TEXT_SAVED_MODEL_RE.match(head):
        return Format.SAVED_MODEL_V1
    if _TEXT_METAGRAPH_RE.match(head):
        return Format.METAGRAPH
    if _TEXT_GRAPHDEF_RE.match(head):
        return Format.GRAPHDEF_TEXT
    return None


_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")


def looks_text(head: bytes) -> bool:
    """Text, not binary: no control bytes but tab, newlines, form feed and escape; UTF-8."""
    return _looks_text(head)


def _looks_text(head: bytes) -> bool:
    if _BINARY_BYTES.search(head):  # control bytes other than tab, newlines, form feed and escape
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The cut at 4096 bytes may split a character; be lenient at the end only.
        return exc.start >= len(head) - 4
    return True


def is_lfs_pointer(head: bytes, size: int) -> bool:
    return size < 1024 and head.startswith(LFS_MAGIC)


# ---------------------------------------------------------------------------- containers

def _hdf5_kind(path: Path | str) -> str:
    """`keras` (a tf_keras model or weights file), `keras3` (Keras 3 weights), `other`, `no-h5py`,
    or `broken` (the HDF5 library cannot open it)."""
    try:
        import h5py
    except ImportError:
        return "no-h5py"
    try:
        with h5py.File(path, "r") as f:
            attrs = f.attrs
            if any(k in attrs for k in ("model_config", "layer_names", "keras_version")) or "model_weights" in f:
                return "keras"
            return "keras3" if keras3_weights_layout(f) else "other"
    except Exception:  # noqa: BLE001 - h5py raises OSError, KeyError, RuntimeError... for bad files
        return "broken"


def keras3_weights_layout(f) -> bool:
    """Keras 3 `save_weights` files keep each object's weights in a `vars` group of numbered datasets."""
    def visit(group, depth: int) -> bool:
        for key in list(group.keys())[:64]:
            try:
                child = group[key]
            except (KeyError, OSError):
                continue
            if not hasattr(child, "keys"):
                continue
            if key == "vars" or key.endswith("\\vars"):
                return True
            if depth < 6 and visit(child, depth + 1):
                return True
        return False
    return visit(f, 0)


def _zip_is_keras(path: Path | str) -> bool | None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = {n.replace("\\", "/").lstrip("./") for n in zf.namelist()[:10_000]}
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return "config.json" in names and bool({"model.weights.h5", "metadata.json"} & names)


def _table_kind(path: Path | str) -> str:
    """`v2` (a tensor bundle index), `v1` (a V1 checkpoint of SavedSlices), or `other` LevelDB table."""
    from graphaudit.formats.table import Table, TableError

    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                table = Table(buf, verify_checksums=False)
                key, value = next(iter(table.items()))
                value = bytes(value)
                del table
            except (TableError, StopIteration, ValueError, IndexError):
                return "other"
    except (OSError, ValueError):
        return "other"
    if key != b"" or not value:
        return "other"
    # BundleHeaderProto opens with num_shards (field 1, varint); SavedTensorSlices with its meta
    # (field 1, a message).
    if value[0] == 0x08:
        return "v2"
    if value[0] == 0x0A:
        return "v1"
    return "other"


# ---------------------------------------------------------------------------- one file

def _name_claim(name: str) -> Format | None:
    """The format a file's name alone claims, when only a TensorFlow artifact would be named so."""
    low = name.lower()
    if low == "saved_model.pb" or low == "saved_model.pbtxt":
        return Format.SAVED_MODEL_V1
    if low.endswith(".keras"):
        return Format.KERAS_V3
    if _KERAS_WEIGHTS_RE.search(low):
        return Format.KERAS_H5
    if low.endswith(".ckpt.index") or (".ckpt-" in low and low.endswith(".index")):
        return Format.CHECKPOINT
    if low.endswith(".ckpt.meta") or (".ckpt-" in low and low.endswith(".meta")):
        return Format.METAGRAPH
    if _GRAPH_NAME_RE.search(low):
        return Format.GRAPHDEF_TEXT if low.endswith(".pbtxt") else Format.GRAPHDEF
    return None


def _old_guess(head: bytes) -> Format | None:
    """The reader to hand an explicit file that fails the structural check, so that its error is
    the reader's precise one ("does not parse", line and column) rather than a generic refusal."""
    if _looks_text(head):
        return Format.GRAPHDEF_TEXT
    first = head[:1]
    if first == b"\x08":
        return Format.SAVED_MODEL_V1
    if first == b"\x0a":
        return Format.GRAPHDEF
    if first in (b"\x12", b"\x1a", b"\x22", b"\x2a"):
        return Format.METAGRAPH
    return None


def classify_file(p: Path | str, *, explicit: bool, lfs_pointers_fail: bool = False) -> Verdict:
    """What the file ``p`` is (see the module comment for the two modes)."""
    p = Path(p)
    name = p.name
    claim = _name_claim(name)
    low = name.lower()
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):
            return Verdict(error="not a regular file") if explicit else Verdict(skip="special file (fifo, socket, device)")
        size = info.st_size
        head = _head(p)
    except OSError as exc:
        return Verdict(error=f"cannot read: {exc.strerror}")
    if size == 0:
        if explicit or claim:
            return Verdict(error=f"file is empty; {EXPECTED}")
        return Verdict(skip="empty file")
    if is_lfs_pointer(head, size):
        if explicit or claim or low.endswith(_MODEL_EXTS) or SHARD_RE.search(name):
            return Verdict(error=LFS_HINT) if lfs_pointers_fail else Verdict(warning=LFS_HINT)
        return Verdict(skip="Git LFS pointer (not a model file name)")

    if head.startswith(HDF5_MAGIC) or any(_at(p, off, len(HDF5_MAGIC)) == HDF5_MAGIC for off in (512, 1024, 2048)
                                          if size > off + 8 and low.endswith((".h5", ".hdf5", ".keras"))):
        kind = _hdf5_kind(p)
        if kind in ("keras", "keras3"):
            return Verdict(Format.KERAS_H5)
        if kind == "no-h5py":
            # Without h5py the content cannot be told apart: read only what the name calls Keras.
            if explicit or low.endswith((".h5", ".hdf5", ".keras")):
                return Verdict(Format.KERAS_H5)
            return Verdict(skip="HDF5 file (install h5py to look inside)")
        if kind == "broken" and (explicit or claim or _MODEL_H5_RE.search(low)):
            return Verdict(Format.KERAS_H5)  # the reader says why it does not open
        if kind == "broken":
            return Verdict(skip="HDF5 file that does not open (not named as a model)")
        if explicit or claim:
            return Verdict(Format.KERAS_H5)
        return Verdict(skip="HDF5 file that is not a Keras model")

    if head.startswith(ZIP_MAGIC):
        if _zip_is_keras(p) or explicit or claim:
            return Verdict(Format.KERAS_V3)
        return Verdict(skip="zip archive that is not a Keras model")

    if size >= 48 and _tail(p, 8) == TABLE_MAGIC:
        kind = _table_kind(p)
        if kind == "v2":
            return Verdict(Format.CHECKPOINT)
        if kind == "v1":
            return Verdict(checkpoint_v1_format())
        if explicit or claim or low.endswith(".index"):
            return Verdict(Format.CHECKPOINT)  # the reader says what is wrong with the table
        return Verdict(skip="LevelDB table that is not a checkpoint")

    if _looks_text(head):
        fmt = text_proto_format(head)
        if fmt is not None:
            return Verdict(fmt)
        if claim is not None:  # named as an artifact: its reader reports what is wrong
            return Verdict(Format.GRAPHDEF_TEXT if claim is Format.GRAPHDEF else claim)
        if explicit and low.endswith((".pbtxt", ".pbtext", ".pb", ".meta")):
            return Verdict(Format.METAGRAPH if low.endswith(".meta") else Format.GRAPHDEF_TEXT)
        if explicit:
            return Verdict(error=_not_an_artifact(head))
        if low.endswith((".pbtxt", ".pbtext", ".prototxt")):
            return Verdict(skip="text proto that is not a TensorFlow graph (label map, config)")
        return Verdict(skip="text file")

    try:
        fmt = binary_proto_format(p)
    except (OSError, ValueError) as exc:
        return Verdict(error=f"cannot read: {getattr(exc, 'strerror', None) or exc}")
    if fmt is not None:
        return Verdict(fmt)
    if claim is not None:
        return Verdict(claim if claim is not Format.GRAPHDEF_TEXT else Format.GRAPHDEF)
    if explicit and low.endswith(".meta"):
        return Verdict(Format.METAGRAPH)  # named as a MetaGraphDef: its reader says what is wrong
    if explicit and low.endswith(".pb"):
        return Verdict(_old_guess(head) or Format.GRAPHDEF)
    if explicit:
        return Verdict(error=_not_an_artifact(head))
    if low.endswith(".pb"):
        return Verdict(skip="protobuf that is not a TensorFlow graph")
    return Verdict(skip="binary file")


def checkpoint_v1_format() -> Format:
    return getattr(Format, "CHECKPOINT_V1", Format.CHECKPOINT)


def _at(p: Path, offset: int, n: int) -> bytes:
    with open(p, "rb") as fh:
        fh.seek(offset)
        return fh.read(n)


def _not_an_artifact(head: bytes) -> str:
    shown = head[:16].decode("latin-1").encode("unicode_escape").decode("ascii")
    return f"not a TensorFlow artifact ({EXPECTED}); found bytes starting `{shown}`"


def sniff_file(path: Path | str) -> Format | None:
    """The format of one file from its bytes (searched-folder rules), or None if it is no artifact."""
    v = classify_file(path, explicit=False)
    return v.format


# ---------------------------------------------------------------------------- artifact roots

def is_saved_model_dir(path: Path | str) -> bool:
    return any(os.path.isfile(os.path.join(path, n)) for n in SAVED_MODEL_FILES)


def _meta_is_graph(meta: Path) -> bool:
    v = classify_file(meta, explicit=False)
    return v.format in (Format.METAGRAPH, Format.GRAPHDEF, Format.GRAPHDEF_TEXT) or v.warning is not None


def artifact_root_for(file: str | os.PathLike[str]) -> Path:
    """Map a file name (as pre-commit passes them) to the root of the artifact it belongs to."""
    p = Path(file)
    if p.name in SAVED_MODEL_FILES or p.name in ("fingerprint.pb", "keras_metadata.pb"):
        return p.parent
    if p.parent.name == "variables" and is_saved_model_dir(p.parent.parent):
        return p.parent.parent
    prefix = file_prefix(p.name) if not p.name.endswith(".meta") else None
    if prefix is not None:
        meta = p.with_name(prefix + ".meta")
        if meta.is_file() and _meta_is_graph(meta):
            return meta
        return p.with_name(prefix + ".index")
    return p


# ---------------------------------------------------------------------------- discovery

class _Search:
    def __init__(self, options: SearchOptions) -> None:
        self.options = options
        self.out = Discovery()
        self.seen_dirs: set[tuple[int, int]] = set()
        excl = options.exclude if options.exclude is not None else DEFAULT_EXCLUDE
        self.name_excludes = frozenset(e for e in excl if "/" not in e and not any(c in e for c in "*?["))
        patterns = [e for e in (*excl, *options.extend_exclude) if e not in self.name_excludes]
        base = os.path.abspath(options.exclude_base or os.getcwd())
        self.exclude_file = IgnoreFile(base, tuple(parse_patterns(patterns)), "exclude") if patterns else None

    def add(self, cand: Candidate) -> None:
        self.out.candidates.append(cand)

    def skip(self, kind: str, path: str) -> None:
        self.out.skipped.setdefault(kind, []).append(path)

    def excluded(self, path: str, why: str) -> None:
        self.out.excluded.append(f"{path} ({why})")

    # -- explicit paths ----------------------------------------------------------------------

    def explicit(self, raw: str) -> None:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            index = Path(raw + ".index")
            if index.is_file():  # a checkpoint prefix, as every TensorFlow API takes it
                self.add(self._checkpoint_root(index, explicit=True))
                return
            self.add(Candidate(raw, None, "no such file or folder"))
            return
        if p.is_dir():
            if is_saved_model_dir(p):
                self.add(self._saved_model(p))
                return
            before = len(self.out.candidates)
            top = os.path.realpath(p)
            gitignores = enclosing_gitignores(top) if self.options.respect_gitignore else []
            self._walk(str(p), top, gitignores)
            if len(self.out.candidates) == before:
                try:
                    listing = sorted(x.name for x in p.iterdir())[:5]
                except OSError as exc:
                    self.add(Candidate(raw, None, f"cannot list folder: {exc.strerror}"))
                    return
                seen = ", ".join(f"`{n}`" for n in listing) if listing else "nothing"
                skipped = self.out.skipped_count
                extra = f"; skipped {skipped:,} files that are not TensorFlow artifacts" if skipped else ""
                self.add(Candidate(raw, None, f"no TensorFlow artifact in this folder ({EXPECTED}); "
                                              f"found: {seen}{extra}"))
            return
        if SHARD_RE.search(p.name) or p.name.endswith(".index"):
            self.add(self._checkpoint_root(p, explicit=True))
            return
        v = classify_file(p, explicit=True, lfs_pointers_fail=self.options.lfs_pointers_fail)
        root = p.parent if p.name in SAVED_MODEL_FILES and v.format is Format.SAVED_MODEL_V1 else p
        if v.format is checkpoint_v1_format() and v.format is not Format.CHECKPOINT:
            for prefix in (V1_SHARD_RE.sub("", p.name), p.name):
                meta = p.with_name(prefix + ".meta")
                if meta.is_file() and classify_file(meta, explicit=False).format is Format.METAGRAPH:
                    self.add(Candidate(str(meta), Format.METAGRAPH))  # the graph the V1 checkpoint belongs to
                    return
        self.add(Candidate(str(root), v.format, v.error, v.warning))

    def _checkpoint_root(self, p: Path, *, explicit: bool) -> Candidate:
        """A checkpoint's root: its `.meta` when one lies beside it, else its `.index`."""
        prefix = file_prefix(p.name) or p.name
        index = p.with_name(prefix + ".index")
        meta = p.with_name(prefix + ".meta")
        if meta.is_file():
            v = classify_file(meta, explicit=False, lfs_pointers_fail=self.options.lfs_pointers_fail)
            if v.skip in _BINARY_SKIPS and index.is_file():
                v = Verdict(Format.METAGRAPH)  # the reader says why this graph does not parse
            if v.format in (Format.METAGRAPH, Format.GRAPHDEF, Format.GRAPHDEF_TEXT) or v.warning or v.error:
                return Candidate(str(meta), Format.METAGRAPH if v.format else None, v.error, v.warning)
        if not index.is_file():
            return Candidate(str(p), None, f"checkpoint data shard without its index `{index.name}`")
        v = classify_file(index, explicit=explicit, lfs_pointers_fail=self.options.lfs_pointers_fail)
        if v.format is not None and v.format is not Format.CHECKPOINT and explicit:
            return Candidate(str(index), v.format, v.error, v.warning)
        return Candidate(str(index), Format.CHECKPOINT if v.format or not (v.error or v.warning) else None,
                         v.error, v.warning)

    def _saved_model(self, folder: Path) -> Candidate:
        for n in SAVED_MODEL_FILES:
            f = folder / n
            if f.is_file():
                try:
                    head = _head(f, 128)
                    if is_lfs_pointer(head, f.stat().st_size):
                        if self.options.lfs_pointers_fail:
                            return Candidate(str(folder), None, f"`{n}` is a {LFS_HINT}")
                        return Candidate(str(folder), None, warning=f"`{n}` is a {LFS_HINT}")
                except OSError:
                    pass  # the reader reports it
        return Candidate(str(folder), Format.SAVED_MODEL_V1)

    # -- folder search -----------------------------------------------------------------------

    def _excluded_dir(self, path: str, name: str, gitignores: list[IgnoreFile]) -> str | None:
        if name in self.name_excludes:
            return "excluded by default" if self.options.exclude is None else "exclude"
        if os.path.isfile(os.path.join(path, "pyvenv.cfg")):
            return "virtual environment"
        return self._excluded_by_patterns(path, True, gitignores)

    def _excluded_by_patterns(self, path: str, is_dir: bool, gitignores: list[IgnoreFile]) -> str | None:
        if self.exclude_file is not None:
            pat = is_ignored([self.exclude_file], os.path.abspath(path), is_dir)
            if pat is not None:
                return f"exclude `{pat.text}`"
        if gitignores:
            pat = is_ignored(gitignores, os.path.abspath(path), is_dir)
            if pat is not None:
                return f".gitignore `{pat.text}`"
        return None

    def _walk(self, folder: str, top: str, gitignores: list[IgnoreFile]) -> None:
        try:
            info = os.stat(folder)
        except OSError as exc:
            self.add(Candidate(folder, None, f"cannot read folder: {exc.strerror}"))
            return
        key = (info.st_dev, info.st_ino)
        if key in self.seen_dirs:
            return  # a folder reached twice (a link inside the search, or a loop)
        self.seen_dirs.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.add(Candidate(folder, None, f"cannot list folder: {exc.strerror}"))
            return
        if self.options.respect_gitignore and any(e.name == ".gitignore" for e in entries):
            own = read_gitignore(folder)
            if own is not None:
                gitignores = [*gitignores, own]
        names = {e.name for e in entries}
        metas: dict[str, Verdict] = {}
        for e in entries:
            path = e.path
            try:
                is_link = e.is_symlink()
                is_dir = e.is_dir()
                is_file = e.is_file()
            except OSError:
                is_link, is_dir, is_file = True, False, False
            if is_link:
                target = os.path.realpath(path)
                if not (is_dir or is_file):
                    self.skip("broken symlink or symlink loop", path)
                    continue
                if not self.options.follow_links and not _inside(target, top):
                    if (is_dir and is_saved_model_dir(target)) or (is_file and _name_claim(e.name)):
                        self.add(Candidate(path, None, f"symlink leaves the audited folder (points to `{target}`); "
                                                       "not followed (pass --follow-links to follow it)"))
                    else:
                        self.skip("symlink leaving the folder (not followed)", path)
                    continue
            if is_dir:
                why = self._excluded_dir(path, e.name, gitignores)
                if why:
                    self.excluded(path, why)
                elif is_saved_model_dir(path):
                    self.add(self._saved_model(Path(path)))
                else:
                    self._walk(path, top, gitignores)
                continue
            if e.name in (".git",) and e.name in self.name_excludes:
                continue  # a worktree's `.git` file
            if not is_file:
                self.skip("special file (fifo, socket, device)", path)
                continue
            why = self._excluded_by_patterns(path, False, gitignores)
            if why:
                self.excluded(path, why)
                continue
            self._file(Path(path), names, metas)

    def _file(self, p: Path, names: set[str], metas: dict[str, Verdict]) -> None:
        name = p.name
        lfs_fail = self.options.lfs_pointers_fail

        def meta_verdict(prefix: str) -> Verdict | None:
            if prefix + ".meta" not in names:
                return None
            if prefix not in metas:
                v = classify_file(p.with_name(prefix + ".meta"), explicit=False, lfs_pointers_fail=lfs_fail)
                if v.skip in _BINARY_SKIPS and _has_checkpoint(prefix, names):
                    v = Verdict(Format.METAGRAPH)  # beside its checkpoint, a binary `.meta` claims to be a graph
                metas[prefix] = v
            return metas[prefix]

        def meta_is_root(prefix: str) -> bool:
            v = meta_verdict(prefix)
            return v is not None and (v.format in (Format.METAGRAPH, Format.GRAPHDEF) or bool(v.warning or v.error))

        if name in _MEMBER_NAMES:
            return  # part of a checkpoint or SavedModel; read with it
        prefix = file_prefix(name)
        if prefix is not None and SHARD_RE.search(name):
            if prefix + ".index" in names:
                return  # read with its index
            if meta_is_root(prefix):
                return  # the `.meta` reports the missing index
            self.add(Candidate(str(p), None, f"checkpoint data shard without its index `{prefix}.index`"))
            return
        if prefix is not None and name.endswith(".index") and meta_is_root(prefix):
            return  # the `.meta` is the root of this checkpoint
        if prefix is not None and name.endswith(".meta"):
            v = meta_verdict(prefix)
        else:
            v = classify_file(p, explicit=False, lfs_pointers_fail=lfs_fail)
        if v.format is not None and v.format is checkpoint_v1_format() and v.format is not Format.CHECKPOINT:
            table = V1_SHARD_RE.sub("", name)
            if meta_is_root(table) or (table != name and meta_is_root(name)):
                return  # the V1 checkpoint of a `.meta` (a session bundle's `export-00000-of-00001`)
        if v.skip is not None:
            if name.endswith(".index") and any(SHARD_RE.search(n) and file_prefix(n) == prefix for n in names):
                # An index with its data shards beside it claims to be a checkpoint.
                self.add(Candidate(str(p), Format.CHECKPOINT))
                return
            self.skip(v.skip, str(p))
            return
        self.add(Candidate(str(p), v.format, v.error, v.warning))


def current_checkpoint(folder: str | os.PathLike[str]) -> list[Candidate]:
    """The artifact of the checkpoint a folder's `checkpoint` state file names, as TensorFlow's
    `latest_checkpoint` picks it (its `.meta` when one lies beside it); empty when it names none."""
    state = os.path.join(folder, "checkpoint")
    prefix = prefix_from_state(os.fspath(folder), state) if os.path.isfile(state) else None
    if prefix is None:
        return []
    search = _Search(SearchOptions())
    search.explicit(prefix)
    return search.out.candidates


def _has_checkpoint(prefix: str, names: set[str]) -> bool:
    """A V2 index, a V1 checkpoint file, or V1 shards (`prefix-00000-of-00002`) with this prefix."""
    if prefix + ".index" in names or prefix in names:
        return True
    return any(n.startswith(prefix + "-") and V1_SHARD_RE.search(n) for n in names)


_BINARY_SKIPS = ("binary file", "protobuf that is not a TensorFlow graph")


def _inside(target: str, top: str) -> bool:
    return target == top or target.startswith(top.rstrip(os.sep) + os.sep)


def discover(paths: Iterable[str | os.PathLike[str]], *, max_file_size: int = 0,
             options: SearchOptions | None = None) -> Discovery:
    """Every artifact under ``paths``, sorted, each root once; plus what was skipped and excluded.

    ``max_file_size`` is accepted for callers' convenience; the readers enforce it.
    """
    search = _Search(options or SearchOptions())
    for raw in paths:
        search.explicit(os.fspath(raw))
    unique: dict[str, Candidate] = {}
    for cand in search.out.candidates:
        unique.setdefault(cand.path, cand)
    out = search.out
    out.candidates = [unique[k] for k in sorted(unique)]
    out.skipped = {k: sorted(v) for k, v in sorted(out.skipped.items())}
    out.excluded = sorted(out.excluded)
    return out


def ensure_inside(path: Path, top: Path, what: str) -> None:
    """Refuse a member file (e.g. ``variables/``) that a symlink takes outside the artifact."""
    if path.is_symlink() or any(p.is_symlink() for p in path.parents if _inside(str(p), str(top))):
        if not _inside(str(path.resolve()), str(top.resolve())):
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
        v = classify_file(root, explicit=False)
        if v.skip is not None:
            continue  # an LFS pointer, an error or a format are all reported by the audit
        roots.add(os.fspath(root))
    return sorted(roots, key=lambda p: Path(p).as_posix())
