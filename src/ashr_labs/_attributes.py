"""Span attribute keys: the contract between our spans, our instrumentors, the exporter's
mapping and the local server's OTLP ingest.

It sits below both products (and the server) because all of them read or write these keys.
GenAI keys are the OpenTelemetry GenAI semantic-convention names, pinned here as strings because
``opentelemetry.semconv._incubating`` moves between releases. Structured values (input, output,
metadata, usage) are JSON strings; scalars are plain attribute values.
"""

from __future__ import annotations

# --- Ashr observation attributes (on every Ashr span) -------------------------------------------
ASHR_OBSERVATION_TYPE = "ashr.observation.type"
"""``"trace"`` on a root from ``client.trace()``/``@observe``, else ``"span"``/``"generation"``."""
ASHR_INPUT = "ashr.observation.input"
ASHR_OUTPUT = "ashr.observation.output"
ASHR_METADATA = "ashr.observation.metadata"
ASHR_LEVEL = "ashr.observation.level"
ASHR_STATUS_MESSAGE = "ashr.observation.status_message"
ASHR_MODEL = "ashr.observation.model"
ASHR_USAGE = "ashr.observation.usage"
"""JSON object, e.g. ``{"input_tokens": 50, "output_tokens": 12}`` (passed through as given)."""

# --- Trace-wide attributes (on the root span only) ---------------------------------------------
ASHR_TRACE_NAME = "ashr.trace.name"
ASHR_TRACE_INPUT = "ashr.trace.input"
ASHR_TRACE_OUTPUT = "ashr.trace.output"
ASHR_TRACE_METADATA = "ashr.trace.metadata"
ASHR_USER_ID = "ashr.trace.user_id"
ASHR_SESSION_ID = "ashr.trace.session_id"
ASHR_TAGS = "ashr.trace.tags"
"""A string-array attribute."""

# --- Well-known non-Ashr keys we also write or read ---------------------------------------------
ENDUSER_ID = "enduser.id"
SESSION_ID = "session.id"

# --- OpenTelemetry GenAI semantic conventions ---------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
"""Older name of input tokens, still written by some instrumentations (OpenLLMetry)."""
GEN_AI_USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_PROMPT_PREFIX = "gen_ai.prompt"
"""OpenLLMetry's indexed prompt attributes (``gen_ai.prompt.0.role``, ``...0.content``)."""
GEN_AI_COMPLETION_PREFIX = "gen_ai.completion"

GEN_AI_PREFIX = "gen_ai."

# --- Instrumentation scopes whose spans count as LLM spans (DESIGN.md §3 export filter) ----------
ASHR_SCOPE_PREFIX = "ashr_labs"
KNOWN_LLM_SCOPE_PREFIXES = (
    "ashr_labs",
    "opentelemetry.instrumentation.openai",
    "opentelemetry.instrumentation.anthropic",
    "opentelemetry.instrumentation.openai_v2",
    "openinference.instrumentation",
)

OBSERVATION_TYPES = ("trace", "span", "generation")
LEVELS = ("DEBUG", "DEFAULT", "WARNING", "ERROR")
