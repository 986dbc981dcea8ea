"""Hostile and broken inputs: one line and exit 2, no traceback, bounded work, names escaped everywhere."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphaudit import engine
from graphaudit.budget import BudgetExceeded, run_with_budget
from graphaudit.cli import main
from graphaudit.errors import ArtifactError
from graphaudit.findings import (ArtifactResult, ArtifactStats, Confidence, Finding, Fixup, Location, Report,
                                 Severity)
from graphaudit.formats import snappy
from graphaudit.formats.table import Table, TableError
from graphaudit.reporters import FORMATS, get_reporter
from graphaudit.rules.base import Rule

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fuzz/ folder sits beside tests/

from fuzz import builders, harness, hostile  # noqa: E402

REGRESSIONS = ROOT / "tests" / "regressions"
EVIL = "evil\x1b[2J\n::error file=ci.yml,line=1::pwned\u202e"
EVIL_SHOWN = "evil\\x1b[2J\\n::error file=ci.yml,line=1::pwned\\u202e"
EVIL_PATH = "models/\x1b[31m\n::error ::x\udcff.pb"  # \udcff: the byte 0xff of a non-UTF-8 file name
EVIL_PATH_SHOWN = "models/\\x1b[31m\\n::error ::x\\xff.pb"
pytestmark = pytest.mark.filterwarnings("ignore::graphaudit.errors.StrictModeWarning")


@pytest.fixture
def lenient(monkeypatch):
    """What users get: unknown content degrades instead of raising (the suite runs strict)."""
    monkeypatch.delenv("GRAPHAUDIT_STRICT", raising=False)


# ---------------------------------------------------------------------------- escaping

def _evil_report() -> Report:
    finding = Finding(
        code="GA201", name="uninitialized-variable", severity=Severity.ERROR, confidence=Confidence.HIGH,
        message=f"1 variable (9 params) that `y` reads get no value: `{EVIL}/w`",
        location=Location(artifact=EVIL_PATH, graph="graph", scope=EVIL, variables=(f"{EVIL}/w",), nodes=(EVIL,)),
        evidence=(f"checkpoint key `other\udcff\x1b/w`",),
        fixup=Fixup(title=f"Restore `{EVIL}/w`", detail=f"load `{EVIL}`", code=f"saver.restore(sess, '{EVIL}')\nx = 1"))
    broken = ArtifactResult(path=f"{EVIL_PATH}.meta", format="metagraph",
                            error=f"tensor `bad\udcfe\x1b[0m\n::warning::x` is corrupt")
    good = ArtifactResult(path=EVIL_PATH, format="graphdef", stats=ArtifactStats(1, 4, 0, 1), findings=(finding,))
    return Report(artifacts=(good, broken))


def _render(fmt: str, report: Report) -> str:
    out = io.StringIO()
    get_reporter(fmt, out, show_fixes=True, color=False).write(report)
    return out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_reporter_escapes_esc_newline_workflow_commands_and_non_utf8(fmt):
    text = _render(fmt, _evil_report())
    text.encode("utf-8")  # no lone surrogate left: a UTF-8 file or pipe takes it
    assert "\x1b" not in text and "\u202e" not in text
    commands = [line for line in text.splitlines() if line.lstrip().startswith("::")]
    if fmt == "github":  # only graphaudit's own annotations, one per artifact
        assert [c.split(" ", 1)[0] for c in commands] == ["::error", "::error"]
    else:
        assert commands == []
    if fmt in ("json", "sarif"):
        data = json.loads(text)
        strings = json.dumps(data, ensure_ascii=False)
        assert EVIL_PATH_SHOWN.replace("\\", "\\\\") in strings
        assert EVIL_SHOWN.replace("\\", "\\\\") in strings
        assert "tensor `bad\\\\xfe\\\\x1b[0m\\\\n::warning::x` is corrupt" in strings
    if fmt == "json":
        art = data["artifacts"][0]
        assert art["path"] == EVIL_PATH_SHOWN
        assert art["findings"][0]["location"]["variables"] == [f"{EVIL_SHOWN}/w"]
        assert art["findings"][0]["evidence"] == ["checkpoint key `other\\xff\\x1b/w`"]
        # Fix-up code keeps its lines, so the name's newline splits it; no line can start a command.
        assert art["findings"][0]["fixup"]["code"] == \
            "saver.restore(sess, 'evil\\x1b[2J\n\\x3a:error file=ci.yml,line=1::pwned\\u202e')\nx = 1"
    if fmt == "sarif":
        result = data["runs"][0]["results"][0]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == EVIL_PATH_SHOWN
        assert data["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == \
            f"{EVIL_PATH_SHOWN}.meta: tensor `bad\\xfe\\x1b[0m\\n::warning::x` is corrupt"
    if fmt == "console":
        assert f"{EVIL_PATH_SHOWN}  (graphdef, 4 nodes, 1 variables)" in text
        assert f"{EVIL_PATH_SHOWN}.meta: error: tensor `bad\\xfe\\x1b[0m\\n::warning::x` is corrupt" in text
        assert f"  GA201 error [uninitialized-variable] `{EVIL_SHOWN}`" in text
        assert "    saver.restore(sess, 'evil\\x1b[2J\n    \\x3a:error file=ci.yml,line=1::pwned\\u202e')" in text
    if fmt == "github":
        assert commands[0] == (
            "::error file=models/\\x1b[31m\\n%3A%3Aerror %3A%3Ax\\xff.pb,title=GA201 uninitialized-variable::"
            f"1 variable (9 params) that `y` reads get no value: `{EVIL_SHOWN}/w` — fix: Restore `{EVIL_SHOWN}/w`")


def test_cli_writes_hostile_names_escaped_in_every_format(tmp_path, lenient):
    folder = tmp_path / "art"
    folder.mkdir()
    hostile.case_injection_names(folder)
    for fmt in FORMATS:
        out = tmp_path / f"report.{fmt}"
        assert main(["check", str(folder), "--output", "y", "--format", fmt, "-o", str(out)]) == 1
        text = out.read_bytes().decode("utf-8")
        assert "\x1b" not in text
        assert "\\x1b[31m" in text and "\\xff.meta" in text and "\\x1b[2J" in text, fmt
        assert not [ln for ln in text.splitlines() if ln.lstrip().startswith("::") and fmt != "github"]


# ---------------------------------------------------------------------------- failure isolation

class BrokenRule(Rule):
    """Raises what a damaged artifact once made GA101 raise."""

    code = "GA999"
    name = "broken-rule"
    severity = Severity.ERROR

    def check(self, artifact, facts):
        yield from ()
        raise OverflowError("Python int too large to convert to C long")


def test_a_broken_rule_keeps_the_other_rules_findings(tmp_path, monkeypatch, capsys, lenient):
    monkeypatch.setattr(engine, "ALL_RULES", [BrokenRule, *engine.ALL_RULES])
    hostile.case_injection_names(tmp_path)
    code = main(["check", str(tmp_path), "--output", "y", "--no-color"])
    out = capsys.readouterr().out
    assert code == 2
    error = [line for line in out.splitlines() if ": error: " in line]
    assert len(error) == 1
    assert error[0].endswith(": error: GA999 stopped on this artifact: found a number too large to use (Python int "
                             "too large to convert to C long); the other rules ran (please report it with this artifact)")
    assert "OverflowError" not in out
    assert "  GA201 error [uninitialized-variable]" in out  # made by another rule, still shown


def test_a_port_past_int32_is_one_line_naming_the_input(tmp_path, capsys, lenient):
    path = hostile.case_port_overflow(tmp_path)
    assert main(["check", str(path), "--no-color"]) == 2
    assert capsys.readouterr().out.splitlines()[0] == (
        f"{path}: error: expected a graphdef artifact; found data it cannot interpret (input "
        "`a:activations:99999999999999999999` names output 99999999999999999999, past the 2,147,483,647 "
        "outputs an op can have)")


# ---------------------------------------------------------------------------- hostile files

CHEAP_CASES = {
    "deep_json_h5": r"expected a Keras config in the HDF5 attribute `model_config`; found JSON nested deeper",
    "deep_json_keras": r"expected a Keras config in config\.json; found JSON nested deeper",
    "h5_unwritten_4gib": r": error: dataset `/model_weights/dense/dense/kernel:0` "
                         r"\(32768x32768 float32, 4,294,967,296 bytes\) is over the 2,147,483,648-byte size cap",
    "h5_unallocated_37gib": r"dataset `/model_weights/dense/dense/kernel:0` \(100000x100000 float32, "
                            r"40,000,000,000 bytes\) is over",
    "pbtxt_150_deep": r"expected a text-format GraphDef; line 1, column \d+: messages nest deeper than 100 levels",
    "sparse_3gb_index": r"checkpoint index is 3,000,000,000 bytes, over the 2,147,483,648-byte size cap",
}


@pytest.mark.parametrize("case", sorted(CHEAP_CASES))
def test_hostile_file_is_one_line_and_exit_2(case, tmp_path, capsys, lenient):
    target = hostile.CASES[case](tmp_path)
    start = time.monotonic()
    code = main(["check", str(target), "--no-color"])
    out, err = capsys.readouterr()
    assert time.monotonic() - start < 20
    assert code == 2, out + err
    errors = [line for line in (out + err).splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in out + err
    assert re.search(CHEAP_CASES[case], errors[0]), errors[0]


def test_unwritten_dataset_under_the_cap_is_refused_without_allocating(tmp_path, capsys, lenient):
    target = hostile.case_h5_unwritten_4gib(tmp_path)
    assert main(["check", str(target), "--no-color", "--max-file-size", str(8 * 1024**3)]) == 2
    assert "(32768x32768 float32, 4,294,967,296 bytes) was never written: the file stores none of its values" \
        in capsys.readouterr().out


def test_string_tensor_too_long_to_decode_is_refused(tmp_path, capsys):
    index = hostile.case_string_2e31(tmp_path)
    assert main(["inspect", str(index), "--verify-checksums"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "string tensor 'names' has 2,147,483,648 elements; graphaudit reads string tensors of at most 8,388,608")


def _small_zip_bomb(path: Path, *, inflated: int, header_size: int, header_compressed: int | None = None) -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bytes(inflated)
    raw = comp.compress(data) + comp.flush()
    hostile._zip_with_raw_member(path, "model.weights.h5", raw, zlib.crc32(data), file_size=header_size,
                                 compress_size=header_compressed or len(raw))


def test_zip_members_are_bounded_by_the_real_file_not_their_headers(tmp_path, capsys):
    lie = tmp_path / "ratio.keras"  # 20 MiB from ~20 KB, the header claiming 1 MiB compressed (20:1)
    _small_zip_bomb(lie, inflated=20 * 1024**2, header_size=20 * 1024**2, header_compressed=1024**2)
    short = tmp_path / "short.keras"  # the header says 1 MiB, the stream inflates to 20 MiB
    _small_zip_bomb(short, inflated=20 * 1024**2, header_size=1024**2)
    assert main(["check", str(lie), str(short), "--no-color"]) == 2
    lines = [line for line in capsys.readouterr().out.splitlines() if ": error: " in line]
    assert re.search(r"ratio\.keras: error: member `model\.weights\.h5` inflates to 20,971,520 bytes from at most "
                     r"[\d,]+ compressed \(over 100:1\); refusing a zip bomb", lines[0]), lines
    assert lines[1].endswith("short.keras: error: `model.weights.h5` is damaged in the zip "
                             "(Bad CRC-32 for file 'model.weights.h5')")


def test_a_spinning_hdf5_read_is_stopped_by_the_time_budget(tmp_path, capsys):
    start = time.monotonic()
    code = main(["check", str(REGRESSIONS / "h5_attr_spin.h5"), "--timeout", "2", "--no-color"])
    assert time.monotonic() - start < 10
    assert code == 2
    assert capsys.readouterr().out.splitlines()[0].endswith(
        "h5_attr_spin.h5: error: reading it took longer than the 2 s time budget; HDF5 can loop or crash on a "
        "damaged file (a healthy one reads well within --timeout 2)")


def test_inspect_has_the_same_budget(capsys):
    assert main(["inspect", str(REGRESSIONS / "h5_attr_spin.h5"), "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "took longer than the 1 s time budget" in err


def test_budget_returns_values_and_reraises_errors_intact():
    assert run_with_budget(lambda: {"a": [1, 2]}, 5) == {"a": [1, 2]}

    def fail():
        raise ArtifactError("x/model.h5", "expected HDF5")

    with pytest.raises(ArtifactError) as info:
        run_with_budget(fail, 5)
    assert (info.value.path, info.value.message) == ("x/model.h5", "expected HDF5")
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match=r"took longer than the 0\.3 s time budget"):
        run_with_budget(lambda: time.sleep(30), 0.3)
    assert time.monotonic() - start < 5


def test_budget_reports_a_crashed_reader():
    with pytest.raises(BudgetExceeded, match=r"crashed the reading process \(SIGSEGV"):
        run_with_budget(lambda: os.kill(os.getpid(), 11), 5)


# ---------------------------------------------------------------------------- snappy

def test_native_and_pure_snappy_agree_and_the_pure_one_is_bounded(monkeypatch):
    cramjam = pytest.importorskip("cramjam")
    rng = np.random.default_rng(0)
    raw = bytes(rng.integers(0, 4, 300_000, dtype=np.uint8)) + bytes(100_000)
    compressed = bytes(cramjam.snappy.compress_raw(raw))
    assert snappy.decompress_fast(compressed) == snappy.decompress(compressed) == raw
    bad = compressed[:-7]
    with pytest.raises(snappy.SnappyError) as native_error:
        snappy.decompress_fast(bad)
    with pytest.raises(snappy.SnappyError) as pure_error:
        snappy.decompress(bad)
    assert str(native_error.value) == str(pure_error.value)
    from graphaudit.formats import table

    items = [(b"", b"h")] + [(b"k%06d" % i, bytes(200)) for i in range(2_000)]
    data = builders.table(items, compression=1, per_block=100)
    assert len(list(Table(data))) == len(items)
    monkeypatch.setattr(snappy, "BACKEND", "python")
    monkeypatch.setattr(table, "PURE_SNAPPY_BUDGET", 100_000)  # 8 MiB in use: too slow to build here
    with pytest.raises(TableError, match=r"more than 100,000 bytes of snappy-compressed blocks.*install cramjam"):
        list(Table(data))


# ---------------------------------------------------------------------------- fuzz, short and deterministic

@pytest.mark.parametrize("family", sorted(harness.FAMILIES))
@settings(max_examples=8, derandomize=True, deadline=None, database=None)
@given(seed=st.integers(0, 10**9))
def test_fuzz_cases_keep_every_promise(family, seed, tmp_path_factory):
    os.environ.pop("GRAPHAUDIT_STRICT", None)  # given() reruns the body; a fixture would run once
    try:
        problem, path = harness.run_case(family, seed, tmp_path_factory.mktemp(family), timeout=5)
    finally:
        os.environ["GRAPHAUDIT_STRICT"] = "1"
    assert problem is None, (family, seed, problem)


@pytest.mark.parametrize("case", sorted(p.name for p in REGRESSIONS.iterdir()))
def test_regression_files_keep_every_promise(case, lenient):
    path = REGRESSIONS / case
    if path.is_dir():  # a folder kept by the fuzzer: PROBLEM.txt names the artifact inside
        path = path / (path / "PROBLEM.txt").read_text(encoding="utf-8").splitlines()[0]
    assert harness.check_case(path, timeout=1) is None


def test_check_ends_in_one_line_when_the_run_itself_breaks(monkeypatch, capsys, lenient):
    def broken(*args, **kwargs):
        raise RuntimeError("Symlink loop from '/x/\x1b[2J'")

    monkeypatch.setattr(engine, "discover", broken)
    assert main(["check", str(REGRESSIONS)]) == 2
    out, err = capsys.readouterr()
    assert err == ("graphaudit: error: the audit stopped: found data it cannot interpret (Symlink loop from "
                   "'/x/\\x1b[2J'); please report it\n")


def test_hdf5_links_out_of_the_file_and_link_loops_are_one_line(tmp_path, capsys, lenient):
    import h5py

    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["x"] = np.ones(3, "f4")
    paths = []
    for name, links in (("external", {"dense/bias:0": h5py.ExternalLink(str(outside), "/x")}),
                        ("loop", {"dense/bias:0": h5py.SoftLink("/model_weights/dense/dense/loop"),
                                  "dense/loop": h5py.SoftLink("/model_weights/dense/dense/bias:0")})):
        path = tmp_path / name / "model.h5"
        path.parent.mkdir()
        builders.keras_h5(path, builders.keras_config([("dense", "Dense", {})]), {"dense": {"bias": np.zeros(3, "f4")}})
        with h5py.File(path, "a") as f:
            group = f["model_weights/dense"]
            del group["dense/bias:0"]
            for key, link in links.items():
                group[key] = link
        paths.append(str(path))
    assert main(["check", *paths, "--no-color"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"{paths[0]}: error: `/model_weights/dense/dense/bias:0` is an HDF5 external link to "
                        f"`{outside}:/x`; graphaudit reads nothing outside the artifact")
    assert lines[1] == (f"{paths[1]}: error: expected a Keras HDF5 model; it is damaged (Special link traversal "
                        "failed (too many links))")
