"""`dataclass`, as the standard library's, with `__repr__`, `__eq__` and `__hash__` shared instead of compiled per class."""

# On Python < 3.13 the standard `dataclass` compiles every generated method from source, each time
# the module is imported: about 1 ms per frozen class, 50 ms of a cold `graphaudit check`, which
# makes some 60 of them. Here the standard library still makes the fields and `__init__` (and a
# frozen class's `__setattr__`/`__delattr__`), compiled because instances are made by the thousand;
# `__repr__`, `__eq__` and `__hash__` are closures over the fields, with the standard semantics:
# the same text, equality on the `compare` fields of exactly the same class, the hash of their
# tuple for frozen classes, none for mutable ones, and methods the class writes itself kept.

from __future__ import annotations

import dataclasses
import sys
from _thread import get_ident
from operator import attrgetter

_COMPILES_FAST = sys.version_info >= (3, 13)  # one compile per class there: nothing to gain


def _values(names: tuple[str, ...]):
    """obj -> the tuple of these attributes."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _methods(cls: type, frozen: bool) -> None:
    fields = dataclasses.fields(cls)
    shown = tuple(f.name for f in fields if f.repr)
    key = _values(tuple(f.name for f in fields if f.compare))
    running: set = set()

    def __repr__(self):
        token = (id(self), get_ident())
        if token in running:  # as reprlib.recursive_repr: a field that holds the object itself
            return "..."
        running.add(token)
        try:
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        finally:
            running.discard(token)
        return f"{self.__class__.__qualname__}({inner})"

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    own = cls.__dict__
    for name, method in (("__repr__", __repr__), ("__eq__", __eq__)):
        if name not in own:
            method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, method)
    explicit_hash = own.get("__hash__", None) is not None or ("__hash__" in own and "__eq__" not in own)
    if not explicit_hash:
        if frozen:
            hashed = _values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))

            def __hash__(self):
                return hash(hashed(self))

            __hash__.__qualname__ = f"{cls.__qualname__}.__hash__"
            cls.__hash__ = __hash__
        else:
            cls.__hash__ = None


def dataclass(cls=None, /, *, frozen: bool = False, **options):
    """``dataclasses.dataclass`` (same options, fields and helpers: ``fields``, ``replace``, ``asdict``)."""
    if _COMPILES_FAST or options.get("eq") is False or options.get("repr") is False or options.get("order") \
            or options.get("unsafe_hash"):
        make = dataclasses.dataclass(frozen=frozen, **options)
    else:
        def make(cls):
            # The class's own __eq__ decides whether it is hashable (the standard rule), read before
            # the standard library sees the class.
            done = dataclasses.dataclass(cls, frozen=frozen, eq=False, repr=False, **options)
            _methods(done, frozen)
            return done
    return make if cls is None else make(cls)
