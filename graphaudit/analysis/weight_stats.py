"""Per-variable tests of "these values are the fresh output of this initializer", vectorised and chunked."""

# How a tensor is judged, given its initializer (an InitSpec):
# - Constant initializers (zeros, ones, Constant(c)) are tested exactly: every element equals c.
#   A trained tensor is never exactly constant, so this test has no false positives to speak of.
# - Random initializers (uniform, normal, truncated normal, and the VarianceScaling family that
#   glorot/he/lecun belong to) are tested on the standardised values z = (x - loc) / scale.
#   The values pass as "fresh" only when every test accepts:
#     * support: bounded inits must stay inside their bounds (|z| <= 1 for uniform, 2 for
#       truncated normal); an untruncated normal must not reach past the largest |z| that n
#       draws reach with probability 1e-6;
#     * no NaN/inf, and no more exact zeros than the float grid of the random op allows
#       (pruned or sparse weights are not fresh);
#     * moments: mean(z), mean(z^2) and mean(z^4) within Z_MAX standard errors of their exact
#       expectations under the initializer;
#     * shape: a binned Kolmogorov-Smirnov distance sqrt(n) * max|F_n - F| under the DKW bound
#       for a 1e-6 tail (binning only makes the statistic smaller under H0, so the bound holds).
#   Under H0 every test has a tail of about 1e-6, so a fresh tensor passes with probability
#   > 99.99%. Trained tensors fail on support (heavy tails, shifted scales), on the moments
#   (different spread, kurtosis), or on shape. Tensors with fewer than MIN_RANDOM_ELEMENTS are
#   not judged: too few values to tell a fresh init from a trained one.
# - Everything is accumulated chunk by chunk over the flattened array (no Python loop over
#   elements), in float32 buffers that stay in the CPU cache, and memory-mapped pages are released
#   after each chunk, so a multi-GB tensor costs one chunk of memory. Support, NaN and zero checks
#   see every element and stop reading at the first chunk that fails them (trained weights
#   usually fail in the first chunk); the moment, shape and channel tests use whole chunks spread
#   evenly over the tensor, at most MAX_SAMPLED elements.
# - Measured (tests/test_weight_stats.py, bench/bench_weight_stats.py --quality): 0 of 1,200
#   trained-like tensors on the catalogued architectures' weights judged fresh, 1,200 of 1,200
#   fresh draws (>= 64 elements) judged fresh. The known limit: at 64 elements, a trained tensor
#   that happens to look like a normal draw of the init's scale cannot be told from one.

from __future__ import annotations

import math
import mmap
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np

if TYPE_CHECKING:
    from graphaudit.artifact import Artifact, Graph, Variable

#: Elements per chunk: 64K float32 temporaries stay in the CPU cache.
CHUNK = 1 << 16
#: The moment, shape and channel tests read at most this many elements (whole chunks, evenly spread).
MAX_SAMPLED = 1 << 22
#: Random initializers are judged only on tensors at least this big.
MIN_RANDOM_ELEMENTS = 64
#: The per-channel test needs this many elements in each output channel.
MIN_CHANNEL_ELEMENTS = 8
#: Two-sided bound on each moment's z-score (normal tail ~5.7e-7).
Z_MAX = 5.0
#: Tail probability of the DKW bound and of the support test of an untruncated normal.
TAIL = 1e-6
DKW_MAX = math.sqrt(math.log(2.0 / TAIL) / 2.0)
#: Bins of the binned KS statistic.
BINS = 64
#: Relative slack on bounds: TF computes `min + (max - min) * u` in float32.
BOUND_SLACK = 1e-4
#: Keras truncates its truncated normal at two standard deviations; VarianceScaling divides
#: its stddev by the stddev of a standard normal truncated there.
TRUNCATION = 2.0
TRUNCATED_STDDEV = 0.87962566103423978

#: Constant kinds: all elements equal ``params["value"]``.
CONSTANT_KINDS = frozenset({"zeros", "ones", "constant"})
#: Random kinds after normalisation.
RANDOM_KINDS = frozenset({"uniform", "normal", "truncated_normal"})


