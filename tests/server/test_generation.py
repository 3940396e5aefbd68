"""Deterministic dataset generation: config in, protocol §4.3 ``dataset_source`` out."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.support.hypothesis_profile  # noqa: F401  (registers and loads the "ci" profile)
from ashr_labs.server._generation import (
    GeneratedDataset,
    GenerationError,
    generate_dataset_source,
)
from ashr_labs.server._generation_shape import check_dataset_source
from ashr_labs.server._generation_values import fits
from tests.support.configs import (
    CREATE_REQUEST_EXAMPLE,
    GENERATE_DATASET_EXAMPLE,
    LOOKUP_ORDER_TOOL,
    PROCESS_REFUND_TOOL,
)

RICH_TOOL: dict[str, Any] = {
    "name": "book_room",
    "description": "Book a hotel room",
    "parameters": {
        "type": "object",
        "properties": {
            "guest_email": {"type": "string", "format": "email"},
            "check_in": {"type": "string", "format": "date"},
            "booking_ref": {"type": "string", "format": "uuid"},
            "nights": {"type": "integer", "minimum": 1, "maximum": 14},
            "rate": {"type": "number", "minimum": 50, "maximum": 400},
            "room_type": {"type": "string", "enum": ["single", "double", "suite"]},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
            "extras": {
                "type": "array",
                "items": {"type": "string", "enum": ["breakfast", "parking", "spa"]},
                "uniqueItems": True,
                "maxItems": 3,
            },
            "guest": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
                "required": ["name"],
            },
            "smoking": {"type": "boolean"},
        },
        "required": ["guest_email", "check_in", "nights", "room_type", "guest"],
    },
}


def _config(**test_config: Any) -> dict[str, Any]:
    config = copy.deepcopy(GENERATE_DATASET_EXAMPLE)
    config["test_config"] = test_config
    return config


def _agent_actions(source: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for run in source["runs"].values() for a in run["actions"] if a["actor"] == "agent"]


def _calls(source: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for a in _agent_actions(source) for c in a["expected_response"]["tool_calls"]]


@pytest.mark.parametrize("example", [GENERATE_DATASET_EXAMPLE, CREATE_REQUEST_EXAMPLE])
def test_api_reference_examples_give_valid_datasets(example: dict[str, Any]) -> None:
    """Both API-reference example configs produce 10 valid scenarios exercising every tool."""
    dataset = generate_dataset_source(example, request_name="Support Agent Eval")
    assert isinstance(dataset, GeneratedDataset)
    source = dataset.dataset_source
    tool_names = [t["name"] for t in example["agent"]["tools"]]
    check_dataset_source(source, tool_names=tool_names, count=10)
    assert list(source["runs"]) == [f"scenario_{i:03d}" for i in range(1, 11)]
    assert {c["name"] for c in _calls(source)} == set(tool_names)
    for call in _calls(source):
        assert call["arguments_json"] == json.dumps(json.loads(call["arguments_json"]))
    for action in _agent_actions(source):
        assert action["expected_response"]["text"] == action["content"]
    users = {a["actor"] for r in source["runs"].values() for a in r["actions"]} - {
        "agent",
        "environment",
    }
    assert users == {"customer"}
    assert dataset.name == example.get("metadata", {}).get("dataset_name", "Support Agent Eval")
    assert dataset.description


def test_generation_is_deterministic_and_seeded_by_config_and_name() -> None:
    """Same config and name give equal datasets; another name or config gives another one."""
    first = generate_dataset_source(copy.deepcopy(GENERATE_DATASET_EXAMPLE), request_name="a")
    again = generate_dataset_source(copy.deepcopy(GENERATE_DATASET_EXAMPLE), request_name="a")
    assert first == again
    assert json.dumps(first.dataset_source) == json.dumps(again.dataset_source)
    renamed = generate_dataset_source(GENERATE_DATASET_EXAMPLE, request_name="b")
    assert renamed.dataset_source != first.dataset_source
    reordered = json.loads(json.dumps(GENERATE_DATASET_EXAMPLE, sort_keys=True))
    assert generate_dataset_source(reordered, request_name="a") == first


def test_coverage_flags_select_scenario_kinds() -> None:
    """Every coverage key on gives its kinds; with only happy_path, nothing else appears."""
    tools = [LOOKUP_ORDER_TOOL, PROCESS_REFUND_TOOL, RICH_TOOL]
    config = _config(num_variations=12)
    config["agent"]["tools"] = tools
    kinds = Counter(
        r["kind"]
        for r in generate_dataset_source(config, request_name="x").dataset_source["runs"].values()
    )
    assert set(kinds) == {
        "happy_path",
        "edge_case",
        "missing_info",
        "tool_error",
        "out_of_range",
        "boundary",
    }
    only_happy = _config(num_variations=6, coverage={"happy_path": True})
    runs = generate_dataset_source(only_happy, request_name="x").dataset_source["runs"]
    assert {r["kind"] for r in runs.values()} == {"happy_path"}


def test_missing_info_error_and_out_of_range_scenarios_have_the_promised_shape() -> None:
    """Missing info asks back without a call; tool errors ride on environment actions; an
    out-of-range value is refused without calling the tool."""
    config = _config(num_variations=20, strategy="diverse", complexity_distribution={"simple": 1.0})
    config["agent"]["tools"] = [RICH_TOOL]
    runs = generate_dataset_source(config, request_name="x").dataset_source["runs"]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for run in runs.values():
        by_kind.setdefault(run["kind"], []).append(run)
    for run in by_kind["missing_info"]:
        first_agent = next(a for a in run["actions"] if a["actor"] == "agent")
        assert first_agent["expected_response"]["tool_calls"] == []
        assert "?" in first_agent["content"]
    for run in by_kind["tool_error"]:
        env = next(a for a in run["actions"] if a["actor"] == "environment")
        assert env["content"].startswith("tool error: ")
        assert "error" in env["tool_results"][0]
    for run in by_kind["out_of_range"]:
        agent = run["actions"][1]
        assert agent["actor"] == "agent" and agent["expected_response"]["tool_calls"] == []
        assert "not a valid" in agent["content"]


def test_arguments_honour_the_tool_schema() -> None:
    """Types, enums, formats, patterns, ranges, nested objects and unique arrays are honoured
    in every non-out-of-range expected call."""
    config = _config(num_variations=30)
    config["agent"]["tools"] = [RICH_TOOL]
    source = generate_dataset_source(config, request_name="schema").dataset_source
    calls = _calls(source)
    assert len(calls) >= 30
    schema = RICH_TOOL["parameters"]
    for call in calls:
        args = json.loads(call["arguments_json"])
        assert fits(args, schema), args
        assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", args["guest_email"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", args["check_in"])
        if "booking_ref" in args:
            assert re.fullmatch(
                r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                args["booking_ref"],
            )
        if "code" in args:
            assert re.fullmatch(r"[A-Z]{3}-[0-9]{4}", args["code"])
        if "extras" in args:
            assert len(set(args["extras"])) == len(args["extras"])
    boundary = [r for r in source["runs"].values() if r["kind"] == "boundary"]
    assert boundary
    for run in boundary:
        call = run["actions"][2]["expected_response"]["tool_calls"][0]
        args = json.loads(call["arguments_json"])
        assert args["nights"] == 14 and args["rate"] == 400


def test_sample_data_and_input_schema_values_are_preferred() -> None:
    """Values from sample data and the input schema example appear in the expected calls."""
    config = _config(num_variations=8, coverage={"happy_path": True})
    config["context"]["sample_data"] = {"examples": [{"order_id": "ORD-777"}, {"reason": "x"}]}
    config["agent"]["input_schema"] = {"fields": [], "example": {"order_id": "ORD-888"}}
    values = {
        json.loads(c["arguments_json"]).get("order_id")
        for c in _calls(generate_dataset_source(config, request_name="s").dataset_source)
    }
    assert values <= {"ORD-777", "ORD-888"} and values


def test_complex_scenarios_chain_a_lookup_before_an_action_sharing_ids() -> None:
    """Complex happy paths on an acting tool look the order up first with the same id."""
    config = _config(
        num_variations=6, coverage={"happy_path": True}, complexity_distribution={"complex": 1.0}
    )
    runs = generate_dataset_source(config, request_name="chain").dataset_source["runs"]
    refunds = [r for r in runs.values() if r["tool"] == "process_refund"]
    assert refunds
    for run in refunds:
        calls = [
            c
            for a in run["actions"]
            if a["actor"] == "agent"
            for c in a["expected_response"]["tool_calls"]
        ]
        assert [c["name"] for c in calls] == ["lookup_order", "process_refund"]
        ids = {json.loads(c["arguments_json"])["order_id"] for c in calls}
        assert len(ids) == 1
        assert sum(a["actor"] == "customer" for a in run["actions"]) >= 3


def test_strategy_focus_and_exclude() -> None:
    """focused + focus_areas rotates over the focus tools only; exclude drops kinds and tools."""
    focused = _config(num_variations=6, strategy="focused", focus_areas=["refunds"])
    runs = generate_dataset_source(focused, request_name="f").dataset_source["runs"]
    assert {r["tool"] for r in runs.values()} == {"process_refund"}
    kinds = Counter(r["kind"] for r in runs.values())
    assert kinds["happy_path"] == 3 and max(kinds.values()) == 3  # 70%, after one of each kind
    excluded = _config(num_variations=10, exclude=["tool_error", "lookup_order", "edge cases"])
    runs = generate_dataset_source(excluded, request_name="e").dataset_source["runs"]
    # error_handling is left with out_of_range, which process_refund cannot support.
    assert {r["kind"] for r in runs.values()} == {"happy_path", "boundary"}
    assert {r["tool"] for r in runs.values()} == {"process_refund"}
    chained = _config(
        num_variations=6, exclude=["lookup_order"], complexity_distribution={"complex": 1.0}
    )
    source = generate_dataset_source(chained, request_name="c").dataset_source
    assert {c["name"] for c in _calls(source)} == {"process_refund"}  # not even in chains


def test_agents_without_tools_get_text_only_scenarios() -> None:
    """No tools: text conversations whose agent actions expect no tool calls."""
    config = _config(num_variations=8)
    del config["agent"]["tools"]
    config["context"]["user_persona"] = {"type": "agent"}  # reserved: falls back to "user"
    source = generate_dataset_source(config, request_name="t").dataset_source
    check_dataset_source(source, tool_names=[], count=8)
    assert _calls(source) == []
    assert {r["kind"] for r in source["runs"].values()} == {
        "question",
        "vague",
        "out_of_scope",
        "minimal",
    }
    assert {a["actor"] for r in source["runs"].values() for a in r["actions"]} == {"user", "agent"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(agent=[]), "agent: expected a non-empty object"),
        (
            lambda c: c["agent"].update(name="", description="", system_prompt=""),
            "agent: expected at least one of name, description, system_prompt",
        ),
        (lambda c: c["agent"].update(tools={"x": 1}), "agent.tools: expected an array"),
        (lambda c: c["agent"]["tools"].append({"name": ""}), "agent.tools[2].name: expected"),
        (
            lambda c: c["agent"]["tools"].append(dict(LOOKUP_ORDER_TOOL)),
            "a name not used by another tool",
        ),
        (
            lambda c: c["agent"]["tools"][0].update(parameters=[]),
            "agent.tools[0].parameters: expected a JSON Schema object",
        ),
        (
            lambda c: c["test_config"].update(num_variations=51),
            "test_config.num_variations: expected an integer 1–50, got 51",
        ),
        (lambda c: c["test_config"].update(num_variations=True), "an integer 1–50, got true"),
        (lambda c: c["test_config"].update(strategy="random"), "test_config.strategy"),
        (lambda c: c["test_config"].update(coverage={"happy": True}), "test_config.coverage"),
        (
            lambda c: c["test_config"].update(coverage={"happy_path": False}),
            "at least one coverage key",
        ),
        (
            lambda c: c["test_config"].update(complexity_distribution={"simple": 0.2}),
            "shares summing to about 1.0",
        ),
        (lambda c: c["test_config"].update(focus_areas="refunds"), "test_config.focus_areas"),
        (
            lambda c: c["context"].update(sample_data={"examples": {}}),
            "context.sample_data.examples",
        ),
        (
            lambda c: c["test_config"].update(
                exclude=["happy_path", "edge_cases", "error_handling"]
            ),
            "leave no scenario kind",
        ),
    ],
)
def test_bad_configs_raise_generation_errors_naming_the_field(mutate: Any, message: str) -> None:
    """Each bad config raises GenerationError whose message names the field and expectation."""
    config = copy.deepcopy(GENERATE_DATASET_EXAMPLE)
    mutate(config)
    with pytest.raises(GenerationError, match=re.escape(message)):
        generate_dataset_source(config, request_name="bad")
    with pytest.raises(GenerationError, match="config: expected an object"):
        generate_dataset_source([], request_name="bad")  # type: ignore[arg-type]


def test_scenario_count_defaults_and_generation_options_fallback() -> None:
    """Default 5 scenarios; generation_options.scenario_count is used when num_variations is not."""
    config = copy.deepcopy(GENERATE_DATASET_EXAMPLE)
    del config["test_config"]
    assert len(generate_dataset_source(config, request_name="d").dataset_source["runs"]) == 5
    config["generation_options"]["scenario_count"] = 3
    assert len(generate_dataset_source(config, request_name="d").dataset_source["runs"]) == 3


json_schemas = st.recursive(
    st.one_of(
        st.just({"type": "string"}),
        st.just({"type": "string", "format": "date-time"}),
        st.just({"type": "string", "maxLength": 4}),
        st.builds(
            lambda lo, span: {"type": "integer", "minimum": lo, "maximum": lo + span},
            st.integers(-5, 5),
            st.integers(0, 10),
        ),
        st.just({"type": "number", "exclusiveMinimum": 0}),
        st.just({"type": "boolean"}),
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True).map(
            lambda e: {"type": "string", "enum": e}
        ),
    ),
    lambda inner: st.one_of(
        st.builds(lambda items: {"type": "array", "items": items, "maxItems": 3}, inner),
        st.dictionaries(
            st.sampled_from(["p", "q", "r_id", "when"]), inner, min_size=1, max_size=3
        ).map(lambda props: {"type": "object", "properties": props, "required": sorted(props)[:1]}),
    ),
    max_leaves=6,
)


@given(
    params=st.dictionaries(
        st.sampled_from(["order_id", "amount", "items", "note", "when"]), json_schemas, max_size=4
    ),
    count=st.integers(1, 12),
    strategy=st.sampled_from(["balanced", "diverse", "focused"]),
)
def test_generated_datasets_are_always_valid(
    params: dict[str, Any], count: int, strategy: str
) -> None:
    """Any schema mix gives a valid dataset of exactly ``count`` scenarios, deterministically,
    with every non-refused expected call fitting the tool schema."""
    tool: dict[str, Any] = {
        "name": "do_it",
        "description": "Do the thing",
        "parameters": {"type": "object", "properties": params, "required": sorted(params)[:2]},
    }
    config = _config(
        num_variations=count,
        strategy=strategy,
        coverage={
            "happy_path": True,
            "edge_cases": True,
            "error_handling": True,
            "boundary_values": True,
        },
    )
    config["agent"]["tools"] = [tool, LOOKUP_ORDER_TOOL]
    dataset = generate_dataset_source(config, request_name="prop")
    check_dataset_source(dataset.dataset_source, tool_names=["do_it", "lookup_order"], count=count)
    assert dataset == generate_dataset_source(copy.deepcopy(config), request_name="prop")
    for call in _calls(dataset.dataset_source):
        if call["name"] == "do_it":
            assert fits(json.loads(call["arguments_json"]), tool["parameters"])
    if count >= 2:
        assert {c["name"] for c in _calls(dataset.dataset_source)} == {"do_it", "lookup_order"}


def test_text_only_questions_carry_input_schema_values() -> None:
    """Without tools, happy-path questions state the input schema's example values."""
    config = _config(num_variations=4, coverage={"happy_path": True})
    del config["agent"]["tools"]
    config["agent"]["input_schema"] = {
        "fields": [{"name": "priority", "type": "string", "enum": ["high"]}],
        "example": {"order_id": "ORD-123"},
    }
    runs = generate_dataset_source(config, request_name="t").dataset_source["runs"]
    for run in runs.values():
        assert "The order ID is ORD-123 and the priority is high." in run["actions"][0]["content"]


def test_generate_dataset_through_the_local_server_matches_the_pure_function(client: Any) -> None:
    """The API reference's generate_dataset example over the wire gives exactly the dataset the
    pure function gives for that config and request name (deterministic across the server)."""
    dataset_id, source = client.generate_dataset(
        "Support Agent Eval",
        copy.deepcopy(GENERATE_DATASET_EXAMPLE),
        timeout=30,
        poll_interval=0.05,
    )
    assert isinstance(dataset_id, int)
    expected = generate_dataset_source(GENERATE_DATASET_EXAMPLE, request_name="Support Agent Eval")
    assert source == expected.dataset_source
    assert len(source["runs"]) == 10
