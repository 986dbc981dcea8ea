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
# - Sample, then confirm: a tensor of SAMPLE_FROM elements or more is first judged on SAMPLE_BLOCKS
#   contiguous blocks at fixed, evenly spread offsets (about SAMPLE_BLOCKS * SAMPLE_BLOCK values),
#   so only their pages are read. The sample decides only when it is decisive: a value past the
#   bound, NaN, or more zeros than the whole tensor allows (facts, whatever the rest holds), a
#   statistic far past its bound (not fresh), or every statistic well inside its bound, pooled
#   and block by block (fresh). Anything else, and every smaller tensor, is read in full as above.
#   A block that differs from the others (pretrained values that look uniform in some blocks only)
#   therefore forces the full read; it never makes a tensor fresh.
# - Measured (tests/test_weight_stats.py, bench/bench_weight_stats.py --quality): 0 of 1,200
#   trained-like tensors on the catalogued architectures' weights judged fresh, 1,200 of 1,200
#   fresh draws (>= 64 elements) judged fresh. The known limit: at 64 elements, a trained tensor
#   that happens to look like a normal draw of the init's scale cannot be told from one.


from __future__ import annotations

import math
import mmap
from dataclasses import field
from functools import lru_cache
from typing import Any, Iterator, Mapping

import numpy as np

from graphaudit.analysis.initializers import CONSTANT_KINDS, RANDOM_KINDS, TRUNCATION, InitSpec
from graphaudit.records import dataclass

#: Elements per chunk: 64K float32 temporaries stay in the CPU cache.
CHUNK = 1 << 16
#: The moment, shape and channel tests read at most this many elements (whole chunks, evenly spread).
MAX_SAMPLED = 1 << 22
#: Random tensors this big or bigger are judged on a sample first (smaller ones are read whole).
SAMPLE_FROM = 1 << 18
#: The sample: this many contiguous blocks at evenly spread offsets, of about SAMPLE_BLOCK elements.
SAMPLE_BLOCKS = 8
SAMPLE_BLOCK = 1 << 13
#: A sample says fresh only when every pooled moment score is within this (Z_MAX is the test's bound),
SAMPLE_Z_FRESH = 3.0
#: the KS statistic within this fraction of DKW_MAX,
SAMPLE_KS_FRESH = 0.6
#: and every block's own moment scores within this (the blocks must agree with each other).
BLOCK_Z_FRESH = 3.5
#: A sample says not fresh when a statistic exceeds its bound by this factor.
SAMPLE_DECISIVE = 2.0
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


@dataclass(frozen=True)
class Verdict:
    """The outcome of testing one tensor against its initializer."""

    fresh: bool | None  # True: initializer output; False: not; None: not judged
    spec: InitSpec | None
    size: int
    reason: str = ""  # why not fresh, or why not judged
    statistics: Mapping[str, float] = field(default_factory=dict)


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
    if size >= SAMPLE_FROM:
        verdict = _test_sample(values, spec, size, dtype)
        if verdict is not None:
            return verdict
    return _test_random_full(values, spec, size, dtype)


def _standardise(spec: InitSpec) -> tuple[float, float]:
    p = spec.params
    if spec.kind == "uniform":
        return (p["low"] + p["high"]) / 2.0, (p["high"] - p["low"]) / 2.0
    return p["mean"], p["stddev"]


