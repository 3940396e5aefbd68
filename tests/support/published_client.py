"""The published ``ashr-labs`` 0.2.1 package, for driving our server with the real old client.

It has our import name, so it only ever runs in a child process with its folder on
``PYTHONPATH`` and ``-S`` (no site-packages, so our editable install cannot shadow it; 0.2.1
has no dependencies). The folder is the repo's cache ``build/published-ashr-labs-0.2.1``, filled
on first use by ``pip install --no-deps --target <cache> ashr-labs==0.2.1``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "PUBLISHED_DIR",
    "PUBLISHED_VERSION",
    "published_client_path",
    "published_dir",
    "run_published",
]

PUBLISHED_VERSION = "0.2.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_DIR = REPO_ROOT / "build" / f"published-ashr-labs-{PUBLISHED_VERSION}"
"""Where the fixture installs the published package when no copy exists yet."""


def _has_package(folder: Path) -> bool:
    return (folder / "ashr_labs" / "client.py").is_file()


def published_dir() -> Path | None:
    """An existing folder holding the published package, or None (nothing is installed)."""
    return PUBLISHED_DIR if _has_package(PUBLISHED_DIR) else None


def published_client_path() -> Path:
    """The folder holding the published package, installing it into the cache when missing.

    Fails the calling test with pip's reason when it cannot be installed: these tests are the
    proof that the published client works against our server, so they never skip quietly.
    """
    found = published_dir()
    if found is not None:
        return found
    PUBLISHED_DIR.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(PUBLISHED_DIR),
            f"ashr-labs=={PUBLISHED_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 or not _has_package(PUBLISHED_DIR):
        pytest.fail(
            f"published ashr-labs {PUBLISHED_VERSION} unavailable: pip said "
            f"{(done.stderr or done.stdout).strip()[-300:]!r}"
        )
    return PUBLISHED_DIR


@pytest.fixture(scope="session")
def published_client() -> Path:
    """Session fixture: the published package's folder (see ``published_client_path``)."""
    return published_client_path()


def run_published(code: str, *args: str, timeout: float = 120) -> Any:
    """Run ``code`` with the published package importable; return its last stdout line as JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASHR_LABS_", "OTEL_"))}
    env["PYTHONPATH"] = str(published_client_path())
    done = subprocess.run(
        [sys.executable, "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
