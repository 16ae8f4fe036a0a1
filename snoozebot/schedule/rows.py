"""One instance's line in a run's report: the JSON shape of docs/schedules.md#output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from snoozebot.schedule.decision import DecisionAction

__all__ = ["Row"]


@dataclass(frozen=True)
class Row:
    """One instance in the JSON shape of docs/schedules.md#output (``reason`` is for the text table)."""

    id: str
    provider: str
    schedule: str | None
    action: DecisionAction
    ok: bool
    error: dict[str, Any] | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "schedule": self.schedule,
            "action": self.action,
            "ok": self.ok,
            "error": self.error,
        }
