"""Every signature and data type the API reference prints, checked against ours with ``inspect``.

The reference's signatures are transcribed below as Python ``def`` lines, as close to the printed
text as Python allows, and parsed with ``ast``. For each one ours must have the same parameters in
the same order, of the same kind (positional-or-keyword, keyword-only, ``**kwargs``), with the
same defaults, and with annotations that accept at least what the reference's do (``Mapping`` for
``dict``, ``int | float`` for ``int``); the return annotation must fit the documented one. The
only additions allowed are keyword-only parameters with defaults (and ``**kwargs``) after the
documented ones: our improvements never break a call written from the reference.

The reference's method tables for ``Trace``/``Span``/``Generation`` print names only
(``trace.span(name, *, input, metadata)``); examples call them with those keywords left out, so
they are transcribed with ``None`` defaults and no annotations.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

import pytest

import ashr_labs
from ashr_labs import AshrLabsClient, EvalRunner, Generation, RunBuilder, Span, TestBuilder, Trace

C = "AshrLabsClient"
REFERENCE: dict[str, str] = {
    # AshrLabsClient
    f"{C}.__init__": "def f(api_key: str, base_url: str = 'https://api.ashr.io/testing-platform-api',"
    " timeout: int = 30): ...",
    f"{C}.from_env": "def f(timeout: int = 30) -> AshrLabsClient: ...",
    f"{C}.init": "def f() -> Session: ...",
    f"{C}.get_dataset": "def f(dataset_id: int, include_signed_urls: bool = False,"
    " url_expires_seconds: int = 3600) -> Dataset: ...",
    f"{C}.list_datasets": "def f(tenant_id: int | None = None, limit: int = 50,"
    " cursor: int | None = None, include_signed_urls: bool = False,"
    " url_expires_seconds: int = 3600) -> dict: ...",
    f"{C}.create_run": "def f(dataset_id: int, result: dict[str, Any],"
    " tenant_id: int | None = None, runner_id: int | None = None) -> Run: ...",
    f"{C}.get_run": "def f(run_id: int) -> Run: ...",
    f"{C}.list_runs": "def f(dataset_id: int | None = None, tenant_id: int | None = None,"
    " limit: int = 50) -> dict: ...",
    f"{C}.delete_run": "def f(run_id: int) -> dict: ...",
    f"{C}.trace": "def f(name: str, *, user_id: str | None = None, session_id: str | None = None,"
    " metadata: dict | None = None, tags: list[str] | None = None) -> Trace: ...",
    f"{C}.list_observability_traces": "def f(user_id: str | None = None,"
    " session_id: str | None = None, limit: int = 50, page: int = 1) -> dict: ...",
    f"{C}.get_observability_trace": "def f(trace_id: str) -> dict: ...",
    f"{C}.get_observability_analytics": "def f(days: int = 7) -> dict: ...",
    f"{C}.get_observability_errors": "def f(days: int = 7, limit: int = 50, page: int = 1)"
    " -> dict: ...",
    f"{C}.get_observability_tool_errors": "def f(days: int = 7, limit: int = 50, page: int = 1)"
    " -> dict: ...",
    f"{C}.get_notes": "def f(agent_id: int | None = None) -> list[SdkNote]: ...",
    f"{C}.create_request": "def f(request_name: str, request: dict[str, Any],"
    " request_input_schema: dict[str, Any] | None = None, tenant_id: int | None = None,"
    " requestor_id: int | None = None) -> Request: ...",
    f"{C}.get_request": "def f(request_id: int) -> Request: ...",
    f"{C}.list_requests": "def f(tenant_id: int | None = None, status: str | None = None,"
    " limit: int = 50, cursor: int | None = None) -> dict: ...",
    f"{C}.list_agents": "def f() -> list[Agent]: ...",
    f"{C}.create_agent": "def f(name: str, description: str | None = None,"
    " config: dict | None = None) -> Agent: ...",
    f"{C}.update_agent": "def f(agent_id: int, name: str | None = None,"
    " description: str | None = None, config: dict | None = None) -> Agent: ...",
    f"{C}.delete_agent": "def f(agent_id: int) -> dict: ...",
    f"{C}.get_agent_datasets": "def f(agent_id: int) -> dict: ...",
    f"{C}.set_dataset_agent": "def f(dataset_id: int, agent_id: int | None) -> dict: ...",
    f"{C}.list_api_keys": "def f(include_inactive: bool = False) -> list[APIKey]: ...",
    f"{C}.revoke_api_key": "def f(api_key_id: int) -> dict: ...",
    f"{C}.wait_for_request": "def f(request_id: int, timeout: int = 600, poll_interval: int = 5)"
    " -> Request: ...",
    f"{C}.poll_run": "def f(run_id: int, timeout: int = 300, poll_interval: int = 20,"
    " on_poll: Callable | None = None) -> Run: ...",
    f"{C}.generate_dataset": "def f(request_name: str, config: dict[str, Any],"
    " request_input_schema: dict[str, Any] | None = None, timeout: int = 600,"
    " poll_interval: int = 5) -> tuple[int, dict]: ...",
    f"{C}.health_check": "def f() -> dict: ...",
    # Trace / Span / Generation (method tables: names and kinds only)
    "Trace.span": "def f(name, *, input=None, metadata=None): ...",
    "Trace.generation": "def f(name, *, model=None, input=None, metadata=None): ...",
    "Trace.event": "def f(name, *, input=None, metadata=None, level=None): ...",
    "Trace.end": "def f(*, output=None): ...",
    "Span.span": "def f(name, *, input=None, metadata=None): ...",
    "Span.generation": "def f(name, *, model=None, input=None, metadata=None): ...",
    "Span.event": "def f(name, *, input=None, metadata=None, level=None): ...",
    "Span.end": "def f(*, output=None, status_message=None, level=None): ...",
    "Generation.span": "def f(name, *, input=None, metadata=None): ...",
    "Generation.generation": "def f(name, *, model=None, input=None, metadata=None): ...",
    "Generation.event": "def f(name, *, input=None, metadata=None, level=None): ...",
    "Generation.end": "def f(*, output=None, usage=None, status_message=None, level=None): ...",
    # RunBuilder
    "RunBuilder.__init__": "def f(): ...",
    "RunBuilder.start": "def f() -> RunBuilder: ...",
    "RunBuilder.add_test": "def f(test_id: str) -> TestBuilder: ...",
    "RunBuilder.complete": "def f(status: str = 'completed') -> RunBuilder: ...",
    "RunBuilder.build": "def f() -> dict[str, Any]: ...",
    "RunBuilder.deploy": "def f(client: AshrLabsClient, dataset_id: int,"
    " tenant_id: int | None = None, runner_id: int | None = None,"
    " agent_id: int | None = None) -> dict[str, Any]: ...",
    # TestBuilder
    "TestBuilder.start": "def f() -> TestBuilder: ...",
    "TestBuilder.add_user_file": "def f(file_path: str, description: str,"
    " action_index: int | None = None) -> TestBuilder: ...",
    "TestBuilder.add_user_text": "def f(text: str, description: str,"
    " action_index: int | None = None) -> TestBuilder: ...",
    "TestBuilder.add_tool_call": "def f(expected: dict[str, Any], actual: dict[str, Any],"
    " match_status: str, divergence_notes: str | None = None,"
    " argument_comparison: dict[str, Any] | None = None,"
    " action_index: int | None = None) -> TestBuilder: ...",
    "TestBuilder.add_agent_response": "def f(expected_response: dict[str, Any],"
    " actual_response: dict[str, Any], match_status: str,"
    " semantic_similarity: float | None = None, divergence_notes: str | None = None,"
    " action_index: int | None = None) -> TestBuilder: ...",
    "TestBuilder.set_vm_stream": "def f(provider: str, session_id: str | None = None,"
    " duration_ms: int | None = None, logs: list[dict] | None = None,"
    " metadata: dict | None = None) -> TestBuilder: ...",
    "TestBuilder.set_kernel_vm": "def f(session_id: str, duration_ms: int | None = None,"
    " logs: list[dict] | None = None, *, live_view_url: str | None = None,"
    " cdp_ws_url: str | None = None, replay_id: str | None = None,"
    " replay_view_url: str | None = None, headless: bool | None = None,"
    " stealth: bool | None = None, viewport: dict | None = None) -> TestBuilder: ...",
    "TestBuilder.complete": "def f(status: str = 'completed') -> TestBuilder: ...",
    "TestBuilder.build": "def f() -> dict[str, Any]: ...",
    # EvalRunner
    "EvalRunner.__init__": "def f(dataset_source: dict[str, Any]): ...",
    "EvalRunner.from_dataset": "def f(client: AshrLabsClient, dataset_id: int, **kwargs)"
    " -> EvalRunner: ...",
    "EvalRunner.run": "def f(agent: Agent, *, on_scenario: Callable | None = None,"
    " on_action: Callable | None = None, on_environment: Callable | None = None,"
    " max_workers: int = 1) -> RunBuilder: ...",
    "EvalRunner.run_and_deploy": "def f(agent: Agent, client: AshrLabsClient,"
    " dataset_id: int | None = None, *, on_scenario: Callable | None = None,"
    " on_action: Callable | None = None, on_environment: Callable | None = None,"
    " max_workers: int = 1, **deploy_kwargs) -> dict[str, Any]: ...",
    # Agent protocol
    "Agent.respond": "def f(message: str) -> dict[str, Any]: ...",
    "Agent.reset": "def f() -> None: ...",
    # comparators
    "strip_markdown": "def f(text: str) -> str: ...",
    "tokenize": "def f(text: str) -> list[str]: ...",
    "fuzzy_str_match": "def f(a: str, b: str, threshold: float | None = None) -> bool: ...",
    "extract_tool_args": "def f(tool_call: dict) -> dict: ...",
    "compare_tool_args": "def f(expected: dict, actual: dict) -> tuple[str, str | None]: ...",
    "text_similarity": "def f(text_a: str, text_b: str) -> float: ...",
}

OWNERS: dict[str, Any] = {
    C: AshrLabsClient,
    "Trace": Trace,
    "Span": Span,
    "Generation": Generation,
    "RunBuilder": RunBuilder,
    "TestBuilder": TestBuilder,
    "EvalRunner": EvalRunner,
    "Agent": ashr_labs.Agent,
}

# Annotation names ours may use in place of the documented one: each accepts every value the
# documented one does.
WIDER = {("dict", "Mapping"), ("int", "float")}

# Return annotations ours states differently on purpose, with the reason.
RETURN_DEPARTURES = {
    "extract_tool_args": "Any: protocol.md §6.4, the result mirrors the data ('[1,2]' is a list)",
}

_KIND: dict[Any, str] = {
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
    inspect.Parameter.KEYWORD_ONLY: "keyword-only",
    inspect.Parameter.VAR_KEYWORD: "**kwargs",
}


def _target(name: str) -> Callable[..., Any]:
    owner, _, attr = name.partition(".")
    if not attr:
        return getattr(ashr_labs, owner)  # type: ignore[no-any-return]
    return getattr(OWNERS[owner], attr)  # type: ignore[no-any-return]


def _documented(text: str) -> tuple[list[tuple[str, str, Any, str | None]], str | None]:
    """The reference signature as (name, kind, default, annotation) rows and a return annotation."""
    node = ast.parse(text).body[0]
    assert isinstance(node, ast.FunctionDef)
    args = node.args
    rows: list[tuple[str, str, Any, str | None]] = []
    positional_defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(args.args, positional_defaults, strict=True):
        rows.append((arg.arg, "positional", _literal(default), _text(arg.annotation)))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        rows.append((arg.arg, "keyword-only", _literal(kw_default), _text(arg.annotation)))
    if args.kwarg is not None:
        rows.append((args.kwarg.arg, "**kwargs", inspect.Parameter.empty, None))
    return rows, _text(node.returns)


def _literal(node: ast.expr | None) -> Any:
    return inspect.Parameter.empty if node is None else ast.literal_eval(node)


def _text(node: ast.expr | None) -> str | None:
    return None if node is None else ast.unparse(node)


def _alternatives(annotation: str, self_type: str) -> list[ast.expr]:
    """The members of a ``X | Y`` annotation; our ``_B`` self-type TypeVar reads as its class."""
    expr = ast.parse(annotation.replace("_B", self_type), mode="eval").body
    out: list[ast.expr] = []
    stack = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.BinOp) and isinstance(item.op, ast.BitOr):
            stack += [item.right, item.left]
        else:
            out.append(item)
    return out


def _base(node: ast.expr) -> str:
    if isinstance(node, ast.Subscript):
        return _base(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant):
        return repr(node.value)
    return ast.unparse(node)


def _args(node: ast.expr) -> list[ast.expr] | None:
    if not isinstance(node, ast.Subscript):
        return None
    inner = node.slice
    return list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]


# What a bare documented generic means: a JSON object for ``dict``, anything for ``list``. A bare
# ``Callable`` stays open: the reference gives its call shape in prose, which ours spells out.
BARE = {"dict": ["str", "Any"], "Mapping": ["str", "Any"], "list": ["Any"]}


def _fits(narrow: ast.expr, wide: ast.expr, self_type: str) -> bool:
    """Whether every value of type ``narrow`` is also of type ``wide``."""
    n, w = _base(narrow), _base(wide)
    if w == "Any":
        return True
    if n != w and (n, w) not in WIDER:
        return False
    n_args, w_args = _args(narrow), _args(wide)
    if w_args is None:
        return True
    if n_args is None:
        if n not in BARE:
            return True
        n_args = [ast.parse(arg, mode="eval").body for arg in BARE[n]]
    return len(n_args) == len(w_args) and all(
        _accepts(ast.unparse(a), ast.unparse(b), self_type)
        for a, b in zip(n_args, w_args, strict=True)
    )


def _accepts(narrow: str, wide: str, self_type: str) -> bool:
    """Whether annotation ``wide`` accepts every value annotation ``narrow`` describes."""
    wides = _alternatives(wide, self_type)
    return all(any(_fits(n, w, self_type) for w in wides) for n in _alternatives(narrow, self_type))


def _problems(name: str) -> list[str]:
    """Every way our signature departs from the reference's, as readable lines."""
    documented, doc_return = _documented(REFERENCE[name])
    signature = inspect.signature(_target(name))
    params = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
    ours = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    self_type = name.partition(".")[0]
    problems: list[str] = []
    if documented and documented[-1][1] == "**kwargs":
        documented = documented[:-1]
        if len(ours) == len(params):
            problems.append("missing **kwargs")
    for index, (pname, kind, default, annotation) in enumerate(documented):
        if index >= len(ours):
            problems.append(f"missing parameter {pname!r}")
            continue
        param = ours[index]
        if param.name != pname:
            problems.append(f"parameter {index}: expected {pname!r}, ours is {param.name!r}")
            continue
        if _KIND.get(param.kind) != kind:
            problems.append(f"{pname}: expected {kind}, ours is {param.kind.description}")
        if param.default is not default and (
            param.default != default or type(param.default) is not type(default)
        ):
            problems.append(f"{pname}: expected default {default!r}, ours is {param.default!r}")
        ours_annotation = param.annotation
        if annotation is not None and ours_annotation is not inspect.Parameter.empty:
            if not _accepts(annotation, str(ours_annotation), self_type):
                problems.append(f"{pname}: ours ({ours_annotation}) does not accept {annotation}")
    for extra in ours[len(documented) :]:
        if extra.kind is not inspect.Parameter.KEYWORD_ONLY or extra.default is extra.empty:
            problems.append(f"extra parameter {extra.name!r} is not keyword-only with a default")
    ours_return = signature.return_annotation
    if RETURN_DEPARTURES.get(name, "").startswith(f"{ours_return}:"):
        return problems
    if doc_return is not None and ours_return is not inspect.Signature.empty:
        if not _accepts(str(ours_return), doc_return, self_type):
            problems.append(f"returns {ours_return}, which does not fit {doc_return}")
    return problems


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_signature_matches_the_reference(name: str) -> None:
    """Same parameters, order, kinds and defaults; only keyword-only extras with defaults."""
    assert _problems(name) == []


