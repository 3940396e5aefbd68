"""Envelope, value and parameter faults (FAULTS.md F46, F48, F49, F53, F55) and routing errors."""

from __future__ import annotations

import ast
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.hypothesis_profile  # noqa: F401 - loads the "ci" profile
from ashr_labs.server import _handlers, _rpc  # noqa: F401 - _handlers registers every RPC
from ashr_labs.server._params import Param
from ashr_labs.server._rpc import RpcSpec
from ashr_labs.server._validate import MISSING
from tests.support.server_rpc import Tenant, new_tenant, post, table_counts

ENVELOPE = 'body must be a JSON object with a "function" key'
SERVER_SRC = Path(__file__).resolve().parents[2] / "src" / "ashr_labs" / "server"


@pytest.fixture
def t(local_server: Any) -> Tenant:
    return new_tenant(local_server)


# -- F46: bodies that are not one JSON object ------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", ENVELOPE),
        (b"   ", ENVELOPE),
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", ENVELOPE + "; got array"),
        (b'[{"function": "init"}]', ENVELOPE + "; got array"),
        (b'"init"', ENVELOPE + "; got string"),
        (b"42", ENVELOPE),
        (b"null", ENVELOPE + "; got null"),
        (b'{"fn": "init"}', ENVELOPE),
        (b'{"function": 7}', '"function" must be a non-empty string'),
        (b'{"function": ""}', '"function" must be a non-empty string'),
        (b"[" * 100_000 + b"]" * 100_000, "body nesting deeper than 64 levels"),
        (b'{"function": "init", "x": ' + b"[" * 65 + b"]" * 65 + b"}", "nesting deeper than 64"),
        (b'{"function": "init", "n": 1' + b"0" * 5000 + b"}", "body is not valid JSON"),
    ],
    ids=[
        "empty",
        "blank",
        "invalid",
        "array",
        "batch",
        "string",
        "number",
        "null",
        "no-function",
        "function-int",
        "function-empty",
        "deep-100000",
        "deep-65",
        "huge-int",
    ],
)
def test_f46_bad_bodies_get_400(t: Tenant, body: bytes, message: str) -> None:
    """Anything but one JSON object with a function key is a 400 saying what was wrong."""
    reply = post(t.url, body, key=t.key)
    assert reply.status == 400, reply.raw[:300]
    assert reply.json["status"] == "error"
    assert message in reply.message
    assert "Recursion" not in reply.message


_STRUCTURE = st.sampled_from(
    ["[", "]", "{", "}", ",", ":", '"function"', '"keep_alive"', "1", "null"]
)


@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.text(st.characters(codec=None), max_size=100).map(
            lambda s: s.encode("utf-8", "surrogatepass")
        ),
        st.lists(_STRUCTURE, max_size=80).map(lambda parts: "".join(parts).encode()),
        st.integers(60, 2000).map(lambda n: b"[" * n + b"]" * n),
    )
)
def test_f46_any_body_through_the_pipeline_is_never_500(local_server: Any, body: bytes) -> None:
    """Arbitrary bytes, text and bracket soups in-process: 200 or 400, always a JSON object."""
    reply = local_server.handle(body, api_key=_hyp_key(local_server))
    assert reply.status in (200, 400), (reply.status, reply.body[:200])
    decoded = json.loads(reply.body)
    assert isinstance(decoded, dict) and decoded["status"] in ("ok", "error")


def test_f46_a_million_keys_is_a_clean_400(t: Tenant) -> None:
    """An object of 10^6 keys without a function key is refused with the envelope message."""
    body = "{" + ",".join(f'"{i}":0' for i in range(1_000_000)) + "}"
    reply = post(t.url, body, key=t.key, timeout=30)
    assert reply.status == 400 and reply.message.startswith(ENVELOPE)
    assert t.ok("keep_alive")["status"] == "ok"


def test_f46_nesting_at_the_limit_is_accepted(t: Tenant) -> None:
    """64 levels (the body object included) parse; unknown extra keys are ignored."""
    deep = "[" * 63 + "]" * 63
    reply = post(t.url, '{"function": "keep_alive", "extra": ' + deep + "}", key=t.key)
    assert reply.status == 200, reply.raw


def test_unknown_function_is_400(t: Tenant) -> None:
    """An unknown function names itself in a 400."""
    assert t.error(400, "no_such_function") == 'unknown function "no_such_function"'


