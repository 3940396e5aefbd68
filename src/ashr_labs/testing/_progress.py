"""A one-line progress display for ``EvalRunner`` on stderr: scenarios done, passed, elapsed.

Shown only when stderr is a terminal unless forced on, so logs and CI output stay clean.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress"]

_REDRAW_EVERY_S = 0.1


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Progress:
    """Counts finished scenarios and redraws one line (at most ten times a second).

    ``enabled=None`` shows it only when ``stream`` (default ``sys.stderr``) is a TTY.
    Thread-safe: workers call ``advance`` concurrently.
    """

    def __init__(self, total: int, enabled: bool | None, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._on = _is_tty(self._stream) if enabled is None else enabled
        self._total = total
        self._done = 0
        self._passed = 0
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._width = 0
        self._lock = threading.Lock()

    def advance(self, passed: bool) -> None:
        """One more scenario finished; ``passed`` when its test completed without error."""
        with self._lock:
            self._done += 1
            self._passed += int(passed)
            now = time.monotonic()
            if self._done == self._total or now - self._last_draw >= _REDRAW_EVERY_S:
                self._last_draw = now
                self._draw(now)

    def close(self) -> None:
        """End the line so later output starts on a fresh one."""
        with self._lock:
            if self._on and self._width:
                self._write("\n")
                self._width = 0

    def _draw(self, now: float) -> None:
        if not self._on:
            return
        line = (
            f"ashr eval: {self._done}/{self._total} scenarios, "
            f"{self._passed} passed, {now - self._started:.1f}s"
        )
        padding = " " * max(0, self._width - len(line))
        self._width = len(line)
        self._write(f"\r{line}{padding}")

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._on = False  # a closed or broken stderr ends the display, not the eval
