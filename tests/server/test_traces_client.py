"""Our own client end to end: ``client.trace()`` → exporter → local server → query methods."""

from __future__ import annotations

from typing import Any

from tests.support.server_rpc import new_tenant


def test_our_client_traces_into_the_local_server_and_reads_back(local_server: Any) -> None:
    """The OTel trace id is the server's trace id; observations, tokens and tools are counted."""
    from ashr_labs import AshrLabsClient

    tenant = new_tenant(local_server)
    client = AshrLabsClient(api_key=tenant.key, base_url=tenant.url)
    try:
        with client.trace("handle", user_id="u1", session_id="s1", tags=["x"]) as trace:
            messages = [{"role": "user", "content": "hi"}]
            with trace.generation("plan", model="m", input=messages) as gen:
                gen.end(output="yo", usage={"input_tokens": 3, "output_tokens": 4})
            with trace.span("tool:search") as tool:
                tool.event("found", input={"n": 1})
        report = client.flush(timeout=5)
        assert (report["sent"], report["failed"], report["dropped"]) == (1, 0, 0), report

        got = client.get_observability_trace(trace.trace_id)["trace"]
        assert (got["id"], got["name"], got["user_id"], got["tags"]) == (
            trace.trace_id,
            "handle",
            "u1",
            ["x"],
        )
        by_name = {o["name"]: o for o in got["observations"]}
        assert (by_name["plan"]["type"], by_name["plan"]["model"]) == ("generation", "m")
        assert by_name["found"]["parent_observation_id"] == by_name["tool:search"]["id"]

        overview = client.get_observability_analytics(days=7)["overview"]
        assert (overview["total_traces"], overview["total_tool_calls"]) == (1, 1)
        assert (overview["total_input_tokens"], overview["total_output_tokens"]) == (3, 4)
        listed = client.list_observability_traces(user_id="u1")
        assert [t["id"] for t in listed["traces"]] == [trace.trace_id]
    finally:
        client.close()
