"""EvalRunner follows protocol §5 rule by rule."""

from __future__ import annotations

from typing import Any

import pytest

from ashr_labs import Agent, ConfigurationError, EvalRunner, RunBuilder

from ._helpers import (
    TableAgent,
    agent,
    call,
    drop_timestamps,
    environment,
    expected_call,
    source,
    user,
)

EMPTY: dict[str, dict[str, Any]] = {"matching": {}, "different": {}, "missing": {}, "extra": {}}


def _norm(name: str, args: dict[str, Any], raw: str) -> dict[str, Any]:
    return {"name": name, "arguments_json": raw, "tool_name": name, "arguments": args}


def _results(run: RunBuilder, index: int = 0) -> list[dict[str, Any]]:
    return list(run.build()["tests"][index]["action_results"])


def test_worked_example_exactly() -> None:
    """Protocol §5's verified worked example, entry by entry."""
    src = source(
        s1=[
            user("Where is ORD-1?"),
            agent(
                "It shipped.",
                expected_call("lookup_order", order_id="ORD-1"),
                expected_call("refund", order_id="ORD-1"),
            ),
        ]
    )
    bot = TableAgent(
        {
            "Where is ORD-1?": {
                "text": "Your order shipped",
                "tool_calls": [
                    call("lookup_order", order_id="ORD-1", verbose=True),
                    call("extra_tool", q=1),
                ],
            }
        }
    )
    run = EvalRunner(src).run(bot)
    doc = drop_timestamps(run.build())
    assert doc == {
        "tests": [
            {
                "test_id": "s1",
                "status": "completed",
                "action_results": [
                    {
                        "actor": "user",
                        "action_type": "text",
                        "action_index": 0,
                        "description": "user_action_0",
                        "text": "Where is ORD-1?",
                        "input_provided": True,
                    },
                    {
                        "actor": "agent",
                        "action_type": "tool_call",
                        "action_index": 1,
                        "tool_calls": [
                            {
                                "expected": _norm(
                                    "lookup_order", {"order_id": "ORD-1"}, '{"order_id": "ORD-1"}'
                                ),
                                "actual": _norm(
                                    "lookup_order",
                                    {"order_id": "ORD-1", "verbose": True},
                                    '{"order_id": "ORD-1", "verbose": true}',
                                ),
                                "match_status": "partial",
                                "divergence_notes": None,
                                "argument_comparison": {
                                    "matching": {
                                        "order_id": {"expected": "ORD-1", "actual": "ORD-1"}
                                    },
                                    "different": {},
                                    "missing": {},
                                    "extra": {"verbose": {"actual": True}},
                                },
                            },
                            {
                                "expected": _norm(
                                    "refund", {"order_id": "ORD-1"}, '{"order_id": "ORD-1"}'
                                ),
                                "actual": _norm("NOT_CALLED", {}, "{}"),
                                "match_status": "mismatch",
                                "divergence_notes": None,
                                "argument_comparison": EMPTY,
                            },
                            {
                                "expected": _norm("NONE_EXPECTED", {}, "{}"),
                                "actual": _norm("extra_tool", {"q": 1}, '{"q": 1}'),
                                "match_status": "mismatch",
                                "divergence_notes": None,
                                "argument_comparison": EMPTY,
                            },
                        ],
                    },
                    {
                        "actor": "agent",
                        "action_type": "text",
                        "action_index": 1,
                        "expected_response": {"text": "It shipped."},
                        "actual_response": {"text": "Your order shipped"},
                        "match_status": "pending",
                        "divergence_notes": None,
                    },
                ],
            }
        ],
        "status": "completed",
        "aggregate_metrics": {
            "total_tests": 1,
            "tests_passed": 1,
            "tests_failed": 0,
            "average_similarity_score": None,
            "total_tool_call_divergence": 3,
            "total_response_divergence": 1,
        },
    }
    assert run.status == "completed"