@pytest.mark.parametrize(
    ("documented", "ours", "fits"),
    [
        ("dict", "Mapping[str, Any]", True),
        ("int", "int | float", True),
        ("Agent", "Agent | AsyncAgent | None", True),
        ("dict | None", "dict[str, Any] | AgentConfig | None", True),
        ("tuple[int, dict[str, Any]]", "tuple[int, dict]", True),
        ("int | None", "int", False),
        ("int", "str", False),
        ("float", "int", False),
        ("list[str]", "list[int]", False),
        ("tuple[str, str | None]", "tuple[str, str]", False),
        ("dict | None", "dict[str, int] | None", False),
        ("list[dict]", "list[dict[str, Any]]", True),
        ("Callable | None", "Callable[[int, Run], Any] | None", True),
    ],
)
def test_the_annotation_check_itself(documented: str, ours: str, fits: bool) -> None:
    """The checker refuses a narrower or different annotation, so the table above can fail."""
    assert _accepts(documented, ours, "X") is fits


def test_the_signature_check_catches_departures() -> None:
    """A changed default, a lost parameter and a positional extra are all reported."""
    REFERENCE["_probe"] = "def f(a: int, b: int = 1): ..."
    OWNERS["_probe"] = type(
        "Probe", (), {"m": staticmethod(lambda a, b=2, c=3: None), "n": staticmethod(lambda a: 0)}
    )
    try:
        REFERENCE["_probe.m"] = REFERENCE["_probe.n"] = REFERENCE["_probe"]
        assert _problems("_probe.m") == [
            "b: expected default 1, ours is 2",
            "extra parameter 'c' is not keyword-only with a default",
        ]
        assert _problems("_probe.n") == ["missing parameter 'b'"]
    finally:
        for key in ("_probe", "_probe.m", "_probe.n"):
            REFERENCE.pop(key, None)
        OWNERS.pop("_probe", None)


