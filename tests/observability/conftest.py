"""Fixtures for the tracing tests: clients with fast batching on a scripted backend or the real
local server, and an in-memory processor on ``client.tracer_provider`` for span shape."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ashr_labs import AshrLabsClient
from ashr_labs.observability._ratelimit import reset_limits
from tests.support.scripted_backend import ScriptedBackend

FAST = {"schedule_delay_ms": 20, "flush_timeout_s": 5.0, "export_timeout_s": 2.0}
CANARY_KEY = "tp_canaryKEY0123456789abcdef"


@pytest.fixture(autouse=True)
def fresh_log_limits() -> None:
    """Each test sees its own first warning per cause (the limiter is process-wide)."""
    reset_limits()


@pytest.fixture
def make_client() -> Iterator[Callable[..., AshrLabsClient]]:
    """Build clients (closed at teardown) with fast batching; kwargs override ``FAST``."""
    made: list[AshrLabsClient] = []

    def build(base_url: str, api_key: str = CANARY_KEY, **options: Any) -> AshrLabsClient:
        client = AshrLabsClient(api_key=api_key, base_url=base_url, **{**FAST, **options})
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def backend() -> Iterator[ScriptedBackend]:
    with ScriptedBackend() as server:
        yield server


@pytest.fixture
def traced(backend: ScriptedBackend, make_client: Callable[..., AshrLabsClient]) -> Any:
    """A client on the scripted backend plus an in-memory copy of every span it makes."""
    client = make_client(backend.url)
    memory = InMemorySpanExporter()
    client.tracer_provider.add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
    return client, memory


def ingested(backend: ScriptedBackend) -> list[dict[str, Any]]:
    """The ``trace`` payloads the backend received."""
    return [b["trace"] for b in backend.bodies("ingest_observability_trace")]


def exit_after_return(code: str, env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``code`` in a child until it prints ``returning``, then time its exit.

    Returns the exit code, stderr, and the seconds from ``returning`` to the exit (the exit
    flush and interpreter teardown).
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "returning"
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    returned_at = time.monotonic()
    _, stderr = communicate_or_kill(proc, 30)
    return proc.returncode, stderr, time.monotonic() - returned_at


def communicate_or_kill(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """``proc.communicate(timeout)``; on timeout kill and reap the child, then re-raise, so a
    hung child fails its own test instead of leaking into the next one as a ResourceWarning."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


class Hostile:
    """Every dunder a serialiser might call raises (F21)."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Any:
        raise RuntimeError("iter")


class HostileKey:
    """A dict key that hashes but cannot be printed (F21)."""

    def __hash__(self) -> int:
        return 1

    def __str__(self) -> str:
        raise RuntimeError("str")
