"""The progress line appears on a terminal (or when forced) and never otherwise."""

from __future__ import annotations

import io

import pytest

from ashr_labs import EvalRunner
from ashr_labs.testing._progress import Progress

from ._helpers import TableAgent, source, user

SRC = source(a=[user("x")], b=[user("y")], c=[user("z")])


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_tty_and_ends_the_line() -> None:
    """On a TTY the final state (done/total, passed, elapsed) is drawn, then a newline."""
    stream = FakeTty()
    progress = Progress(3, None, stream)
    for passed in (True, False, True):
        progress.advance(passed)
    progress.close()
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("ashr eval: 3/3 scenarios, 2 passed, ")
    assert last.rstrip().endswith("s")


def test_progress_is_silent_off_a_tty_unless_forced() -> None:
    """Auto mode writes nothing to a non-TTY; False writes nothing even on a TTY."""
    for stream, enabled in ((io.StringIO(), None), (FakeTty(), False)):
        progress = Progress(2, enabled, stream)
        progress.advance(True)
        progress.advance(True)
        progress.close()
        assert stream.getvalue() == ""


def test_runner_progress_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """run(progress=True) writes the line to stderr; the default writes nothing when captured."""
    EvalRunner(SRC).run(TableAgent())
    assert capsys.readouterr().err == ""
    EvalRunner(SRC).run(TableAgent(), progress=True)
    err = capsys.readouterr().err
    assert "ashr eval: 3/3 scenarios, 3 passed" in err and err.endswith("\n")


def test_broken_stream_turns_the_display_off() -> None:
    """A closed stderr ends the display quietly instead of failing the eval."""
    stream = FakeTty()
    stream.close()
    progress = Progress(1, True, stream)
    progress.advance(True)
    progress.close()
