"""docs/schedules.md and docs/cron.md keep up with the `schedule` commands and the schedule grammar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from snoozebot.cli.schedule import app
from snoozebot.config import load_config
from snoozebot.schedule.grammar import load_schedules

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("command", ["run", "show", "explain"])
def test_every_option_is_documented(command: str) -> None:
    text = (DOCS / "schedules.md").read_text() + (DOCS / "cron.md").read_text()
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    documented_elsewhere = {
        "--help",
        "--option",
        "--config",
        "--timeout",
        "--count",
        "--install-completion",
        "--show-completion",
    }
    options = {o for p in click_command.params for o in p.opts if o.startswith("--")} - documented_elsewhere
    assert options and {o for o in options if o not in text} == set()


def test_the_toml_examples_in_the_docs_are_valid_schedules(tmp_path: Path) -> None:
    text = (DOCS / "schedules.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    for n, block in enumerate(blocks):
        path = tmp_path / f"example{n}.toml"
        path.write_text(block)
        for ics in re.findall(r'ics = "([^"]+)"', block):  # an empty calendar stands in for the file
            (tmp_path / ics).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / ics).write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n")
        config = load_config(path)
        schedules = load_schedules(config.table("schedules"), calendars=config.table("calendars"), base=tmp_path)
        assert schedules, block
