"""Tenant isolation (FAULTS.md F44): a Hypothesis state machine over 3 tenants, and a loopback pass.

After every step each returned object belongs to the caller, every foreign id gets the same 403
with the fixed message, and a refused call neither reads nor changes anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

import tests.support.hypothesis_profile  # noqa: F401 - registers and loads the "ci" profile
from ashr_labs.server import LocalServer
from ashr_labs.server._rpc import FORBIDDEN_MESSAGE
from ashr_labs.server._store import dump_doc, now_iso
from tests.support.server_rpc import new_tenant, post

# Columns that a refused call must leave untouched (last_used_at moves on any authenticated call).
_SNAPSHOT = [
    "SELECT id, tenant_id, name, description, config, is_active FROM agents ORDER BY id",
    "SELECT id, tenant_id, agent_id, name FROM datasets ORDER BY id",
    "SELECT id, tenant_id, dataset_id, result, grading_status FROM runs ORDER BY id",
    "SELECT id, tenant_id, request_name, request_status FROM requests ORDER BY id",
    "SELECT id, tenant_id, is_active FROM api_keys ORDER BY id",
]


@dataclass(frozen=True)
class Obj:
    """Something a tenant created: its owner (tenant index), kind and id."""

    owner: int
    kind: str
    id: int


# kind -> (read call, id parameter)
READS = {
    "agent": ("get_agent_datasets", "agent_id"),
    "dataset": ("get_dataset", "dataset_id"),
    "run": ("get_run", "run_id"),
    "request": ("get_request", "request_id"),
    "key": ("revoke_api_key", "api_key_id"),
}
WRITES = {
    "agent": ("update_agent", "agent_id", {"description": "changed"}),
    "run": ("delete_run", "run_id", {}),
    "dataset": ("set_dataset_agent", "dataset_id", {"agent_id": None}),
}
LISTS = {
    "list_agents": ("agents", "tenant_id"),
    "list_datasets": ("datasets", "tenant"),
    "list_runs": ("runs", "tenant"),
    "list_requests": ("requests", "requestor_tenant"),
    "list_api_keys": ("api_keys", "tenant_id"),
}


class Isolation(RuleBasedStateMachine):
    """Three tenants create, read, change and list objects through the in-process pipeline."""

    server: LocalServer
    objects = Bundle("objects")

    @initialize()
    def tenants(self) -> None:
        self.keys: list[str] = []
        self.tenant_ids: list[int] = []
        for _ in range(3):
            tenant = new_tenant(self.server)
            self.keys.append(tenant.key)
            self.tenant_ids.append(tenant.tenant_id)
        self.deleted: set[Obj] = set()
        self.counter = 0

    # -- calls -------------------------------------------------------------------------------------
    def call(self, who: int, function: str, **params: Any) -> tuple[int, dict[str, Any]]:
        body = json.dumps({"function": function, **params}).encode()
        reply = self.server.handle(body, api_key=self.keys[who])
        return reply.status, json.loads(reply.body)

    def snapshot(self) -> str:
        digest = hashlib.sha256()
        for sql in _SNAPSHOT:
            for row in self.server.db.query(sql):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def refused(self, who: int, function: str, **params: Any) -> None:
        before = self.snapshot()
        status, body = self.call(who, function, **params)
        assert (status, body) == (403, {"status": "error", "message": FORBIDDEN_MESSAGE}), (
            function,
            params,
            status,
            body,
        )
        assert self.snapshot() == before, f"{function} changed data while refusing"

    def name(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    # -- creating ----------------------------------------------------------------------------------
    @rule(target=objects, who=st.integers(0, 2))
    def create_agent(self, who: int) -> Obj:
        status, body = self.call(who, "create_agent", name=self.name(), config={"k": who})
        assert status == 200 and body["agent"]["tenant_id"] == self.tenant_ids[who]
        return Obj(who, "agent", body["agent"]["id"])

    @rule(target=objects, who=st.integers(0, 2))
    def create_dataset(self, who: int) -> Obj:
        db = self.server.db
        with db.transaction():
            ds = db.insert(
                "INSERT INTO datasets (created_at, tenant_id, name, dataset_source)"
                " VALUES (?, ?, ?, ?)",
                (now_iso(), self.tenant_ids[who], self.name(), dump_doc({"runs": {}})),
            )
        return Obj(who, "dataset", ds)

    @rule(target=objects, who=st.integers(0, 2), explicit_tenant=st.booleans())
    def create_run(self, who: int, explicit_tenant: bool) -> Obj:
        params: dict[str, Any] = {"dataset_id": None, "result": {"tests": []}}
        if explicit_tenant:
            params["tenant_id"] = self.tenant_ids[who]
        status, body = self.call(who, "create_run", **params)
        assert status == 200 and body["run"]["tenant"] == self.tenant_ids[who]
        return Obj(who, "run", body["run"]["id"])

    @rule(target=objects, who=st.integers(0, 2))
    def create_request(self, who: int) -> Obj:
        status, body = self.call(who, "create_request", request_name=self.name(), request={})
        assert status == 200 and body["request"]["requestor_tenant"] == self.tenant_ids[who]
        return Obj(who, "request", body["request"]["id"])

    @rule(target=objects, who=st.integers(0, 2))
    def create_key(self, who: int) -> Obj:
        key = self.server.create_api_key(self.tenant_ids[who], name=self.name())
        row = self.server.db.query_one("SELECT id FROM api_keys WHERE key_prefix = ?", (key[:11],))
        return Obj(who, "key", int(row["id"]))

    # -- touching ----------------------------------------------------------------------------------
    @rule(who=st.integers(0, 2), obj=objects)
    def read(self, who: int, obj: Obj) -> None:
        function, param = READS[obj.kind]
        if obj.owner != who:
            self.refused(who, function, **{param: obj.id})
            return
        if obj.kind == "key":
            return  # revoking our own key is a write; covered by the RPC tests
        status, body = self.call(who, function, **{param: obj.id})
        if obj in self.deleted:
            assert status == 404, body
            return
        assert status == 200, body
        entity = body.get(obj.kind) or body.get("agent")
        owner_field = {
            "agent": "tenant_id",
            "dataset": "tenant",
            "run": "tenant",
            "request": "requestor_tenant",
        }[obj.kind]
        assert entity[owner_field] == self.tenant_ids[who]

    @rule(who=st.integers(0, 2), obj=objects)
    def write(self, who: int, obj: Obj) -> None:
        if obj.kind not in WRITES:
            return
        function, param, extra = WRITES[obj.kind]
        if obj.owner != who:
            self.refused(who, function, **{param: obj.id}, **extra)
            return
        status, body = self.call(who, function, **{param: obj.id}, **extra)
        if obj in self.deleted:
            assert status == 404
        else:
            assert status == 200, body
            if obj.kind == "run":
                self.deleted.add(obj)

    @rule(who=st.integers(0, 2), dataset=objects, agent=objects)
    def link(self, who: int, dataset: Obj, agent: Obj) -> None:
        if dataset.kind != "dataset" or agent.kind != "agent":
            return
        if dataset.owner != who or agent.owner != who:
            self.refused(who, "set_dataset_agent", dataset_id=dataset.id, agent_id=agent.id)
        else:
            status, body = self.call(
                who, "set_dataset_agent", dataset_id=dataset.id, agent_id=agent.id
            )
            assert status == 200 and body["dataset"]["agent_id"] == agent.id

    @rule(
        who=st.integers(0, 2),
        victim=st.integers(0, 2),
        function=st.sampled_from(["list_datasets", "list_runs", "list_requests", "create_run"]),
    )
    def foreign_tenant_id(self, who: int, victim: int, function: str) -> None:
        params: dict[str, Any] = {"tenant_id": self.tenant_ids[victim]}
        if function == "create_run":
            params.update(dataset_id=None, result={})
        if victim != who:
            self.refused(who, function, **params)
        else:
            assert self.call(who, function, **params)[0] == 200

    @rule(who=st.integers(0, 2), function=st.sampled_from(sorted(LISTS)))
    def lists_show_only_own_rows(self, who: int, function: str) -> None:
        key, owner_field = LISTS[function]
        params = {"include_inactive": True} if function == "list_api_keys" else {"limit": 1000}
        status, body = self.call(who, function, **params)
        assert status == 200
        assert all(item[owner_field] == self.tenant_ids[who] for item in body[key])

    @invariant()
    def tenants_still_distinct(self) -> None:
        if getattr(self, "tenant_ids", None):
            assert len(set(self.tenant_ids)) == 3


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A server without job workers, so nothing changes rows behind the machine's back."""
    with LocalServer(data_dir=tmp_path_factory.mktemp("isolation"), run_jobs=False) as srv:
        yield srv