@dataclass(frozen=True)
class InitSpec:
    """A concrete initializer of one variable, at its shape.

    ``kind`` is one of ``zeros``, ``ones``, ``constant`` (``value``), ``uniform`` (``low``,
    ``high``), ``normal`` and ``truncated_normal`` (``mean``, ``stddev``; truncated at two
    stddevs). ``label`` names it for people ("glorot uniform", "zeros"), ``source`` says where
    it was read ("graph", "keras config", "catalogue", "artifact").
    """

    kind: str
    params: Mapping[str, float] = field(default_factory=dict)
    label: str = ""
    source: str = ""

    def describe(self) -> str:
        """E.g. "uniform within the glorot limit (±0.0589)" or "exactly zero"."""
        p = self.params
        if self.kind == "zeros":
            return "exactly zero"
        if self.kind == "ones":
            return "exactly one"
        if self.kind == "constant":
            return f"exactly {p['value']:g}"
        family = self.label.split(" ")[0] if self.label in _FAMILY_LABELS else ""
        if self.kind == "uniform":
            low, high = p["low"], p["high"]
            if family and math.isclose(low, -high):
                return f"uniform within the {family} limit (±{high:.4g})"
            return f"uniform in [{low:.4g}, {high:.4g}]"
        if family:
            return f"{self.label} (truncated at 2 stddevs, stddev {p['stddev']:.4g})"
        name = "truncated normal" if self.kind == "truncated_normal" else "normal"
        return f"{name} (mean {p['mean']:.4g}, stddev {p['stddev']:.4g})"


@dataclass(frozen=True)
class Verdict:
    """The outcome of testing one tensor against its initializer."""

    fresh: bool | None  # True: initializer output; False: not; None: not judged
    spec: InitSpec | None
    size: int
    reason: str = ""  # why not fresh, or why not judged
    statistics: Mapping[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------ initializer specs

def fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras' fan_in and fan_out for a weight of ``shape`` (conv: receptive field times channels)."""
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


def variance_scaling(shape: tuple[int, ...], scale: float, mode: str, distribution: str,
                     label: str, source: str) -> InitSpec | None:
    fan_in, fan_out = fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}.get(mode)
    if not n or scale <= 0:
        return None
    variance = scale / max(1.0, n)
    if distribution == "uniform":
        limit = math.sqrt(3.0 * variance)
        return InitSpec("uniform", {"low": -limit, "high": limit}, label, source)
    if distribution in ("truncated_normal", "normal"):
        stddev = math.sqrt(variance) / TRUNCATED_STDDEV
        return InitSpec("truncated_normal", {"mean": 0.0, "stddev": stddev}, label, source)
    if distribution == "untruncated_normal":
        return InitSpec("normal", {"mean": 0.0, "stddev": math.sqrt(variance)}, label, source)
    return None


_VARIANCE_FAMILIES = {
    # name: (scale, mode, distribution)
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}
_FAMILY_LABELS = frozenset(name.replace("_", " ") for name in _VARIANCE_FAMILIES)
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "zeros_initializer": "zeros", "ones_initializer": "ones", "zero": "zeros", "one": "ones",
            "random_uniform_initializer": "random_uniform", "random_normal_initializer": "random_normal",
            "truncated_normal_initializer": "truncated_normal", "constant_initializer": "constant"}


def snake(name: str) -> str:
    """``GlorotUniform`` -> ``glorot_uniform``; already-snake names are unchanged."""
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    text = re.sub("([a-z0-9])([A-Z])", r"\1_\2", text).lower()
    return _ALIASES.get(text, text)


