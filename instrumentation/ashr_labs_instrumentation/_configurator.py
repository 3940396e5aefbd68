"""The ``opentelemetry-instrument`` configurator that makes zero-code tracing work with this
package alone (no ``opentelemetry-distro`` needed): the stock launcher then sets up the SDK from
the ``OTEL_*`` variables, so

    OTEL_TRACES_EXPORTER=ashr ASHR_LABS_API_KEY=tp_... ASHR_LABS_BASE_URL=... \\
        opentelemetry-instrument python app.py

traces an unmodified program. When ``ashr`` is among the trace exporters and metrics or logs
exporters are not set, they default to ``none`` (not OTLP to a collector that may not exist).
Nothing changes for users who do not name ``ashr``. OTel's docs ask distros to subclass
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
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

__all__ = ["AshrConfigurator"]


class AshrConfigurator(_OTelSDKConfigurator):
    """Sets up the global TracerProvider and the exporters ``OTEL_TRACES_EXPORTER`` names."""

    def _configure(self, **kwargs: Any) -> None:
        exporters = os.environ.get(OTEL_TRACES_EXPORTER, "")
        if "ashr" in (name.strip() for name in exporters.split(",")):
            os.environ.setdefault(OTEL_METRICS_EXPORTER, "none")
            os.environ.setdefault(OTEL_LOGS_EXPORTER, "none")
        super()._configure(**kwargs)  # type: ignore[no-untyped-call]
