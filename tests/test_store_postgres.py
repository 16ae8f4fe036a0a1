"""The PostgreSQL store's own promises, against a real server (tests/pg.py): pooled, batched locks."""

from __future__ import annotations

import time
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


def test_many_keys_are_taken_in_order_holding_those_before_one_held_elsewhere(pg_url: str) -> None:
    import threading

    store, other = _store(pg_url), _store(pg_url)
    names = [f"memory:mem-{i}" for i in range(1000)]
    blocked = names[500]
    taken = threading.Event()
    with other.hold([blocked], timeout=1, what=blocked):

        def take_all() -> None:
            with store.hold(names, timeout=30, what="1,000 instances"):
                taken.set()

        thread = threading.Thread(target=take_all)
        thread.start()
        deadline = time.monotonic() + 10
        order = sorted(names, key=lambda n: advisory_key(f"snoozebot:{n}"))
        before, after = order[: order.index(blocked)], order[order.index(blocked) + 1 :]
        while _free(pg_url, before[-1]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not taken.is_set()
        assert not any(_free(pg_url, n) for n in before[:3] + before[-3:]), "the keys before it are held"
        assert all(_free(pg_url, n) for n in after[:3] + after[-3:]), "none after it is held while waiting"
    thread.join(timeout=10)
    assert taken.is_set(), "once the key was free, every key was taken"
    assert all(_free(pg_url, n) for n in names[:5])


def test_forget_store_closes_its_connections_and_the_next_open_makes_a_new_store(
    pg_url: str, tmp_path: Path
) -> None:
    from snoozebot.store import forget_store, open_store

    store = open_store(tmp_path, None)
    with store.hold(["aws:i-1"], timeout=1, what="i-1"), store.session(consequence=""):
        pass
    kept = [conn for conn, _ in store._idle]  # type: ignore[attr-defined]
    forget_store(store)
    assert kept and all(conn.closed for conn in kept)
    assert open_store(tmp_path, None) is not store
