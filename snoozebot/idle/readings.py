"""Readings, thresholds and the idle verdict: pure data, no measuring here.

A reading that could not be taken carries an error and counts as busy, never
as idle. The GPU reading is absent (``None``) on a machine without
``nvidia-smi``; absence is not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_THRESHOLDS", "Reading", "Readings", "Thresholds", "Verdict", "evaluate"]


@dataclass(frozen=True)
class Reading:
    """One measurement: its value, or why it could not be taken."""

    value: float | None
    error: str | None = None

    @classmethod
    def failed(cls, error: str) -> Reading:
        return cls(None, error)


@dataclass(frozen=True)
class Readings:
    """One sample of the machine (docs/cron.md): CPU %, network and disk kB/s, GPU %, sessions."""

    cpu: Reading
    network: Reading
    disk: Reading
    gpu: Reading | None
    sessions: Reading


@dataclass(frozen=True)
class Thresholds:
    """The highest readings that still count as idle."""

    cpu: float = 10.0
    network: float = 50.0
    disk: float = 100.0
    gpu: float = 5.0


DEFAULT_THRESHOLDS = Thresholds()

_UNITS = {"cpu": "%", "network": "kB/s", "disk": "kB/s", "gpu": "%", "sessions": "users"}


@dataclass(frozen=True)
class Verdict:
    """Whether the sample is idle, and each reading judged against its threshold."""

    idle: bool
    readings: dict[str, dict[str, Any] | None]


def _judge(name: str, reading: Reading, threshold: float | None) -> dict[str, Any]:
    idle = reading.value is not None and (threshold is None or reading.value <= threshold)
    return {
        "value": reading.value,
        "unit": _UNITS[name],
        "threshold": threshold,
        "idle": idle,
        "error": reading.error if reading.value is None else None,
    }


def evaluate(readings: Readings, thresholds: Thresholds, *, ignore_sessions: bool) -> Verdict:
    """Idle when every reading is at or under its threshold and nobody is logged in.

    A failed reading is busy. With ``ignore_sessions`` the session count is
    reported but does not decide (a failed count then does not matter either).
    """
    judged: dict[str, dict[str, Any] | None] = {
        "cpu": _judge("cpu", readings.cpu, thresholds.cpu),
        "network": _judge("network", readings.network, thresholds.network),
        "disk": _judge("disk", readings.disk, thresholds.disk),
        "gpu": _judge("gpu", readings.gpu, thresholds.gpu) if readings.gpu is not None else None,
    }
    sessions = _judge("sessions", readings.sessions, 0)
    if ignore_sessions:
        sessions = {**sessions, "threshold": None, "idle": True}
    judged["sessions"] = sessions
    return Verdict(all(r["idle"] for r in judged.values() if r is not None), judged)
