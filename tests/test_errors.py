"""errors.describe: one line a user can act on, and the same line for the same input."""

from __future__ import annotations

import pytest

from graphaudit.errors import describe


class _Thing:
    pass


def test_memory_addresses_are_left_out_of_the_message():
    exc = ValueError(f"cannot use {_Thing()!r} here")
    assert "0x" not in describe(exc)
    assert describe(exc) == describe(ValueError(f"cannot use {_Thing()!r} here"))
    assert describe(exc).startswith("found data it cannot interpret (cannot use <")


def test_extension_internal_errors_say_only_what_was_found():
    exc = SystemError("<cyfunction FastRLock.__exit__ at 0x7f059e1f10c0> returned a result with an exception set")
    assert describe(exc) == "found data it cannot interpret"


@pytest.mark.parametrize("exc, expected", [
    (KeyError("kernel"), "expected an entry that is missing ('kernel')"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "expected UTF-8 text; found bytes that are not"),
    (RecursionError(), "found data nested deeper than graphaudit follows"),
])
def test_each_kind_of_error_has_its_own_words(exc, expected):
    assert describe(exc) == expected
