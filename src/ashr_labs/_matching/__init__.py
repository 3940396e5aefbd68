"""Comparators shared by the testing product and the local server's grader (stdlib only).

The seven functions the API reference names behave exactly like the published package's
(protocol.md §6); ``compare_args_with_schema``, ``pair_tool_calls`` and the small helpers
(``call_name``, the ``NOT_CALLED`` / ``NONE_EXPECTED`` sentinels) are our additions.
"""

from __future__ import annotations

from ._args import (
    NONE_EXPECTED,
    NOT_CALLED,
    ArgumentComparison,
    call_name,
    compare_args_structural,
    compare_tool_args,
    extract_tool_args,
)
from ._pairing import pair_tool_calls
from ._schema import compare_args_with_schema
from ._text import fuzzy_str_match, strip_markdown, text_similarity, tokenize

__all__ = [
    "NONE_EXPECTED",
    "NOT_CALLED",
    "ArgumentComparison",
    "call_name",
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
