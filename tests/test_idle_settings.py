"""Nap time and thresholds: options over [idle] over the documented defaults."""

from __future__ import annotations

import datetime as dt

import pytest

from snoozebot.errors import UsageError
from snoozebot.idle.readings import Thresholds
from snoozebot.idle.settings import IdleSettings, parse_naptime, resolve_settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("90s", 90), ("45", 2700), (15, 900), ("0", 0), ("1.5h", 5400), (" 10 M ", 600)],
)
def test_naptime(text: object, seconds: int) -> None:
    assert parse_naptime(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "-5m", "5d", "1h30m", True, None])
def test_bad_naptime(text: object) -> None:
    with pytest.raises(UsageError, match="bad nap time"):
        parse_naptime(text)


def test_defaults() -> None:
    assert resolve_settings({}) == IdleSettings(Thresholds(10, 50, 100, 5), dt.timedelta(minutes=30), False)


def test_config_then_options() -> None:
    table = {"naptime": "1h", "cpu": 20, "gpu": 1.5, "ignore_sessions": True}
    s = resolve_settings(table, naptime="5m", thresholds={"cpu": 30.0, "disk": None})
    assert s.naptime == dt.timedelta(minutes=5)
    assert s.thresholds == Thresholds(cpu=30.0, network=50.0, disk=100.0, gpu=1.5)
    assert s.ignore_sessions


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"cpu": "high"}, "cpu must be a number >= 0"),
        ({"disk": -1}, "disk must be a number >= 0"),
        ({"naptime": "forever"}, "bad nap time"),
        ({"ignore_sessions": "yes"}, "ignore_sessions must be true or false"),
        ({"cpus": 5}, "unknown key 'cpus'"),
    ],
)
def test_bad_idle_table(table: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_settings(table)