def test_wrong_method_and_path(t: Tenant) -> None:
    """GET on the RPC URL is a 405 and other paths a 404, both JSON envelopes, no redirects."""
    reply = post(t.url, b"", key=t.key, method="GET")
    assert reply.status == 405 and reply.json["status"] == "error"
    assert reply.headers["allow"] == "POST"
    reply = post(t.url, {"function": "init"}, key=t.key, path="/api")
    assert reply.status == 404 and reply.json["status"] == "error"


def test_base_path_serves_rpc(tmp_path: Path) -> None:
    """A server with a base path answers RPCs at that path as well as at /."""
    from ashr_labs.server import LocalServer

    with LocalServer(data_dir=tmp_path, base_path="/testing-platform-api") as srv:
        assert srv.url.endswith(f":{srv.port}/testing-platform-api")
        assert post(srv.url, {"function": "keep_alive"}, key=srv.api_key).status == 200
        root = srv.url.rsplit("/", 1)[0]
        assert post(root, {"function": "keep_alive"}, key=srv.api_key, path="/").status == 200


# -- F49: values SQLite and strict JSON cannot hold ------------------------------------------------
def test_f49_nan_infinity_stored_as_null(t: Tenant) -> None:
    """NaN and Infinity tokens (the published client can send them) are stored as null."""
    ds = t.add_dataset()
    body = (
        '{"function": "create_run", "dataset_id": DS, "result": {"tests": [], "status": "done",'
        ' "aggregate_metrics": {"average_similarity_score": NaN, "x": Infinity, "y": -Infinity,'
        ' "z": 1e400}}}'
    ).replace("DS", str(ds))
    reply = post(t.url, body, key=t.key)
    assert reply.status == 200, reply.raw
    metrics = reply.json["run"]["result"]["aggregate_metrics"]
    assert metrics == {
        "average_similarity_score": None,
        "x": None,
        "y": None,
        "z": None,
        "tests_passed": None,
    }
    assert b"NaN" not in reply.raw and b"Infinity" not in reply.raw


def test_f49_lone_surrogates_become_replacement_chars(t: Tenant) -> None:
    """Lone surrogates (escaped, or raw invalid UTF-8) are stored as U+FFFD."""
    reply = post(
        t.url,
        '{"function": "create_agent", "name": "a\\ud800b", "description": "\\udfff"}',
        key=t.key,
    )
    assert reply.status == 200, reply.raw
    assert reply.json["agent"]["name"] == "a\ufffdb"
    assert reply.json["agent"]["description"] == "\ufffd"
    raw = b'{"function": "create_agent", "name": "c\xed\xa0\x80d"}'
    assert post(t.url, raw, key=t.key).json["agent"]["name"].startswith("c\ufffd")


@pytest.mark.parametrize(
    ("function", "params", "message"),
    [
        (
            "get_run",
            {"run_id": 2**70},
            "run_id: expected an integer 1–9223372036854775807, got 1180591620717411303424",
        ),
        ("get_run", {"run_id": 2**63}, "run_id: expected an integer 1–9223372036854775807"),
        ("list_runs", {"limit": 2**64}, "limit: expected an integer 1–1000"),
        (
            "list_datasets",
            {"cursor": -(2**70)},
            "cursor: expected an integer 1–9223372036854775807",
        ),
        ("create_agent", {"name": "x" * 201}, "name: expected at most 200 characters, got 201"),
        (
            "create_request",
            {"request_name": "x" * 501, "request": {}},
            "request_name: expected at most 500",
        ),
    ],
)
def test_f49_out_of_range_values_are_422(
    t: Tenant, local_server: Any, function: str, params: dict[str, Any], message: str
) -> None:
    """Ids and limits past 2^63-1 and overlong strings are a 422 naming field and range."""
    before = table_counts(local_server)
    assert t.error(422, function, **params).startswith(message)
    assert table_counts(local_server) == before


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(st.characters(codec=None), max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    function=st.sampled_from(sorted(set(_rpc.registered_rpcs()) | {"create_run", "get_run"})),
    params=st.dictionaries(
        st.sampled_from(
            [
                "run_id",
                "dataset_id",
                "agent_id",
                "limit",
                "cursor",
                "tenant_id",
                "name",
                "result",
                "request",
                "request_name",
                "status",
                "api_key_id",
                "include_inactive",
                "config",
                "trace_id",
                "days",
                "page",
                "trace",
            ]
        ),
        JSON_VALUES,
        max_size=4,
    ),
)
def test_f49_any_json_values_never_give_500(
    local_server: Any, function: str, params: dict[str, Any]
) -> None:
    """Arbitrary JSON-like values (surrogates, NaN, huge ints) through every function: never 500."""
    body = json.dumps({"function": function, **params}, allow_nan=True)
    reply = local_server.handle(
        body.encode("utf-8", "surrogatepass"), api_key=_hyp_key(local_server)
    )
    assert reply.status in (200, 400, 403, 404, 409, 422), reply.body[:300]
    decoded = json.loads(reply.body)
    assert isinstance(decoded, dict) and decoded["status"] in ("ok", "error")


