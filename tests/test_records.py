"""records.dataclass behaves as dataclasses.dataclass: fields, __init__, repr, equality, hashing, frozen errors."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar

import pytest

from graphaudit import records


@records.dataclass(frozen=True)
class Pickled:
    name: str
    sizes: tuple = ()


def make(decorator, **options):
    """The same family of classes, made by one decorator."""

    @decorator(**options)
    class Base:
        """A record."""

        name: str
        size: int = 0
        tags: tuple = ()
        note: str = dataclasses.field(default="", compare=False)
        secret: str = dataclasses.field(default="s", repr=False)
        items: list = dataclasses.field(default_factory=list, hash=False, compare=True)
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

    return Base, Child, Plain, Single, Empty


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
    cases = [
        lambda B, C, P, S, E: [B("a"), B("a", 2, ("x",), "n", "t", [1]), B("a", note="other"), B("a", items=[2])],
        lambda B, C, P, S, E: [C("a"), C("a", extra=2.0), P("a"), B("a")],
        lambda B, C, P, S, E: [S(1), S(1), S(2)],
        lambda B, C, P, S, E: [E(), E()],
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
