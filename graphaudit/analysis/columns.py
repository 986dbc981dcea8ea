"""The variables of an artifact as parallel lists (names, keys, last parts...), made once and shared by the per-variable analyses."""

from __future__ import annotations

from functools import cached_property
from operator import attrgetter, itemgetter, methodcaller
from sys import intern
from typing import Mapping

from graphaudit.artifact import Variable
from graphaudit.bulk import Joined


class VariableColumns:
    """``variables`` (name -> Variable) column by column, each column made when first asked for.

    The analyses that look at every variable (roles, slots, provenance) share one of these, so the
    names are joined and split once, not once per analysis.
    """

    def __init__(self, variables: Mapping[str, Variable]) -> None:
        self.variables = variables
        self.names: list[str] = list(variables)
        self.values: list[Variable] = list(variables.values())

    @cached_property
    def keys(self) -> list[str]:
        """Each variable's checkpoint key, "" when it has none."""
        return [k or "" for k in map(attrgetter("checkpoint_key"), self.values)]

    @cached_property
    def joined_names(self) -> Joined:
        return Joined(self.names)

    @cached_property
    def joined_keys(self) -> Joined:
        return Joined(self.keys)

    @cached_property
    def leaves(self) -> list[str]:
        """The last `/` part of each name (the whole name when it has none), interned: they repeat."""
        return list(map(intern, map(itemgetter(2), map(methodcaller("rpartition", "/"), self.names))))

    @cached_property
    def firsts(self) -> list[str]:
        """The first `/` part of each name (the whole name when it has none), interned: they repeat."""
        return list(map(intern, map(itemgetter(0), map(methodcaller("partition", "/"), self.names))))

    @cached_property
    def trainable(self) -> list[bool | None]:
        return list(map(attrgetter("trainable"), self.values))

    @cached_property
    def dtypes(self) -> list[str]:
        return list(map(attrgetter("dtype"), self.values))


def columns_of(variables: Mapping[str, Variable], columns: VariableColumns | None) -> VariableColumns:
    """``columns`` when they are those of ``variables``, else new ones."""
    if columns is not None and columns.variables is variables and len(columns.names) == len(variables):
        return columns
    return VariableColumns(variables)
