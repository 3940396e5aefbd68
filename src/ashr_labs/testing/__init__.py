"""Testing Platform: datasets, runs, builders, ``EvalRunner`` and the comparators."""

from __future__ import annotations

from .._matching import (
    compare_args_structural,
    compare_args_with_schema,
    compare_tool_args,
    extract_tool_args,
    fuzzy_str_match,
    pair_tool_calls,
    strip_markdown,
    text_similarity,
    tokenize,
)
from ._api import TestingPlatformMethods
from ._builders import RunBuilder, TestBuilder
from ._runner import Agent, AsyncAgent, EvalRunner

__all__ = [
    "Agent",
    "AsyncAgent",
    "EvalRunner",
    "RunBuilder",
    "TestBuilder",
    "TestingPlatformMethods",
    "compare_args_structural",
    "compare_args_with_schema",
    "compare_tool_args",
    "extract_tool_args",
    "fuzzy_str_match",
    "pair_tool_calls",
    "strip_markdown",
    "text_similarity",
    "tokenize",
]
