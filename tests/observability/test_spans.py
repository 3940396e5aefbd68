"""Span shape: Trace/Span/Generation as OTel spans with Ashr and GenAI attributes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from typing import Any

import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

from ashr_labs import _attributes as attrs
from ashr_labs import context_executor, update_current_trace, wrap_context
from tests.observability.conftest import ingested
from tests.support.scripted_backend import Step


def by_name(memory: Any) -> dict[str, Any]:
    return {span.name: span for span in memory.get_finished_spans()}


def test_trace_span_generation_event_attributes(traced: Any) -> None:
    """Every documented field lands on the OTel spans as Ashr / GenAI attributes."""
    client, memory = traced
    with client.trace("handle", user_id="u1", session_id="s1", metadata={"k": 1}, tags=["a"]) as t:
        with t.generation("llm", model="m1", input=[{"role": "user", "content": "hi"}]) as g:
            g.end(output="hello", usage={"input_tokens": 5, "output_tokens": 2})
        with t.span("tool:search", input={"q": 1}, metadata={"m": True}) as s:
            s.event("found", input={"n": 3}, level="DEBUG")
            s.end(output={"ok": True})
        t.event("guard", input={"passed": True})
    spans = by_name(memory)
    root, gen, tool = spans["handle"], spans["llm"], spans["tool:search"]
    assert len(t.trace_id) == 32 and root.context.trace_id == int(t.trace_id, 16)
    assert root.parent is None
    assert root.attributes[attrs.ASHR_OBSERVATION_TYPE] == "trace"
    assert root.attributes[attrs.ASHR_USER_ID] == "u1"
    assert root.attributes[attrs.ASHR_SESSION_ID] == "s1"
    assert tuple(root.attributes[attrs.ASHR_TAGS]) == ("a",)
    assert json.loads(root.attributes[attrs.ASHR_TRACE_METADATA]) == {"k": 1}
    assert gen.parent.span_id == root.context.span_id
    assert gen.attributes[attrs.ASHR_OBSERVATION_TYPE] == "generation"
    assert gen.attributes[attrs.GEN_AI_REQUEST_MODEL] == "m1"
    assert gen.attributes[attrs.GEN_AI_OPERATION_NAME] == "chat"
    assert gen.attributes[attrs.GEN_AI_USAGE_INPUT_TOKENS] == 5
    assert gen.attributes[attrs.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert json.loads(gen.attributes[attrs.ASHR_OUTPUT]) == "hello"
    assert attrs.ASHR_USER_ID not in gen.attributes  # trace-wide ids stay on the root
    assert json.loads(tool.attributes[attrs.ASHR_INPUT]) == {"q": 1}
    assert json.loads(tool.attributes[attrs.ASHR_OUTPUT]) == {"ok": True}
    (event,) = tool.events
    assert event.name == "found" and event.attributes[attrs.ASHR_LEVEL] == "DEBUG"
    assert [e.name for e in root.events] == ["guard"]


def test_end_returns_queued_at_once_with_the_trace_id(traced: Any) -> None:
    """trace.end() returns {"status": "queued", "trace_id": ...} without waiting."""
    client, _ = traced
    trace = client.trace("t")
    assert trace.end() == {"status": "queued", "trace_id": trace.trace_id}


def test_end_flush_returns_the_server_answer(traced: Any, backend: Any) -> None:
    """trace.end(flush=True) waits and returns the server's reply."""
    backend.on("ingest_observability_trace", Step(body={"status": "ok", "trace_id": "server-id"}))
    client, _ = traced
    result = client.trace("t").end(flush=True)
    assert result == {"status": "ok", "trace_id": "server-id"}


