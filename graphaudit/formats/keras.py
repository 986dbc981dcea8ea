"""Read Keras files statically: tf_keras `.h5`, Keras 3 `.keras` zips, and `keras_metadata.pb`."""

# Only JSON configs and HDF5 attributes and datasets are read. Nothing is deserialized: a
# Lambda layer's bytecode stays a string, no class named in a config is imported, nothing is
# unpickled, and `load_model` is never called. h5py (a core dependency) is imported only when an
# HDF5 file is read.

from __future__ import annotations

import functools
import io
import json
import re
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from graphaudit.artifact import Artifact, Format, ValueOrigin, Variable
from graphaudit.errors import ArtifactError
from graphaudit.model.keras import NEVER_TRAINED, KerasInfo, KerasLayer, OptimizerWeight  # noqa: F401  (re-exported)

# A .keras file holds three members; anything near these limits is not a Keras model.
MAX_ZIP_ENTRIES = 1_000
MAX_JSON_BYTES = 64 * 1024**2
# Past this ratio (uncompressed / compressed) a large member is treated as a zip bomb.
MAX_COMPRESSION_RATIO = 100
BOMB_MIN_BYTES = 16 * 1024**2
KERAS_V3_WEIGHTS = "model.weights.h5"
DEEP_JSON = "found JSON nested deeper than the about 1,000 levels Python's parser follows"

# Weights Keras never trains, whatever the layer's flag says.
_NON_TRAINABLE_WEIGHTS = frozenset({"moving_mean", "moving_variance"})
# Layers whose every weight is statistics set by `adapt()`, never by an optimizer.
_NEVER_TRAINED_LAYERS = frozenset({"Normalization"})
# Where a layer's config keeps the initializer of each weight.
_INITIALIZER_KEYS = {
    "kernel": ("kernel_initializer", "depthwise_initializer"),
    "bias": ("bias_initializer",),
    "gamma": ("gamma_initializer",),
    "beta": ("beta_initializer",),
    "moving_mean": ("moving_mean_initializer",),
    "moving_variance": ("moving_variance_initializer",),
    "depthwise_kernel": ("depthwise_initializer",),
    "pointwise_kernel": ("pointwise_initializer",),
    "embeddings": ("embeddings_initializer",),
    "recurrent_kernel": ("recurrent_initializer",),
}
_CONTAINER_CLASSES = frozenset({"Functional", "Model", "Sequential"})


def _h5py():
    try:
        import h5py
    except ImportError:
        return None
    return h5py


def _need_h5py(path: Path):
    h5py = _h5py()
    if h5py is None:
        raise ArtifactError(path, "reading Keras HDF5 weights needs h5py, a dependency of graphaudit that is "
                                  "missing here: pip install h5py")
    return h5py


# ---------------------------------------------------------------------------- layer configs

def walk_layers(model_config: Mapping[str, Any]) -> Iterator[KerasLayer]:
    """Every layer of a serialized Keras model, depth first in the model's own order."""
    yield from _walk(model_config, (), True)


def _walk(entry: Mapping[str, Any], parents: tuple[str, ...], parent_trainable: bool,
          index: int = 0, frozen_by: str | None = None) -> Iterator[KerasLayer]:
    config = entry.get("config")
    class_name = str(entry.get("class_name", ""))
    if isinstance(config, list):  # old Sequential configs: a bare list of layers
        config = {"layers": config}
    if not isinstance(config, Mapping):
        return
    name = str(config.get("name") or entry.get("name") or class_name)
    own = config.get("trainable")
    own_trainable = own is not False
    trainable = parent_trainable and own_trainable
    path = (*parents, name)
    yield KerasLayer(name, class_name, path, trainable, own_trainable, config, index, frozen_by)
    layers = config.get("layers")
    if isinstance(layers, list):
        below = frozen_by or (None if own_trainable else name)
        for k, sub in enumerate(layers):
            if isinstance(sub, Mapping):
                yield from _walk(sub, path, trainable, k, below)


