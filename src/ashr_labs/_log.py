"""The package logger: a NullHandler on ``ashr_labs`` and nothing else."""

from __future__ import annotations

import logging

logger = logging.getLogger("ashr_labs")
logger.addHandler(logging.NullHandler())

__all__ = ["logger"]
