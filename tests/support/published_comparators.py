"""Run the published ashr-labs 0.2.1 comparators in ONE child process, for differential tests.

The published package has our import name, so it runs in a subprocess with its folder on
``PYTHONPATH`` (and ``-S``, so our editable install cannot shadow it). The child reads JSON
lines ``{"fn": name, "args": [...]}`` on stdin and answers each with ``{"ok": result}`` or
``{"error": "<ExceptionType>"}``; tuples come back as lists.
The folder comes from ``tests/support/published_client.py`` (``published_client_path()``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PublishedComparators"]

_CHILD = r"""
import json, sys
from ashr_labs import comparators
sys.stdout.write(json.dumps(comparators.__file__) + "\n")
sys.stdout.flush()
for line in sys.stdin:
    request = json.loads(line)
    try:
        result = getattr(comparators, request["fn"])(*request["args"])
        answer = {"ok": result}
    except Exception as exc:
        answer = {"error": type(exc).__name__}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"""


class PublishedComparators:
    """A live child process answering comparator calls; use as a context manager."""

    def __init__(self, folder: Path) -> None:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env["PYTHONPATH"] = str(folder)
        env["PYTHONHASHSEED"] = "0"
        self._proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            cwd=str(folder),
        )
        assert self._proc.stdout is not None
        loaded = json.loads(self._proc.stdout.readline() or "null")
        if loaded is None or not Path(loaded).resolve().is_relative_to(folder.resolve()):
            self.__exit__()
            raise RuntimeError(f"published comparators not loaded from {folder}: {loaded!r}")

    def call(self, fn: str, *args: Any) -> dict[str, Any]:
        """``{"ok": result}`` or ``{"error": type name}`` from the published function."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"fn": fn, "args": list(args)}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the published comparator process exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def __enter__(self) -> PublishedComparators:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