def test_user_actors_include_custom_and_missing_names() -> None:
    """Any actor but agent/environment is user input; description is the name or a default."""
    src = source(
        s=[
            {"actor": "customer", "content": "hi", "name": "greet"},
            {"content": "no actor"},
            {"actor": "planner", "content": "plan"},
        ]
    )
    bot = TableAgent()
    results = _results(EvalRunner(src).run(bot))
    assert [(r["actor"], r["description"], r["text"]) for r in results] == [
        ("user", "greet", "hi"),
        ("user", "user_action_1", "no actor"),
        ("user", "user_action_2", "plan"),
    ]
    assert bot.messages == ["hi", "no actor", "plan"]


def test_two_user_actions_in_a_row_throw_the_first_reply_away() -> None:
    """Only the latest respond() result is paired with the next agent action."""
    table = {
        "one": {"text": "first", "tool_calls": [call("a")]},
        "two": {"text": "second", "tool_calls": [call("b")]},
    }
    src = source(s=[user("one"), user("two"), agent("expected", expected_call("b"))])
    results = _results(EvalRunner(src).run(TableAgent(table)))
    tool_entry, text_entry = results[2], results[3]
    assert [c["actual"]["name"] for c in tool_entry["tool_calls"]] == ["b"]
    assert tool_entry["tool_calls"][0]["match_status"] == "exact"
    assert text_entry["actual_response"] == {"text": "second"}


def test_consecutive_agent_actions_carry_tool_calls_and_text() -> None:
    """Leftover calls and the text carry to the next agent action; then the pool is emptied."""
    table = {"go": {"text": "done", "tool_calls": [call("a", k=1), call("b"), call("c")]}}
    src = source(
        s=[
            user("go"),
            agent("step 1", expected_call("a", k=1)),
            agent("step 2", expected_call("b")),
            agent("step 3"),
            user("later"),
            agent(""),
        ]
    )
    results = _results(EvalRunner(src).run(TableAgent(table)))
    by_index: dict[int, list[dict[str, Any]]] = {}
    for r in results:
        by_index.setdefault(r["action_index"], []).append(r)
    assert [c["match_status"] for c in by_index[1][0]["tool_calls"]] == ["exact"]
    assert by_index[1][1]["actual_response"] == {"text": "done"}
    assert [c["actual"]["name"] for c in by_index[2][0]["tool_calls"]] == ["b"]
    assert by_index[2][1]["actual_response"] == {"text": "done"}  # recorded again
    (leftover,) = by_index[3][0]["tool_calls"]
    assert leftover["expected"]["name"] == "NONE_EXPECTED" and leftover["actual"]["name"] == "c"
    assert by_index[3][1]["actual_response"] == {"text": "done"}
    # index 5: the reply to "later" is an echo with no tools; text pairs with empty content
    assert [r["action_type"] for r in by_index[5]] == ["text"]
    assert by_index[5][0]["expected_response"] == {"text": ""}


def test_text_is_cleared_after_a_non_consecutive_agent_action() -> None:
    """After an agent action not followed by another, empty content and no reply record nothing."""
    src = source(s=[user("x"), agent("a"), agent("")])
    results = _results(EvalRunner(src).run(TableAgent({"x": {"text": "", "tool_calls": []}})))
    assert [(r["action_index"], r["action_type"]) for r in results] == [(0, "text"), (1, "text")]


def test_calls_pending_at_the_end_are_never_recorded() -> None:
    """A scenario ending on a user action leaves that reply's tool calls unrecorded."""
    src = source(s=[user("x")])
    table = {"x": {"text": "t", "tool_calls": [call("z")]}}
    results = _results(EvalRunner(src).run(TableAgent(table)))
    assert [r["action_type"] for r in results] == ["text"]


def test_environment_without_handler_records_nothing_and_uses_an_index() -> None:
    """No on_environment: nothing recorded, respond not called, the index is used up."""
    src = source(s=[user("x"), environment("tool result: 42"), agent("ok")])
    bot = TableAgent({"x": {"text": "reply", "tool_calls": []}})
    results = _results(EvalRunner(src).run(bot))
    assert [(r["action_index"], r["action_type"]) for r in results] == [(0, "text"), (2, "text")]
    assert results[1]["actual_response"] == {"text": "reply"}
    assert bot.messages == ["x"]