@functools.lru_cache(maxsize=4096)
def _snake(name: str) -> str:
    """Keras' `to_snake_case`: the class-based names of Keras 3 weight files."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def _initializer(layer: KerasLayer | None, weight: str) -> tuple[str | None, dict[str, float]]:
    """(kind, numeric params) of a weight's initializer, from its layer config."""
    if layer is None:
        return None, {}
    keys = _INITIALIZER_KEYS.get(weight, ())
    if weight == "kernel" and layer.class_name.startswith("Depthwise"):
        keys = ("depthwise_initializer",)
    for key in keys:
        init = layer.config.get(key)
        if isinstance(init, Mapping) and init.get("class_name"):
            params = {k: float(v) for k, v in (init.get("config") or {}).items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)}
            return _snake(str(init["class_name"])), params
        if isinstance(init, str):
            return _snake(init), {}
    return None, {}


def _apply_layer(var: Variable, layer: KerasLayer | None, weight: str, source: str) -> None:
    """Set a variable's Keras facts: layer, trainable (and why), initializer."""
    if layer is None:
        return
    var.keras_layer = layer.qualified
    if weight in _NON_TRAINABLE_WEIGHTS or layer.class_name in _NEVER_TRAINED_LAYERS:
        var.trainable = False
        var.trainable_source = f"{source}: `{weight}` of `{layer.class_name}` {NEVER_TRAINED}"
    else:
        var.trainable = layer.trainable
        if layer.trainable:
            var.trainable_source = f"{source}: layer `{layer.name}` trainable"
        else:
            frozen = layer.frozen_by if layer.own_trainable else None
            why = f"model `{frozen}` has trainable=false" if frozen else "trainable=false"
            var.trainable_source = f"{source}: layer `{layer.name}` {why}"
    kind, params = _initializer(layer, weight)
    if kind:
        var.initializer_kind = kind
        var.initializer_params = params


def _layers_by_name(model_config: Mapping[str, Any]) -> dict[str, KerasLayer]:
    """Leaf layers by name; with duplicates across nested models, the first wins."""
    out: dict[str, KerasLayer] = {}
    for layer in walk_layers(model_config):
        out.setdefault(layer.name, layer)
    return out


# ---------------------------------------------------------------------------- lazy values

class H5Values(Mapping[str, Any]):
    """Variable name -> its HDF5 dataset's value, read only when asked (one dataset at a time).

    Each dataset's size is checked against what the file really stores before anything is
    allocated: HDF5 fills a dataset that was never written with its fill value, so a 14 KB file
    can ask for 37 GiB.
    """

    def __init__(self, handle: Any, paths: Mapping[str, str], keep: tuple = (), *, path: Path | None = None,
                 file_size: int = 0, limit: int = 0) -> None:
        self._handle = handle
        self._paths = dict(paths)
        self._keep = keep  # objects the open HDF5 file depends on (the zip it lives in)
        self._path = path
        self._file_size = file_size
        self._limit = limit

    def __getitem__(self, name: str):
        ds = self._handle[self._paths[name]]
        if self._path is not None:
            check_dataset(self._path, ds, self._file_size, self._limit)
        return ds[()]

    def __contains__(self, name: object) -> bool:
        return name in self._paths  # Mapping's default reads the whole dataset to answer

    def check_all(self) -> "H5Values":
        """Check every dataset's size against the file now (HDF5 metadata only, no values read)."""
        if self._path is not None:
            for dataset_path in self._paths.values():
                check_dataset(self._path, self._handle[dataset_path], self._file_size, self._limit)
        return self

    def __iter__(self):
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def dataset_path(self, name: str) -> str:
        return self._paths[name]


# Deflate, the strongest filter h5py writes, inflates at most about 1032:1.
MAX_FILTER_RATIO = 1100


