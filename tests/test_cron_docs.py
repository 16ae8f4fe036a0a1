"""docs/cron.md's crontab advice holds: the config file a cron job reads, stderr left to cron, alternatives marked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import SNOOZEBOT

CRON = (Path(__file__).resolve().parent.parent / "docs" / "cron.md").read_text()
CRONTABS = re.findall(r"```crontab\n(.*?)```", CRON, flags=re.S)
SCHEDULE = """[schedules.office]
timezone = "Europe/Berlin"
periods = [{ days = "mon-fri", start = "08:00", stop = "19:00" }]
"""


def _as_cron(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """``snoozebot`` in the environment cron gives a job: HOME, LOGNAME, a bare PATH, and the crontab's variables."""
    env = {"HOME": str(home), "LOGNAME": "me", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin",
           "SNOOZEBOT_HOME": str(home / "state"), **extra}
    return subprocess.run([SNOOZEBOT, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def test_a_cron_job_reads_the_config_file_the_page_names(tmp_path: Path) -> None:
    assert "`~/.config/snoozebot/config.toml` of the crontab's owner" in CRON
    config = tmp_path / ".config" / "snoozebot" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(SCHEDULE)
    shown = _as_cron(tmp_path, "schedule", "show", "office")
    assert shown.returncode == 0, shown.stderr
    assert "Europe/Berlin" in shown.stdout


def test_a_missing_default_file_is_no_schedules_a_missing_snoozebot_config_is_exit_2(tmp_path: Path) -> None:
    assert "a missing default file is silently an empty configuration" in CRON
    assert "a missing `$SNOOZEBOT_CONFIG` is exit 2" in CRON
    missing_default = _as_cron(tmp_path, "schedule", "show", "office")
    assert missing_default.returncode == 2 and "office" in missing_default.stderr
    gone = tmp_path / "etc" / "config.toml"
    missing_named = _as_cron(tmp_path, "schedule", "run", "-p", "memory", SNOOZEBOT_CONFIG=str(gone))
    assert missing_named.returncode == 2
    assert missing_named.stderr.strip() == f"snoozebot: error: config file not found: {gone}"


def _lines(block: str) -> tuple[list[str], list[str]]:
    """The active job lines of a crontab block, and the commented-out ones (alternatives)."""
    active = [line for line in block.splitlines() if re.match(r"[*\d]", line)]
    commented = [line[2:] for line in block.splitlines() if re.match(r"# [*\d]", line)]
    return active, commented


def test_the_crontab_lines_leave_stderr_to_cron_and_name_an_existing_log_directory() -> None:
    assert len(CRONTABS) == 2
    assert "The log directory must exist." in CRON
    for block in CRONTABS:
        assert "MAILTO=" in block
        active, commented = _lines(block)
        for line in active + commented:
            assert "2>&1" not in line, line
            assert re.search(r">> /var/log/snoozebot/\w+\.log$", line), line


def test_one_job_per_block_the_others_are_marked_alternatives() -> None:
    for block in CRONTABS:
        active, commented = _lines(block)
        assert len(active) == 1, active
        assert commented
        lines = block.splitlines()
        for n, line in enumerate(lines):
            if line[2:] not in commented:
                continue
            start = n
            while start > 0 and lines[start - 1].startswith("# ") and lines[start - 1][2:] not in commented:
                start -= 1
            assert lines[start].startswith("# Alternative"), (line, lines[start])
