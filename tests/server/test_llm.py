"""LLM-backed generation and judging against a tiny loopback OpenAI-compatible fake."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ashr_labs import _settings
from ashr_labs.server._generation import GenerationError, generate_dataset_source
from ashr_labs.server._grading import GradingError, grade_run
from ashr_labs.server._llm import LlmClient
from tests.support.configs import GENERATE_DATASET_EXAMPLE

SECRET = "sk-test-secret-key-123"


class FakeChat:
    """``POST /v1/chat/completions`` answering queued replies: (status, body) pairs, where a
    dict body is wrapped as a chat completion whose message content is its JSON."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, Any]] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, reply = fake.replies.pop(0) if fake.replies else (500, "no reply queued")
                if isinstance(reply, dict) and "choices" not in reply:
                    reply = {
                        "choices": [
                            {"message": {"role": "assistant", "content": json.dumps(reply)}}
                        ]
                    }
                data = (reply if isinstance(reply, str) else json.dumps(reply)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/v1"


@pytest.fixture
def fake_chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChat]:
    fake = FakeChat()
    fake.thread.start()
    monkeypatch.setenv(_settings.ASHR_LABS_LLM_BASE_URL, fake.base_url)
    monkeypatch.setenv(_settings.ASHR_LABS_LLM_API_KEY, SECRET)
    monkeypatch.setenv(_settings.ASHR_LABS_LLM_MODEL, "fake-model")
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        fake.thread.join(5)


def _scenario(tool: str = "lookup_order", **extra: Any) -> dict[str, Any]:
    return {
        "title": "Order status",
        "actions": [
            {"actor": "customer", "name": "ask", "content": "Where is ORD-1?"},
            {"actor": "environment", "name": "tool_result", "content": "tool result: {}"},
            {
                "actor": "agent",
                "content": "It has shipped.",
                "expected_response": {
                    "tool_calls": [{"name": tool, "arguments": {"order_id": "ORD-1"}}]
                },
            },
        ],
        **extra,
    }


def _config(count: int) -> dict[str, Any]:
    config = copy.deepcopy(GENERATE_DATASET_EXAMPLE)
    config["test_config"]["num_variations"] = count
    return config


def test_llm_generation_builds_a_checked_dataset(fake_chat: FakeChat) -> None:
    """The model's scenarios become runs with arguments_json; the request is OpenAI-shaped."""
    fake_chat.replies.append((200, {"scenarios": [_scenario(), _scenario("process_refund")]}))
    dataset = generate_dataset_source(_config(2), request_name="llm")
    runs = dataset.dataset_source["runs"]
    assert list(runs) == ["scenario_001", "scenario_002"]
    call = runs["scenario_001"]["actions"][2]["expected_response"]["tool_calls"][0]
    assert call == {"name": "lookup_order", "arguments_json": '{"order_id": "ORD-1"}'}
    assert {"kind", "complexity"} <= set(runs["scenario_002"])
    (request,) = fake_chat.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {SECRET}"
    body = request["body"]
    assert body["model"] == "fake-model" and body["temperature"] == 0
    assert body["response_format"] == {"type": "json_object"}
    assert isinstance(body["seed"], int)
    brief = json.loads(body["messages"][1]["content"])
    assert [t["name"] for t in brief["agent"]["tools"]] == ["lookup_order", "process_refund"]
    assert len(brief["planned_slots"]) == 2 and brief["user_actor"] == "customer"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            (200, {"scenarios": [_scenario()]}),
            "LLM answer unusable: runs: expected 2 scenarios, got 1",
        ),
        (
            (200, {"scenarios": [_scenario(), _scenario("drop_tables")]}),
            "runs.scenario_002.actions[2].expected_response.tool_calls[0].name: "
            "expected one of the agent's tools",
        ),
        (
            (200, {"scenarios": [_scenario(), {"title": "x", "actions": []}]}),
            "runs.scenario_002.actions: expected a non-empty array",
        ),
        ((200, {"runs": {}}), "LLM answer: expected a 'scenarios' array"),
        (
            (200, {"choices": [{"message": {"content": "Sure! Here are scenarios"}}]}),
            "LLM generation failed: LLM reply content: expected a JSON object",
        ),
        ((200, {"choices": []}), "expected choices[0].message.content"),
        ((500, {"error": "overloaded"}), "answered HTTP 500"),
        ((401, "bad key"), "answered HTTP 401: bad key"),
    ],
)
def test_bad_llm_answers_fail_generation_readably(
    fake_chat: FakeChat, reply: tuple[int, Any], message: str
) -> None:
    """Every unusable answer is a GenerationError naming the problem; the key never leaks."""
    fake_chat.replies.append(reply)
    with pytest.raises(GenerationError) as caught:
        generate_dataset_source(_config(2), request_name="llm")
    assert message in str(caught.value)
    assert SECRET not in str(caught.value)