def check_dataset(path: Path, ds, file_size: int, limit: int) -> None:
    """Refuse a dataset whose values the file cannot hold, before HDF5 allocates them."""
    nbytes = int(ds.size or 0) * ds.dtype.itemsize
    if nbytes == 0:
        return
    what = f"dataset `{ds.name}` ({'x'.join(map(str, ds.shape)) or 'scalar'} {ds.dtype}, {nbytes:,} bytes)"
    if ds.is_virtual:
        raise ArtifactError(path, f"{what} is a virtual dataset mapped from other files; graphaudit reads nothing "
                                  "outside the artifact")
    if nbytes > limit:
        raise ArtifactError(path, f"{what} is over the {limit:,}-byte size cap (raise it with --max-file-size)")
    stored = ds.id.get_storage_size()
    if stored == 0:
        raise ArtifactError(path, f"{what} was never written: the file stores none of its values")
    filtered = bool(ds.id.get_create_plist().get_nfilters())
    if not filtered and (stored < nbytes or nbytes > file_size):
        raise ArtifactError(path, f"{what} is only partly stored: the file holds {min(stored, file_size):,} "
                                  f"of its bytes (expected all {nbytes:,})")
    if filtered and nbytes > MAX_FILTER_RATIO * min(stored, file_size):
        raise ArtifactError(path, f"{what} would inflate from {min(stored, file_size):,} stored bytes, past the "
                                  f"{MAX_FILTER_RATIO}:1 that compression reaches")


# ---------------------------------------------------------------------------- tf_keras .h5

def _attr_json(path: Path, attrs, key: str) -> Any:
    raw = attrs.get(key)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(str(raw))
    except ValueError:
        raise ArtifactError(path, f"expected JSON in the HDF5 attribute `{key}`; it does not parse") from None
    except RecursionError:
        raise ArtifactError(path, f"expected a Keras config in the HDF5 attribute `{key}`; {DEEP_JSON}") from None


