"""Whole-list helpers for the per-variable analyses: substring tests over one joined string, and a pause of the cyclic GC."""

from __future__ import annotations

import contextlib
import functools
import gc
from typing import Callable, Sequence, TypeVar

F = TypeVar("F", bound=Callable)


class Joined:
    """Strings joined by newlines once, for substring and prefix tests over all of them at once.

    A test is one ``str.find`` scan of the joined text instead of a Python test per string; the
    hits are mapped back to their strings through the strings' start offsets. A needle that holds
    a newline may match across a joint, so such hits are checked against their string: the
    answers are exact for any text.
    """

    __slots__ = ("strings", "text", "_starts")

    def __init__(self, strings: Sequence[str]) -> None:
        self.strings = strings
        self.text = "\n" + "\n".join(strings) + "\n"  # a joint before and after every string
        self._starts = None

    def containing(self, needle: str) -> list[int]:
        """Indices of the strings that hold ``needle`` (``needle in s``), in order."""
        if not needle:
            return list(range(len(self.strings)))
        found = self._owners(needle, 0)
        return [k for k in found if needle in self.strings[k]] if "\n" in needle else found

    def starting(self, prefix: str) -> list[int]:
        """Indices of the strings that start with ``prefix``, in order."""
        if not prefix:
            return list(range(len(self.strings)))
        # `\n<prefix>` finds each string that starts so, and a newline inside a string followed
        # by it, which the check drops.
        strings = self.strings
        return [k for k in self._owners("\n" + prefix, 1) if strings[k].startswith(prefix)]

    def ending(self, suffix: str) -> list[int]:
        """Indices of the strings that end with ``suffix``, in order."""
        if not suffix:
            return list(range(len(self.strings)))
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
