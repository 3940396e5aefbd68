"""The values pipeline: any Python value becomes bounded, strict, masked, redacted JSON."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from typing import Any

import pydantic
from hypothesis import given
from hypothesis import strategies as st

from ashr_labs.observability import TracingOptions, prepare_value
from ashr_labs.observability._values import MAX_DEPTH, TRUNCATED_KEY, dumps_bounded
from tests.observability.conftest import Hostile, HostileKey


def strict_loads(text: str) -> Any:
    def reject(token: str) -> Any:
        raise ValueError(f"non-strict JSON token {token}")

    return json.loads(text, parse_constant=reject)


def depth_of(value: Any) -> int:
    depth, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        depth = max(depth, level)
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return depth


class Color(enum.Enum):
    RED = "red"
    ODD = object()


@dataclasses.dataclass
class Point:
    x: int
    label: Any


class Model(pydantic.BaseModel):
    name: str
    when: datetime.datetime


class NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


def test_f21_hostile_objects_become_placeholders_naming_their_type() -> None:
    """Values whose dunder methods raise become a placeholder naming the type; keys stringified."""
    out = strict_loads(prepare_value({"v": Hostile(), HostileKey(): 1, 3: "x", "": 2}) or "")
    assert out["v"] == "<Hostile: unrepresentable>"
    assert out["<HostileKey: unprintable key>"] == 1
    assert out["3"] == "x" and out[""] == 2


def test_f23_common_types_have_a_json_form() -> None:
    """Pydantic, dataclasses, datetimes, Decimal, UUID, enums, bytes, sets, sentinels, cycles."""
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    ident = uuid.UUID(int=5)
    value = {
        "model": Model(name="a", when=datetime.datetime(2024, 1, 2, 3, 4, 5)),
        "dc": Point(1, {2, 3}),
        "dt": datetime.date(2024, 5, 6),
        "dec": decimal.Decimal("1.25"),
        "id": ident,
        "enum": Color.RED,
        "odd_enum": Color.ODD,
        "bytes": b"\x00\x01secret",
        "sentinel": NotGiven(),
        "cycle": cyclic,
        "tuple": (1, 2),
    }
    out = strict_loads(prepare_value(value) or "")
    assert out["model"] == {"name": "a", "when": "2024-01-02T03:04:05"}
    assert out["dc"]["x"] == 1 and sorted(out["dc"]["label"]) == [2, 3]
    assert out["dt"] == "2024-05-06" and out["dec"] == "1.25" and out["id"] == str(ident)
    assert out["enum"] == "red" and out["odd_enum"] == "ODD"
    assert out["bytes"] == "<bytes: 8 bytes>"
    assert out["sentinel"] == "NOT_GIVEN"
    assert out["cycle"] == [1, "<cycle: list>"]
    assert out["tuple"] == [1, 2]


def test_f23_generators_and_iterators_are_never_consumed() -> None:
    """A one-shot generator or iterator becomes a placeholder and still yields every item."""

    def gen() -> Any:
        yield from range(3)

    g, it = gen(), iter([1, 2])
    out = strict_loads(prepare_value({"g": g, "it": it}) or "")
    assert out == {
        "g": "<generator: iterator, not consumed>",
        "it": "<list_iterator: iterator, not consumed>",
    }
    assert list(g) == [0, 1, 2] and list(it) == [1, 2]


def test_f23_huge_lists_and_dicts_are_capped_with_a_marker() -> None:
    """A 10**6-item list and a 10**4-key dict are capped, and the cut is marked."""
    out = strict_loads(
        prepare_value(
            {"l": list(range(10**6)), "d": {str(i): i for i in range(10**4)}},
            TracingOptions(max_value_bytes=10**7),
        )
        or ""
    )
    assert out["l"][-1] == "<999000 more items>" and len(out["l"]) == 1001
    assert out["d"]["_ashr_more_keys"] == "<9000 more keys>"


def test_f24_nan_infinity_surrogates_big_ints_are_strict_json() -> None:
    """NaN/inf become strings, lone surrogates U+FFFD, big ints stay exact."""
    text = prepare_value([math.nan, -math.inf, "a\ud800b", 2**70]) or ""
    assert strict_loads(text) == ["NaN", "-Infinity", "a\ufffdb", 2**70]
    text.encode("utf-8")


def test_f26_deep_nesting_is_cut_without_recursion() -> None:
    """A 10,000-deep list and dict are cut at depth 64 with a marker, no RecursionError."""
    deep_list: list[Any] = []
    node = deep_list
    for _ in range(10_000):
        child: list[Any] = []
        node.append(child)
        node = child
    deep_dict: dict[str, Any] = {}
    cursor = deep_dict
    for _ in range(10_000):
        cursor["k"] = {}
        cursor = cursor["k"]
    for value in (deep_list, deep_dict):
        text = prepare_value(value, TracingOptions(mask=lambda v: v)) or ""
        assert "max depth 64" in text
        assert depth_of(strict_loads(text)) <= MAX_DEPTH + 1


def test_f11_oversized_value_is_cut_to_valid_json_with_original_size() -> None:
    """A 20 MB value is cut under the cap, stays valid JSON and records its original size."""
    big = "x" * (20 * 2**20)
    text = prepare_value({"input": big}, TracingOptions(max_value_bytes=4096)) or ""
    assert len(text.encode()) <= 4096
    out = strict_loads(text)
    assert out[TRUNCATED_KEY]["original_bytes"] > 20 * 2**20
    assert out["value"]["input"].startswith("xxxx")


def test_dumps_bounded_falls_back_to_a_preview_for_many_small_items() -> None:
    """When structure alone is too big, a preview of the text is kept, still valid JSON."""
    value = [[i, i] for i in range(900)]
    text = dumps_bounded(value, 300)
    assert len(text.encode()) <= 300 and TRUNCATED_KEY in strict_loads(text)


def test_f36_mask_runs_first_and_a_raising_mask_gives_a_placeholder() -> None:
    """The mask sees the raw value; if it raises, the placeholder replaces the value entirely."""
    masked = prepare_value({"ssn": "123"}, TracingOptions(mask=lambda v: {**v, "ssn": "***"}))
    assert strict_loads(masked or "") == {"ssn": "***"}

    def broken(value: Any) -> Any:
        raise ValueError("boom")

    out = prepare_value({"ssn": "123-45"}, TracingOptions(mask=broken)) or ""
    assert "123-45" not in out and strict_loads(out) == "<masked: mask raised ValueError>"


def test_f36_default_redactor_removes_keys_tokens_and_secret_fields() -> None:
    """Ashr keys, bearer tokens, provider keys and values under secret header names go."""
    value = {
        "note": "use tp_abcdef123456 or sk-proj-ABCDEFGHIJKLMNOPQRST now",
        "Authorization": "anything",
        "headers": {"x-api-key": "k", "api_key": "k2", "h": "Bearer abc.def.ghi-123"},
    }
    out = prepare_value(value, TracingOptions(mask=lambda v: v)) or ""
    for secret in ("tp_abcdef123456", "sk-proj-ABCDEFGHIJKLMNOPQRST", "abc.def.ghi-123", '"k"'):
        assert secret not in out
    parsed = strict_loads(out)
    assert parsed["Authorization"] == "[REDACTED]"
    assert parsed["headers"]["h"] == "Bearer [REDACTED]"


def test_f36_capture_off_drops_content_but_keeps_metadata() -> None:
    """With capture_content off, content values are not set at all; metadata still is."""
    options = TracingOptions(capture_content=False)
    assert prepare_value("prompt text", options) is None
    assert prepare_value({"k": 1}, options, content=False) == '{"k":1}'


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None)),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(st.characters(codec=None), max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)

odd_values = st.one_of(
    json_like,
    st.binary(max_size=20),
    st.sets(st.integers(), max_size=5),
    st.datetimes(),
    st.decimals(allow_nan=True),
    st.uuids(),
    st.builds(Hostile),
    st.builds(Point, st.integers(), json_like),
)


@given(st.lists(odd_values, max_size=5))
def test_f21_f23_f24_any_value_gives_strict_bounded_json(values: list[Any]) -> None:
    """Hypothesis: no raise, strict JSON, size within the cap."""
    options = TracingOptions(max_value_bytes=2048)
    text = prepare_value(values, options)
    assert text is not None and len(text.encode("utf-8")) <= 2048
    strict_loads(text)


plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@given(plain_json)
def test_fast_path_agrees_with_the_general_walk(value: Any) -> None:
    """For plain JSON, the fast path gives exactly what the full conversion gives."""
    from ashr_labs.observability._values import to_json_value

    if value is not None:  # None means "set nothing"
        assert prepare_value(value) == dumps_bounded(to_json_value(value), 64 * 1024)


def test_pydantic_fields_json_mode_cannot_render_fall_back_to_python_values() -> None:
    """A model holding an arbitrary object still serialises; its generator is not consumed."""

    class Loose(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        thing: Any
        n: int

    class Thing:
        def __repr__(self) -> str:
            return "Thing()"

    out = strict_loads(prepare_value(Loose(thing=Thing(), n=2)) or "")
    assert out == {"thing": "Thing()", "n": 2}


def test_float_and_special_keys_are_stringified_plainly() -> None:
    """NaN/inf/float/None/bool keys become plain strings."""
    out = strict_loads(prepare_value({math.nan: 1, 1.5: 2, None: 3, True: 4}) or "")
    assert out == {"NaN": 1, "1.5": 2, "null": 3, "true": 4}