def test_f44_tenant_isolation_state_machine(quiet_server: LocalServer) -> None:
    """Hypothesis: 3 tenants; foreign ids always get the fixed 403 and change nothing."""
    Isolation.server = quiet_server
    run_state_machine_as_test(
        Isolation, settings=settings(settings.get_profile("ci"), stateful_step_count=25)
    )


def test_f44_loopback_pass(local_server: Any) -> None:
    """Over the wire: every foreign-object call answers the same 403 body, lists stay private."""
    a, b = new_tenant(local_server), new_tenant(local_server)
    agent = a.ok("create_agent", name="private")["agent"]["id"]
    ds = a.add_dataset("private")
    run = a.ok("create_run", dataset_id=ds, result={"tests": []})["run"]["id"]
    req = a.ok("create_request", request_name="r", request={})["request"]["id"]
    key_id = a.ok("list_api_keys")["api_keys"][0]["id"]
    calls = [
        ("get_dataset", {"dataset_id": ds}),
        ("get_run", {"run_id": run}),
        ("delete_run", {"run_id": run}),
        ("get_request", {"request_id": req}),
        ("update_agent", {"agent_id": agent, "name": "mine"}),
        ("delete_agent", {"agent_id": agent}),
        ("get_agent_datasets", {"agent_id": agent}),
        ("set_dataset_agent", {"dataset_id": ds, "agent_id": None}),
        ("revoke_api_key", {"api_key_id": key_id}),
        ("get_sdk_notes", {"agent_id": agent}),
        ("list_runs", {"dataset_id": ds}),
        ("list_runs", {"tenant_id": a.tenant_id}),
        ("create_run", {"dataset_id": ds, "result": {}}),
        ("create_request", {"request_name": "x", "request": {}, "agent_id": agent}),
    ]
    bodies = set()
    for function, params in calls:
        reply = post(b.url, {"function": function, **params}, key=b.key)
        assert reply.status == 403, (function, reply.raw)
        bodies.add(reply.raw)
    assert bodies == {
        json.dumps(
            {"status": "error", "message": FORBIDDEN_MESSAGE}, separators=(",", ":")
        ).encode()
    }
    assert a.ok("get_run", run_id=run)["run"]["id"] == run
    assert a.ok("list_agents")["agents"][0]["name"] == "private"
    for function, key in [
        ("list_datasets", "datasets"),
        ("list_runs", "runs"),
        ("list_requests", "requests"),
        ("list_agents", "agents"),
    ]:
        assert b.ok(function)[key] == []
