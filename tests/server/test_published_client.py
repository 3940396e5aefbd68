"""The published ashr-labs 0.2.1 client, unmodified, against our server (protocol.md §1.6).

Every seed method except tracing runs in one child process with the old package on its path;
the parent checks what came back and what the server stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.published_client import published_client_path, run_published
from tests.support.server_rpc import new_tenant

SCRIPT = r"""
import json, sys
import ashr_labs
from ashr_labs import AshrLabsClient, EvalRunner, RunBuilder
from ashr_labs.exceptions import (AshrLabsError, AuthenticationError, AuthorizationError,
                                  NotFoundError, ValidationError)

url, key, other_key, extra_key = sys.argv[1:5]
c = AshrLabsClient(api_key=key, base_url=url)
out = {"package": ashr_labs.__file__}

def expect(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return [type(exc).__name__, exc.status_code, exc.message]
    return "no error"

out["notes"] = c.notes
out["init"] = c.init()
out["health"] = c.health_check()
out["get_notes"] = c.get_notes()
agent = c.create_agent(name="pub-agent", description="d",
                       config={"grading_config": {"text_similarity_threshold": 0.3}})
out["agent"] = agent
out["update"] = c.update_agent(agent["id"], description="d2")
out["agents"] = c.list_agents()
config = {
    "metadata": {"dataset_name": "Published"},
    "agent": {"name": "Bot", "description": "Looks up orders",
              "tools": [{"name": "lookup_order", "description": "Find an order",
                         "parameters": {"type": "object",
                                        "properties": {"order_id": {"type": "string"}},
                                        "required": ["order_id"]}}],
              "accepted_inputs": {"text": True}},
    "context": {"domain": "e-commerce", "use_case": "order questions"},
    "generation_options": {"generate_audio": False},
    "test_config": {"num_variations": 2},
}
ds_id, source = c.generate_dataset("pub", config, timeout=60, poll_interval=0.05)
out["generate"] = [ds_id, list(source["runs"])]
out["dataset"] = c.get_dataset(ds_id)
out["datasets"] = c.list_datasets(limit=5)
req = c.create_request("pub2", config)
out["request"] = req
out["wait"] = c.wait_for_request(req["id"], timeout=60, poll_interval=0.05)
out["get_request"] = c.get_request(req["id"])
out["requests"] = c.list_requests(limit=5, status="completed")
out["pentest"] = c.request_pentest_dataset("Bot", "Looks up orders", categories=["jailbreak"])
out["set_agent"] = c.set_dataset_agent(ds_id, agent["id"])
out["agent_datasets"] = c.get_agent_datasets(agent["id"], include_signed_urls=False)

class Bot:
    def respond(self, message):
        return {"text": "Your order shipped", "tool_calls": [
            {"name": "lookup_order", "arguments": {"order_id": "ORD-1"}}]}
    def reset(self):
        pass

runner = EvalRunner.from_dataset(c, ds_id)
run = runner.run_and_deploy(Bot(), c, dataset_id=ds_id)
out["run"] = run
polls = []
out["polled"] = c.poll_run(run["id"], timeout=60, poll_interval=0.05,
                           on_poll=lambda elapsed, r: polls.append(elapsed))
builder = RunBuilder()
builder.start()
test = builder.add_test("manual")
test.start()
test.add_user_text("hi", "greeting")
test.add_agent_response({"text": "hello"}, {"text": "hello"}, match_status="exact")
test.complete()
builder.complete()
deployed = builder.deploy(c, dataset_id=ds_id, agent_id=agent["id"])
out["deployed"] = deployed
out["runs"] = c.list_runs(dataset_id=ds_id)
out["get_run"] = c.get_run(deployed["id"])
out["delete_run"] = c.delete_run(deployed["id"])
out["errors"] = {
    "not_found": expect(NotFoundError, c.get_run, deployed["id"]),
    "validation": expect(ValidationError, c.get_run, "7"),
    "auth": expect(AuthenticationError,
                   AshrLabsClient(api_key="tp_" + "x" * 43, base_url=url).health_check),
    "forbidden": expect(AuthorizationError,
                        AshrLabsClient(api_key=other_key, base_url=url).get_dataset, ds_id),
    "unknown_agent": expect(NotFoundError, c.delete_agent, 10**9),
    "duplicate_agent": expect(AshrLabsError, c.create_agent, name="pub-agent"),
}
keys = c.list_api_keys()
out["keys"] = keys
extra = next(k for k in keys if extra_key.startswith(k["key_prefix"]))
out["revoke"] = c.revoke_api_key(extra["id"])
out["errors"]["revoked"] = expect(AuthenticationError,
                                  AshrLabsClient(api_key=extra_key, base_url=url).health_check)
out["inactive_keys"] = c.list_api_keys(include_inactive=True)
out["delete_agent"] = c.delete_agent(agent["id"])
print(json.dumps(out, default=str))
"""


def test_published_client_drives_every_seed_method(local_server: Any) -> None:
    """The 0.2.1 client's seed methods (no tracing) all work unchanged against our server."""
    folder = published_client_path()
    t = new_tenant(local_server)
    other = new_tenant(local_server)
    extra = local_server.create_api_key(t.tenant_id, name="extra")
    local_server.add_note("Tenant only", "for this tenant", tenant_id=t.tenant_id)
    notes = t.ok("get_sdk_notes")["notes"]
    assert "Tenant only" in [n["title"] for n in notes]
    out = run_published(SCRIPT, t.url, t.key, other.key, extra)
    assert Path(out["package"]).is_relative_to(folder), out["package"]

    assert out["init"]["tenant"]["id"] == t.tenant_id and out["notes"] == notes
    assert out["health"]["status"] == "ok" and out["get_notes"] == notes
    assert out["update"]["description"] == "d2"
    assert [a["name"] for a in out["agents"]] == ["pub-agent"]

    ds_id, scenario_ids = out["generate"]
    assert len(scenario_ids) == 2
    assert out["dataset"]["id"] == ds_id and out["dataset"]["name"] == "Published"
    newest = out["datasets"]["datasets"][0]
    assert newest["id"] == ds_id and newest["request_id"] is not None
    assert out["wait"]["request_status"] == "completed"
    assert out["get_request"]["id"] == out["request"]["id"]
    assert all(r["request_status"] == "completed" for r in out["requests"]["requests"])
    assert [d["id"] for d in out["agent_datasets"]["datasets"]] == [ds_id]
    assert out["pentest"]["request_name"] == "Pentest: Bot"

    assert out["run"]["grading_status"] == "pending"
    assert out["run"]["result"]["aggregate_metrics"]["tests_passed"] is None
    polled = out["polled"]["result"]["aggregate_metrics"]
    assert polled["tests_passed"] is not None
    assert out["deployed"]["dataset"] == ds_id
    assert {r["id"] for r in out["runs"]["runs"]} >= {out["run"]["id"], out["deployed"]["id"]}
    assert out["get_run"]["id"] == out["deployed"]["id"]
    assert out["delete_run"]["status"] == "ok"

    errors = out["errors"]
    assert errors["not_found"][:2] == ["NotFoundError", 404]
    assert errors["validation"][:2] == ["ValidationError", 422]
    assert errors["validation"][2].startswith("run_id: expected an integer")
    assert errors["auth"][:2] == ["AuthenticationError", 401]
    assert errors["forbidden"][:2] == ["AuthorizationError", 403]
    assert errors["unknown_agent"][:2] == ["NotFoundError", 404]
    assert errors["duplicate_agent"][:2] == ["AshrLabsError", 409]
    assert errors["revoked"][:2] == ["AuthenticationError", 401]

    assert all("key" not in k for k in out["keys"])
    assert out["revoke"]["status"] == "ok"
    assert any(not k["is_active"] for k in out["inactive_keys"])
    assert out["delete_agent"]["status"] == "ok"
    assert (
        local_server.db.query_one(
            "SELECT is_active FROM agents WHERE id = ?", (out["agent"]["id"],)
        )["is_active"]
        == 0
    )
