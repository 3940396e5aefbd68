"""The README's quick start runs as users run it and shows every step's result."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def test_quickstart_runs_end_to_end() -> None:
    """Generate, evaluate, grade and trace against an in-process local server, in a new process."""
    done = subprocess.run(
        [sys.executable, str(QUICKSTART)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert re.search(r"Local Ashr server at http://127\.0\.0\.1:\d+", out)
    assert "Generated 6 scenarios:" in out
    assert "-> lookup_order(" in out
    assert re.search(r"Run #\d+ graded \(completed\):", out)
    match = re.search(r"passed (\d+)/(\d+)", out)
    assert match is not None and match.group(2) == "6"
    assert "'complete': True" in out and "'failed': 0" in out
    tree = out.split("read back from the server:", 1)[1]
    assert "span       respond" in tree and "tool:" in tree
    assert "Traceback" not in done.stderr
