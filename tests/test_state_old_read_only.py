"""A state directory of an older release that cannot be migrated (read-only) still reads, through the CLI."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from conftest import run_cli
from test_shared_state import OLD_ATTEMPTS, OLD_ROW
from test_state_damage import read_only_copy


def test_history_reads_an_old_log_in_a_read_only_directory(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir(mode=0o700)
    with closing(sqlite3.connect(old / "audit.sqlite3")) as conn:  # the first release's log: no versions
        conn.execute(OLD_ATTEMPTS)
        conn.execute(OLD_ROW)
        conn.commit()
    before = (old / "audit.sqlite3").read_bytes()
    with read_only_copy(old, tmp_path / "ro") as home:
        env = {"SNOOZEBOT_HOME": str(home)}
        history = run_cli("history", "--json", env=env)
        assert history.returncode == 0, history.stderr
        [row] = history.json()
        assert (row["instance"], row["result"], row["host"], row["target"]) == ("mem-0", "ok", None, None)
        tokens = run_cli("agent", "token", "list", "--json", env=env)  # a table the old log never had
        assert tokens.returncode == 0 and tokens.json() == [], tokens.stderr
        assert run_cli("db", "status", "--json", env=env).json()["version"] == 0
    assert (old / "audit.sqlite3").read_bytes() == before
