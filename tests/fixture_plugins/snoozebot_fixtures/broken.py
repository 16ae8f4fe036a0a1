"""A provider whose import fails on a missing dependency."""

from __future__ import annotations

import snoozebot_fixture_missing_dependency  # noqa: F401  (deliberately not installed)

from snoozebot_fixtures.memory import MemoryProvider


class BrokenProvider(MemoryProvider):
    name = "broken"
