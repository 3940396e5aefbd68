"""Which spans record a model call, and which of them repeat one already recorded.

Shared by the exporter's mapping and the local server's OTLP ingest, so a trace becomes the
same observations whichever way it travels. Spans are given as ``(span_id, parent_id,
attributes)``; ids may be ints or hex strings, as long as one trace uses one kind.

One model call is often seen by two instrumentations (anthropic 2.x's own call span under our
generation; contrib's openai-v2 span around ours). Ours carry the most detail, so the other
span maps to a plain ``span``: a GenAI span with a model call among its ancestors, or with one
of our generations as a direct child, is a duplicate. Agent and tool spans are never model
calls, so they never swallow the calls inside them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from . import _attributes as attrs

__all__ = [
    "MODEL_CALLS",
    "NOT_MODEL_CALLS",
    "SpanFacts",
    "duplicate_generations",
    "generation_candidate",
    "is_ashr",
    "is_gen_ai",
    "model_call",
]

NOT_MODEL_CALLS = frozenset({"execute_tool", "invoke_agent", "create_agent"})
"""GenAI operation names that are not a model call, so never a generation."""
MODEL_CALLS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})

SpanFacts = tuple[Hashable, Hashable | None, Mapping[str, Any]]
"""``(span_id, parent_id or None, attributes)``."""


def is_ashr(attributes: Mapping[str, Any]) -> bool:
    return attrs.ASHR_OBSERVATION_TYPE in attributes


def is_gen_ai(attributes: Mapping[str, Any]) -> bool:
    return any(key.startswith(attrs.GEN_AI_PREFIX) for key in attributes)


def generation_candidate(attributes: Mapping[str, Any]) -> bool:
    """Ours marked ``generation``, or a foreign GenAI span that is not a tool or agent span."""
    ashr_type = attributes.get(attrs.ASHR_OBSERVATION_TYPE)
    if ashr_type is not None:
        return bool(ashr_type == "generation")
    return (
        is_gen_ai(attributes)
        and attrs.GEN_AI_TOOL_NAME not in attributes
        and attributes.get(attrs.GEN_AI_OPERATION_NAME) not in NOT_MODEL_CALLS
    )


def model_call(attributes: Mapping[str, Any]) -> bool:
    """Surely one model call: ours, or a GenAI span naming a model-call operation (or, with no
    operation, a requested model). A framework span that merely carries ``gen_ai.*`` is not."""
    if not generation_candidate(attributes):
        return False
    if is_ashr(attributes):
        return True
    operation = attributes.get(attrs.GEN_AI_OPERATION_NAME)
    if operation is not None:
        return operation in MODEL_CALLS
    return attrs.GEN_AI_REQUEST_MODEL in attributes


def duplicate_generations(spans: Iterable[SpanFacts]) -> frozenset[Hashable]:
    """Ids of foreign GenAI spans that repeat a model call another generation already records.

    Ancestors come from ``spans`` only: a parent sent in another batch is not known here.
    """
    facts = list(spans)
    by_id = {span_id: (parent, attributes) for span_id, parent, attributes in facts}
    holds_ours = {
        parent
        for _, parent, attributes in facts
        if parent is not None and is_ashr(attributes) and model_call(attributes)
    }
    duplicates: set[Hashable] = set()
    for span_id, parent, attributes in facts:
        if is_ashr(attributes) or not generation_candidate(attributes):
            continue
        if span_id in holds_ours:
            duplicates.add(span_id)
            continue
        seen: set[Hashable] = set()
        while parent is not None and parent in by_id and parent not in seen:
            seen.add(parent)
            parent, ancestor = by_id[parent]
            if model_call(ancestor):
                duplicates.add(span_id)
                break
    return frozenset(duplicates)