def spec_from_config(name: str, config: Mapping[str, Any] | None, shape: tuple[int, ...] | None,
                     source: str) -> InitSpec | None:
    """An InitSpec from a Keras initializer (class name or identifier, and its config) at ``shape``.

    Also accepts graphaudit's own kinds (``uniform`` with ``low``/``high``, ...). Returns None
    for initializers it cannot test (orthogonal, identity, unknown) or a shape it needs but lacks.
    """
    kind = snake(name)
    cfg = dict(config or {})
    if kind in ("zeros", "ones"):
        return InitSpec(kind, {"value": 0.0 if kind == "zeros" else 1.0}, kind, source)
    if kind == "constant":
        value = cfg.get("value", 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        value = float(value)
        if value == 0.0:
            return InitSpec("zeros", {"value": 0.0}, "zeros", source)
        if value == 1.0:
            return InitSpec("ones", {"value": 1.0}, "ones", source)
        return InitSpec("constant", {"value": value}, "constant", source)
    if kind in ("uniform", "random_uniform"):
        low = float(cfg.get("low", cfg.get("minval", -0.05)))
        high = float(cfg.get("high", cfg.get("maxval", 0.05)))
        return InitSpec("uniform", {"low": low, "high": high}, "uniform" if kind == "uniform" else "random uniform",
                        source) if high > low else None
    if kind in ("normal", "random_normal", "truncated_normal"):
        mean = float(cfg.get("mean", 0.0))
        stddev = float(cfg.get("stddev", 0.05))
        out_kind = "truncated_normal" if kind == "truncated_normal" else "normal"
        label = {"normal": "normal", "random_normal": "random normal", "truncated_normal": "truncated normal"}[kind]
        return InitSpec(out_kind, {"mean": mean, "stddev": stddev}, label, source) if stddev > 0 else None
    if shape is None:
        return None
    if kind in _VARIANCE_FAMILIES:
        scale, mode, distribution = _VARIANCE_FAMILIES[kind]
        return variance_scaling(tuple(shape), scale, mode, distribution, kind.replace("_", " "), source)
    if kind == "variance_scaling":
        return variance_scaling(tuple(shape), float(cfg.get("scale", 1.0)), str(cfg.get("mode", "fan_in")),
                                str(cfg.get("distribution", "truncated_normal")), _family_of(cfg), source)
    return None


def _family_of(cfg: Mapping[str, Any]) -> str:
    """Name a VarianceScaling config after the family it equals, if any."""
    dist = str(cfg.get("distribution", "truncated_normal"))
    for name, (scale, mode, family_dist) in _VARIANCE_FAMILIES.items():
        same_dist = dist == family_dist or (family_dist == "truncated_normal" and dist == "normal")
        if float(cfg.get("scale", 1.0)) == scale and cfg.get("mode") == mode and same_dist:
            return name.replace("_", " ")
    return "variance scaling " + ("uniform" if dist == "uniform" else "normal")


def spec_from_variable(var: "Variable") -> InitSpec | None:
    """What a reader recorded on the Variable (``initializer_kind`` / ``initializer_params``)."""
    if not var.initializer_kind:
        return None
    params = dict(var.initializer_params or {})
    if snake(var.initializer_kind) == "variance_scaling" and not {"mode", "distribution"} <= set(params):
        return None  # without its mode and distribution the defaults would guess wrong: look elsewhere
    spec = spec_from_config(var.initializer_kind, params, var.shape, "artifact")
    return _named_by_shape(spec, var.shape)


def spec_from_graph(artifact: "Artifact", var: "Variable") -> InitSpec | None:
    """Read a TF1 initializer subgraph: ``<var>/Initializer/random_uniform`` and its min/max
    Consts, ``.../truncated_normal`` with mean/stddev, ``.../zeros``, ``.../ones``, ``.../Const``.

    ``init_from_checkpoint`` initializers (RestoreV2) and anything unrecognised give None.
    """
    if var.graph is None or var.initializer is None:
        return None
    graph = artifact.graphs.get(var.graph)
    if graph is None:
        return None
    i = graph.index.get(var.initializer)
    if i is None or len(graph.inputs[i]) < 2:
        return None
    src = graph.source(graph.inputs[i][1])
    return _named_by_shape(_spec_of_value(graph, src), var.shape)


def _spec_of_value(graph: "Graph", src: int) -> InitSpec | None:
    op = graph.ops[src]
    name = graph.names[src]
    if op == "Const":
        value = _const_scalar(graph, src)
        return None if value is None else spec_from_config("constant", {"value": value}, None, "graph")
    if op == "Fill" and len(graph.inputs[src]) >= 2:
        value = _const_scalar(graph, graph.source(graph.inputs[src][1]))
        return None if value is None else spec_from_config("constant", {"value": value}, None, "graph")
    base = name.rsplit("/", 1)[-1]
    base = re.sub(r"_\d+$", "", base)
    if base.startswith("stateless_"):
        base = base[len("stateless_"):]
    if base == "random_uniform":
        low, high = _child_const(graph, name, "min"), _child_const(graph, name, "max")
        if low is not None and high is not None and high > low:
            return InitSpec("uniform", {"low": low, "high": high}, "uniform", "graph")
    elif base in ("random_normal", "truncated_normal"):
        mean, stddev = _child_const(graph, name, "mean"), _child_const(graph, name, "stddev")
        if mean is not None and stddev is not None and stddev > 0:
            kind = "truncated_normal" if base == "truncated_normal" else "normal"
            return InitSpec(kind, {"mean": mean, "stddev": stddev}, kind.replace("_", " "), "graph")
    return None


def _child_const(graph: "Graph", parent: str, leaf: str) -> float | None:
    j = graph.index.get(f"{parent}/{leaf}")
    return None if j is None else _const_scalar(graph, j)


def _const_scalar(graph: "Graph", i: int) -> float | None:
    """The value of a Const that holds one repeated number, or None."""
    if graph.ops[i] != "Const":
        return None
    av = graph.attr(i, "value")
    if av is None:
        return None
    t = av.tensor
    for field_name in ("float_val", "double_val", "half_val", "int_val", "int64_val"):
        vals = getattr(t, field_name)
        if len(vals):
            if field_name == "half_val":
                vals = np.asarray(vals, dtype=np.uint16).view(np.float16)
            arr = np.asarray(vals, dtype=np.float64)
            return float(arr[0]) if np.all(arr == arr[0]) else None
    if t.tensor_content:
        from graphaudit.model.dtypes import numpy_dtype

        np_dtype = numpy_dtype(t.dtype)
        if np_dtype is None:
            return None
        arr = np.frombuffer(t.tensor_content, dtype=np_dtype)
        return float(arr[0]) if arr.size and np.all(arr == arr[0]) else None
    return None


def _named_by_shape(spec: InitSpec | None, shape: tuple[int, ...] | None) -> InitSpec | None:
    """Give a uniform/normal read from a graph the family name its parameters match, if any."""
    if spec is None or shape is None or spec.label not in ("uniform", "normal", "truncated normal"):
        return spec
    for family, (scale, mode, dist) in _VARIANCE_FAMILIES.items():
        if (dist == "uniform") != (spec.kind == "uniform") or (spec.kind == "normal"):
            continue
        ref = variance_scaling(tuple(shape), scale, mode, dist, family, spec.source)
        if ref is None:
            continue
        if spec.kind == "uniform":
            same = math.isclose(spec.params["high"], ref.params["high"], rel_tol=1e-4) and math.isclose(
                spec.params["low"], ref.params["low"], rel_tol=1e-4)
        else:
            same = spec.params["mean"] == 0.0 and math.isclose(spec.params["stddev"], ref.params["stddev"],
                                                                rel_tol=1e-4)
        if same:
            return InitSpec(spec.kind, dict(spec.params), family.replace("_", " "), spec.source)
    return spec


# --------------------------------------------------------------------- the tests themselves

@dataclass(frozen=True)
class _Reference:
    """H0 of the standardised values: support, moments, and the CDF at the bin edges."""

    bound: float  # |z| <= bound (inf for an untruncated normal)
    mean: tuple[float, float, float]  # E z, E z^2, E z^4
    var: tuple[float, float, float]  # Var z, Var z^2, Var z^4
    lo: float  # bins cover [lo, hi]; values outside fall in the end bins
    hi: float
    cdf: np.ndarray  # F at the BINS - 1 interior edges
    excess: float  # excess kurtosis of z^2, for the spread of per-channel sums of squares


def _excess(m: Mapping[int, float]) -> float:
    """Excess kurtosis of z^2 from the even moments E z^k (k = 2, 4, 6, 8) of z."""
    mu = m[2]
    var = m[4] - mu * mu
    fourth = m[8] - 4 * mu * m[6] + 6 * mu * mu * m[4] - 3 * mu ** 4
    return fourth / (var * var) - 3.0


@lru_cache(maxsize=None)
def _reference(kind: str) -> _Reference:
    edges = np.linspace(-1.0, 1.0, BINS + 1)[1:-1]
    if kind == "uniform":
        # z uniform on [-1, 1]: E z^k = 1/(k+1) for even k.
        m = {0: 1.0, 2: 1 / 3, 4: 1 / 5, 6: 1 / 7, 8: 1 / 9}
        return _Reference(1.0, (0.0, m[2], m[4]), (m[2], m[4] - m[2] ** 2, m[8] - m[4] ** 2),
                          -1.0, 1.0, (edges + 1.0) / 2.0, _excess(m))
    if kind == "truncated_normal":
        a = TRUNCATION
        phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        mass = math.erf(a / math.sqrt(2))
        # Even moments of N(0,1) truncated to [-a, a]: E z^k = (k-1) E z^(k-2) - 2 a^(k-1) phi(a) / mass.
        m = {0: 1.0}
        for k in range(2, 9, 2):
            m[k] = (k - 1) * m[k - 2] - 2 * a ** (k - 1) * phi / mass
        z = edges * a
        cdf = np.array([(math.erf(v / math.sqrt(2)) + mass) / (2 * mass) for v in z])
        return _Reference(a, (0.0, m[2], m[4]), (m[2], m[4] - m[2] ** 2, m[8] - m[4] ** 2), -a, a, cdf,
                          _excess(m))
    # Untruncated standard normal: bins over [-4, 4], tails folded into the end bins.
    z = edges * 4.0
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in z])
    return _Reference(math.inf, (0.0, 1.0, 3.0), (1.0, 2.0, 96.0), -4.0, 4.0, cdf,
                      _excess({2: 1.0, 4: 3.0, 6: 15.0, 8: 105.0}))


