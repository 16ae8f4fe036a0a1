"""The PostgreSQL store's own promises, against a real server (tests/pg.py): pooled locks, warm-up."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from snoozebot.errors import LockTimeout
from snoozebot.store import DatabaseUrl
from snoozebot.store.postgres import PostgresStore, advisory_key


def _store(url: str) -> PostgresStore:
    return PostgresStore(DatabaseUrl.parse(url, source="test"))


def _free(url: str, name: str) -> bool:
    """True when another session can take the lock ``name`` (and gives it back)."""
    with psycopg.connect(url, autocommit=True) as conn:
        key = advisory_key(f"snoozebot:{name}")
        taken = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])  # type: ignore[index]
        if taken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return taken


def test_a_hold_blocks_other_machines_and_its_pooled_connection_comes_back_without_locks(pg_url: str) -> None:
    store, other = _store(pg_url), _store(pg_url)
    with store.hold(["aws:i-1", "aws:i-2"], timeout=1, what="i-1"):
        assert not _free(pg_url, "aws:i-1") and not _free(pg_url, "aws:i-2")
        with pytest.raises(LockTimeout), other.hold(["aws:i-2"], timeout=0.2, what="i-2"):
            pass
    assert len(store._idle) == 1, "the lock's connection went back to the pool"
    assert _free(pg_url, "aws:i-1") and _free(pg_url, "aws:i-2")
    with other.hold(["aws:i-2"], timeout=1, what="i-2"):  # free for another machine at once
        assert not _free(pg_url, "aws:i-2")


def test_a_hold_left_by_an_error_releases_its_locks(pg_url: str) -> None:
    store = _store(pg_url)
    with pytest.raises(RuntimeError), store.hold(["aws:i-1"], timeout=1, what="i-1"):
        raise RuntimeError("the action failed")
    assert _free(pg_url, "aws:i-1")
    assert store._idle == [], "a connection left by an error is closed, not pooled"


def test_warm_opens_the_connections_a_stop_uses(pg_url: str) -> None:
    store = _store(pg_url)
    store.warm()
    assert len(store._idle) == 2
    with store.hold(["aws:i-1"], timeout=1, what="i-1"), store.session(consequence="") as db:
        assert db.execute("SELECT count(*) FROM attempts") == [(0,)]  # migrated by the warm-up
    with psycopg.connect(pg_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = 'snoozebot' AND datname = current_database()"
        ).fetchone()
    assert rows == (2,), "the stop made no connection beyond the two warmed ones"


def test_prestart_warms_the_store_beside_the_worker(pg_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import time, snoozebot.store as store\n"
        "from snoozebot.host import prestart\n"
        "prestart.prestart(['instance', 'stop', 'mem-1', '-p', 'memory'])\n"
        "deadline = time.monotonic() + 30\n"
        "while time.monotonic() < deadline and not any(s._idle for s in store._shared.values()):\n"
        "    time.sleep(0.01)\n"
        "prestart.discard()\n"
        "print(sum(len(s._idle) for s in store._shared.values()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split()[-1] in ("1", "2"), done


def test_forget_store_closes_its_connections_and_the_next_open_makes_a_new_store(
    pg_url: str, tmp_path: Path
) -> None:
    from snoozebot.store import forget_store, open_store

    store = open_store(tmp_path, None)
    store.warm()
    kept = [conn for conn, _ in store._idle]  # type: ignore[attr-defined]
    forget_store(store)
    assert kept and all(conn.closed for conn in kept)
    assert open_store(tmp_path, None) is not store
