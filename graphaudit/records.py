"""`dataclass`, as the standard library's, with its methods shared or reused instead of compiled per class."""

# On Python < 3.13 the standard `dataclass` compiles every generated method from source, each time
# the module is imported: about 1 ms per frozen class, 50 ms of a cold `graphaudit check`, which
# makes some 60 of them. Here the standard library still makes the fields (and the class-level
# details: defaults, `__match_args__`); the methods come without compiling:
# - `__repr__`, `__eq__` and `__hash__` are closures over the fields, with the standard semantics:
#   the same text, equality on the `compare` fields of exactly the same class, the hash of their
#   tuple for frozen classes, none for mutable ones, and methods the class writes itself kept;
# - a frozen class's `__setattr__`/`__delattr__` are closures too, raising the same errors;
# - `__init__` is compiled once per number of fields and kind (frozen or not), then renamed for
#   each class (`CodeType.replace`): the same bytecode, signature, defaults and error messages as
#   the standard one, so instances cost what they cost. A class with a `default_factory`,
#   `init=False` fields, `__post_init__`, a dataclass base or other options keeps the standard
#   `__init__`.

from __future__ import annotations

import builtins
import dataclasses
import sys
import types
from _thread import get_ident
from operator import attrgetter

_COMPILES_FAST = sys.version_info >= (3, 13)  # one compile per class there: nothing to gain
_SETTER = "__records_object_setattr__"  # the global a frozen __init__ sets fields with


def _values(names: tuple[str, ...]):
    """obj -> the tuple of these attributes."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _qualify(cls: type, function) -> None:
    function.__qualname__ = f"{cls.__qualname__}.{function.__name__}"


def _methods(cls: type, frozen: bool) -> None:
    """__repr__, __eq__ and __hash__, as ``dataclass(eq=True, repr=True)`` makes them."""
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
            _qualify(cls, method)
            setattr(cls, name, method)
    explicit_hash = own.get("__hash__", None) is not None or ("__hash__" in own and "__eq__" not in own)
    if not explicit_hash:
        if frozen:
            hashed = _values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))

            def __hash__(self):
                return hash(hashed(self))

            _qualify(cls, __hash__)
            cls.__hash__ = __hash__
        else:
            cls.__hash__ = None


def _freeze(cls: type) -> None:
    """__setattr__ and __delattr__ of ``dataclass(frozen=True)``."""
    names = frozenset(f.name for f in dataclasses.fields(cls))

    def __setattr__(self, name, value):
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self, name):
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    for method in (__setattr__, __delattr__):
        _qualify(cls, method)
        setattr(cls, method.__name__, method)


_TEMPLATES: dict[tuple[int, bool], object] = {}


def _template(count: int, frozen: bool):
    """The code of ``__init__(self, _0, _1, ...)`` setting each argument as the field of its name."""
    code = _TEMPLATES.get((count, frozen))
    if code is None:
        args = [f"_{k}" for k in range(count)]
        body = [f"    {_SETTER}(self, {a!r}, {a})" if frozen else f"    self.{a} = {a}" for a in args]
        source = f"def __init__(self{''.join(', ' + a for a in args)}):\n" + ("\n".join(body) or "    pass") + "\n"
        space: dict = {}
        exec(compile(source, "<records>", "exec"), {}, space)
        code = _TEMPLATES[(count, frozen)] = space["__init__"].__code__
    return code


def _init(cls: type, frozen: bool) -> None:
    """``__init__`` of the standard dataclass: positional-or-keyword fields in order, their defaults."""
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    code = _template(len(names), frozen)
    rename = {f"_{k}": name for k, name in enumerate(names)}
    code = code.replace(co_varnames=("self", *names),
                        co_consts=tuple(rename.get(c, c) if type(c) is str else c for c in code.co_consts),
                        co_names=tuple(rename.get(n, n) for n in code.co_names))
    defaults = tuple(f.default for f in fields if f.default is not dataclasses.MISSING)
    for f in fields[len(fields) - len(defaults):]:
        if f.default is dataclasses.MISSING:  # the standard check, made in its __init__ maker
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
    space = {_SETTER: object.__setattr__, "__name__": cls.__module__, "__builtins__": builtins}
    init = types.FunctionType(code, space, "__init__", defaults or None)
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    _qualify(cls, init)
    cls.__init__ = init


def _plain(cls: type, frozen: bool) -> bool:
    """Whether the standard ``__init__`` of ``cls`` is the plain one _init makes."""
    if any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        return False  # inherited fields: their kinds are the base's
    own = cls.__dict__
    if "__post_init__" in own or "__init__" in own or (frozen and ("__setattr__" in own or "__delattr__" in own)):
        return False
    annotations = own.get("__annotations__", {})
    if {"self", _SETTER} & set(annotations):
        return False
    for name, kind in annotations.items():
        if "InitVar" in str(kind) or "KW_ONLY" in str(kind):
            return False
        value = own.get(name)
        if isinstance(value, dataclasses.Field) and (
                not value.init or value.default_factory is not dataclasses.MISSING or value.kw_only is True):
            return False
    return True


def _declare(cls: type, frozen: bool) -> None:
    """``__dataclass_params__`` as the standard dataclass sets it (subclasses check `frozen` against it)."""
    params = cls.__dataclass_params__
    params.init = params.repr = params.eq = True
    params.frozen = frozen


def dataclass(cls=None, /, *, frozen: bool = False, **options):
    """``dataclasses.dataclass`` (same options, fields and helpers: ``fields``, ``replace``, ``asdict``)."""
    if _COMPILES_FAST or options:
        return dataclasses.dataclass(cls, frozen=frozen, **options)

    def make(cls):
        if not _plain(cls, frozen):
            done = dataclasses.dataclass(cls, frozen=frozen, eq=False, repr=False)
            _methods(done, frozen)
            _declare(done, frozen)
            return done
        doc = cls.__dict__.get("__doc__")
        if doc is None:
            cls.__doc__ = "-"  # the standard text needs the real __init__: written below
        done = dataclasses.dataclass(cls, init=False, eq=False, repr=False)
        _init(done, frozen)
        if frozen:
            _freeze(done)
        _methods(done, frozen)
        _declare(done, frozen)
        if doc is None:
            import inspect

            done.__doc__ = done.__name__ + str(inspect.signature(done)).replace(" -> None", "")
        return done

    return make if cls is None else make(cls)
