"""Observability: trace production agents with ``Trace``/``Span``/``Generation`` on OpenTelemetry.

Usage::

    client = AshrLabsClient(api_key="tp_...", base_url="http://127.0.0.1:PORT")

    with client.trace("handle-ticket", user_id="user_42") as trace:
        with trace.generation("classify", model="m", input=messages) as gen:
            gen.end(output=result, usage={"input_tokens": 50, "output_tokens": 12})

    @observe                      # a child inside an active trace, else a new trace
    def answer(question): ...

Rules worth knowing:

- ``trace.trace_id`` is the OTel trace id (32 hex), known at once; the server stores the trace
  under it. ``trace.end()`` only enqueues and returns ``{"status": "queued", ...}``;
  ``trace.end(flush=True)`` / ``client.flush(timeout)`` wait, with a deadline. Nothing raises.
- ``@observe`` outside a trace uses the *current client*: the most recently created client with
  tracing enabled (closing it clears it). ``@client.observe(...)`` binds one client. With no
  client it is a transparent no-op.
- Context follows OTel: asyncio tasks and ``asyncio.to_thread`` nest; a plain
  ``threading.Thread`` or ``ThreadPoolExecutor`` starts a new trace unless you use
  ``context_executor()`` or ``wrap_context(fn)``.
- Values pass ``prepare_value(value, options)`` before they reach a span: the ``mask`` hook, safe
  JSON conversion (bounded size, depth and items; generators never consumed), the secret
  redactor, and ``capture_content=False`` to keep inputs and outputs out entirely.
- The client traces into its own ``TracerProvider`` (``client.tracer_provider``; add your own
  processors there), never the global one. Pass ``tracer_provider=`` to trace into yours: then
  only trees holding Ashr, GenAI or known LLM spans are sent.
- The span queue is bounded (``max_queue_size``); when full, newly ended spans are dropped and
  counted, and a trace that lost spans is sent marked ``incomplete``. ``client.flush()`` reports
  ``sent``, ``pending``, ``dropped``, ``failed`` (totals since the client was created).
- At exit, queued traces are flushed within ``flush_timeout_s``; undelivered ones are reported in
  one stderr line. ``os._exit`` skips this: call ``client.flush()`` before it (forked
  ``multiprocessing`` workers are handled for you). A forked child starts with empty buffers.
- Zero-code: ``OTEL_TRACES_EXPORTER=ashr`` selects ``AshrSpanExporter``, which reads
  ``ASHR_LABS_API_KEY`` / ``ASHR_LABS_BASE_URL``; bad settings are logged and tracing stays off.
  Its exit is bounded the same way and reports losses in the same one stderr line.
"""

from __future__ import annotations

from ._context import context_executor, wrap_context
from ._decorators import observe
from ._exporter import AshrSpanExporter
from ._options import TracingOptions
from ._spans import Generation, Span, Trace, update_current_trace
from ._values import prepare_value

__all__ = [
    "AshrSpanExporter",
    "Generation",
    "Span",
    "Trace",
    "TracingOptions",
    "context_executor",
    "observe",
    "prepare_value",
    "update_current_trace",
    "wrap_context",
]
