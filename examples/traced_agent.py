"""Trace a small support agent with ``@observe`` and manual spans, then read the trace back.

Run against a server you started (``ashr-labs serve`` prints the URL and a key)::

    export ASHR_LABS_BASE_URL=http://127.0.0.1:PORT ASHR_LABS_API_KEY=tp_...
    python examples/traced_agent.py

or with neither variable set, to start a throwaway local server in-process.

``@observe`` opens a trace on the most recently created client when no trace is active, and
nests inside the active one otherwise; ``update_current_trace`` sets trace-wide fields from
any depth. ``client.flush()`` (or ``trace.end(flush=True)``) waits, with a deadline, for the
export; normally tracing never blocks the agent.
"""

from __future__ import annotations

from typing import Any

from ashr_labs import AshrLabsClient, observe, update_current_trace
from ashr_labs.server import env_or_local_server

KNOWLEDGE = {"password": "Use the 'Forgot password' link; the reset email arrives in 5 minutes."}


@observe(name="classify-intent", as_type="generation")
def classify(message: str) -> str:
    """Stand-in for an LLM call; a real agent would call its model here."""
    return "password_reset" if "password" in message.lower() else "other"


@observe(name="tool:search-kb")
def search(topic: str) -> str | None:
    return KNOWLEDGE.get(topic)


@observe(name="handle-ticket")
def handle_ticket(client: AshrLabsClient, user_id: str, message: str) -> dict[str, Any]:
    update_current_trace(user_id=user_id, session_id="conv_abc", tags=["support"])
    intent = classify(message)
    answer = search("password") if intent == "password_reset" else None
    return {"intent": intent, "answer": answer or "Escalating to a human."}


def manual_trace(client: AshrLabsClient) -> str:
    """The same kind of work with explicit objects, as in the API reference."""
    with client.trace("support-chat", user_id="user_42", session_id="conv_abc") as trace:
        with trace.generation(
            "classify-intent",
            model="claude-sonnet-4-6",
            input=[{"role": "user", "content": "Reset my password"}],
        ) as gen:
            gen.end(
                output={"intent": "password_reset"}, usage={"input_tokens": 50, "output_tokens": 12}
            )
        with trace.span("tool:reset_password", input={"user_id": "user_42"}) as tool:
            tool.end(output={"success": True})
        trace.event("guardrail-check", input={"passed": True})
    return trace.trace_id


def run(base_url: str, api_key: str) -> dict[str, Any]:
    """Trace one decorated run and one manual run; return both traces as the server has them."""
    with AshrLabsClient(api_key=api_key, base_url=base_url) as client:
        result = handle_ticket(client, "user_7", "I forgot my password")
        manual_id = manual_trace(client)
        report = client.flush(timeout=10)
        if not report["complete"]:
            raise RuntimeError(f"traces not delivered: {report}")
        listed = client.list_observability_traces(user_id="user_7", limit=1)
        decorated = client.get_observability_trace(listed["traces"][0]["id"])["trace"]
        manual = client.get_observability_trace(manual_id)["trace"]
    return {"result": result, "decorated": decorated, "manual": manual}


def main() -> dict[str, Any]:
    with env_or_local_server() as (base_url, api_key):
        out = run(base_url, api_key)
    print("agent answered:", out["result"]["answer"])
    for key in ("decorated", "manual"):
        trace = out[key]
        print(f"trace {trace['id']} ({trace['name']}, user {trace['user_id']})")
        for obs in trace["observations"]:
            print(f"  {obs['type']:<10} {obs['name']}")
    return out


if __name__ == "__main__":
    main()
