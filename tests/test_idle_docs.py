"""docs/cron.md keeps up with `idle check`: every option and every default it names."""

from __future__ import annotations

from pathlib import Path

import typer.main

from snoozebot.cli.idle import app
from snoozebot.idle.readings import DEFAULT_THRESHOLDS
from snoozebot.idle.settings import DEFAULT_NAPTIME

CRON = (Path(__file__).resolve().parent.parent / "docs" / "cron.md").read_text()


def test_every_option_is_documented() -> None:
    command = typer.main.get_command(app)
    options = {o for p in command.params for o in p.opts if o.startswith("--")}
    assert {
        o
        for o in options
        - {"--help", "--option", "--config", "--timeout", "--install-completion", "--show-completion"}
        if o not in CRON
    } == set()


def test_the_documented_defaults_are_the_real_ones() -> None:
    assert f"| `naptime` | `{int(DEFAULT_NAPTIME.total_seconds() // 60)}m` |" in CRON
    for key, unit in (("cpu", "%"), ("network", "kB/s"), ("disk", "kB/s"), ("gpu", "%")):
        assert f"| `{key}` | {getattr(DEFAULT_THRESHOLDS, key):g} {unit} |" in CRON, key