def test_environment_handler_updates_the_turn() -> None:
    """A returned dict's text replaces the text; non-null tool_calls replace the pool; missing
    keys, a None tool_calls, None and an empty dict change nothing."""
    src = source(
        s=[
            user("x"),
            environment("e1"),  # text and tools replace the echo reply
            environment("e2"),  # no text key, tool_calls None: both stay
            agent("a1", expected_call("t", v=1)),
            environment("e3"),  # text only
            environment("e4"),  # None
            agent("a2"),
            environment("e5"),  # empty dict
            agent("a3"),
        ]
    )
    replies: dict[str, Any] = {
        "e1": {"text": "from env", "tool_calls": [call("t", v=1), call("u")]},
        "e2": {"tool_calls": None, "other": 1},
        "e3": {"text": "only text"},
        "e4": None,
        "e5": {},
    }
    seen: list[tuple[str, dict[str, Any]]] = []

    def handle(content: str, action: dict[str, Any]) -> Any:
        seen.append((content, action))
        return replies[content]

    bot = TableAgent()
    results = _results(EvalRunner(src).run(bot, on_environment=handle))
    assert [c for c, _ in seen] == ["e1", "e2", "e3", "e4", "e5"]
    assert seen[0][1] is src["runs"]["s"]["actions"][1]
    assert bot.messages == ["x"]
    (tools,) = [r for r in results if r["action_type"] == "tool_call"]
    assert tools["action_index"] == 3
    assert [(c["actual"]["name"], c["match_status"]) for c in tools["tool_calls"]] == [
        ("t", "exact"),
        ("u", "mismatch"),
    ]
    texts = {
        r["action_index"]: r["actual_response"]["text"]
        for r in results
        if r["action_type"] == "text" and r["actor"] == "agent"
    }
    assert texts == {3: "from env", 6: "only text", 8: ""}


def test_empty_scenarios_are_skipped_and_source_order_is_kept() -> None:
    """Scenarios without actions produce no test; the others keep the source's key order."""
    src = {
        "runs": {
            "zeta": {"actions": [user("1")]},
            "empty": {"actions": []},
            "missing": {"title": "no actions"},
            "alpha": {"actions": [user("2")]},
        }
    }
    for workers in (1, 3):
        run = EvalRunner(src).run(TableAgent(), max_workers=workers)
        assert [t.test_id for t in run.tests] == ["zeta", "alpha"]
    assert EvalRunner({}).run(TableAgent()).build()["tests"] == []


def test_scenario_id_is_passed_only_when_accepted() -> None:
    """``scenario_id=`` goes to reset/respond that name it or take ``**kwargs``."""
    seen: list[tuple[str, Any]] = []

    class Named:
        def reset(self, scenario_id: str | None = None) -> None:
            seen.append(("reset", scenario_id))

        def respond(self, message: str, **kwargs: Any) -> dict[str, Any]:
            seen.append(("respond", kwargs.get("scenario_id")))
            return {"text": "", "tool_calls": []}

    class Plain:
        def reset(self) -> None:
            seen.append(("reset", "plain"))

        def respond(self, message: str) -> dict[str, Any]:
            seen.append(("respond", "plain"))
            return {"text": "", "tool_calls": []}

    src = source(s1=[user("a")], s2=[user("b")])
    EvalRunner(src).run(Named())
    EvalRunner(src).run(Plain())
    assert seen == [
        ("reset", "s1"),
        ("respond", "s1"),
        ("reset", "s2"),
        ("respond", "s2"),
        ("reset", "plain"),
        ("respond", "plain"),
        ("reset", "plain"),
        ("respond", "plain"),
    ]


def test_callbacks_are_called_in_order() -> None:
    """on_scenario comes before reset; on_action comes before each action with its index."""
    events: list[Any] = []

    class Recorder(TableAgent):
        def reset(self) -> None:
            events.append("reset")

    src = source(s=[user("a"), agent("b")])
    EvalRunner(src).run(
        Recorder(),
        on_scenario=lambda sid, sc: events.append(("scenario", sid, len(sc["actions"]))),
        on_action=lambda i, action: events.append(("action", i, action["actor"])),
    )
    assert events == [("scenario", "s", 2), "reset", ("action", 0, "user"), ("action", 1, "agent")]


