"""The suite's Hypothesis profile: ~100 derandomised examples, no deadline (2 shared cores).

Import this module from a test module that uses Hypothesis; importing it registers the ``ci``
profile and loads it (``HYPOTHESIS_PROFILE=thorough`` runs 3000 random examples per test instead).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough", parent=settings.get_profile("ci"), max_examples=3000, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
