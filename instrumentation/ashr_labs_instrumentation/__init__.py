"""Auto-instrumentation of LLM client libraries (openai, anthropic) for Ashr tracing.

``INSTRUMENTORS`` maps a library name to its instrumentor's import path; ``instrument_all()``
instruments every library in it (installed or not yet imported: patching waits for the import)
and ``uninstrument_all()`` undoes exactly that. Importing this package imports neither library.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from ashr_labs._log import logger
from ashr_labs._safety import internal_errors

__all__ = ["INSTRUMENTORS", "get_instrumentor", "instrument_all", "uninstrument_all"]

INSTRUMENTORS: dict[str, str] = {
    "openai": "ashr_labs_instrumentation.openai:OpenAIInstrumentor",
    "anthropic": "ashr_labs_instrumentation.anthropic:AnthropicInstrumentor",
}


def get_instrumentor(library: str) -> Any:
    """The (singleton) instrumentor for ``library``, a key of ``INSTRUMENTORS``."""
    module_name, _, class_name = INSTRUMENTORS[library].partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


def _available(library: str) -> bool:
    """Installed and importable, found without importing it."""
    try:
        return importlib.util.find_spec(library) is not None
    except (ImportError, ValueError):
        return False


def instrument_all(**kwargs: Any) -> list[str]:
    """Instrument every registered library that is installed; return the names instrumented.

    A library that is not installed is skipped quietly; already-instrumented libraries are left
    as they are (``instrument()`` is idempotent).
    """
    done: list[str] = []
    for library in INSTRUMENTORS:
        if not _available(library):
            logger.debug("ashr_labs: %s is not installed; not instrumented", library)
            continue
        with internal_errors():
            instrumentor = get_instrumentor(library)
            instrumentor.instrument(**kwargs)
            if instrumentor.is_instrumented_by_opentelemetry:
                done.append(library)
    return done


def uninstrument_all() -> None:
    """Undo ``instrument_all()``: every patched method gets its original back."""
    for library in INSTRUMENTORS:
        with internal_errors():
            instrumentor = get_instrumentor(library)
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()