def test_unreachable_llm_fails_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead endpoint is a readable GenerationError, not a fallback to the template generator."""
    fake = FakeChat()  # bound but never serving: take its port, then close it
    url = fake.base_url
    fake.server.server_close()
    monkeypatch.setenv(_settings.ASHR_LABS_LLM_BASE_URL, url)
    with pytest.raises(GenerationError, match="LLM generation failed: LLM request to .* failed"):
        generate_dataset_source(_config(1), request_name="llm")


def test_from_env_needs_a_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """No base URL means no client; bad URLs are rejected; repr hides the key."""
    assert LlmClient.from_env() is None
    client = LlmClient.from_env(
        {
            _settings.ASHR_LABS_LLM_BASE_URL: "http://127.0.0.1:9/v1",
            _settings.ASHR_LABS_LLM_API_KEY: SECRET,
        }
    )
    assert client is not None and client.model == "gpt-4o-mini"
    assert SECRET not in repr(client)
    client.close()
    with pytest.raises(ValueError, match="base_url must be an http"):
        LlmClient("ftp://x")


def _graded_text(score_reply: Any, fake_chat: FakeChat) -> dict[str, Any]:
    fake_chat.replies.append((200, score_reply))
    result = {
        "tests": [
            {
                "test_id": "t",
                "status": "completed",
                "action_results": [
                    {
                        "actor": "agent",
                        "action_type": "text",
                        "action_index": 0,
                        "expected_response": {"text": "Votre commande est expédiée"},
                        "actual_response": {"text": "Your order has shipped"},
                        "match_status": "pending",
                        "divergence_notes": None,
                    }
                ],
            }
        ]
    }
    client = LlmClient.from_env()
    assert client is not None
    try:
        return grade_run(result, agent_config=None, llm=client)
    finally:
        client.close()


def test_llm_judge_grades_texts(fake_chat: FakeChat) -> None:
    """The judge's score is the semantic similarity; the prompt carries both texts."""
    graded = _graded_text({"score": 0.87, "reason": "same meaning"}, fake_chat)
    action = graded["tests"][0]["action_results"][0]
    assert action["semantic_similarity"] == 0.87 and action["match_status"] == "similar"
    assert graded["tests"][0]["grading"]["judge"] == "llm"
    sent = json.loads(fake_chat.requests[0]["body"]["messages"][1]["content"])
    assert sent == {"expected": "Votre commande est expédiée", "actual": "Your order has shipped"}


@pytest.mark.parametrize(
    "reply", [{"score": 1.5}, {"score": "high"}, {"reason": "none"}, {"score": True}]
)
def test_bad_judge_answers_fail_grading(fake_chat: FakeChat, reply: dict[str, Any]) -> None:
    """A score outside 0..1 or missing fails grading with the judge's message."""
    with pytest.raises(GradingError, match=r"LLM judge failed: LLM judge score: expected a number"):
        _graded_text(reply, fake_chat)