_KEYS: dict[int, str] = {}


def _hyp_key(server: Any) -> str:
    if id(server) not in _KEYS:
        _KEYS[id(server)] = new_tenant(server).key
    return _KEYS[id(server)]


# -- F55: envelope and parameter faults, table-driven ----------------------------------------------
_CORE_MODULES = {"session", "datasets", "runs", "requests", "agents", "api_keys", "notes"}
_NO_PARAMS = {"init", "keep_alive", "list_agents"}


def _valid(param: Param) -> Any:
    """A value the declaration accepts (ids may not exist: validation runs before lookups)."""
    if param.choices:
        return param.choices[0]
    return {"int": param.lo, "str": "n", "bool": False, "object": {}, "array": []}[param.kind]


def _bad_values(param: Param) -> list[Any]:
    """Wrong types and broken bounds for one declared parameter."""
    bad: list[Any] = {
        "int": ["7", True, 7.5, [1], {"id": 1}, param.lo - 1, param.hi + 1],
        "str": [1, True, [], {}],
        "bool": [1, 0, "true", [True]],
        "object": [[], "x", 1, True],
        "array": [{}, "x", 1],
    }[param.kind]
    if param.kind == "str":
        bad.append("not-a-choice" if param.choices else "x" * (param.max_len + 1))
        if param.min_len and not param.choices:
            bad.append("")
    if param.required and not param.nullable:
        bad.append(None)
    return bad


def _fault_cases() -> list[Any]:
    """Generated from the declarations the server validates with (``@rpc(params=...)``)."""
    cases = []
    for name, spec in sorted(_rpc.registered_rpcs().items()):
        valid = {p.name: _valid(p) for p in spec.params if p.required}
        for param in spec.params:
            faults = ([MISSING] if param.required else []) + _bad_values(param)
            for bad in faults:
                body = {k: v for k, v in valid.items() if k != param.name}
                if bad is not MISSING:
                    body[param.name] = bad
                cases.append(
                    pytest.param(name, param.name, body, id=f"{name}-{param.name}-{bad!r:.20}")
                )
    return cases


@pytest.fixture(scope="module")
def f55_tenant(local_server: Any) -> Tenant:
    return new_tenant(local_server)


@pytest.mark.parametrize(("function", "name", "body"), _fault_cases())
def test_f55_parameter_faults_are_422_naming_the_field(
    f55_tenant: Tenant, local_server: Any, function: str, name: str, body: dict[str, Any]
) -> None:
    """Each dropped required key, swapped type and broken bound: 422 naming it, nothing stored."""
    before = table_counts(local_server)
    reply = f55_tenant.call(function, **body)
    assert reply.status == 422, (function, body, reply.status, reply.raw[:200])
    assert reply.message.startswith(f"{name}: expected"), reply.message
    assert ", got " in reply.message or "at most" in reply.message
    assert table_counts(local_server) == before


def test_f55_every_core_function_declares_its_parameters() -> None:
    """The core RPCs all validate through declarations, so the fault table above covers them."""
    specs = _rpc.registered_rpcs()
    core = {n for n, s in specs.items() if s.handler.__module__.rsplit(".", 1)[-1] in _CORE_MODULES}
    assert {n for n in core if not specs[n].params} == _NO_PARAMS
    assert len(_fault_cases()) > 150


def test_f55_message_names_expectation_and_value(t: Tenant) -> None:
    """The message says what was expected and what came, e.g. ``limit: ... 1–1000, got 5000``."""
    assert t.error(422, "list_runs", limit=5000) == "limit: expected an integer 1–1000, got 5000"
    assert (
        t.error(422, "get_run", run_id="7")
        == 'run_id: expected an integer 1–9223372036854775807, got "7"'
    )
    assert t.error(422, "list_runs", limit=True).endswith("got true")
    assert t.error(422, "get_run").endswith("got nothing")