def sample_plan(size: int, channels: int) -> tuple[int, list[int]]:
    """(block length, block starts): SAMPLE_BLOCKS whole rows of ``channels`` at evenly spread offsets."""
    row = channels or 1
    block = max(1, SAMPLE_BLOCK // row) * row
    rows = size // row
    per = block // row
    last = max(0, rows - per)
    starts = sorted({(k * last // (SAMPLE_BLOCKS - 1)) * row for k in range(SAMPLE_BLOCKS)})
    return block, starts


def _test_sample(values: Any, spec: InitSpec, size: int, dtype: str) -> Verdict | None:
    """The verdict of a sample of blocks when it is decisive, else None (read the whole tensor)."""
    loc, scale = _standardise(spec)
    ref = _reference(spec.kind)
    channels = _channels(tuple(np.shape(values)))
    block, starts = sample_plan(size, channels)
    if len(starts) < SAMPLE_BLOCKS or block * SAMPLE_BLOCKS * 2 > size:
        return None  # blocks would overlap: the tensor is small enough to read
    flat = np.asarray(values).reshape(-1)
    part = np.concatenate([flat[s:s + block] for s in starts])
    if dtype == "bfloat16" and part.dtype == np.uint16:
        from graphaudit.model.dtypes import bfloat16_to_float32

        part = bfloat16_to_float32(part)
    n = part.size
    z = (part.astype(np.float64) - loc) / scale
    hi, lo = float(z.max()), float(z.min())
    if not (math.isfinite(hi) and math.isfinite(lo)):
        return Verdict(False, spec, size, "holds NaN or infinite values")
    zmax = max(hi, -lo)
    bound = ref.bound * (1.0 + BOUND_SLACK) if math.isfinite(ref.bound) else _normal_support(size)
    if zmax > bound:  # a fact about the tensor, whatever the rest holds
        return Verdict(False, spec, size, _outside(spec, zmax, scale), {"max_abs_z": zmax, "sampled": n})
    zeros = int(np.count_nonzero(part == 0))
    if zeros > _zero_limit(size):
        return Verdict(False, spec, size, f"{zeros:,}+ elements are exactly zero (pruned or sparse)")
    blocks = z.reshape(len(starts), block)
    z2 = blocks * blocks
    sums = np.stack([blocks.sum(axis=1), z2.sum(axis=1), (z2 * z2).sum(axis=1)])  # (3, blocks)
    sd = np.sqrt(np.asarray(ref.var))[:, None]
    mean = np.asarray(ref.mean)[:, None]
    block_scores = (sums / block - mean) / (sd / math.sqrt(block))
    scores = [(float(sums[k].sum()) / n - ref.mean[k]) / math.sqrt(ref.var[k] / n) for k in range(3)]
    idx = np.clip(((z - ref.lo) * (BINS / (ref.hi - ref.lo))).astype(np.int64), 0, BINS - 1)
    counts = np.bincount(idx.reshape(-1), minlength=BINS)
    ks = math.sqrt(n) * float(np.max(np.abs(np.cumsum(counts)[:-1] / n - ref.cdf)))
    stats = {"z_mean": scores[0], "z_var": scores[1], "z_m4": scores[2], "ks": ks, "max_abs_z": zmax,
             "sampled": float(n), "support_read": float(n)}
    spread = 0.0
    if channels and n // channels >= MIN_CHANNEL_ELEMENTS:
        per_channel = z2.reshape(-1, channels).sum(axis=0)
        stats["channel_spread"] = spread = _channel_spread(per_channel, n // channels, ref)
    worst = max(range(3), key=lambda k: abs(scores[k]))
    if abs(scores[worst]) > SAMPLE_DECISIVE * Z_MAX:
        what = ("mean", "spread", "tails (4th moment)")[worst]
        return Verdict(False, spec, size, f"its {what} is {abs(scores[worst]):.1f} standard errors from "
                                          f"{spec.describe()} (on a sample of {n:,} values)", stats)
    if ks > SAMPLE_DECISIVE * DKW_MAX:
        return Verdict(False, spec, size, f"its distribution differs from {spec.describe()} "
                                          f"(KS {ks:.2f} > {DKW_MAX:.2f}, on a sample of {n:,} values)", stats)
    if spread > SAMPLE_DECISIVE * Z_MAX:
        return Verdict(False, spec, size, f"its output channels differ in scale ({spread:.1f} standard "
                                          f"errors, on a sample of {n:,} values), as trained channels do", stats)
    if (max(abs(s) for s in scores) <= SAMPLE_Z_FRESH and ks <= SAMPLE_KS_FRESH * DKW_MAX
            and spread <= SAMPLE_Z_FRESH and float(np.max(np.abs(block_scores))) <= BLOCK_Z_FRESH):
        return Verdict(True, spec, size, spec.describe(), stats)
    return None


def _test_random_full(values: Any, spec: InitSpec, size: int, dtype: str) -> Verdict:
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
             "sampled": n, "support_read": float(size)}
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