def _normal_support(n: int) -> float:
    """The |z| that n standard normal draws exceed with probability at most TAIL."""
    lo, hi = 1.0, 40.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if n * math.erfc(mid / math.sqrt(2)) > TAIL:
            lo = mid
        else:
            hi = mid
    return hi


def _zero_limit(n: int) -> int:
    """Most exact zeros a random init of n float32 values shows, at a 1e-7 tail.

    TF's float32 uniform draws hold 23 random bits; one grid point maps to 0.0 at most, so each
    element is zero with probability <= 2**-22 (doubled for slack).
    """
    lam = n * 2.0 ** -22
    term = math.exp(-lam)
    total = term
    k = 0
    while 1.0 - total > 1e-7 and k < 10_000:
        k += 1
        term *= lam / k
        total += term
    return k


def _float_chunks(values: np.ndarray, dtype: str, multiple: int = 1) -> Iterator[np.ndarray]:
    """The flattened values, about CHUNK elements at a time (a multiple of ``multiple``), as floats;
    memory-mapped pages are released after use."""
    flat = np.asarray(values).reshape(-1)
    widen = dtype == "bfloat16" and flat.dtype == np.uint16
    releaser = _Releaser(values)
    step = max(1, CHUNK // multiple) * multiple
    for start in range(0, flat.size, step):
        part = flat[start:start + step]
        if widen:
            from graphaudit.model.dtypes import bfloat16_to_float32

            part = bfloat16_to_float32(part)
        yield part
        releaser.release(flat, start, part.size)


class _Releaser:
    """Drop the pages of a memory-mapped array once read, so RSS stays at one chunk."""

    def __init__(self, values: Any) -> None:
        self.mm = getattr(values, "_mmap", None)
        self.base = 0
        if self.mm is not None and hasattr(self.mm, "madvise"):
            try:
                self.base = np.frombuffer(self.mm, dtype=np.uint8, count=1).ctypes.data
            except (TypeError, ValueError):
                self.mm = None
        else:
            self.mm = None

    def release(self, flat: np.ndarray, start: int, count: int) -> None:
        if self.mm is None:
            return
        first = flat.ctypes.data + start * flat.itemsize - self.base
        last = first + count * flat.itemsize
        page = mmap.PAGESIZE
        first = (first // page) * page
        last = (last // page) * page  # keep the partial page: the next chunk starts there
        if last > first:
            try:
                self.mm.madvise(mmap.MADV_DONTNEED, first, last - first)
            except (OSError, ValueError):
                self.mm = None


def test_values(values: Any, spec: InitSpec | None, *, dtype: str = "") -> Verdict:
    """Whether ``values`` (an array, usually a memmap) are fresh output of ``spec``."""
    if values is None:
        return Verdict(None, spec, 0, "no stored value")
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    size = int(arr.size)
    if spec is None:
        return Verdict(None, None, size, "initializer unknown")
    if arr.dtype.kind != "f" and not (dtype == "bfloat16" and arr.dtype == np.uint16):
        return Verdict(None, spec, size, f"dtype {dtype or arr.dtype} is not floating point")
    if size == 0:
        return Verdict(None, spec, 0, "empty")
    if spec.kind in CONSTANT_KINDS:
        return _test_constant(values, spec, size, dtype)
    if spec.kind not in RANDOM_KINDS:
        return Verdict(None, spec, size, f"initializer `{spec.kind}` is not testable")
    if size < MIN_RANDOM_ELEMENTS:
        return Verdict(None, spec, size, f"{size} elements are too few to judge a random initializer")
    return _test_random(values, spec, size, dtype)


def _test_constant(values: Any, spec: InitSpec, size: int, dtype: str) -> Verdict:
    target = spec.params.get("value", 0.0 if spec.kind == "zeros" else 1.0)
    target32 = float(np.float32(target))
    for part in _float_chunks(values, dtype):
        if not (np.all(part == target) or np.all(part == target32)):
            differing = int(np.count_nonzero((part != target) & (part != target32)))
            return Verdict(False, spec, size, f"{differing:,}+ elements differ from {target:g}")
    return Verdict(True, spec, size, spec.describe())


def _channels(shape: tuple[int, ...]) -> int:
    """Elements per row of the flattened tensor that belong to distinct output channels.

    The last axis of a Keras kernel is its output channels (a depthwise kernel's is 1, so the
    one before it counts). 0 when the tensor has no channel structure to test.
    """
    dims = list(shape)
    while dims and dims[-1] == 1:
        dims.pop()
    if len(dims) < 2 or dims[-1] < 2:
        return 0
    return dims[-1]


def _test_random(values: Any, spec: InitSpec, size: int, dtype: str) -> Verdict:
    p = spec.params
    if spec.kind == "uniform":
        loc = (p["low"] + p["high"]) / 2.0
        scale = (p["high"] - p["low"]) / 2.0
    else:
        loc, scale = p["mean"], p["stddev"]
    ref = _reference(spec.kind)
    bound = ref.bound * (1.0 + BOUND_SLACK) if math.isfinite(ref.bound) else _normal_support(size)
    zero_limit = _zero_limit(size)
    channels = _channels(tuple(np.shape(values)))
    if channels and size // channels < MIN_CHANNEL_ELEMENTS:
        channels = 0
    per_channel = np.zeros(max(channels, 1), dtype=np.float64)
    # Support, zeros and NaN are checked on every element; the moment, shape and channel tests
    # on whole chunks spread evenly over the tensor, at most MAX_SAMPLED elements (iid draws stay
    # iid when subsampled, and millions of values leave the tests all the power they need).
    step = max(1, CHUNK // (channels or 1)) * (channels or 1)
    chunks = -(-size // step)
    stride = max(1, -(-chunks * step // MAX_SAMPLED))
    inv = np.float32(1.0 / scale)
    shift = np.float32(loc / scale)
    width = np.float32(BINS / (ref.hi - ref.lo))
    offset = np.float32(-ref.lo * BINS / (ref.hi - ref.lo))
    s1 = s2 = s4 = 0.0
    sampled = 0
    zmax = 0.0
    zeros = 0
    counts = np.zeros(BINS, dtype=np.int64)
    z = np.empty(min(step, size), dtype=np.float32)
    tmp = np.empty_like(z)
    idx = np.empty(min(step, size), dtype=np.int32)
    for k, part in enumerate(_float_chunks(values, dtype, channels or 1)):
        zk = z[:part.size]
        np.multiply(part, inv, out=zk, casting="unsafe")
        zk -= shift
        hi, lo = float(zk.max()), float(zk.min())
        if math.isnan(hi) or math.isnan(lo) or math.isinf(hi) or math.isinf(lo):
            return Verdict(False, spec, size, "holds NaN or infinite values")
        zmax = max(zmax, hi, -lo)
        if zmax > bound:
            return Verdict(False, spec, size, _outside(spec, zmax, scale), {"max_abs_z": zmax})
        zeros += int(np.count_nonzero(part == 0))
        if zeros > zero_limit:
            return Verdict(False, spec, size, f"{zeros:,}+ elements are exactly zero (pruned or sparse)")
        if k % stride:
            continue
        sampled += part.size
        s1 += float(np.sum(zk, dtype=np.float64))
        ik, tk = idx[:part.size], tmp[:part.size]
        np.multiply(zk, width, out=tk)
        tk += offset
        np.copyto(ik, tk, casting="unsafe")
        np.clip(ik, 0, BINS - 1, out=ik)
        counts += np.bincount(ik, minlength=BINS)
        np.square(zk, out=zk)
        s2 += float(np.sum(zk, dtype=np.float64))
        if channels:
            per_channel += zk.reshape(-1, channels).sum(axis=0, dtype=np.float64)
        np.square(zk, out=zk)
        s4 += float(np.sum(zk, dtype=np.float64))
    n = float(sampled)
    moments = (s1 / n, s2 / n, s4 / n)
    scores = tuple((m - e) / math.sqrt(v / n) for m, e, v in zip(moments, ref.mean, ref.var))
    ecdf = np.cumsum(counts)[:-1] / n
    ks = math.sqrt(n) * float(np.max(np.abs(ecdf - ref.cdf)))
    stats = {"z_mean": scores[0], "z_var": scores[1], "z_m4": scores[2], "ks": ks, "max_abs_z": zmax,
             "sampled": n}
    worst = max(range(3), key=lambda k: abs(scores[k]))
    if abs(scores[worst]) > Z_MAX:
        what = ("mean", "spread", "tails (4th moment)")[worst]
        return Verdict(False, spec, size, f"its {what} is {abs(scores[worst]):.1f} standard errors from "
                                          f"{spec.describe()}", stats)
    if ks > DKW_MAX:
        return Verdict(False, spec, size, f"its distribution differs from {spec.describe()} "
                                          f"(KS {ks:.2f} > {DKW_MAX:.2f})", stats)
    if channels:
        stats["channel_spread"] = spread = _channel_spread(per_channel, sampled // channels, ref)
        if spread > Z_MAX:
            return Verdict(False, spec, size, f"its output channels differ in scale ({spread:.1f} standard "
                                              "errors), as trained channels do", stats)
    return Verdict(True, spec, size, spec.describe(), stats)


def _channel_spread(sums: np.ndarray, per: int, ref: _Reference) -> float:
    """How much more the channels' sums of z^2 vary than iid draws allow, as a normal score.

    Each sum has mean per*E z^2 and variance per*Var z^2; the sum X of their squared standard
    scores is about a scaled chi-square with C degrees of freedom (scaled by 1 + excess/(2 per)
    for small channels). Wilson-Hilferty turns it into a normal score; only excess counts.
    """
    mean, var = per * ref.mean[1], per * ref.var[1]
    x = float(np.sum((sums - mean) ** 2)) / var
    c = sums.size
    x /= 1.0 + ref.excess / (2.0 * per)
    return ((x / c) ** (1 / 3) - (1 - 2 / (9 * c))) / math.sqrt(2 / (9 * c))


def _outside(spec: InitSpec, zmax: float, scale: float) -> str:
    if spec.kind == "uniform":
        return f"values reach {zmax * scale:.4g} from the centre, past the limit {scale:.4g}"
    if spec.kind == "truncated_normal":
        return f"values reach {zmax:.2f} stddevs, past the truncation at {TRUNCATION:g}"
    return f"values reach {zmax:.1f} stddevs, beyond what a normal draw of this size reaches"


# ----------------------------------------------------------------- where initializers come from

def keras_config_initializers(artifact: "Artifact") -> dict[str, dict[str, Any]]:
    """``layer/weight`` -> ``{"class_name", "config"}`` from the Keras layer configs an artifact carries
    (``keras_metadata.pb`` of a tf_keras SavedModel). Cheap: only layer entries are parsed."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for _path, identifier, raw in artifact.metadata.get("keras_metadata", ()):
        if identifier != "_tf_keras_layer":
            continue
        try:
            meta = json.loads(raw)
        except (ValueError, TypeError):
            continue
        config = meta.get("config") or {}
        layer = config.get("name") or meta.get("name")
        if not isinstance(layer, str):
            continue
        for key, value in config.items():
            if not key.endswith("_initializer") or value is None:
                continue
            weight = key[: -len("_initializer")]
            if isinstance(value, str):
                value = {"class_name": value, "config": {}}
            if not isinstance(value, dict) or "class_name" not in value:
                continue
            spec = {"class_name": value["class_name"], "config": dict(value.get("config") or {})}
            out[f"{layer}/{weight}"] = spec
            if weight in ("depthwise", "pointwise"):
                out[f"{layer}/{weight}_kernel"] = spec
    return out


_WEIGHT_OF = re.compile(r"(?:^|/)([^/]+)/([^/:]+)(?::\d+)?$")


def resolve_initializers(artifact: "Artifact", names: Any, catalogue: Mapping[str, dict[str, Any]] | None = None
                         ) -> dict[str, InitSpec | None]:
    """The initializer of each variable in ``names``: what the artifact records on the Variable,
    else its graph's initializer subgraph, else the Keras config, else the catalogue's.

    ``catalogue`` maps variable names to ``{"class_name", "config"}`` (from a fingerprint match).
    """
    keras = None
    out: dict[str, InitSpec | None] = {}
    for name in names:
        var = artifact.variables.get(name)
        if var is None:
            out[name] = None
            continue
        spec = spec_from_variable(var) or spec_from_graph(artifact, var)
        if spec is None:
            if keras is None:
                keras = keras_config_initializers(artifact)
            m = _WEIGHT_OF.search(name)
            found = keras.get(f"{m.group(1)}/{m.group(2)}") if m and keras else None
            if found is not None:
                spec = spec_from_config(found["class_name"], found["config"], var.shape, "keras config")
        if spec is None and catalogue and name in catalogue:
            found = catalogue[name]
            spec = spec_from_config(found["class_name"], found["config"], var.shape, "catalogue")
        out[name] = _named_by_shape(spec, var.shape)
    return out


def judge_groups(artifact: "Artifact", groups: Any) -> dict[str, Verdict]:
    """Test the stored value of every variable of every pretrained group against its initializer."""
    out: dict[str, Verdict] = {}
    for group in groups:
        specs = resolve_initializers(artifact, group.variables, group.catalog_initializers())
        for name in group.variables:
            var = artifact.variables.get(name)
            if var is None:
                continue
            try:
                values = artifact.value_of(name)
            except KeyError:  # the checkpoint lacks its key: GA201/GA203 report that
                values = None
            out[name] = test_values(values, specs.get(name), dtype=var.dtype)
    return out
