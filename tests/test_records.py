"""records.dataclass behaves as dataclasses.dataclass: fields, __init__, repr, equality, hashing, frozen errors."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import ClassVar

import pytest

from graphaudit import records


@records.dataclass(frozen=True)
class Pickled:
    name: str
    sizes: tuple = ()


def make(decorator, **options):
    """The same family of classes, made by one decorator: plain ones (the shared __init__) and ones
    with a default factory, a base dataclass or __post_init__ (the standard __init__)."""

    @decorator(**options)
    class Base:
        """A record."""

        name: str
        size: int = 0
        tags: tuple = ()
        note: str = dataclasses.field(default="", compare=False)
        secret: str = dataclasses.field(default="s", repr=False)
        weight: float = dataclasses.field(default=1.0, hash=False, compare=True)
        kind: ClassVar[str] = "base"

    @decorator(**options)
    class Child(Base):
        extra: float = 1.5

    class Plain(Base):  # not decorated: inherits Base's methods
        pass

    @decorator(**options)
    class Single:
        only: int

    @decorator(**options)
    class Empty:
        pass

    @decorator(**options)
    class Undocumented:
        a: int
        b: str = "x"

    @decorator(**options)
    class Factory:
        """Fields a default factory fills."""

        name: str
        items: list = dataclasses.field(default_factory=list)
        hidden: int = dataclasses.field(default=3, init=False)

    @decorator(**options)
    class Posted:
        """__post_init__ runs."""

        a: int

        def __post_init__(self):
            object.__setattr__(self, "a", self.a * 2)

    return Base, Child, Plain, Single, Empty, Undocumented, Factory, Posted


def _error(cls, args, kwargs):
    try:
        cls(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _hashable(obj):
    try:
        return hash(obj)
    except TypeError as exc:
        return f"TypeError: {exc}"


@pytest.mark.parametrize("frozen", [True, False])
def test_the_same_behaviour_as_the_standard_dataclass(frozen):
    ours, theirs = make(records.dataclass, frozen=frozen), make(dataclasses.dataclass, frozen=frozen)
    for mine, std in zip(ours, theirs):
        assert [(f.name, f.default, f.repr, f.compare, f.hash) for f in dataclasses.fields(mine)] == \
               [(f.name, f.default, f.repr, f.compare, f.hash) for f in dataclasses.fields(std)]
        assert getattr(mine, "__match_args__", None) == getattr(std, "__match_args__", None)
        assert str(inspect.signature(mine)) == str(inspect.signature(std))
        assert mine.__init__.__defaults__ == std.__init__.__defaults__
        assert mine.__init__.__annotations__ == std.__init__.__annotations__
        assert mine.__init__.__qualname__ == std.__init__.__qualname__
        assert mine.__doc__ == std.__doc__
        params = [(p.init, p.repr, p.eq, p.order, p.unsafe_hash, p.frozen)
                  for p in (mine.__dataclass_params__, std.__dataclass_params__)]
        assert params[0] == params[1]
        for args, kwargs in [((), {}), ((1, 2, 3, 4, 5, 6, 7, 8, 9), {}), ((), {"nope": 1})]:
            assert _error(mine, args, kwargs) == _error(std, args, kwargs)
    cases = [
        lambda B, C, P, S, E, U, F, Q: [B("a"), B("a", 2, ("x",), "n", "t", 2.0), B("a", note="other"), B("a", weight=3)],
        lambda B, C, P, S, E, U, F, Q: [C("a"), C("a", extra=2.0), P("a"), B("a")],
        lambda B, C, P, S, E, U, F, Q: [S(1), S(1), S(2), S(only=2)],
        lambda B, C, P, S, E, U, F, Q: [E(), E(), U(1), U(1, "y"), U(b="z", a=2)],
        lambda B, C, P, S, E, U, F, Q: [F("a"), F("a", [1]), F("a"), Q(2), Q(a=2), Q(3)],
    ]
    for build in cases:
        mine, std = build(*ours), build(*theirs)
        assert [repr(m) for m in mine] == [repr(s) for s in std]
        assert [[a == b for b in mine] for a in mine] == [[a == b for b in std] for a in std]
        assert [[a != b for b in mine] for a in mine] == [[a != b for b in std] for a in std]
        assert [_hashable(m) for m in mine] == [_hashable(s) for s in std]
        for m, s in zip(mine, std):
            assert dataclasses.asdict(m) == dataclasses.asdict(s)
            assert dataclasses.astuple(m) == dataclasses.astuple(s)


def test_frozen_records_refuse_assignment_as_the_standard_ones():
    Base = make(records.dataclass, frozen=True)[0]
    rec = Base("a")
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'size'"):
        rec.size = 3
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot delete field 'name'"):
        del rec.name
    assert dataclasses.replace(rec, size=3) == Base("a", 3)
    assert rec.kind == "base" and "kind" not in {f.name for f in dataclasses.fields(Base)}


def test_a_class_keeps_the_methods_it_writes():
    @records.dataclass(frozen=True)
    class Own:
        value: int

        def __repr__(self):
            return f"<{self.value}>"

        def __eq__(self, other):
            return isinstance(other, Own) and self.value % 10 == other.value % 10

        def __hash__(self):
            return self.value % 10

    @records.dataclass
    class Mutable:
        value: int

    @records.dataclass
    class HashedByHand:
        value: int

        def __hash__(self):
            return 7

    assert repr(Own(3)) == "<3>" and Own(3) == Own(13) and hash(Own(13)) == 3
    with pytest.raises(TypeError):
        hash(Mutable(1))  # eq without frozen: unhashable, as the standard dataclass
    assert hash(HashedByHand(1)) == 7


def test_recursive_repr_and_copies():
    reprs = []
    for decorator in (records.dataclass, dataclasses.dataclass):
        @decorator
        class Node:
            children: list

        node = Node([])
        node.children.append(node)
        reprs.append(repr(node))
    assert reprs[0] == reprs[1] and reprs[0].endswith(".Node(children=[...])")
    rec = Pickled("a", (1, 2))
    assert pickle.loads(pickle.dumps(rec)) == rec == copy.deepcopy(rec) == copy.copy(rec)


def test_a_field_without_default_after_one_with_is_refused_as_by_the_standard_dataclass():
    messages = []
    for decorator in (records.dataclass, dataclasses.dataclass):
        with pytest.raises(TypeError) as error:
            @decorator(frozen=True)
            class Bad:
                a: int = 1
                b: int
        messages.append(str(error.value))
    assert messages[0] == messages[1] == "non-default argument 'b' follows default argument"


def test_plain_records_share_one_compiled_init_per_shape():
    @records.dataclass(frozen=True)
    class One:
        a: int
        b: str = ""

    @records.dataclass(frozen=True)
    class Two:
        c: float
        d: tuple = ()

    # The same bytecode, renamed: no compile per class.
    assert One.__init__.__code__.co_code == Two.__init__.__code__.co_code
    assert One.__init__.__code__.co_varnames == ("self", "a", "b") and Two(1.0).c == 1.0 and One(1).b == ""