def test_generation_inherits_every_span_method() -> None:
    """Generation "inherits all Span methods"; trace_id, notes, the class methods are as printed."""
    assert issubclass(Generation, Span)
    assert isinstance(inspect.getattr_static(Trace, "trace_id"), property)
    assert isinstance(inspect.getattr_static(AshrLabsClient, "notes"), property)
    assert isinstance(inspect.getattr_static(AshrLabsClient, "from_env"), classmethod)
    assert isinstance(inspect.getattr_static(EvalRunner, "from_dataset"), classmethod)


def test_agent_protocol_needs_both_methods() -> None:
    """``isinstance(x, Agent)`` holds for an object with respond and reset, not with one of them."""

    class Both:
        def respond(self, message: str) -> dict[str, Any]:
            return {"text": message, "tool_calls": []}

        def reset(self) -> None:
            return None

    class RespondOnly:
        def respond(self, message: str) -> dict[str, Any]:
            return {"text": message, "tool_calls": []}

    assert isinstance(Both(), ashr_labs.Agent)
    assert not isinstance(RespondOnly(), ashr_labs.Agent)


# The reference's TypedDicts: name -> (total, {key: annotation}). "Agent" (the data type) is
# exported as ``AgentResponse``, since ``Agent`` is the protocol (both are in the reference).
TYPED_DICTS: dict[str, tuple[bool, dict[str, str]]] = {
    "User": (
        False,
        {
            "id": "int",
            "created_at": "str",
            "email": "str",
            "name": "str | None",
            "tenant": "int",
            "is_active": "bool",
        },
    ),
    "Tenant": (
        False,
        {"id": "int", "created_at": "str", "tenant_name": "str", "is_active": "bool"},
    ),
    "Session": (True, {"status": "str", "user": "User", "tenant": "Tenant"}),
    "Dataset": (
        False,
        {
            "id": "int",
            "created_at": "str",
            "tenant": "int",
            "creator": "int",
            "name": "str",
            "description": "str | None",
            "agent_id": "int | None",
            "agent_details": "dict[str, Any] | None",
            "dataset_source": "dict[str, Any]",
        },
    ),
    "Run": (
        False,
        {
            "id": "int",
            "created_at": "str",
            "dataset": "int",
            "tenant": "int",
            "runner": "int",
            "result": "dict[str, Any]",
        },
    ),
    "ObservabilityTrace": (
        False,
        {
            "id": "str",
            "name": "str",
            "user_id": "str | None",
            "session_id": "str | None",
            "metadata": "dict[str, Any] | None",
            "tags": "list[str]",
            "created_at": "str | None",
            "output": "dict[str, Any] | None",
            "observations": "list[ObservabilityObservation]",
        },
    ),
    "ObservabilityObservation": (
        False,
        {
            "id": "str",
            "name": "str",
            "type": "str",
            "parent_observation_id": "str | None",
            "input": "dict[str, Any] | None",
            "output": "dict[str, Any] | None",
            "metadata": "dict[str, Any] | None",
            "model": "str | None",
            "usage": "dict[str, int] | None",
            "level": "str | None",
            "status_message": "str | None",
            "start_time": "str | None",
            "end_time": "str | None",
        },
    ),
    "SdkNote": (
        False,
        {
            "id": "int",
            "created_at": "str",
            "updated_at": "str",
            "title": "str",
            "content": "str",
            "category": "str",
            "severity": "str",
            "tenant_id": "int | None",
            "agent_id": "int | None",
            "active_from": "str",
            "expires_at": "str | None",
            "is_archived": "bool",
            "note_metadata": "dict[str, Any]",
        },
    ),
    "Request": (
        False,
        {
            "id": "int",
            "created_at": "str",
            "requestor_id": "int",
            "requestor_tenant": "int",
            "request_name": "str",
            "request_status": "str",
            "request_input_schema": "dict[str, Any] | None",
            "request": "dict[str, Any]",
        },
    ),
    "APIKey": (
        False,
        {
            "id": "int",
            "key": "str",
            "key_prefix": "str",
            "name": "str",
            "scopes": "list[str]",
            "user_id": "int",
            "tenant_id": "int",
            "created_at": "str",
            "last_used_at": "str | None",
            "expires_at": "str | None",
            "is_active": "bool",
        },
    ),
    "ToolCall": (False, {"name": "str", "arguments_json": "str"}),
    "ExpectedResponse": (False, {"tool_calls": "list[ToolCall]", "text": "str"}),
    "Action": (
        False,
        {
            "actor": "str",
            "content": "str",
            "name": "str",
            "expected_response": "ExpectedResponse",
        },
    ),
    "Scenario": (False, {"title": "str", "actions": "list[Action]"}),
    "AgentResponse": (
        False,
        {
            "id": "int",
            "created_at": "str",
            "tenant_id": "int",
            "creator_id": "int | None",
            "name": "str",
            "description": "str | None",
            "config": "AgentConfig",
            "is_active": "bool",
            "dataset_count": "int",
        },
    ),
    "AgentConfig": (
        False,
        {
            "form_data": "dict",
            "tool_definitions": "list[ToolDefinition]",
            "behavior_rules": "list[BehaviorRule]",
            "grading_config": "GradingConfig",
        },
    ),
    "ToolDefinition": (False, {"name": "str", "description": "str", "required": "bool"}),
    "BehaviorRule": (False, {"rule": "str", "strictness": "str"}),
    "GradingConfig": (False, {"tool_strictness": "dict[str, str]"}),
}


def _key_annotations(typed_dict: Any) -> dict[str, str]:
    """A TypedDict's keys with their annotations as source text (they are forward references)."""
    get_type_hints(typed_dict)  # every annotation resolves
    return {
        key: getattr(value, "__forward_arg__", value) if not isinstance(value, str) else value
        for key, value in typed_dict.__annotations__.items()
    }


@pytest.mark.parametrize("name", sorted(TYPED_DICTS))
def test_typed_dict_has_the_documented_keys(name: str) -> None:
    """Every documented key with an annotation that accepts the documented one; same totality."""
    total, keys = TYPED_DICTS[name]
    typed_dict = getattr(ashr_labs, name)
    assert typed_dict.__total__ is total
    ours = _key_annotations(typed_dict)
    problems = [
        f"{key}: ours {ours.get(key)!r}, documented {annotation!r}"
        for key, annotation in keys.items()
        if key not in ours or not _accepts(annotation, ours[key], name)
    ]
    assert problems == []
