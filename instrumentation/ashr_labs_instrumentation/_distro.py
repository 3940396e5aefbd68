"""The ``opentelemetry-instrument`` hooks that make zero-code tracing work with this package
alone: a configurator (so the stock launcher sets up the SDK from ``OTEL_*`` variables, as
``opentelemetry-distro`` would) and a distro whose defaults send traces to Ashr.

``ASHR_LABS_API_KEY=... ASHR_LABS_BASE_URL=... opentelemetry-instrument python app.py`` then
traces an unmodified program: ``OTEL_TRACES_EXPORTER`` defaults to ``ashr`` and metrics and logs
to ``none`` (set them to keep other exporters). OTel's docs ask distros to subclass
``_OTelSDKConfigurator``, which is why this module imports it.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.environment_variables import (
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    OTEL_TRACES_EXPORTER,
)
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

__all__ = ["AshrConfigurator", "AshrDistro"]


class AshrConfigurator(_OTelSDKConfigurator):
    """Sets up the global TracerProvider and the exporters ``OTEL_TRACES_EXPORTER`` names."""


class AshrDistro(BaseDistro):  # type: ignore[misc]
    """Defaults for zero-code Ashr tracing; explicit ``OTEL_*`` settings always win."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_TRACES_EXPORTER, "ashr")
        os.environ.setdefault(OTEL_METRICS_EXPORTER, "none")
        os.environ.setdefault(OTEL_LOGS_EXPORTER, "none")