def _str_list(values) -> list[str]:
    if values is None:
        return []
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def _strip_port(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _h5_detail(exc: BaseException) -> str:
    """HDF5's own words for what is damaged (h5py raises KeyError/OSError around them)."""
    lines = str(exc).strip().strip("'\"").splitlines()
    return lines[0][:160] if lines else "no detail"


def _open_h5(path: Path, source):
    h5py = _need_h5py(path)
    try:
        f = h5py.File(source, "r")
    except (OSError, ValueError) as exc:
        raise ArtifactError(path, f"expected an HDF5 file; it does not open ({str(exc).splitlines()[0][:160]})") from None
    try:
        _refuse_external_links(path, f)
    except BaseException:
        f.close()
        raise
    return f


def _refuse_external_links(path: Path, f) -> None:
    """Keras never writes external links; one would make HDF5 open a file outside the artifact."""
    import h5py

    found: list[tuple[str, Any]] = []

    def visit(name: str, link) -> bool | None:
        if isinstance(link, h5py.ExternalLink):
            found.append((name, link))
            return True  # stop at the first
        return None

    try:
        f.visititems_links(visit)
    except (KeyError, RuntimeError, OSError, ValueError) as exc:
        raise ArtifactError(path, f"expected an HDF5 file; its groups are damaged ({_h5_detail(exc)})") from None
    if found:
        name, link = found[0]
        raise ArtifactError(path, f"`/{name}` is an HDF5 external link to `{link.filename}:{link.path}`; "
                                  "graphaudit reads nothing outside the artifact")


def read_keras_h5(path: Path, max_file_size: int) -> Artifact:
    """A tf_keras `.h5`: a whole model (`model_config`, `model_weights`, `optimizer_weights`) or weights only."""
    size = path.stat().st_size
    if size > max_file_size:
        raise ArtifactError(path, f"file is {size:,} bytes, over the {max_file_size:,}-byte size cap "
                                  "(raise it with --max-file-size)")
    f = _open_h5(path, str(path))
    try:
        art = _read_h5_model(path, f)
        values = H5Values(f, art.stored_values, path=path, file_size=size, limit=max_file_size)
        art.stored_values = values.check_all()
    except ArtifactError:
        f.close()
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        f.close()
        raise ArtifactError(path, f"expected a Keras HDF5 model; it is damaged ({_h5_detail(exc)})") from None
    return art


def _keras3_layout(f) -> bool:
    from graphaudit.formats.sniff import keras3_weights_layout

    return keras3_weights_layout(f)


def _read_h5_model(path: Path, f) -> Artifact:
    art = Artifact(path=str(path), format=Format.KERAS_H5)
    attrs = f.attrs
    model_config = _attr_json(path, attrs, "model_config")
    training_config = _attr_json(path, attrs, "training_config")
    weights_root = f["model_weights"] if "model_weights" in f else f
    layer_names = _str_list(weights_root.attrs.get("layer_names"))
    if model_config is None and not layer_names and _keras3_layout(f):
        # Keras 3 `save_weights`: the layout of a `.keras` file's model.weights.h5, without config.json.
        art.format = Format.KERAS_V3
        art.keras = KerasInfo(weights_only=True)
        art.stored_values = _map_v3(path, f, art, None)  # wrapped in H5Values by the caller
        art.value_sources = (ValueOrigin.KERAS_WEIGHTS,)
        return art
    if model_config is None and not layer_names:
        raise ArtifactError(path, "expected a Keras HDF5 file (`model_config` or `layer_names` attributes); "
                                  f"found groups: {', '.join(sorted(f.keys())[:5]) or 'none'}")
    layers = _layers_by_name(model_config) if isinstance(model_config, Mapping) else {}
    top = {layer.name: layer for layer in walk_layers(model_config)} if isinstance(model_config, Mapping) else {}
    paths: dict[str, str] = {}
    for layer_name in layer_names:
        if layer_name not in weights_root:
            raise ArtifactError(path, f"layer `{layer_name}` is listed in `layer_names` but has no weights group")
        group = weights_root[layer_name]
        for weight_name in _str_list(group.attrs.get("weight_names")):
            ds = group.get(weight_name)
            if ds is None:
                raise ArtifactError(path, f"weight `{layer_name}/{weight_name}` is listed but not stored")
            name = _strip_port(weight_name)
            if name in art.variables:
                name = f"{layer_name}/{name}"
            owner, _, weight = name.rpartition("/")
            owner_layer = layers.get(owner.rpartition("/")[2]) or top.get(layer_name)
            var = Variable(name=name, dtype=str(ds.dtype), shape=tuple(int(d) for d in ds.shape))
            _apply_layer(var, owner_layer, weight, "Keras model_config")
            art.variables[name] = var
            paths[name] = ds.name
    art.stored_values = paths  # wrapped in H5Values, with the size checks, by the caller
    art.value_sources = (ValueOrigin.KERAS_WEIGHTS,)
    keras_version = _str_list([attrs.get("keras_version", "")])[0]
    backend = _str_list([attrs.get("backend", "")])[0]
    config = model_config if isinstance(model_config, Mapping) else None
    training = training_config if isinstance(training_config, Mapping) else None
    optimizer_class = ""
    if training is not None:
        opt = training.get("optimizer_config") or {}
        optimizer_class = str(opt.get("class_name", "")).replace("Custom>", "")
    weights = []
    if "optimizer_weights" in f:
        ow = f["optimizer_weights"]
        for weight_name in _str_list(ow.attrs.get("weight_names")):
            ds = ow.get(weight_name)
            if ds is None:
                continue
            weights.append(OptimizerWeight(ds.name, _strip_port(weight_name), tuple(int(d) for d in ds.shape),
                                           str(ds.dtype)))
    art.keras = KerasInfo(keras_version=keras_version, backend=backend, model_config=config,
                          layers=tuple(walk_layers(config)) if config is not None else (),
                          training_config=training, optimizer_class=optimizer_class,
                          optimizer_weights=tuple(weights))
    return art


# ---------------------------------------------------------------------------- Keras 3 .keras

def _zip_member(path: Path, zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """Inflate one member, counting the bytes that really come out, never trusting its header."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ArtifactError(path, f"member `{name}` is {info.file_size:,} bytes, over the {limit:,}-byte limit")
    out = bytearray()
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            out += chunk
            if len(out) > limit:
                raise ArtifactError(path, f"member `{name}` inflates past {limit:,} bytes; refusing a zip bomb")
    return bytes(out)


def _check_zip(path: Path, zf: zipfile.ZipFile, max_file_size: int) -> None:
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ArtifactError(path, f"zip holds {len(infos):,} entries, over the limit of {MAX_ZIP_ENTRIES:,}; "
                                  "a Keras 3 file holds config.json, metadata.json and model.weights.h5")
    total = 0
    # A header can lie about a member's compressed size, not about the file: no member holds
    # more compressed bytes than the whole zip.
    real = path.stat().st_size
    for info in infos:
        total += info.file_size
        compressed = min(max(info.compress_size, 1), real)
        if info.file_size >= BOMB_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * compressed:
            raise ArtifactError(path, f"member `{info.filename}` inflates to {info.file_size:,} bytes from at most "
                                      f"{compressed:,} compressed (over {MAX_COMPRESSION_RATIO}:1); refusing a zip bomb")
    if total > max_file_size:
        raise ArtifactError(path, f"zip inflates to {total:,} bytes, over the {max_file_size:,}-byte size cap "
                                  "(raise it with --max-file-size)")


def read_keras_v3(path: Path, max_file_size: int) -> Artifact:
    """A Keras 3 `.keras` zip: `config.json`, `metadata.json` and `model.weights.h5`."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArtifactError(path, f"expected a Keras 3 .keras zip; it does not open ({str(exc)[:160]})") from None
    try:
        _check_zip(path, zf, max_file_size)
        # Written on Windows, member names may use backslashes (`.\\config.json`, `assets\\...`).
        members = {n.replace("\\", "/").lstrip("/").removeprefix("./"): n for n in zf.namelist()}
        names = set(members)
        if "config.json" not in names:
            found = ", ".join(f"`{n}`" for n in sorted(names)[:5]) or "nothing"
            raise ArtifactError(path, f"expected a Keras 3 .keras zip with `config.json`; found: {found}")
        try:
            config = json.loads(_zip_member(path, zf, members["config.json"], MAX_JSON_BYTES))
            metadata = json.loads(_zip_member(path, zf, members["metadata.json"], MAX_JSON_BYTES)) \
                if "metadata.json" in names else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArtifactError(path, f"expected JSON in config.json/metadata.json; it does not parse ({exc})") from None
        except RecursionError:
            raise ArtifactError(path, f"expected a Keras config in config.json; {DEEP_JSON}") from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise ArtifactError(path, f"zip member is damaged ({str(exc)[:160]})") from None
        if not isinstance(config, Mapping):
            raise ArtifactError(path, "expected an object in config.json")
        art = Artifact(path=str(path), format=Format.KERAS_V3)
        optimizer_class = ""
        compile_config = config.get("compile_config")
        if isinstance(compile_config, Mapping):
            opt = compile_config.get("optimizer") or {}
            if isinstance(opt, Mapping):
                optimizer_class = str(opt.get("class_name", ""))
        keras_version = str(metadata.get("keras_version", "")) if isinstance(metadata, Mapping) else ""
        art.keras = KerasInfo(keras_version=keras_version, model_config=config, layers=tuple(walk_layers(config)),
                              optimizer_class=optimizer_class)
        if KERAS_V3_WEIGHTS in names:
            _read_v3_weights(path, zf, art, config, max_file_size, members[KERAS_V3_WEIGHTS])
        art.value_sources = (ValueOrigin.KERAS_WEIGHTS,)
        return art
    except BaseException:
        zf.close()
        raise


def _read_v3_weights(path: Path, zf: zipfile.ZipFile, art: Artifact, config: Mapping[str, Any],
                     max_file_size: int, member: str = KERAS_V3_WEIGHTS) -> None:
    info = zf.getinfo(member)
    if info.compress_type == zipfile.ZIP_STORED:
        source = _stored_member(path, info)  # the member's own bytes in the zip, read lazily
    else:
        try:
            source = io.BytesIO(_zip_member(path, zf, member, min(info.file_size, max_file_size)))
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise ArtifactError(path, f"`{member}` is damaged in the zip ({str(exc)[:160]})") from None
    f = _open_h5(path, source)
    try:
        paths = _map_v3(path, f, art, config)
    except ArtifactError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ArtifactError(path, f"`{KERAS_V3_WEIGHTS}` is damaged ({_h5_detail(exc)})") from None
    art.stored_values = H5Values(f, paths, keep=(zf, source), path=path, file_size=info.file_size,
                                 limit=max_file_size).check_all()


class _ByteRange(io.RawIOBase):
    """A read-only window on ``size`` bytes of a file from ``start``: an uncompressed zip member.

    zipfile's own member reader seeks backwards by rewinding to the member's start and reading
    (and CRC-checking) everything again, so HDF5's back-and-forth reads cost the square of the
    member's size: 80 s for a 220 MB weights file. Here a seek is one `lseek`.
    """

    def __init__(self, raw, start: int, size: int) -> None:
        self._raw = raw
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self._size - self._pos))
        if want == 0:
            return 0
        self._raw.seek(self._start + self._pos)
        got = self._raw.readinto(view[:want]) or 0
        self._pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _stored_member(path: Path, info: zipfile.ZipInfo) -> io.RawIOBase:
    """An uncompressed zip member as a seekable file of its own bytes (checked against the zip's size)."""
    raw = open(path, "rb")  # noqa: SIM115 - closed with the HDF5 file that reads it (H5Values keeps it)
    try:
        raw.seek(info.header_offset)
        header = raw.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise ArtifactError(path, f"expected a zip local header for `{info.filename}` at byte "
                                      f"{info.header_offset:,}; found {header[:4]!r}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        end = raw.seek(0, io.SEEK_END)
        if start + info.file_size > end:
            raise ArtifactError(path, f"`{info.filename}` is cut short: the zip holds {max(0, end - start):,} of "
                                      f"its {info.file_size:,} bytes")
    except BaseException:
        raw.close()
        raise
    # Unbuffered: HDF5 caches its own metadata, and a buffer refilled after every seek would
    # read several times the file.
    return _ByteRange(raw, start, info.file_size)


# Weight names of `vars/0`, `vars/1`, ... per layer class (trainable first, then the rest, as
# Keras 3 saves them); a class not listed gets `<layer>/<index>` names.
def _v3_weight_names(layer: KerasLayer) -> list[str] | None:
    c = layer.class_name
    cfg = layer.config
    bias = ["bias"] if cfg.get("use_bias", True) else []
    if c in ("Dense", "EinsumDense") or c.startswith(("Conv", "DepthwiseConv")):
        return ["kernel", *bias]
    if c.startswith("SeparableConv"):
        return ["depthwise_kernel", "pointwise_kernel", *bias]
    if c == "BatchNormalization":
        return [*(["gamma"] if cfg.get("scale", True) else []), *(["beta"] if cfg.get("center", True) else []),
                "moving_mean", "moving_variance"]
    if c == "LayerNormalization":
        return [*(["gamma"] if cfg.get("scale", True) else []), *(["beta"] if cfg.get("center", True) else [])]
    if c == "Embedding":
        return ["embeddings"]
    if c == "Normalization":  # only when built to `adapt()`: a config with `mean` holds no weights
        return ["mean", "variance", "count"]
    return None


def _v3_children(layer_config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    cfg = layer_config.get("config")
    if isinstance(cfg, list):
        return [x for x in cfg if isinstance(x, Mapping)]
    if isinstance(cfg, Mapping) and isinstance(cfg.get("layers"), list):
        return [x for x in cfg["layers"] if isinstance(x, Mapping)]
    return []


def _h5_datasets(f) -> list[tuple[tuple[str, ...], Any]]:
    """Every dataset of an HDF5 file as (path parts, dataset), in file order. A group name written
    on Windows (`layers\\dense`) is split like a path: Keras joined it with the OS separator."""
    out: list[tuple[tuple[str, ...], Any]] = []

    def visit(name: str, obj) -> None:
        if hasattr(obj, "shape") and hasattr(obj, "dtype"):
            out.append((tuple(p for p in name.replace("\\", "/").split("/") if p), obj))

    f.visititems(visit)
    return out


# Weights of the cell inside a recurrent layer (`layers/lstm/cell/vars/0`), as Keras 3 creates them.
_RNN_CELL_WEIGHTS = {"LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "ConvLSTM1D", "ConvLSTM2D",
                     "ConvLSTM3D"}


def _v3_children_by_key(entry: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """A model config's child layers under the keys Keras 3 stores them: snake-cased class names,
    numbered from the second of a class on (`dense`, `dense_1`)."""
    counts: dict[str, int] = {}
    out: dict[str, Mapping[str, Any]] = {}
    for child in _v3_children(entry):
        snake = _snake(str(child.get("class_name", "")))
        n = counts.get(snake, 0)
        counts[snake] = n + 1
        out[snake if n == 0 else f"{snake}_{n}"] = child
    return out


def _map_v3(path: Path, f, art: Artifact, config: Mapping[str, Any] | None) -> dict[str, str]:
    """Every weight in a Keras 3 weights file, under any nesting (`layers/<key>/.../vars/<i>`),
    named through config.json where it says which layer a group is (class-based keys are mapped
    to layer names in the model's order); what config.json does not describe (a subclassed
    model's attributes, a cell inside a layer) keeps its stored path. Optimizer variables go to
    the Keras metadata, in their stored order."""
    paths: dict[str, str] = {}
    by_qualified: dict[str, KerasLayer] = {}
    root_name = ""
    if isinstance(config, Mapping):
        for layer in walk_layers(config):
            by_qualified.setdefault(layer.qualified, layer)
        cfg = config.get("config")
        root_name = str(cfg.get("name", "")) if isinstance(cfg, Mapping) else ""
        root_name = root_name or str(config.get("class_name", ""))
    datasets = _h5_datasets(f)
    groups: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
    optimizer: list[tuple[str, Any]] = []
    for parts, ds in datasets:
        if parts and parts[0] == "optimizer":
            optimizer.append((parts[-1], ds))
            continue
        groups.setdefault(parts[:-1], []).append((parts[-1], ds))

    # Keyed by the config object: every group under a model looks up the same children, and
    # recomputing them per group made a 900-layer base quadratic.
    keyed: dict[int, dict[str, Mapping[str, Any]]] = {}

    def children_by_key(entry: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
        found = keyed.get(id(entry))
        if found is None:
            found = keyed[id(entry)] = _v3_children_by_key(entry)
        return found

    def place(group_parts: tuple[str, ...]) -> tuple[KerasLayer | None, list[str]]:
        """The deepest config layer a group path reaches, and the stored parts past it."""
        entry = config if isinstance(config, Mapping) else None
        qualified = (root_name,) if entry is not None else ()
        layer = by_qualified.get(root_name) if entry is not None else None
        rest: list[str] = []
        k = 0
        while k < len(group_parts):
            part = group_parts[k]
            if entry is not None and not rest and part == "layers" and k + 1 < len(group_parts):
                child = children_by_key(entry).get(group_parts[k + 1])
                if child is not None:
                    child_cfg = child.get("config") if isinstance(child.get("config"), Mapping) else {}
                    qualified = (*qualified, str(child_cfg.get("name") or child.get("name") or group_parts[k + 1]))
                    found = by_qualified.get("/".join(qualified))
                    if found is not None:
                        entry, layer = child, found
                        k += 2
                        continue
            if part != "vars":
                rest.append(part)
            k += 1
        return (layer if layer is not None and layer.qualified != root_name else None), rest

    # Variables in the model's layer order, as Keras lists them (and its optimizer stores their
    # slots); what config.json does not place follows, in file order.
    order = {q: k for k, q in enumerate(by_qualified)}
    placed = [(group_parts, items, *place(group_parts)) for group_parts, items in groups.items()]
    placed.sort(key=lambda g: order.get(g[2].qualified, len(order)) if g[2] is not None else len(order))
    for group_parts, items, layer, rest in placed:
        items.sort(key=lambda kv: (not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0, kv[0]))
        # Keras 3.x names the object that owns a `vars` group in the group's `name` attribute.
        stored = None
        if items and group_parts and group_parts[-1] == "vars":
            raw = items[0][1].parent.attrs.get("name")
            stored = _str_list([raw])[0] if raw is not None else None
        if layer is not None and not rest and stored not in (None, "", layer.name):
            raise ArtifactError(path, f"`{items[0][1].parent.name}` holds layer `{stored}`, "
                                      f"but config.json puts `{layer.name}` there")
        if rest and stored:
            rest = [*rest[:-1], stored]  # `lstm/cell` is Keras' `lstm/lstm_cell`
        names: list[str] | None = None
        if layer is not None and not rest:
            names = _v3_weight_names(layer)
        elif layer is not None and layer.class_name in _RNN_CELL_WEIGHTS and len(rest) == 1:
            names = ["kernel", "recurrent_kernel", *(["bias"] if layer.config.get("use_bias", True) else [])]
        if names is None or len(names) != len(items):
            names = [key for key, _ in items]
        for (key, ds), weight in zip(items, names):
            local = "/".join([*rest, weight])
            if layer is not None:
                name = f"{layer.name}/{local}"
                if name in art.variables:
                    name = f"{layer.qualified}/{local}"
            else:
                name = f"{stored}/{key}" if stored else ""
                if not name or name in art.variables:
                    name = "/".join(p for p in (*group_parts, key) if p not in ("vars", "layers")) or key
            while name in art.variables:
                name = f"{name}_"
            var = Variable(name=name, dtype=str(ds.dtype), shape=tuple(int(d) for d in ds.shape))
            _apply_layer(var, layer, weight if not rest else "", "Keras config.json")
            art.variables[name] = var
            paths[name] = ds.name
    weights = []
    optimizer.sort(key=lambda kv: int(kv[0]) if kv[0].isdigit() else 1 << 30)
    for _, ds in optimizer:
        weights.append(OptimizerWeight(ds.name, "", tuple(int(d) for d in ds.shape), str(ds.dtype)))
    info = art.keras or KerasInfo()
    if "optimizer" in f and "vars" in f["optimizer"]:
        info = replace(info, optimizer_name=_str_list([f["optimizer"]["vars"].attrs.get("name", "")])[0])
    art.keras = replace(info, optimizer_weights=tuple(weights))
    return paths


# ---------------------------------------------------------------------------- keras_metadata.pb

def apply_saved_model_metadata(art: Artifact) -> None:
    """tf_keras SavedModels: per-layer `trainable` from `keras_metadata.pb` overrides
    `SavedVariable.trainable`, which stays True even for the variables of a frozen layer."""
    parsed: list[tuple[str, Mapping]] = []
    for obj in art.keras_objects:
        if not obj.identifier.startswith(("_tf_keras_layer", "_tf_keras_network", "_tf_keras_model",
                                          "_tf_keras_sequential")):
            continue
        if obj.data is not None:
            parsed.append((obj.path, obj.data))
    if not parsed:
        return
    own = {p: d.get("trainable") is not False for p, d in parsed}
    by_path = dict(parsed)
    layers: dict[str, KerasLayer] = {}
    for node_path, data in sorted(parsed, key=lambda x: (x[0].count("."), x[0])):
        parts = node_path.split(".")
        prefixes = [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
        trainable = all(own.get(p, True) for p in prefixes)
        names = [str(by_path[p]["name"]) for p in prefixes if p in by_path and by_path[p].get("name")]
        frozen_by = next((str(by_path[p].get("name", p)) for p in prefixes[:-1] if not own.get(p, True)), None)
        layer = KerasLayer(str(data.get("name", parts[-1])), str(data.get("class_name", "")), tuple(names),
                           trainable, own[node_path], data.get("config") if isinstance(data.get("config"), Mapping)
                           else {}, 0, frozen_by)
        if data.get("class_name") not in _CONTAINER_CLASSES:
            layers.setdefault(layer.name, layer)
    for var in art.variables.values():
        if (var.checkpoint_key or "").startswith("optimizer/"):
            continue  # an optimizer's own variable, e.g. the slot `Adam/m/Conv1/kernel`
        owner, _, weight = var.name.rpartition("/")
        layer = layers.get(owner)
        if layer is None:
            continue
        if var.trainable is False and weight in _NON_TRAINABLE_WEIGHTS:
            var.keras_layer = layer.qualified
            continue
        _apply_layer(var, layer, weight, "keras_metadata.pb")

