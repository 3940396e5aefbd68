"""The Testing Platform's client methods: datasets, runs, requests, agents, API keys, waits.

``TestingPlatformMethods`` is a mixin of ``AshrLabsClient``. It relies on two attributes the
client sets up:

- ``self._transport`` (``ashr_labs._http.Transport``): sends one RPC and maps every failure to a
  typed ``AshrLabsError``;
- ``self._session`` (``ashr_labs._session.LazySession``): resolves ``tenant_id`` /
  ``requestor_id`` when the caller leaves them out, with one ``init`` for the whole client.

Which keys are sent always and which only when set follows protocol.md §2.2 exactly. Create calls
carry an idempotency key made once per call, so a retried request cannot create twice (F37).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .._errors import AshrLabsError, ConfigurationError, WaitTimeoutError
from ._config_validation import (
    default_input_schema,
    enrich_generation_config,
    prepare_request_config,
)

if TYPE_CHECKING:
    from .._http import Transport
    from .._session import LazySession
    from .._types import Agent, AgentConfig, APIKey, Dataset, Request, Run

__all__ = ["TestingPlatformMethods", "require_key"]

_DATASET_LOOKUP_PAGES = 5


def require_key(
    reply: dict[str, Any],
    key: str,
    function: str,
    kind: type[dict[str, Any]] | type[list[Any]] = dict,
) -> Any:
    """``reply[key]`` checked to be a ``kind``; else an ``AshrLabsError`` naming the key.

    Never a raw ``KeyError`` or a ``None`` where the API reference promises an object (F42).
    """
    if key not in reply:
        raise AshrLabsError(
            f"Malformed response to {function}: missing '{key}' in the reply", None, reply
        )
    value = reply[key]
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else "a list"
        got = "null" if value is None else type(value).__name__
        raise AshrLabsError(
            f"Malformed response to {function}: '{key}' should be {expected}, got {got}",
            None,
            reply,
        )
    return value


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name}: expected an int, got {value!r}")
    return value


def _opt_int(name: str, value: object) -> int | None:
    return None if value is None else _int(name, value)


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(f"{name}: expected a number of seconds >= 0, got {value!r}")
    return float(value)


def _str(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name}: expected a non-empty str, got {value!r}")
    return value


def _opt_dict(name: str, value: object) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ConfigurationError(f"{name}: expected a dict, got {value!r}")
    return value


def _new_idempotency_key() -> str:
    return uuid.uuid4().hex


class TestingPlatformMethods:
    """Testing Platform methods of ``AshrLabsClient`` (see the module docstring)."""

    __test__ = False  # a "Test..." name that pytest must not collect

    _transport: Transport
    _session: LazySession

    # -- datasets -------------------------------------------------------------------------------
    def get_dataset(
        self,
        dataset_id: int,
        include_signed_urls: bool = False,
        url_expires_seconds: int = 3600,
    ) -> Dataset:
        """Retrieve a dataset by ID.

        Raises:
            NotFoundError: Dataset not found.
            AuthorizationError: No access to this dataset.
        """
        reply = self._transport.call(
            "get_dataset",
            {
                "dataset_id": _int("dataset_id", dataset_id),
                "include_signed_urls": include_signed_urls,
                "url_expires_seconds": _int("url_expires_seconds", url_expires_seconds),
            },
        )
        return cast("Dataset", require_key(reply, "dataset", "get_dataset"))

    def list_datasets(
        self,
        tenant_id: int | None = None,
        limit: int = 50,
        cursor: int | None = None,
        include_signed_urls: bool = False,
        url_expires_seconds: int = 3600,
    ) -> dict[str, Any]:
        """List datasets for a tenant: ``{"status", "datasets", "next_cursor"}``.

        ``tenant_id`` is resolved from the API key when omitted.
        """
        params: dict[str, Any] = {
            "tenant_id": self._session.tenant_id(_opt_int("tenant_id", tenant_id)),
            "limit": _int("limit", limit),
            "include_signed_urls": include_signed_urls,
            "url_expires_seconds": _int("url_expires_seconds", url_expires_seconds),
        }
        if cursor is not None:
            params["cursor"] = _int("cursor", cursor)
        return self._transport.call("list_datasets", params)

    # -- runs -----------------------------------------------------------------------------------
    def create_run(
        self,
        dataset_id: int,
        result: dict[str, Any],
        tenant_id: int | None = None,
        runner_id: int | None = None,
    ) -> Run:
        """Create a new test run from a result document (``RunBuilder.build()``)."""
        if not isinstance(result, dict):
            raise ConfigurationError(f"result: expected a dict, got {result!r:.100}")
        params: dict[str, Any] = {
            "tenant_id": self._session.tenant_id(_opt_int("tenant_id", tenant_id)),
            "dataset_id": _opt_int("dataset_id", dataset_id),
            "result": result,
        }
        if runner_id is not None:
            params["runner_id"] = _int("runner_id", runner_id)
        reply = self._transport.call("create_run", params, idempotency_key=_new_idempotency_key())
        return cast("Run", require_key(reply, "run", "create_run"))

    def get_run(self, run_id: int) -> Run:
        """Retrieve a run by ID.

        Raises:
            NotFoundError: Run not found.
        """
        reply = self._transport.call("get_run", {"run_id": _int("run_id", run_id)})
        return cast("Run", require_key(reply, "run", "get_run"))

    def list_runs(
        self,
        dataset_id: int | None = None,
        tenant_id: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """List runs for a tenant or dataset: ``{"status", "runs"}``."""
        params: dict[str, Any] = {
            "tenant_id": self._session.tenant_id(_opt_int("tenant_id", tenant_id)),
            "limit": _int("limit", limit),
        }
        if dataset_id is not None:
            params["dataset_id"] = _int("dataset_id", dataset_id)
        return self._transport.call("list_runs", params)

    def delete_run(self, run_id: int) -> dict[str, Any]:
        """Delete a test run; returns the server's confirmation.

        Raises:
            NotFoundError: Run not found.
        """
        return self._transport.call("delete_run", {"run_id": _int("run_id", run_id)})

    # -- requests -------------------------------------------------------------------------------
    def create_request(
        self,
        request_name: str,
        request: dict[str, Any],
        request_input_schema: dict[str, Any] | None = None,
        tenant_id: int | None = None,
        requestor_id: int | None = None,
    ) -> Request:
        """Create a dataset generation request.

        The config is checked before anything is sent (``ConfigurationError`` naming the field);
        ``accepted_inputs`` defaults to text only and ``generation_options`` to all false. Without
        a schema, a permissive one is sent, holding the agent's tools under ``"tools"``.
        """
        name = _str("request_name", request_name)
        config = prepare_request_config(request)
        schema = _opt_dict("request_input_schema", request_input_schema)
        params = {
            "tenant_id": self._session.tenant_id(_opt_int("tenant_id", tenant_id)),
            "requestor_id": self._session.user_id(_opt_int("requestor_id", requestor_id)),
            "request_name": name,
            "request": config,
            "request_input_schema": schema if schema is not None else default_input_schema(config),
        }
        reply = self._transport.call(
            "create_request", params, idempotency_key=_new_idempotency_key()
        )
        return cast("Request", require_key(reply, "request", "create_request"))

    def get_request(self, request_id: int) -> Request:
        """Retrieve a request by ID.

        Raises:
            NotFoundError: Request not found.
        """
        reply = self._transport.call("get_request", {"request_id": _int("request_id", request_id)})
        return cast("Request", require_key(reply, "request", "get_request"))

    def list_requests(
        self,
        tenant_id: int | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> dict[str, Any]:
        """List requests for a tenant: ``{"status", "requests", "next_cursor"}``."""
        params: dict[str, Any] = {
            "tenant_id": self._session.tenant_id(_opt_int("tenant_id", tenant_id)),
            "limit": _int("limit", limit),
        }
        if status is not None:
            params["status"] = _str("status", status)
        if cursor is not None:
            params["cursor"] = _int("cursor", cursor)
        return self._transport.call("list_requests", params)

    # -- API keys -------------------------------------------------------------------------------
    def list_api_keys(self, include_inactive: bool = False) -> list[APIKey]:
        """List API keys for your tenant (prefixes only, never the full key)."""
        reply = self._transport.call("list_api_keys", {"include_inactive": include_inactive})
        return cast("list[APIKey]", require_key(reply, "api_keys", "list_api_keys", list))

    def revoke_api_key(self, api_key_id: int) -> dict[str, Any]:
        """Revoke an API key; returns the server's confirmation.

        Raises:
            NotFoundError: API key not found.
        """
        return self._transport.call(
            "revoke_api_key", {"api_key_id": _int("api_key_id", api_key_id)}
        )

    # -- agents ---------------------------------------------------------------------------------
    def list_agents(self) -> list[Agent]:
        """List all agents for your tenant, each with its ``dataset_count``."""
        reply = self._transport.call("list_agents")
        return cast("list[Agent]", require_key(reply, "agents", "list_agents", list))

    def create_agent(
        self,
        name: str,
        description: str | None = None,
        config: dict[str, Any] | AgentConfig | None = None,
    ) -> Agent:
        """Create a new agent (names are unique per tenant)."""
        params: dict[str, Any] = {"name": _str("name", name)}
        if description is not None:
            params["description"] = description
        if config is not None:
            params["config"] = _opt_dict("config", config)
        reply = self._transport.call("create_agent", params, idempotency_key=_new_idempotency_key())
        return cast("Agent", require_key(reply, "agent", "create_agent"))

    def update_agent(
        self,
        agent_id: int,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | AgentConfig | None = None,
    ) -> Agent:
        """Update an agent's name, description or config (``config`` replaces the whole config)."""
        params: dict[str, Any] = {"agent_id": _int("agent_id", agent_id)}
        if name is not None:
            params["name"] = _str("name", name)
        if description is not None:
            params["description"] = description
        if config is not None:
            params["config"] = _opt_dict("config", config)
        reply = self._transport.call("update_agent", params)
        return cast("Agent", require_key(reply, "agent", "update_agent"))

    def delete_agent(self, agent_id: int) -> dict[str, Any]:
        """Soft-delete an agent; its datasets are unlinked, not deleted."""
        return self._transport.call("delete_agent", {"agent_id": _int("agent_id", agent_id)})

    def get_agent_datasets(self, agent_id: int, **kwargs: Any) -> dict[str, Any]:
        """Get all datasets linked to an agent: ``{"agent", "datasets"}``.

        Extra keyword arguments (e.g. ``include_signed_urls``) are passed through unchanged.
        """
        params = {"agent_id": _int("agent_id", agent_id), **kwargs}
        return self._transport.call("get_agent_datasets", params)

    def set_dataset_agent(self, dataset_id: int, agent_id: int | None) -> dict[str, Any]:
        """Assign an agent to a dataset; ``agent_id=None`` unlinks it."""
        return self._transport.call(
            "set_dataset_agent",
            {
                "dataset_id": _int("dataset_id", dataset_id),
                "agent_id": _opt_int("agent_id", agent_id),
            },
        )

    # -- convenience ----------------------------------------------------------------------------
    def wait_for_request(
        self, request_id: int, timeout: int = 600, poll_interval: int = 5
    ) -> Request:
        """Block until a request is ``completed`` (returned) or ``failed`` (raised).

        Raises:
            WaitTimeoutError: (a ``TimeoutError``) not finished within ``timeout`` seconds.
            AshrLabsError: the request failed; the message carries the server's ``error``.
        """
        limit = _non_negative("timeout", timeout)
        interval = _non_negative("poll_interval", poll_interval)
        started = time.monotonic()
        while time.monotonic() - started < limit:
            request = self.get_request(request_id)
            status = request.get("request_status", "")
            if status == "completed":
                return request
            if status == "failed":
                reason = request.get("error") or "Request failed"
                raise AshrLabsError(f"Request {request_id} failed: {reason}")
            remaining = limit - (time.monotonic() - started)
            if remaining <= 0:
                break
            time.sleep(min(interval, remaining))
        raise WaitTimeoutError(f"Request {request_id} did not complete within {timeout}s")

    def poll_run(
        self,
        run_id: int,
        timeout: int = 300,
        poll_interval: int = 20,
        on_poll: Callable[[int, Run], Any] | None = None,
    ) -> Run:
        """Block until grading finishes (``result.aggregate_metrics.tests_passed`` is set).

        ``on_poll(elapsed_seconds, run)`` is called after each poll that found grading unfinished.
        At least one poll always happens.

        Raises:
            WaitTimeoutError: (a ``TimeoutError``) grading did not finish within ``timeout``.
            AshrLabsError: the server reports ``grading_status == "failed"``.
        """
        limit = _non_negative("timeout", timeout)
        interval = _non_negative("poll_interval", poll_interval)
        started = time.monotonic()
        while True:
            run = self.get_run(run_id)
            result = run.get("result")
            metrics = result.get("aggregate_metrics") if isinstance(result, dict) else None
            if isinstance(metrics, dict) and metrics.get("tests_passed") is not None:
                return run
            if run.get("grading_status") == "failed":
                reason = run.get("grading_error") or "Grading failed"
                raise AshrLabsError(f"Run {run_id} grading failed: {reason}", None, dict(run))
            elapsed = time.monotonic() - started
            if on_poll is not None:
                on_poll(int(elapsed), run)
            if elapsed >= limit:
                raise WaitTimeoutError(f"Run {run_id} grading did not complete within {timeout}s")
            time.sleep(min(interval, limit - elapsed))

    def generate_dataset(
        self,
        request_name: str,
        config: dict[str, Any],
        request_input_schema: dict[str, Any] | None = None,
        timeout: int = 600,
        poll_interval: int = 5,
    ) -> tuple[int, dict[str, Any]]:
        """Create a generation request, wait for it, and return ``(dataset_id, dataset_source)``.

        Missing ``context.use_case``/``scenario_context`` are filled from the agent's name and
        description, and a default ``test_config`` is added when absent.

        Raises:
            WaitTimeoutError: (a ``TimeoutError``) generation did not finish in time.
            AshrLabsError: generation failed, or no dataset was found for the request.
        """
        enriched = enrich_generation_config(config)
        request = self.create_request(request_name, enriched, request_input_schema)
        request_id = request.get("id")
        if isinstance(request_id, bool) or not isinstance(request_id, int):
            raise AshrLabsError(
                "Malformed response to create_request: 'request.id' should be an int, "
                f"got {request_id!r}",
                None,
                dict(request),
            )
        self.wait_for_request(request_id, timeout=timeout, poll_interval=poll_interval)
        dataset_id = self._find_dataset_for(request_id)
        dataset = self.get_dataset(dataset_id, include_signed_urls=False)
        source = dataset.get("dataset_source") or {}
        return dataset_id, source

    def _find_dataset_for(self, request_id: int) -> int:
        cursor: int | None = None
        for _ in range(_DATASET_LOOKUP_PAGES):
            page = self.list_datasets(limit=10, cursor=cursor)
            for item in page.get("datasets") or []:
                if isinstance(item, dict) and item.get("request_id") == request_id:
                    return _int("dataset.id", item.get("id"))
            cursor = page.get("next_cursor")
            if not isinstance(cursor, int) or isinstance(cursor, bool):
                break
        raise AshrLabsError(f"No dataset found for request {request_id}")