def test_greedy_pairs_the_wrong_way_round_and_optimal_does_not() -> None:
    """Expected [t{}, t{k:1}] vs actual [t{k:1}, t{k:2}]: greedy gives two partials (as
    published); optimal pairs t{k:1} exactly."""
    src = source(s=[user("x"), agent("", expected_call("t"), expected_call("t", k=1))])
    table = {"x": {"text": "", "tool_calls": [call("t", k=1), call("t", k=2)]}}

    def statuses(pairing: str) -> list[str]:
        run = EvalRunner(src).run(TableAgent(table), pairing=pairing)
        return [c["match_status"] for c in _results(run)[1]["tool_calls"]]

    assert statuses("greedy") == ["partial", "partial"]
    assert sorted(statuses("optimal")) == ["exact", "partial"]
    assert statuses("optimal") == ["partial", "exact"]  # expected order is kept


def test_openai_style_string_arguments_are_parsed() -> None:
    """A tool call whose ``arguments`` is a JSON string (OpenAI's form) compares as a dict."""
    src = source(s=[user("x"), agent("", expected_call("t", a=1))])
    table = {"x": {"text": "", "tool_calls": [{"name": "t", "arguments": '{"a": 1}'}]}}
    (entry,) = _results(EvalRunner(src).run(TableAgent(table)))[1]["tool_calls"]
    assert entry["match_status"] == "exact" and entry["actual"]["arguments"] == {"a": 1}


def test_recorded_arguments_are_what_json_gives_back_and_not_the_agents_dicts() -> None:
    """Tuples, non-string keys and nesting come back as JSON gives them; the agent changing its
    dicts after answering does not reach the record (flat ones included)."""
    src = source(s=[user("x"), agent("", expected_call("flat", a=1), expected_call("odd"))])
    flat: dict[str, Any] = {"a": 1, "b": "two", "c": None, "d": 1.5, "e": True}
    odd: dict[Any, Any] = {"t": (1, 2), 3: "k", "n": {"m": [1]}}

    class Holder:
        def reset(self) -> None:
            pass

        def respond(self, message: str) -> dict[str, Any]:
            return {
                "text": "",
                "tool_calls": [
                    {"name": "flat", "arguments": flat},
                    {"name": "odd", "arguments": odd},
                ],
            }

    run = EvalRunner(src).run(Holder())
    flat["a"] = 99
    odd["n"]["m"].append(2)
    first, second = _results(run)[1]["tool_calls"]
    assert first["actual"] == _norm(
        "flat",
        {"a": 1, "b": "two", "c": None, "d": 1.5, "e": True},
        '{"a": 1, "b": "two", "c": null, "d": 1.5, "e": true}',
    )
    assert second["actual"]["arguments"] == {"t": [1, 2], "3": "k", "n": {"m": [1]}}
    assert second["actual"]["arguments_json"] == '{"t": [1, 2], "3": "k", "n": {"m": [1]}}'


def test_expected_call_with_string_arguments_compares_as_the_published_runner() -> None:
    """A dataset call whose ``arguments`` is a string has no arguments to compare (extraction
    reads only a dict there), although the recorded call gains that string as arguments_json."""
    expected = {"name": "t", "arguments": '{"a": 1}'}
    src = source(s=[user("x"), agent("", expected)])
    table = {"x": {"text": "", "tool_calls": [call("t", a=1)]}}
    (entry,) = _results(EvalRunner(src).run(TableAgent(table)))[1]["tool_calls"]
    assert entry["match_status"] == "partial"
    assert entry["argument_comparison"]["extra"] == {"a": {"actual": 1}}
    assert entry["expected"]["arguments_json"] == '{"a": 1}'


