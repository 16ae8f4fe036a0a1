"""One instance's line in a run's report: the JSON shape of docs/schedules.md#output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    target: str | None = None
    """The fleet target the instance belongs to (rows of a target carry ``target`` and ``scope``)."""
    scope: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "id": self.id,
            "provider": self.provider,
            "schedule": self.schedule,
            "action": self.action,
            "ok": self.ok,
            "error": self.error,
        }
        if self.target is not None:
            doc.update(target=self.target, scope=dict(self.scope))
        return doc
