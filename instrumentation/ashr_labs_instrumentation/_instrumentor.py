"""The one ``BaseInstrumentor`` shape both libraries share: resolve settings, get a tracer from
the given provider, patch the target table, restore it exactly on ``uninstrument()``."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import Tracer

from ashr_labs._settings import ASHR_LABS_CAPTURE_CONTENT, env_flag
from ashr_labs._version import __version__
from ashr_labs.observability._options import TracingOptions

from ._call import GenerationConfig
from ._patch import Patcher, WrapTarget

__all__ = ["LLMInstrumentor", "resolve_options"]


def resolve_options(
    capture_content: bool | None = None,
    mask: Callable[[Any], Any] | None = None,
    options: TracingOptions | None = None,
) -> TracingOptions:
    """The values pipeline's options with ``capture_content`` settled to a bool.

    Explicit argument first, then the given options' setting, then ``ASHR_LABS_CAPTURE_CONTENT``
    (default on: this is an agent observability product).
    """
    base = options if options is not None else TracingOptions()
    if capture_content is None:
        capture_content = base.capture_content
    if capture_content is None:
        capture_content = env_flag(os.environ.get(ASHR_LABS_CAPTURE_CONTENT), True)
    if mask is None:
        mask = base.mask
    return dataclasses.replace(base, capture_content=capture_content, mask=mask)


class LLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of ``OpenAIInstrumentor`` and ``AnthropicInstrumentor``.

    ``instrument(tracer_provider=None, capture_content=None, mask=None, options=None,
    inject_stream_usage=False)``; the provider defaults to the global one (zero-code mode).
    """

    library: ClassVar[str]
    instruments: ClassVar[tuple[str, ...]]
    targets: ClassVar[tuple[WrapTarget, ...]]

    @staticmethod
    def wrapper_factory(target: WrapTarget, tracer: Tracer, config: GenerationConfig) -> Any:
        """The wrapt wrapper for one target (each library module provides it)."""
        raise NotImplementedError

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    @property
    def _patcher(self) -> Patcher:
        patcher = self.__dict__.get("_ashr_patcher")
        if patcher is None:
            patcher = self.__dict__["_ashr_patcher"] = Patcher(self.library)
        return patcher

    @property
    def patched(self) -> list[tuple[type, str, Any]]:
        """``(class, method name, original)`` for every method currently patched."""
        return self._patcher.patched

    def _instrument(self, **kwargs: Any) -> None:
        options = resolve_options(
            kwargs.get("capture_content"), kwargs.get("mask"), kwargs.get("options")
        )
        config = GenerationConfig(
            self.library, options, bool(kwargs.get("inject_stream_usage", False))
        )
        tracer = trace.get_tracer(
            f"ashr_labs.instrumentation.{self.library}",
            __version__,
            tracer_provider=kwargs.get("tracer_provider"),
        )
        factory = type(self).wrapper_factory
        self._patcher.apply(self.targets, lambda target: factory(target, tracer, config))

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patcher.restore()
