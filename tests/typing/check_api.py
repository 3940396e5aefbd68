"""The public API as users write it, checked by ``mypy --strict`` (structlog's typing smoke file).

Run by ``tests/typing/test_typing.py``; nothing here is called at run time. ``assert_type``
pins documented return types. A line ending in ``# type: ignore[code]`` is misuse that must
stay an error: ``--strict`` reports an ignore that is no longer needed, so a signature that
decays to ``Any`` (and stops catching the mistake) fails the check too.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ashr_labs_instrumentation import instrument_all, uninstrument_all
from ashr_labs_instrumentation.anthropic import AnthropicInstrumentor
from ashr_labs_instrumentation.openai import OpenAIInstrumentor

from ashr_labs import (
    Agent,
    AgentConfig,
    AgentResponse,
    APIKey,
    AshrLabsClient,
    AshrLabsError,
    AsyncAgent,
    ConfigurationError,
    Dataset,
    EvalRunner,
    Generation,
    NotFoundError,
    RateLimitError,
    Request,
    Run,
    RunBuilder,
    SdkNote,
    Session,
    Span,
    TestBuilder,
    ToolCall,
    Trace,
    TracingOptions,
    WaitTimeoutError,
    compare_args_structural,
    compare_tool_args,
    context_executor,
    extract_tool_args,
    fuzzy_str_match,
    instrument,
    observe,
    pair_tool_calls,
    strip_markdown,
    text_similarity,
    tokenize,
    uninstrument,
    update_current_trace,
    wrap_context,
)
from ashr_labs.observability import AshrSpanExporter

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


# -- the client ------------------------------------------------------------------------------------
def make_clients() -> AshrLabsClient:
    client = AshrLabsClient(api_key="tp_your_key_here")
    client = AshrLabsClient(api_key="tp_x", base_url="http://127.0.0.1:8765", timeout=60)
    client = AshrLabsClient(
        "tp_x", tracing=TracingOptions(capture_content=False, mask=lambda v: v, enabled=True)
    )
    assert_type(AshrLabsClient.from_env(), AshrLabsClient)
    assert_type(AshrLabsClient.from_env(timeout=60), AshrLabsClient)
    with AshrLabsClient(api_key="tp_x") as scoped:
        assert_type(scoped, AshrLabsClient)
    AshrLabsClient(api_key=42)  # type: ignore[arg-type]
    return client


def session_and_notes(client: AshrLabsClient) -> None:
    session = client.init()
    assert_type(session, Session)
    print(session["user"]["id"], session["user"]["email"], session["tenant"]["tenant_name"])
    for note in client.notes:
        assert_type(note, SdkNote)
        print(f"[{note['severity']}] {note['title']}: {note['content']}")
    notes = client.get_notes(agent_id=42)
    assert_type(notes, list[SdkNote])
    breaking = [n for n in notes if n["category"] == "breaking_change"]
    assert_type(breaking, list[SdkNote])
    assert_type(client.health_check(), dict[str, Any])
    client.close()


# -- Testing Platform --------------------------------------------------------------------------
def datasets_and_runs(client: AshrLabsClient) -> None:
    dataset = client.get_dataset(dataset_id=42, include_signed_urls=True, url_expires_seconds=7200)
    assert_type(dataset, Dataset)
    name: str = dataset["name"]
    source: dict[str, Any] = dataset["dataset_source"]
    page = client.list_datasets(limit=10)
    for item in page["datasets"]:
        print(item["id"], name, len(source))
    if page.get("next_cursor"):
        client.list_datasets(limit=10, cursor=page["next_cursor"])

    run = client.create_run(dataset_id=42, result={"status": "passed", "score": 0.95})
    assert_type(run, Run)
    assert_type(client.get_run(run_id=99), Run)
    score: float = client.get_run(99)["result"]["score"]
    print(score, client.list_runs(dataset_id=42)["runs"])
    assert_type(client.delete_run(run_id=99), dict[str, Any])
    client.get_run(run_id="99")  # type: ignore[arg-type]

    graded = client.poll_run(
        run["id"], timeout=300, on_poll=lambda elapsed, r: print(f"{elapsed}s", r.get("result"))
    )
    assert_type(graded, Run)


def requests_and_generation(client: AshrLabsClient, config: dict[str, Any]) -> None:
    req = client.create_request(request_name="Support Agent Eval", request=config)
    assert_type(req, Request)
    completed = client.wait_for_request(req["id"], timeout=300)
    assert_type(completed, Request)
    status: str = client.get_request(request_id=123)["request_status"]
    print(status, client.list_requests(status="pending")["requests"])
    dataset_id, source = client.generate_dataset("Support Agent Eval", config, timeout=600)
    assert_type(dataset_id, int)
    assert_type(source, dict[str, Any])


def agents_and_keys(client: AshrLabsClient) -> None:
    agents = client.list_agents()
    assert_type(agents, list[AgentResponse])
    config: AgentConfig = {
        "tool_definitions": [{"name": "fetch_data", "required": True}],
        "behavior_rules": [{"rule": "Always fetch first", "strictness": "required"}],
        "grading_config": {"tool_strictness": {"fetch_data": "required"}},
    }
    agent = client.create_agent(name="Support Bot", description="Scheduling", config=config)
    assert_type(agent, AgentResponse)
    agent = client.update_agent(agent["id"], config={"grading_config": {}})
    assert_type(client.delete_agent(agent["id"]), dict[str, Any])
    assert_type(client.get_agent_datasets(agent["id"]), dict[str, Any])
    client.set_dataset_agent(dataset_id=42, agent_id=None)
    keys = client.list_api_keys(include_inactive=True)
    assert_type(keys, list[APIKey])
    for key in keys:
        print(f"{key['key_prefix']}... - {key['name']}")
    assert_type(client.revoke_api_key(api_key_id=123), dict[str, Any])


def builders(client: AshrLabsClient) -> None:
    run = RunBuilder()
    assert_type(run.start(), RunBuilder)
    test = run.add_test("bank_analysis")
    assert_type(test, TestBuilder)
    expected = {"tool_name": "analyze", "arguments": {"data": "input"}}
    status, comparison = compare_args_structural(expected, expected)
    chained = (
        test.start()
        .add_user_text(text="Analyze this", description="User prompt")
        .add_user_file(file_path="docs/a.pdf", description="upload")
        .add_tool_call(
            expected=expected,
            actual=expected,
            match_status=status,
            argument_comparison=comparison,
        )
        .add_agent_response(
            expected_response={"text": "done"},
            actual_response={"text": "done"},
            match_status="exact",
            semantic_similarity=1.0,
        )
        .set_vm_stream(provider="browserbase", session_id="s", duration_ms=12000, logs=[])
        .set_kernel_vm("kern_1", 15000, stealth=True, viewport={"width": 1920, "height": 1080})
        .complete()
    )
    assert_type(chained, TestBuilder)
    assert_type(run.complete().build(), dict[str, Any])
    created = run.deploy(client, dataset_id=42, agent_id=7)
    assert_type(created, dict[str, Any])
    client.create_run(dataset_id=42, result=run.build())
    test.add_tool_call(expected, expected)  # type: ignore[call-arg]


# -- EvalRunner with typed agents --------------------------------------------------------------
class SupportAgent:
    """A user's agent: satisfies ``Agent`` structurally, without inheriting from it."""

    def __init__(self) -> None:
        self.history: list[str] = []

    def respond(self, message: str) -> dict[str, Any]:
        self.history.append(message)
        return {"text": "ok", "tool_calls": [{"name": "lookup", "arguments": {"id": "ORD-1"}}]}

    def reset(self) -> None:
        self.history.clear()


