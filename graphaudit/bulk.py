"""Whole-list helpers for the per-variable analyses: substring tests and `/` parts of many strings at once, and a pause of the cyclic GC."""

from __future__ import annotations

import contextlib
import functools
import gc
from bisect import bisect_left
from operator import itemgetter, methodcaller
from sys import intern
from typing import Callable, Sequence, TypeVar

F = TypeVar("F", bound=Callable)

#: Use the C loops of graphaudit/analysis/_classes.c (``strings_with``, ``parts``) when they are there.
USE_NATIVE = True
_native = None  # the extension module holding them, once handed down (see register_loops)


def register_loops(module) -> None:
    """Use ``module``'s C string loops (graphaudit/analysis/_classes.c), or None to use none.

    bulk sits below every stage of the pipeline and imports none of them, so the stage whose
    extension holds the loops hands them down when it is imported (graphaudit/analysis/columns.py).
    Until then, and without the extension, the Python twins below run: the answers are the same.
    """
    global _native
    _native = module if module is not None and hasattr(module, "strings_with") else None  # not a stale build


def _loops():
    """The module of the C string loops, or None (not built, or USE_NATIVE off)."""
    return _native if USE_NATIVE else None


class Joined:
    """Substring, prefix and suffix tests over a list of strings at once, answered by index.

    With the C loop (``_classes.strings_with``) each test is one pass over the strings themselves,
    with no text made. Without it (or for strings that are not plain ``str``), the strings are
    joined by newlines once, a test is one ``str.find`` scan of the joined text instead of a Python
    test per string, and the hits are mapped back to their strings through the strings' start
    offsets. A needle that holds a newline may match across a joint, so such hits are checked
    against their string. Either way the answers are exact for any text (newlines inside the
    strings, needles whose hits overlap).

    ``ordered`` says the strings are sorted (a :class:`~graphaudit.artifact.VariableTable`'s names
    are): the strings that start with a prefix are then one run, found by bisection.
    """

    __slots__ = ("strings", "ordered", "_text", "_starts")

    def __init__(self, strings: Sequence[str], ordered: bool = False) -> None:
        self.strings = strings
        self.ordered = ordered
        self._text: str | None = None
        self._starts = None

    @property
    def text(self) -> str:
        """The strings joined, with a joint before and after every string (made when first asked for)."""
        if self._text is None:
            self._text = "\n" + "\n".join(self.strings) + "\n"
        return self._text

    def _native(self, needle: str, mode: int) -> list[int] | None:
        native = _loops()
        if native is None:
            return None
        try:
            return native.strings_with(self.strings, needle, mode)
        except TypeError:  # not plain strs (a str subclass): the joined text
            return None

    def containing(self, needle: str) -> list[int]:
        """Indices of the strings that hold ``needle`` (``needle in s``), in order."""
        if not needle:
            return list(range(len(self.strings)))
        native = self._native(needle, 0)
        if native is not None:
            return native
        found = self._owners(needle, 0)
        return [k for k in found if needle in self.strings[k]] if "\n" in needle else found

    def starting(self, prefix: str) -> list[int]:
        """Indices of the strings that start with ``prefix``, in order."""
        if not prefix:
            return list(range(len(self.strings)))
        if self.ordered:
            return self._run_starting(prefix)
        native = self._native(prefix, 1)
        if native is not None:
            return native
        # `\n<prefix>` finds each string that starts so, and a newline inside a string followed
        # by it, which the check drops.
        strings = self.strings
        return [k for k in self._owners("\n" + prefix, 1) if strings[k].startswith(prefix)]

    def _run_starting(self, prefix: str) -> list[int]:
        """``starting`` of sorted strings: those at or after ``prefix`` that start with it come first."""
        strings = self.strings
        lo = hi = bisect_left(strings, prefix)
        top = len(strings)
        while hi < top:  # the first one past `lo` that does not start with it (one sorts after them all)
            mid = (hi + top) // 2
            if strings[mid].startswith(prefix):
                hi = mid + 1
            else:
                top = mid
        return list(range(lo, hi))

    def ending(self, suffix: str) -> list[int]:
        """Indices of the strings that end with ``suffix``, in order."""
        if not suffix:
            return list(range(len(self.strings)))
        native = self._native(suffix, 2)
        if native is not None:
            return native
        strings = self.strings
        return [k for k in self._owners(suffix + "\n", 0) if strings[k].endswith(suffix)]

    def _owners(self, needle: str, shift: int) -> list[int]:
        """Distinct indices of the strings holding position hit + ``shift`` for each hit of ``needle``."""
        import numpy as np

        text = self.text
        hits: list[int] = []
        pos = text.find(needle)
        while pos >= 0 and len(hits) < 64:
            hits.append(pos)
            pos = text.find(needle, pos + 1)
        if not hits:
            return []
        if pos < 0 or len(needle) > 1 and any(needle.startswith(needle[k:]) for k in range(1, len(needle))):
            # Few hits, or a needle whose hits may overlap (`aa` in `aaa`): one find per hit.
            while pos >= 0:
                hits.append(pos)
                pos = text.find(needle, pos + 1)
            found = np.asarray(hits, dtype=np.int64) + shift
        else:
            # Many hits that cannot overlap: the lengths of the pieces between them give their places.
            lengths = np.fromiter(map(len, text.split(needle)), dtype=np.int64)[:-1]
            found = np.cumsum(lengths + len(needle)) - len(needle) + shift
        if self._starts is None:  # string k starts at starts[k] in `text`, after its joint
            strings = self.strings
            starts = np.ones(len(strings), dtype=np.int64)
            lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
            np.cumsum(lengths[:-1] + 1, out=starts[1:])
            starts[1:] += 1
            self._starts = starts
        owners = np.searchsorted(self._starts, found, side="right") - 1
        owners = owners[owners >= 0]  # in order: the hits are
        return owners[np.concatenate(([True], owners[1:] != owners[:-1]))].tolist() if len(owners) else []


