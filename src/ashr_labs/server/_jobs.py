"""Background jobs: dataset generation for requests and grading for runs.

Workers claim work from the database itself (requests ``pending``/``processing``, runs with
``grading_status = 'pending'``), so a restart resumes whatever a killed server left behind (F58).
Each claim increments ``attempts``; work interrupted ``max_job_attempts`` times ends as failed
instead of looping. Every ending is terminal and readable: ``completed``, or ``failed`` with a
non-null ``error`` / ``grading_error``. Several servers may share a database: a file lock lets
one process run jobs at a time, and another takes over when it dies. Grading uses the LLM
judge when ``ASHR_LABS_LLM_BASE_URL`` is set (generation reads it itself).

The generation and grading functions live in ``_generation`` and ``_grading``; each job imports
them when it runs (tests substitute those modules), and anything they raise besides their own
``GenerationError`` / ``GradingError`` ends the job failed with a logged reference.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from .._log import logger
from ._dispatch import redact, redacted_traceback
from ._llm import LlmClient
from ._state import ServerState
from ._store import dump_doc, load_doc, now_iso

__all__ = ["JobRunner"]

_log = logger.getChild("server.jobs")


class JobRunner:
    """A small pool of worker threads draining generation and grading work."""

    def __init__(self, state: ServerState, *, lock_path: Path | None = None) -> None:
        self.state = state
        self._process_lock = _ProcessLock(lock_path)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._claimed_requests: set[int] = set()
        self._claimed_runs: set[int] = set()
        self._busy = 0
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers; they run jobs only while this process holds the jobs lock."""
        self._acquire()  # when free, take it now so leftovers are settled before we serve
        for i in range(max(1, self.state.settings.job_workers)):
            t = threading.Thread(target=self._loop, name=f"ashr-server-jobs-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self.state.notify_jobs()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers (a job in progress finishes its step or is resumed next start)."""
        self._stop.set()
        self.state.jobs_event.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._process_lock.release()

    def _acquire(self) -> bool:
        """Hold the jobs lock (another server on the same database may have it)."""
        with self._lock:
            if self._process_lock.held:
                return True
            if not self._process_lock.try_acquire():
                return False
        # Newly ours: whatever a dead holder left behind is ours to finish or fail.
        self._give_up_on_exhausted()
        return True

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no job is queued or running; TimeoutError names what is left."""
        deadline = time.monotonic() + timeout
        while True:
            left = self._outstanding()
            with self._lock:
                busy = self._busy
            if not left and busy == 0:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"jobs still outstanding after {timeout}s: {left or 'running'}")
            self.state.notify_jobs()
            time.sleep(0.01)

    def _outstanding(self) -> str:
        """What is queued or running, in words ("" when nothing); one query per poll."""
        row = self.state.db.query_one(
            "SELECT (SELECT COUNT(*) FROM requests"
            "        WHERE request_status IN ('pending', 'processing')) AS requests,"
            " (SELECT COUNT(*) FROM runs WHERE grading_status = 'pending') AS runs"
        )
        parts = []
        if row is not None and row["requests"]:
            parts.append(f"{row['requests']} request(s)")
        if row is not None and row["runs"]:
            parts.append(f"{row['runs']} run(s) to grade")
        return ", ".join(parts)

    def _out_of_attempts(self, sql: str, row_id: int) -> bool:
        """Inside a claim: whether the work already used every attempt (``sql`` reads them)."""
        row = self.state.db.query_one(sql, (row_id,))
        return row is not None and int(row["attempts"]) >= self.state.settings.max_job_attempts

    def _gave_up(self, work: str) -> str:
        limit = self.state.settings.max_job_attempts
        return f"{work} could not finish in {limit} attempts; giving up"

    def _give_up_on_exhausted(self) -> None:
        limit = self.state.settings.max_job_attempts
        db = self.state.db
        now = now_iso()
        with db.transaction():
            db.execute(
                "UPDATE requests SET request_status = 'failed', updated_at = ?, error = ?"
                " WHERE request_status IN ('pending', 'processing') AND attempts >= ?",
                (now, f"generation was interrupted {limit} times; giving up", limit),
            )
            db.execute(
                "UPDATE runs SET grading_status = 'failed', grading_error = ?"
                " WHERE grading_status = 'pending' AND attempts >= ?",
                (f"grading was interrupted {limit} times; giving up", limit),
            )

    # -- the loop ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._acquire():
                    self._stop.wait(0.5)
                    continue
                worked = self._work_once()
            except Exception as exc:  # a broken DB must not kill the worker silently
                _log.error("job worker error: %s", redact(repr(exc)))
                worked = False
            if not worked:
                self.state.jobs_event.wait(0.5)
                self.state.jobs_event.clear()

    def _work_once(self) -> bool:
        with self._lock:
            self._busy += 1
        try:
            request_id = self._claim_request()
            if request_id is not None:
                with self._holding(self._claimed_requests, request_id):
                    self._generate(request_id)
                return True
            run_id = self._claim_run()
            if run_id is not None:
                with self._holding(self._claimed_runs, run_id):
                    self._grade(run_id)
                return True
            return False
        finally:
            with self._lock:
                self._busy -= 1

    @contextmanager
    def _holding(self, claimed: set[int], job_id: int) -> Iterator[None]:
        """Keep ``job_id`` in ``claimed`` (skipped by other workers' claims) until the job ends."""
        with self._lock:
            claimed.add(job_id)
        try:
            yield
        finally:
            with self._lock:
                claimed.discard(job_id)

    def _claimed(self, claimed: set[int]) -> str | None:
        """The ids in ``claimed`` as a JSON array (the claim queries skip them via json_each)."""
        with self._lock:
            return dump_doc(sorted(claimed))

    def _claim_request(self) -> int | None:
        db = self.state.db
        with db.transaction():
            row = db.query_one(
                "SELECT id FROM requests WHERE request_status = 'pending' ORDER BY id LIMIT 1"
            )
            if row is None:
                # Left 'processing' by a killed server: ours now (one job runner per database).
                row = db.query_one(
                    "SELECT id FROM requests WHERE request_status = 'processing'"
                    " AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                    (self._claimed(self._claimed_requests),),
                )
            if row is None:
                return None
            request_id = int(row["id"])
            if self._out_of_attempts("SELECT attempts FROM requests WHERE id = ?", request_id):
                self._fail_request(request_id, self._gave_up("generation"))
                return None
            db.execute(
                "UPDATE requests SET request_status = 'processing', attempts = attempts + 1,"
                " updated_at = ? WHERE id = ?",
                (now_iso(), request_id),
            )
        return request_id

    def _claim_run(self) -> int | None:
        db = self.state.db
        taken = self._claimed(self._claimed_runs)
        with db.transaction():
            row = db.query_one(
                "SELECT id FROM runs WHERE grading_status = 'pending'"
                " AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                (taken,),
            )
            if row is None:
                return None
            run_id = int(row["id"])
            if self._out_of_attempts("SELECT attempts FROM runs WHERE id = ?", run_id):
                self._fail_run(run_id, self._gave_up("grading"))
                return None
            db.execute("UPDATE runs SET attempts = attempts + 1 WHERE id = ?", (run_id,))
        return run_id

    def _pause(self) -> None:
        delay = self.state.settings.job_delay_s
        if delay > 0:
            self._stop.wait(delay)

    # -- generation --------------------------------------------------------------------------------
    def _generate(self, request_id: int) -> None:
        db = self.state.db
        row = db.query_one("SELECT * FROM requests WHERE id = ?", (request_id,))
        if row is None:
            return
        self._pause()
        if self._stop.is_set():
            return  # resumed on the next start
        config = load_doc(row["request"]) or {}
        from ._generation import GenerationError, generate_dataset_source

        try:
            generated = generate_dataset_source(config, request_name=str(row["request_name"]))
        except GenerationError as exc:
            self._fail_request(request_id, str(exc) or "dataset generation failed")
            return
        except Exception as exc:
            ref = _log_internal_error("generation", request_id, exc)
            self._fail_request(request_id, f"internal error while generating the dataset ({ref})")
            return
        self._store_dataset(row, config, generated)

    def _store_dataset(self, row: Any, config: dict[str, Any], generated: Any) -> None:
        db = self.state.db
        metadata = config.get("metadata") if isinstance(config, dict) else None
        name = metadata.get("dataset_name") if isinstance(metadata, dict) else None
        if not isinstance(name, str) or not name.strip():
            name = _field(generated, "name") or str(row["request_name"])
        description = _field(generated, "description")
        source = _field(generated, "dataset_source")
        if not isinstance(source, dict):
            self._fail_request(int(row["id"]), "the generator produced no dataset_source object")
            return
        agent_id = row["agent_id"]
        now = now_iso()
        with db.transaction():
            if agent_id is not None:
                agent = db.query_one(
                    "SELECT id FROM agents WHERE id = ? AND tenant_id = ? AND is_active = 1",
                    (agent_id, row["tenant_id"]),
                )
                agent_id = None if agent is None else agent_id
            db.insert(
                "INSERT INTO datasets (created_at, tenant_id, creator_id, name, description,"
                " agent_id, dataset_source, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    row["tenant_id"],
                    row["requestor_id"],
                    name[:500],
                    description,
                    agent_id,
                    dump_doc(source),
                    row["id"],
                ),
            )
            db.execute(
                "UPDATE requests SET request_status = 'completed', error = NULL, updated_at = ?"
                " WHERE id = ?",
                (now, row["id"]),
            )

    def _fail_request(self, request_id: int, message: str) -> None:
        db = self.state.db
        with db.transaction():
            db.execute(
                "UPDATE requests SET request_status = 'failed', error = ?, updated_at = ?"
                " WHERE id = ?",
                (message[:2000], now_iso(), request_id),
            )

    # -- grading -----------------------------------------------------------------------------------
    def _grade(self, run_id: int) -> None:
        db = self.state.db
        row = db.query_one("SELECT * FROM runs WHERE id = ?", (run_id,))
        if row is None or row["grading_status"] != "pending":
            return
        self._pause()
        if self._stop.is_set():
            return
        result = load_doc(row["result"]) or {}
        agent_config = self._agent_config(row["dataset_id"])
        from ._grading import GradingError, grade_run

        llm: LlmClient | None = None
        try:
            llm = LlmClient.from_env()  # the judge, when ASHR_LABS_LLM_BASE_URL is set (DESIGN §5)
            graded = grade_run(result, agent_config=agent_config, llm=llm)
        except GradingError as exc:
            self._fail_run(run_id, str(exc) or "grading failed")
            return
        except Exception as exc:
            ref = _log_internal_error("grading", run_id, exc)
            self._fail_run(run_id, f"internal error while grading the run ({ref})")
            return
        finally:
            if llm is not None:
                llm.close()
        if not isinstance(graded, dict):
            self._fail_run(run_id, "the grader returned no result object")
            return
        with db.transaction():
            db.execute(
                "UPDATE runs SET result = ?, grading_status = 'completed', grading_error = NULL"
                " WHERE id = ? AND grading_status = 'pending'",
                (dump_doc(graded), run_id),
            )

    def _agent_config(self, dataset_id: Any) -> dict[str, Any] | None:
        if dataset_id is None:
            return None
        row = self.state.db.query_one(
            "SELECT a.config FROM datasets d JOIN agents a ON a.id = d.agent_id"
            " WHERE d.id = ? AND a.is_active = 1",
            (dataset_id,),
        )
        config = None if row is None else load_doc(row["config"])
        return config if isinstance(config, dict) else None

    def _fail_run(self, run_id: int, message: str) -> None:
        db = self.state.db
        with db.transaction():
            db.execute(
                "UPDATE runs SET grading_status = 'failed', grading_error = ?"
                " WHERE id = ? AND grading_status = 'pending'",
                (message[:2000], run_id),
            )


class _ProcessLock:
    """An exclusive advisory lock on a file (``flock``): at most one process runs jobs.

    The kernel drops it when the holder dies, so a surviving or restarted server takes over.
    Without ``fcntl`` (Windows) or a path, the lock is always granted.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        if self.path is None or fcntl is None:
            self._fd = -1
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fd >= 0:
            os.close(fd)  # closing the descriptor releases the flock


def _field(obj: Any, name: str) -> Any:
    """A field of the generator's result, whether a dataclass or a TypedDict."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _log_internal_error(job: str, job_id: int, exc: BaseException) -> str:
    """Log an unexpected job failure under a fresh reference; returns ``"ref <id>"``."""
    ref = uuid.uuid4().hex[:16]
    _log.error("%s job %s failed [ref %s]: %s", job, job_id, ref, redacted_traceback(exc))
    return f"ref {ref}"