class BadExc(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")


def test_f22_exceptions_pass_through_unchanged_and_mark_error(traced: Any) -> None:
    """The user's exception propagates as the same object; spans end ERROR with its message."""
    client, memory = traced
    original = BadExc()
    with pytest.raises(BadExc) as caught:
        with client.trace("t") as t:
            with t.span("work"):
                raise original
    assert caught.value is original
    spans = by_name(memory)
    work = spans["work"]
    assert work.attributes[attrs.ASHR_LEVEL] == "ERROR"
    assert work.attributes[attrs.ASHR_STATUS_MESSAGE] == "BadExc: <unprintable>"
    assert work.status.status_code is StatusCode.ERROR
    assert json.loads(spans["t"].attributes[attrs.ASHR_TRACE_OUTPUT]) == {
        "error": "BadExc: <unprintable>"
    }


def test_misuse_warns_and_never_raises(traced: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Ending twice or adding an event after end logs a warning; nothing raises or changes."""
    client, memory = traced
    trace = client.trace("t")
    span = trace.span("s")
    span.end(output=1)
    with caplog.at_level(logging.WARNING, logger="ashr_labs"):
        span.end(output=2)
        span.event("late")
    assert json.loads(by_name(memory)["s"].attributes[attrs.ASHR_OUTPUT]) == 1
    assert any("already ended" in r.getMessage() for r in caplog.records)
    trace.end()
    assert trace.end() == {"status": "error", "message": "trace already ended"}


def test_update_current_trace_from_a_nested_span(traced: Any, backend: Any) -> None:
    """update_current_trace sets trace-wide ids on the root; the exported trace carries them.

    Children do not repeat them (the exporter takes them from the root for the whole trace).
    """
    client, memory = traced
    with client.trace("t", tags=["a"]):
        with client.trace("inner-is-separate"):
            pass
    with client.trace("root") as root:
        with root.span("s1"):
            update_current_trace(user_id="u9", session_id="s9", tags=["b"], metadata={"x": 1})
            with root.span("s2"):
                pass
    spans = by_name(memory)
    assert spans["root"].attributes[attrs.ASHR_USER_ID] == "u9"
    assert tuple(spans["root"].attributes[attrs.ASHR_TAGS]) == ("b",)
    assert spans["root"].attributes[attrs.ASHR_SESSION_ID] == "s9"
    assert attrs.ASHR_SESSION_ID not in spans["s2"].attributes
    assert spans["inner-is-separate"].context.trace_id != spans["t"].context.trace_id
    assert client.flush(5)["complete"]
    sent = {t["name"]: t for t in ingested(backend)}
    assert sent["root"]["user_id"] == "u9" and sent["root"]["session_id"] == "s9"
    assert sent["root"]["tags"] == ["b"]


def test_root_under_a_foreign_span_starts_a_new_trace_with_a_link(traced: Any) -> None:
    """client.trace() under an application span: a new OTel trace that links to it."""
    client, memory = traced
    app_provider = TracerProvider()
    with app_provider.get_tracer("app").start_as_current_span("request") as app_span:
        with client.trace("agent"):
            pass
    root = by_name(memory)["agent"]
    assert root.context.trace_id != app_span.get_span_context().trace_id
    assert root.links[0].context.span_id == app_span.get_span_context().span_id
    app_provider.shutdown()


def test_f35_context_matrix(traced: Any) -> None:
    """Plain threads and executors start new traces; the helpers, to_thread and tasks nest."""
    client, memory = traced
    from ashr_labs import observe

    @observe
    def work(tag: str) -> str:
        return tag

    async def run_async() -> None:
        await asyncio.to_thread(work, "to_thread")
        await asyncio.create_task(asyncio.to_thread(work, "task"))

    with client.trace("caller") as caller:
        thread = threading.Thread(target=work, args=("plain",))
        thread.start()
        thread.join()
        with context_executor(2) as pool:
            pool.submit(work, "executor").result()
        with concurrent.futures.ThreadPoolExecutor(2) as bare:
            bare.submit(work, "bare-executor").result()
        helper = threading.Thread(target=wrap_context(work), args=("wrapped",))
        helper.start()
        helper.join()
        asyncio.run(run_async())
    spans = memory.get_finished_spans()
    caller_id = int(caller.trace_id, 16)
    by_input = {
        json.loads(s.attributes.get(attrs.ASHR_INPUT) or s.attributes.get(attrs.ASHR_TRACE_INPUT))[
            "tag"
        ]: s
        for s in spans
        if s.name.endswith("work")
    }
    for alone in ("plain", "bare-executor"):
        assert by_input[alone].context.trace_id != caller_id and by_input[alone].parent is None
    for nested in ("executor", "wrapped", "to_thread", "task"):
        assert by_input[nested].context.trace_id == caller_id, nested


def test_f25_own_attributes_survive_an_attribute_flood(traced: Any, backend: Any) -> None:
    """200 foreign attributes after ours (limit 128): type, input, output kept; drops counted."""
    client, memory = traced
    with client.trace("t") as t:
        span = t.span("s", input={"q": 1})
        for i in range(200):
            span.otel_span.set_attribute(f"user.{i}", i)
        span.end(output={"a": 1})
    s = by_name(memory)["s"]
    assert s.attributes[attrs.ASHR_OBSERVATION_TYPE] == "span"
    assert json.loads(s.attributes[attrs.ASHR_INPUT]) == {"q": 1}
    assert json.loads(s.attributes[attrs.ASHR_OUTPUT]) == {"a": 1}
    assert s.dropped_attributes > 0
    client.flush(5)
    (payload,) = [b["trace"] for b in backend.bodies("ingest_observability_trace")]
    (obs,) = payload["observations"]
    assert obs["input"] == {"q": 1} and obs["output"] == {"a": 1} and obs["type"] == "span"
    assert obs["metadata"]["_ashr_dropped_attributes"] == s.dropped_attributes


def test_disabled_client_hands_out_working_noops(make_client: Any, backend: Any) -> None:
    """enabled=False: no-op objects, a readable trace id, no span recorded, no request."""
    client = make_client(backend.url, enabled=False)
    with client.trace("t") as t:
        with t.generation("g", model="m") as g:
            g.end(output=1, usage={"input_tokens": 1})
        t.event("e")
    assert len(t.trace_id) == 32 and t.trace_id != "0" * 32
    assert isinstance(client.tracer_provider, otel_trace.NoOpTracerProvider)
    assert client.flush(1)["sent"] == 0 and backend.count() == 0


def test_f35_eval_runner_workers_nest_under_the_callers_trace(traced: Any) -> None:
    """EvalRunner(max_workers=4) with a traced agent: every agent span nests under the trace."""
    from ashr_labs import EvalRunner, observe

    client, memory = traced

    class Agent:
        @observe(name="agent.respond", as_type="generation")
        def respond(self, message: str) -> dict[str, Any]:
            return {"text": f"echo {message}", "tool_calls": []}

        def reset(self) -> None:
            pass

    source = {
        "runs": {
            f"s{i}": {
                "actions": [
                    {"actor": "user", "content": f"hi {i}"},
                    {"actor": "agent", "content": f"echo hi {i}"},
                ]
            }
            for i in range(8)
        }
    }
    with client.trace("eval") as caller:
        EvalRunner(source).run(Agent(), max_workers=4)
    responds = [s for s in memory.get_finished_spans() if s.name == "agent.respond"]
    assert len(responds) == 8
    assert {s.context.trace_id for s in responds} == {int(caller.trace_id, 16)}