def containing(strings: Sequence[str], needle: str) -> list[int]:
    """Indices of the strings that hold ``needle``, in order (see :class:`Joined`)."""
    return Joined(strings).containing(needle)


def starting(strings: Sequence[str], prefix: str) -> list[int]:
    """Indices of the strings that start with ``prefix``, in order (see :class:`Joined`)."""
    return Joined(strings).starting(prefix)


def last_parts(strings: Sequence[str]) -> list[str]:
    """The last `/` part of each string (the whole string when it has none); equal parts are one object."""
    return _parts(strings, True)


def first_parts(strings: Sequence[str]) -> list[str]:
    """The first `/` part of each string (the whole string when it has none); equal parts are one object."""
    return _parts(strings, False)


def _parts(strings: Sequence[str], last: bool) -> list[str]:
    native = _loops()
    if native is not None:
        try:
            return native.parts(strings, last)
        except TypeError:  # not plain strs
            pass
    if last:
        return list(map(intern, map(itemgetter(2), map(methodcaller("rpartition", "/"), strings))))
    return list(map(intern, map(itemgetter(0), map(methodcaller("partition", "/"), strings))))


@contextlib.contextmanager
def collector_paused():
    """The cyclic garbage collector off inside, and back on after if it was on.

    Reading and the analyses build many small acyclic objects (rows, sets, tuples) at once: with
    millions of live objects from the reader, each collection they trigger scans them all for
    nothing. Reference counting still frees everything.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def gc_paused(fn: F) -> F:
    """Run ``fn`` with the cyclic garbage collector off (see :func:`collector_paused`)."""

    @functools.wraps(fn)
    def paused(*args, **kwargs):
        with collector_paused():
            return fn(*args, **kwargs)

    return paused  # type: ignore[return-value]
