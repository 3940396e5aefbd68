"""Settings and shared state of one running local server (what handlers reach through ``ctx``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from ._db import Database
from ._ratelimit import TokenBucketLimiter

__all__ = ["ServerSettings", "ServerState", "settings_from_kwargs"]


@dataclass(frozen=True)
class ServerSettings:
    """Knobs of the local server. Defaults suit a laptop; tests shrink the timeouts."""

    max_body_bytes: int = 16 * 1024 * 1024
    """Largest request body, by ``Content-Length`` or counted while reading chunks (F45)."""
    max_decompressed_bytes: int = 64 * 1024 * 1024
    """Largest body after gzip inflation on raw routes such as OTLP (F45)."""
    header_timeout_s: float = 10.0
    """A client must send its request line and headers within this time (F54, slowloris)."""
    body_timeout_s: float = 30.0
    """Per-read socket timeout while reading a request body."""
    rate_per_s: float = 1000.0
    """Sustained calls per second allowed for one API key (F51)."""
    rate_burst: float = 2000.0
    """Calls one key may make at once before the sustained rate applies."""
    auth_fail_rate_per_s: float = 20.0
    """Failed authentications per second allowed from one client address."""
    auth_fail_burst: float = 200.0
    limiter_max_entries: int = 10_000
    """Keys or addresses the rate limiters remember at most (least recently used dropped)."""
    busy_timeout_ms: int = 5000
    """How long a writer waits for SQLite's lock before the call answers 503 (F50)."""
    retry_after_s: int = 1
    """``Retry-After`` sent with 503 answers."""
    job_delay_s: float = 0.0
    """Pause inside each generation/grading job (tests use it to catch a job mid-flight)."""
    job_workers: int = 1
    """Worker threads processing generation and grading jobs."""
    max_job_attempts: int = 3
    """A job interrupted this many times (crash, kill) ends as failed instead of running again."""
    run_jobs: bool = True
    """Start the job workers. Off, requests stay ``pending`` and runs ungraded (tests only)."""
    allow_public: bool = False
    """Bind a non-loopback host (put a TLS proxy in front; F52)."""
    tls_certfile: str | None = None
    tls_keyfile: str | None = None


def settings_from_kwargs(kwargs: dict[str, Any]) -> ServerSettings:
    """Build settings from keyword arguments, naming any unknown one."""
    known = {f.name for f in fields(ServerSettings)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(
            f"unknown server setting(s): {', '.join(unknown)}; expected some of {sorted(known)}"
        )
    return ServerSettings(**kwargs)


@dataclass
class ServerState:
    """Everything one server instance shares between its request threads and job workers."""

    db: Database
    settings: ServerSettings
    clock: Callable[[], float] = time.monotonic
    key_limiter: TokenBucketLimiter = field(init=False)
    auth_fail_limiter: TokenBucketLimiter = field(init=False)
    jobs_event: threading.Event = field(default_factory=threading.Event)
    last_used_written: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.settings
        self.key_limiter = TokenBucketLimiter(
            s.rate_per_s, s.rate_burst, max_entries=s.limiter_max_entries, clock=self.clock
        )
        self.auth_fail_limiter = TokenBucketLimiter(
            s.auth_fail_rate_per_s,
            s.auth_fail_burst,
            max_entries=s.limiter_max_entries,
            clock=self.clock,
        )

    def notify_jobs(self) -> None:
        """Wake the job workers: a request or run was queued."""
        self.jobs_event.set()
