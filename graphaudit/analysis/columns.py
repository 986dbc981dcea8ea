"""The variables of an artifact as parallel lists (names, keys, last parts...), made once and shared by the per-variable analyses."""

from __future__ import annotations

from functools import cached_property
from operator import attrgetter
from typing import Mapping, Sequence

from graphaudit.artifact import Variable, VariableTable
from graphaudit.bulk import Joined, first_parts, last_parts, register_loops

try:
    from graphaudit.analysis import _classes
except ImportError:  # installed without a C compiler: bulk's Python twins run
    _classes = None  # type: ignore[assignment]
register_loops(_classes)  # bulk's string loops are C in this stage's extension


class VariableColumns:
    """``variables`` (name -> Variable) column by column, each column made when first asked for.

    The analyses that look at every variable (roles, slots, provenance) share one of these, so the
    names are joined and split once, not once per analysis. A bare checkpoint's variables (a
    :class:`VariableTable`) are columns already: theirs are used as they are, and ``values`` makes
    a variable only where one is indexed, so the analyses read the columns, not ``values``, when
    they look at every variable.
    """

    def __init__(self, variables: Mapping[str, Variable]) -> None:
        self.variables = variables
        self.table = variables if isinstance(variables, VariableTable) else None
        self.names: list[str] = variables.names if self.table is not None else list(variables)

    @cached_property
    def values(self) -> "Sequence[Variable]":
        """Each variable (made when indexed, for a :class:`VariableTable`)."""
        if self.table is not None:
            return _Rows(self.table)
        return list(self.variables.values())

    @cached_property
    def keys(self) -> list[str]:
        """Each variable's checkpoint key, "" when it has none."""
        if self.table is not None:
            return self.names  # a bare checkpoint's variables are named by their keys
        return [k or "" for k in map(attrgetter("checkpoint_key"), self.values)]

    @cached_property
    def shapes(self) -> list[tuple[int, ...] | None]:
        if self.table is not None:
            return self.table.shapes
        return list(map(attrgetter("shape"), self.values))

    @cached_property
    def linked(self) -> list[Variable]:
        """The variables that list optimizer slots of their own (``Variable.slots``), in order."""
        made = self.table._made.values() if self.table is not None else self.values
        return [v for v in made if v.slots]

    @cached_property
    def joined_names(self) -> Joined:
        return Joined(self.names, ordered=self.table is not None)  # a table's names are sorted

    @cached_property
    def joined_keys(self) -> Joined:
        if self.keys is self.names:  # a bare checkpoint's: one for both
            return self.joined_names
        return Joined(self.keys)

    @cached_property
    def leaves(self) -> list[str]:
        """The last `/` part of each name (the whole name when it has none); they repeat, so equal ones are one object."""
        return last_parts(self.names)

    @cached_property
    def firsts(self) -> list[str]:
        """The first `/` part of each name (the whole name when it has none); they repeat, so equal ones are one object."""
        return first_parts(self.names)

    @cached_property
    def trainable(self) -> list[bool | None]:
        if self.table is not None:
            out: list[bool | None] = [None] * len(self.names)  # a checkpoint says nothing of it
            for name, var in self.table._made.items():  # ... unless someone said it since
                if var.trainable is not None:
                    out[self.table.position(name)] = var.trainable  # type: ignore[index]
            return out
        return list(map(attrgetter("trainable"), self.values))

    @cached_property
    def dtypes(self) -> list[str]:
        if self.table is not None:
            return self.table.dtypes
        return list(map(attrgetter("dtype"), self.values))


class _Rows(Sequence):
    """``values`` of a :class:`VariableTable`: row ``k``'s variable, made when indexed."""

    __slots__ = ("table",)

    def __init__(self, table: VariableTable) -> None:
        self.table = table

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self.table.at(k) for k in range(*row.indices(len(self)))]
        return self.table.at(row if row >= 0 else row + len(self))

    def __len__(self) -> int:
        return len(self.table.names)


def columns_of(variables: Mapping[str, Variable], columns: VariableColumns | None) -> VariableColumns:
    """``columns`` when they are those of ``variables``, else new ones."""
    if columns is not None and columns.variables is variables and len(columns.names) == len(variables):
        return columns
    return VariableColumns(variables)
