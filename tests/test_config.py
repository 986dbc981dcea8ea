"""Configuration: unknown keys and codes are usage errors; the longest code prefix wins."""

from __future__ import annotations

import pytest

from graphaudit.config import Options, Settings, find_config, load_config, options_from_mapping, resolve
from graphaudit.errors import UsageError
from graphaudit.findings import Severity
from graphaudit.rules import BY_CODE

CODES = ["GA101", "GA102", "GA201", "GA202", "GA203", "GA301"]


@pytest.mark.parametrize(
    ("select", "ignore", "extend", "code", "enabled"),
    [
        (("GA",), (), (), "GA201", True),
        (("GA",), ("GA2",), (), "GA201", False),
        (("GA",), ("GA2",), ("GA201",), "GA201", True),   # longer prefix wins
        (("GA",), ("GA2",), ("GA201",), "GA202", False),
        (("GA201",), (), (), "GA101", False),
        (("GA2",), ("GA201",), (), "GA201", False),
        (("GA201",), ("GA2",), (), "GA201", True),
        (("GA201",), ("GA201",), (), "GA201", False),      # a tie goes to ignore
        (("ALL",), ("GA1",), (), "GA301", True),
    ],
)
def test_longest_prefix_wins(select, ignore, extend, code, enabled):
    settings = Settings(select=select, ignore=ignore, extend_select=extend)
    assert settings.is_enabled(code) is enabled, (select, ignore, extend, code)


def test_per_path_ignores():
    settings = Settings(per_path_ignores=(("exports/legacy/*", ("GA2",)),))
    assert not settings.is_enabled("GA201", "exports/legacy/model_v1")
    assert settings.is_enabled("GA201", "exports/current/model")


def test_unknown_key_is_named():
    with pytest.raises(UsageError, match=r"unknown key `selct`"):
        options_from_mapping({"selct": ["GA"]}, "pyproject.toml")


def test_unknown_code_is_named():
    with pytest.raises(UsageError, match=r"ignore: unknown rule code `GA999`"):
        resolve(Options(ignore=("GA999",)), CODES)


def test_bad_fail_on():
    with pytest.raises(UsageError, match="unknown severity 'fatal'"):
        resolve(Options(fail_on="fatal"), CODES)


def test_pyproject_round_trip(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.graphaudit]\nselect = ["GA2"]\nfail-on = "error"\npretrained = ["vgg19/*"]\n'
        'per-path-ignores = {"legacy/*" = ["GA201"]}\n')
    sub = tmp_path / "models" / "a"
    sub.mkdir(parents=True)
    found = find_config(sub)
    assert found == tmp_path / "pyproject.toml"
    settings = resolve(load_config(found), BY_CODE)
    assert settings.select == ("GA2",)
    assert settings.fail_on is Severity.ERROR
    assert settings.pretrained == ("vgg19/*",)
    assert not settings.is_enabled("GA201", "legacy/x")


def test_cli_overrides_file():
    merged = Options(select=("GA201",)).merged_over(Options(select=("GA2",), fail_on="info"))
    assert merged.select == ("GA201",) and merged.fail_on == "info"


def test_wrong_type_is_named():
    with pytest.raises(UsageError, match="`max-file-size` must be a positive integer"):
        options_from_mapping({"max-file-size": "big"}, "graphaudit.toml")
