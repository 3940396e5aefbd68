"""Auto-instrumentation of LLM client libraries (openai, anthropic) for Ashr tracing."""
