"""The progress display: stderr only, on a terminal only, silent under --quiet, alive during one long artifact."""

from __future__ import annotations

import io
import sys
import time

from graphaudit import runner


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_one_long_artifact_shows_a_spinner_and_elapsed_time_after_the_delay(monkeypatch):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    with runner._progress(delay=0.05) as update:
        assert update is not None
        time.sleep(0.6)  # the one artifact is still being read: no update has come yet
        update(1, 1, "model.ckpt")
    assert "auditing" in err.getvalue() and "0:00:0" in err.getvalue()


def test_nothing_is_shown_before_the_delay(monkeypatch):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with runner._progress(delay=30.0) as update:
        update(1, 2, "a.pb")
        update(2, 2, "b.pb")
    assert err.getvalue() == ""


def test_quiet_and_a_piped_stderr_show_nothing(monkeypatch):
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    with runner._progress(delay=0.0, quiet=True) as update:
        time.sleep(0.1)
    assert update is None and err.getvalue() == ""
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with runner._progress(delay=0.0) as update:
        time.sleep(0.1)
    assert update is None and piped.getvalue() == ""