class AsyncSupportAgent:
    async def respond(self, message: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"text": message, "tool_calls": []}

    async def reset(self) -> None:
        return None


class NotAnAgent:
    def respond(self, message: str) -> str:
        return message


def eval_runner(client: AshrLabsClient, source: dict[str, Any]) -> None:
    agent: Agent = SupportAgent()
    assert isinstance(agent, Agent)
    runner = EvalRunner(source)
    runner = EvalRunner.from_dataset(client, dataset_id=322)
    assert_type(runner, EvalRunner)

    def handle_env(content: str, action: dict[str, Any]) -> dict[str, Any]:
        return agent.respond(content)

    run = runner.run(
        agent,
        on_scenario=lambda scenario_id, scenario: print(scenario_id, scenario.get("title")),
        on_action=lambda index, action: print(index, action["actor"]),
        on_environment=handle_env,
        max_workers=4,
    )
    assert_type(run, RunBuilder)
    created = runner.run_and_deploy(SupportAgent(), client, dataset_id=322, max_workers=2)
    assert_type(created, dict[str, Any])
    runner.run(NotAnAgent())  # type: ignore[arg-type]
    runner.run(agent, max_workers="4")  # type: ignore[arg-type]


async def eval_runner_async(source: dict[str, Any]) -> RunBuilder:
    async_agent: AsyncAgent = AsyncSupportAgent()
    built = await EvalRunner(source).arun(async_agent, max_concurrency=4)
    assert_type(built, RunBuilder)
    return built