def test_agent_protocol_is_runtime_checkable() -> None:
    """``isinstance(x, Agent)`` holds for any object with respond and reset."""
    assert isinstance(TableAgent(), Agent)
    assert not isinstance(object(), Agent)


@pytest.mark.parametrize(
    ("dataset", "field"),
    [
        ([], "dataset_source"),
        ({"runs": [{"actions": []}]}, "dataset_source.runs"),
        ({"runs": {"s": "text"}}, "dataset_source.runs['s']"),
        ({"runs": {"s": {"actions": "text"}}}, "dataset_source.runs['s'].actions"),
        ({"runs": {"s": {"actions": [1]}}}, "dataset_source.runs['s'].actions[0]"),
        (
            {
                "runs": {
                    "s": {"actions": [{"actor": "agent", "expected_response": {"tool_calls": "t"}}]}
                }
            },
            "dataset_source.runs['s'].actions[0].expected_response.tool_calls",
        ),
    ],
)
def test_bad_dataset_source_is_refused_naming_the_field(dataset: Any, field: str) -> None:
    """A malformed dataset fails at construction with the path of the bad field."""
    with pytest.raises(ConfigurationError) as info:
        EvalRunner(dataset)
    assert str(info.value).startswith(field + ":")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_workers": 0}, "max_workers"),
        ({"retries": -1}, "retries"),
        ({"scenario_timeout_s": 0}, "scenario_timeout_s"),
        ({"scenario_timeout_s": float("inf")}, "scenario_timeout_s"),
        ({"pairing": "best"}, "pairing"),
        ({"on_action": "print"}, "on_action"),
        ({"agent_factory": TableAgent}, "agent"),
    ],
)
def test_bad_run_arguments_are_refused(kwargs: dict[str, Any], field: str) -> None:
    """run() checks its arguments up front and names the bad one."""
    runner = EvalRunner(source(s=[user("x")]))
    with pytest.raises(ConfigurationError, match=f"^{field}:"):
        runner.run(TableAgent(), **kwargs)
    with pytest.raises(ConfigurationError, match="^agent:"):
        runner.run(object())  # type: ignore[arg-type]


def test_documented_environment_handler_feeds_the_agent() -> None:
    """The API reference's ``handle_env`` example: the environment content goes to the agent
    and its reply becomes the turn paired with the next agent action."""
    bot = TableAgent(
        {
            "Where is ORD-1?": {
                "text": "Looking it up",
                "tool_calls": [call("lookup_order", order_id="ORD-1")],
            },
            "tool result: shipped": {"text": "It has shipped", "tool_calls": []},
        }
    )

    def handle_env(content: str, action: dict[str, Any]) -> Any:
        return bot.respond(content)

    src = source(
        s=[
            user("Where is ORD-1?"),
            agent("", expected_call("lookup_order", order_id="ORD-1")),
            environment("tool result: shipped"),
            agent("It shipped."),
        ]
    )
    results = _results(EvalRunner(src).run(bot, on_environment=handle_env))
    assert bot.messages == ["Where is ORD-1?", "tool result: shipped"]
    assert results[-1]["action_index"] == 3
    assert results[-1]["actual_response"] == {"text": "It has shipped"}


def test_tests_can_be_decorated_after_the_run() -> None:
    """``run.tests`` gives the live test builders, e.g. to attach VM streams after an eval."""
    run = EvalRunner(source(a=[user("x")], b=[user("y")])).run(TableAgent())
    for test in run.tests:
        test.set_vm_stream("steel", session_id=f"vm-{test.test_id}")
    assert [t["vm_stream"] for t in run.build()["tests"]] == [
        {"provider": "steel", "session_id": "vm-a"},
        {"provider": "steel", "session_id": "vm-b"},
    ]


def test_callbacks_receive_the_callers_own_scenario_dict() -> None:
    """on_scenario gets the very dict from dataset_source, as the published runner passes it."""
    src = source(s=[user("x")])
    seen: list[Any] = []
    EvalRunner(src).run(TableAgent(), on_scenario=lambda sid, sc: seen.append(sc))
    assert seen == [src["runs"]["s"]] and seen[0] is src["runs"]["s"]