def test_f55_unknown_extra_keys_are_ignored(t: Tenant) -> None:
    """Keys the server does not know (our client's optional extras) are ignored."""
    assert t.ok("keep_alive", trace_context={"a": 1}, sdk="x")["status"] == "ok"
    assert t.ok("list_runs", limit=5, client_request_id="abc")["runs"] == []


# -- F48: injection text is data -------------------------------------------------------------------
INJECTIONS = [
    "' OR 1=1--",
    '"; DROP TABLE runs;--',
    "%",
    "_",
    "a'b\"c",
    "); DELETE FROM agents; --",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_f48_injection_text_stored_and_matched_literally(
    t: Tenant, local_server: Any, text: str
) -> None:
    """Injection strings in every string parameter are stored as given and change no other rows."""
    before = table_counts(local_server)
    agent = t.ok("create_agent", name=text, description=text, config={text: text})["agent"]
    assert (agent["name"], agent["description"], agent["config"]) == (text, text, {text: text})
    req = t.ok(
        "create_request",
        request_name=text,
        request={"metadata": {"dataset_name": text}},
        idempotency_key=text,
    )["request"]
    assert req["request_name"] == text
    ds = t.add_dataset(text)
    run = t.ok("create_run", dataset_id=ds, result={"status": text, "tests": []})["run"]
    assert run["result"]["status"] == text
    after = table_counts(local_server)
    expected = dict(
        before,
        agents=before["agents"] + 1,
        requests=before["requests"] + 1,
        datasets=before["datasets"] + 1,
        runs=before["runs"] + 1,
        idempotency=before["idempotency"] + 1,
    )
    assert after == expected
    assert (
        t.ok("update_agent", agent_id=agent["id"], name=text + "2")["agent"]["name"] == text + "2"
    )
    if text in ("%", "_"):
        # LIKE wildcards would match everything; names are compared exactly.
        assert "already exists" in t.error(409, "create_agent", name=text + "2")
        assert t.ok("create_agent", name=text + "3")["status"] == "ok"
    assert t.error(422, "list_requests", status=text).startswith("status: expected one of")


def _sql_fstrings(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    bad = []
    sql = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES)\b")
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                text = node.left.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "format" and isinstance(node.func.value, ast.Constant):
                text = str(node.func.value.value)
        if text and sql.search(text):
            span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
            if not any("noqa: S608" in line for line in span):
                bad.append(node.lineno)
    return bad


def test_f48_no_sql_built_by_string_formatting() -> None:
    """Server SQL uses placeholders; formatted SQL (constant fragments) must say noqa: S608."""
    files = SERVER_SRC.rglob("*.py")
    offenders = {str(p.relative_to(SERVER_SRC)): _sql_fstrings(p) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


# -- F53: unexpected handler exceptions ------------------------------------------------------------
def test_f53_handler_crash_is_500_with_correlation_id(
    t: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A raising handler gives a generic 500 with a ref; the redacted detail is logged under it."""
    secret_path = "/srv/secret/path.db"

    def boom(ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError(f"SELECT * FROM api_keys at {secret_path} with {t.key}")

    monkeypatch.setitem(_rpc._RPCS, "keep_alive", RpcSpec("keep_alive", boom))
    with caplog.at_level(logging.ERROR, logger="ashr_labs"):
        reply = t.call("keep_alive")
    assert reply.status == 500
    ref = re.search(r"ref ([0-9a-f]{16})", reply.message)
    assert ref is not None
    for leak in (secret_path, "SELECT", "Traceback", "RuntimeError", t.key):
        assert leak not in reply.raw.decode()
    logged = "\n".join(r.getMessage() for r in caplog.records if ref.group(1) in r.getMessage())
    assert "RuntimeError" in logged and secret_path in logged and "Traceback" in logged
    assert t.key not in caplog.text and t.key[3:] not in caplog.text


def test_f53_unserialisable_handler_result_is_500_not_a_dropped_socket(
    t: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler answering something JSON cannot encode still gets the 500 envelope."""

    def bad(ctx: Any, body: dict[str, Any]) -> dict[str, Any]:
        return {"value": object()}

    monkeypatch.setitem(_rpc._RPCS, "keep_alive", RpcSpec("keep_alive", bad))
    with caplog.at_level(logging.ERROR, logger="ashr_labs"):
        reply = t.call("keep_alive")
    assert reply.status == 500 and reply.message.startswith("internal server error (ref ")
    assert "TypeError" in caplog.text