# -- Observability -----------------------------------------------------------------------------
def call_llm(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


def tracing(client: AshrLabsClient) -> None:
    with client.trace("handle-ticket", user_id="user_42", tags=["prod"]) as trace:
        assert_type(trace, Trace)
        messages = [{"role": "user", "content": "help"}]
        with trace.generation("classify", model="claude-sonnet-4-6", input=messages) as gen:
            assert_type(gen, Generation)
            result = call_llm(messages)
            gen.end(output=result, usage={"input_tokens": 50, "output_tokens": 12})
        with trace.span("tool:search", input={"query": "..."}) as tool:
            assert_type(tool, Span)
            assert_type(tool.span("parse"), Span)
            assert_type(tool.generation("rerank", model="m"), Generation)
            tool.event("cache-miss", input={"key": "k"}, level="WARNING")
            tool.end(output={"hits": 3}, status_message=None, level="DEFAULT")
            tool.end(usage={"input_tokens": 1})  # type: ignore[call-arg]

    manual = client.trace("support-chat", user_id="user_42", session_id="conv_abc")
    manual.generation("classify-intent", model="m").end(output={"intent": "reset"})
    manual.event("guardrail-check", input={"passed": True})
    ended = manual.end(output={"resolution": "done"}, flush=True)
    assert_type(ended, dict[str, Any])
    trace_id: str = manual.trace_id
    assert_type(client.flush(timeout=2.0), dict[str, Any])
    assert_type(client.get_observability_trace(trace_id), dict[str, Any])
    listing = client.list_observability_traces(user_id="user_42", limit=10, page=1)
    print(listing["traces"], listing["total"])
    client.get_observability_analytics(days=7)
    client.get_observability_errors(days=7, limit=50, page=1)
    client.get_observability_tool_errors(days=1)
    update_current_trace(user_id="u", session_id="s", tags=["x"], metadata={"k": 1})
    client.trace(name=None)  # type: ignore[arg-type]


@observe
def lookup_order(order_id: str, *, verbose: bool = False) -> dict[str, str]:
    return {"order_id": order_id}


@observe("classify", as_type="generation", capture_output=False)
async def classify(text: str) -> str:
    return text


@observe()
def numbers(n: int) -> Iterator[int]:
    yield from range(n)


@observe
async def chunks(n: int) -> AsyncIterator[str]:
    for i in range(n):
        yield str(i)


class Service:
    @observe
    def handle(self, question: str) -> list[str]:
        return [question]


async def observed_calls(client: AshrLabsClient) -> None:
    assert_type(lookup_order("ORD-1", verbose=True), dict[str, str])
    assert_type(await classify("text"), str)
    assert_type(list(numbers(3)), list[int])
    assert_type([c async for c in chunks(2)], list[str])
    assert_type(Service().handle("q"), list[str])
    lookup_order(123)  # type: ignore[arg-type]

    @client.observe("bound-to-client")
    def handler(x: int) -> int:
        return x

    assert_type(handler(1), int)


def context_propagation() -> None:
    wrapped = wrap_context(lookup_order)
    assert_type(wrapped("ORD-1"), dict[str, str])
    with context_executor(max_workers=2) as pool:
        future = pool.submit(lookup_order, "ORD-1")
        assert_type(future.result(), dict[str, str])


def instrumentation(client: AshrLabsClient) -> None:
    assert_type(instrument(client, capture_content=False), list[str])
    uninstrument()
    assert_type(instrument_all(tracer_provider=client.tracer_provider), list[str])
    uninstrument_all()
    OpenAIInstrumentor().instrument(tracer_provider=client.tracer_provider)
    AnthropicInstrumentor().uninstrument()
    exporter = AshrSpanExporter(api_key="tp_x", base_url="http://127.0.0.1:8765")
    assert_type(exporter.force_flush(timeout_millis=1000), bool)
    exporter.shutdown()


# -- comparators -------------------------------------------------------------------------------
def comparators(expected_call: ToolCall) -> None:
    assert_type(strip_markdown("**Bold** and [link](https://x.com)"), str)
    assert_type(tokenize("Order **ORD-123** shipped!"), list[str])
    assert_type(fuzzy_str_match("a b", "a c", threshold=0.4), bool)
    assert_type(text_similarity("a", "b"), float)
    arguments: dict[str, Any] = extract_tool_args({"arguments_json": '{"order_id": "ORD-1"}'})
    status, notes = compare_tool_args(
        {"arguments": {"order_id": "ORD-123"}}, {"arguments": arguments}
    )
    assert_type(status, str)
    assert_type(notes, str | None)
    extract_tool_args(expected_call)
    compare_tool_args(expected_call, {"name": "x", "arguments": {}})
    match_status, comparison = compare_args_structural(expected_call, {"arguments": {}})
    print(match_status, comparison["missing"])
    pairs = pair_tool_calls([{"name": "a"}], [{"name": "a"}], strategy="greedy")
    assert_type(pairs, list[tuple[int | None, int | None]])
    fuzzy_str_match("a", None)  # type: ignore[arg-type]


# -- errors ------------------------------------------------------------------------------------
def errors(client: AshrLabsClient) -> None:
    try:
        client.wait_for_request(1, timeout=5, poll_interval=1)
    except NotFoundError as exc:
        code: int | None = exc.status_code
        print(code, exc.message)
    except RateLimitError as exc:
        retry_after: float | None = exc.retry_after
        print(retry_after)
    except (ConfigurationError, WaitTimeoutError) as exc:
        assert_type(exc, ConfigurationError | WaitTimeoutError)
    except ValueError:
        pass  # ConfigurationError is documented as a ValueError
    except TimeoutError:
        pass  # WaitTimeoutError is documented as a TimeoutError
    except AshrLabsError as exc:
        print(str(exc))
