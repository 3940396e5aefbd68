"""Dataset generation: a ``create_request`` config in, a ``dataset_source`` (protocol.md §4.3) out.

``generate_dataset_source(config, request_name=...)`` is what the server's job runner calls.
Without an LLM it is deterministic: the random seed is a SHA-256 of the canonical JSON config
and the request name, so the same request always gives the same dataset. When
``ASHR_LABS_LLM_BASE_URL`` is set, an OpenAI-compatible model writes the scenarios instead
(``_generation_llm``); a bad model answer fails the job, it never falls back silently.

How the config shapes the dataset:

* ``test_config.num_variations`` (1–50, default 5; else ``generation_options.scenario_count``)
  scenarios, ids ``scenario_001``... in order.
* ``coverage`` picks scenario kinds (absent: all on; present: keys not set are off):
  ``happy_path`` → happy path; ``edge_cases`` → every-optional-detail or corrected-detail
  requests, and a required detail missing (the agent must ask back); ``error_handling`` → a
  tool error (an environment action carrying the error; the agent explains) and an
  out-of-range value (the agent refuses without calling the tool); ``boundary_values`` →
  minimum/maximum values and lengths. Kinds a config cannot support (no required parameter,
  no constrained parameter) are left out; agents without tools get text-only kinds.
* ``strategy``: ``balanced`` gives half the scenarios to the happy path and shares the rest
  between the other kinds; ``diverse`` shares them equally and fills optional arguments more
  often; ``focused`` gives 70% to the happy path and only rotates over focus-area tools.
* ``complexity_distribution`` (default 0.3/0.5/0.2): ``simple`` one exchange, ``moderate`` a
  follow-up turn, ``complex`` a chained second tool (lookup then act) or a retry.
* ``focus_areas``: tools whose name or description shares a word with a focus area come first
  in the tool rotation (which exercises every tool when there are enough scenarios); for
  agents without tools the focus areas are the conversation topics.
* ``exclude``: an entry naming a coverage key, a scenario kind (``missing_info``,
  ``tool_error``, ``out_of_range``, ``edge_case``, ``boundary``) or a tool removes it.
* ``context.user_persona.type`` names the user actor (``customer`` etc.); sample data and the
  agent's ``input_schema`` example/enums are preferred argument values when they fit.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._generation_config import (
    GenerationConfig,
    GenerationError,
    Tool,
    parse_config,
)
from ._generation_llm import generate_with_llm
from ._generation_scenarios import ScenarioWriter, Slot
from ._generation_values import has_constraint
from ._llm import LlmClient

__all__ = ["GeneratedDataset", "GenerationError", "generate_dataset_source", "plan_slots"]

_TOOL_KINDS = {
    "happy_path": ("happy_path",),
    "edge_cases": ("edge_case", "missing_info"),
    "error_handling": ("tool_error", "out_of_range"),
    "boundary_values": ("boundary",),
}
_TEXT_KINDS = {
    "happy_path": ("question",),
    "edge_cases": ("vague",),
    "error_handling": ("out_of_scope",),
    "boundary_values": ("minimal",),
}
_HAPPY_SHARE = {"balanced": 0.5, "focused": 0.7}


@dataclass(frozen=True)
class GeneratedDataset:
    """What a generation job stores as the dataset."""

    name: str
    description: str | None
    dataset_source: dict[str, Any]


def _seed(config: Any, request_name: str) -> int:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr)
    digest = hashlib.sha256(f"{canonical}\x00{request_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _words(text: str) -> set[str]:
    """Word stems longer than two letters (a plural ``s`` dropped), for focus-area matching."""
    words = (w for w in re.split(r"[^a-z0-9]+", text.lower()) if len(w) > 2)
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}


def _excluded(names: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    keys = {e.lower().replace(" ", "_").replace("-", "_") for e in exclude}
    return any(name.lower() in keys for name in names)


def _allowed_tools(config: GenerationConfig) -> tuple[Tool, ...]:
    return tuple(t for t in config.tools if not _excluded((t.name,), config.exclude))


def _tool_order(config: GenerationConfig) -> list[Tool]:
    """The rotation of primary tools: focus-area tools first (only them when ``focused``)."""
    tools = list(_allowed_tools(config))
    focus = set().union(*(_words(f) for f in config.focus_areas)) if config.focus_areas else set()
    focused = [t for t in tools if focus & _words(f"{t.name} {t.description}")]
    if config.strategy == "focused" and focused:
        return focused
    return focused + [t for t in tools if t not in focused]


def _feasible(kind: str, tools: list[Tool]) -> bool:
    """Whether some tool can carry a scenario of ``kind`` (only two kinds need a special one)."""
    if kind in ("missing_info", "out_of_range"):
        return any(_fits_kind(kind, t) for t in tools)
    return True


def _kind_groups(config: GenerationConfig, tools: list[Tool]) -> dict[str, list[str]]:
    """Coverage group -> the kinds it contributes (enabled, not excluded, feasible)."""
    table = _TOOL_KINDS if tools else _TEXT_KINDS
    groups: dict[str, list[str]] = {}
    for group, kinds in table.items():
        if not config.coverage.get(group) or _excluded((group,), config.exclude):
            continue
        usable = [k for k in kinds if _feasible(k, tools) and not _excluded((k,), config.exclude)]
        if usable:
            groups[group] = usable
    if not groups:
        raise GenerationError(
            "test_config: coverage and exclude leave no scenario kind to generate"
        )
    return groups


def _kind_counts(config: GenerationConfig, tools: list[Tool]) -> dict[str, int]:
    """How many scenarios of each kind: split between groups, then evenly inside each group."""
    groups = _kind_groups(config, tools)
    n = config.num_variations
    if config.strategy == "diverse" or "happy_path" not in groups or len(groups) == 1:
        group_weights = {g: float(len(kinds)) for g, kinds in groups.items()}
        total = sum(group_weights.values())
        group_weights = {g: w / total for g, w in group_weights.items()}
    else:
        happy = _HAPPY_SHARE[config.strategy]
        others = len(groups) - 1
        group_weights = {g: happy if g == "happy_path" else (1 - happy) / others for g in groups}
    counts: dict[str, int] = {}
    for group, count in _apportion(group_weights, n).items():
        kinds = groups[group]
        counts.update(_apportion({k: 1.0 / len(kinds) for k in kinds}, count))
    return counts


def _apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Largest-remainder split of ``total``; every key with a positive weight gets at least one
    when there is room."""
    raw = {k: w * total for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    order = sorted(raw, key=lambda k: (-(raw[k] - counts[k]), list(raw).index(k)))
    for key in order[: total - sum(counts.values())]:
        counts[key] += 1
    if total >= sum(1 for w in weights.values() if w > 0):
        for key in [k for k, c in counts.items() if c == 0 and weights[k] > 0]:
            donor = max(counts, key=lambda k: (counts[k], -list(counts).index(k)))
            counts[donor] -= 1
            counts[key] += 1
    return counts


def plan_slots(config: GenerationConfig, rng: random.Random) -> list[Slot]:
    """The scenario slots, in dataset order: kind, complexity and primary tool of each."""
    tools = _tool_order(config)
    n = config.num_variations
    kinds = [k for k, c in _kind_counts(config, tools).items() for _ in range(c)]
    complexities = (
        [c for c, count in _apportion(dict(config.complexity), n).items() for _ in range(count)]
        if any(config.complexity.values())
        else ["simple"] * n
    )
    rng.shuffle(complexities)
    slots: list[Slot] = []
    cursor = 0
    for kind, complexity in zip(kinds, complexities, strict=True):
        tool = None
        if tools:
            candidates = tools[cursor:] + tools[:cursor]
            tool = next((t for t in candidates if _fits_kind(kind, t)), candidates[0])
            cursor = (tools.index(tool) + 1) % len(tools)
        slots.append(Slot(kind, complexity, tool))
    return slots


def _fits_kind(kind: str, tool: Tool) -> bool:
    if kind == "missing_info":
        return bool(tool.required)
    if kind == "out_of_range":
        return any(isinstance(s, Mapping) and has_constraint(s) for s in tool.properties.values())
    return True


def _describe(config: GenerationConfig, source: dict[str, Any]) -> str:
    runs = [run for run in source["runs"].values() if isinstance(run, dict)]
    kinds = sorted({str(run.get("kind")) for run in runs})
    tools = sorted({str(run["tool"]) for run in runs if "tool" in run})
    text = f"{len(source['runs'])} generated scenarios for {config.agent_name}"
    if tools:
        text += f" exercising {', '.join(tools)}"
    return f"{text} ({', '.join(kinds)})."


def generate_dataset_source(config: dict[str, Any], *, request_name: str) -> GeneratedDataset:
    """Turn a generation config into a dataset (rules in the module docstring).

    Raises ``GenerationError`` with a message naming the field for configs it cannot use, and
    for an LLM answer that is unusable when an LLM is configured.
    """
    parsed = parse_config(config)
    seed = _seed(config, request_name)
    rng = random.Random(seed)
    slots = plan_slots(parsed, rng)
    client = LlmClient.from_env()
    source: dict[str, Any]
    if client is not None:
        try:
            source = generate_with_llm(
                parsed,
                slots,
                client,
                tools=_allowed_tools(parsed),
                seed=seed,
            )
        finally:
            client.close()
    else:
        writer = ScenarioWriter(parsed, rng, _allowed_tools(parsed))
        runs = {f"scenario_{i:03d}": writer.write(slot) for i, slot in enumerate(slots, start=1)}
        source = {"runs": runs}
    name = parsed.dataset_name or request_name.strip() or f"{parsed.agent_name} dataset"
    description = parsed.dataset_description or _describe(parsed, source)
    return GeneratedDataset(name=name, description=description, dataset_source=source)
