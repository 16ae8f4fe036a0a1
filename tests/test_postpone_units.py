"""Postpone tokens, moved boundaries and the override store, in-process."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from snoozebot.notify.tokens import PostponeToken, TokenRefused
from snoozebot.overrides import KEEP_AFTER, InstanceOverrides, OverrideStore
from snoozebot.schedule import Boundary, load_schedules

SCHEDULE = load_schedules(
    {"office": {"timezone": "Europe/Berlin", "periods": [{"days": "mon-fri", "start": "08:00", "stop": "19:00"}]}}
)["office"]
STOP = dt.datetime(2027, 1, 4, 18, 0, tzinfo=dt.UTC)  # Monday 19:00 in Berlin
SECRET = b"k" * 32


def at(hours: float) -> dt.datetime:
    return STOP + dt.timedelta(hours=hours)


def test_a_token_round_trips_and_says_what_it_does() -> None:
    token = PostponeToken("aws", "i-0abc", STOP, "+2h", "Europe/Berlin")
    back = PostponeToken.decode(token.encode(SECRET), SECRET)
    assert back == token
    assert (back.moved_to, back.expires) == (at(2), at(24))
    assert PostponeToken("aws", "i-0abc", STOP, "skip").moved_to is None
    assert back.local(STOP) == "Mon 2027-01-04 19:00 CET"


@pytest.mark.parametrize("change", ["signature", "payload", "secret", "choice", "shape"])
def test_altered_tokens_are_refused(change: str) -> None:
    text = PostponeToken("aws", "i-0abc", STOP, "+1h").encode(SECRET)
    payload, signature = text.split(".")
    if change == "signature":
        text = f"{payload}.{signature[::-1]}"
    elif change == "payload":
        text = f"{PostponeToken('aws', 'i-0def', STOP, '+1h').payload()}.{signature}"
    elif change == "choice":  # signed, but not a choice a link offers
        text = PostponeToken("aws", "i-0abc", STOP, "+9h").encode(SECRET)
    elif change == "shape":
        text = "no-dot-here"
    with pytest.raises(TokenRefused):
        PostponeToken.decode(text, b"other" * 8 if change == "secret" else SECRET)


def test_a_moved_stop_decides_the_window_that_holds_its_new_time() -> None:
    moved = InstanceOverrides(moves={STOP: at(1)})
    assert moved.latest(SCHEDULE, at(-0.1), at(0.1)) is None
    assert moved.latest(SCHEDULE, at(0.1), at(1.1)) == Boundary(at(1), "stop")
    skipped = InstanceOverrides(moves={STOP: None})
    assert skipped.latest(SCHEDULE, at(-0.1), at(0.1)) is None
    # The next morning's start and the next evening's stop are the schedule's own.
    assert skipped.latest(SCHEDULE, at(0.1), at(13.1)) == Boundary(at(13), "start")
    assert skipped.latest(SCHEDULE, at(23.9), at(24.1)) == Boundary(at(24), "stop")


@pytest.mark.both_backends
def test_the_store_keeps_its_secret_warnings_tokens_and_moves(tmp_path: Path, state_backend: str) -> None:
    store = OverrideStore.in_directory(tmp_path)
    secret = store.secret()
    assert len(secret) == 32 and OverrideStore.in_directory(tmp_path).secret() == secret
    if state_backend == "sqlite":  # in the state store's one file, 0600
        assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == ["audit.sqlite3"]
        assert stat.S_IMODE((tmp_path / "audit.sqlite3").stat().st_mode) == 0o600
    keys = [("aws", "i-0abc", STOP), ("aws", "i-0def", STOP)]
    assert store.mark_warned_many(keys) == set(keys)
    assert store.mark_warned_many([*keys, ("aws", "i-0abc", at(1))]) == {("aws", "i-0abc", at(1))}
    assert store.use_token("t1") and not store.use_token("t1") and store.token_used("t1")
    assert not store.token_used("t2")
    store.move("aws", "i-0abc", STOP, at(1), actor="link")
    store.move("aws", "i-0abc", at(1), at(3), actor="link")  # postponed again: the same stop moves on
    assert store.for_instances(STOP)[("aws", "i-0abc")].moves == {STOP: at(3)}
    [row] = store.rows(STOP)
    assert (row.kind, row.boundary, row.until) == ("postpone", STOP, at(3))
    assert store.rows(at(4)) == []  # passed: no longer shown
    assert store.for_instances(at(4))[("aws", "i-0abc")].moves == {STOP: at(3)}  # but still honoured a while


@pytest.mark.both_backends
def test_snoozes_replace_clear_and_passed_overrides_are_pruned(tmp_path: Path, state_backend: str) -> None:
    store = OverrideStore.in_directory(tmp_path)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    store.snooze("aws", "i-0abc", now + dt.timedelta(hours=1), actor="a")
    store.snooze("aws", "i-0abc", now + dt.timedelta(hours=2), actor="b")  # replaces the first
    [row] = store.rows(now)
    assert (row.kind, row.until, row.actor) == ("snooze", now + dt.timedelta(hours=2), "b")
    assert store.clear_snooze("aws", "i-0abc") and not store.clear_snooze("aws", "i-0abc")
    long_ago = now - KEEP_AFTER - dt.timedelta(hours=1)
    store.move("aws", "i-old", long_ago, None, actor="link")  # skipped, passed more than a day ago
    store.move("aws", "i-late", long_ago, now, actor="link")  # postponed to now: kept a day longer
    store.snooze("aws", "i-new", now + dt.timedelta(hours=1), actor="a")  # a write prunes what passed
    assert sorted(store.for_instances(now)) == [("aws", "i-late"), ("aws", "i-new")]


OLD_OVERRIDES = """
CREATE TABLE snoozes (provider TEXT NOT NULL, instance TEXT NOT NULL, until TEXT NOT NULL,
    actor TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (provider, instance));
CREATE TABLE moves (provider TEXT NOT NULL, instance TEXT NOT NULL, boundary TEXT NOT NULL, moved_to TEXT,
    actor TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (provider, instance, boundary));
CREATE TABLE warned (provider TEXT NOT NULL, instance TEXT NOT NULL, boundary TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (provider, instance, boundary));
CREATE TABLE used_tokens (token TEXT PRIMARY KEY, used TEXT NOT NULL);
CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
"""The schema of ``overrides.sqlite3`` as the release before the state store wrote it."""


@pytest.mark.both_backends
def test_an_old_overrides_file_is_imported_once(tmp_path: Path, state_backend: str) -> None:
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    made = "2026-11-20T10:00:00+00:00"
    with closing(sqlite3.connect(tmp_path / "overrides.sqlite3")) as old, old:
        old.executescript(OLD_OVERRIDES)
        old.execute("INSERT INTO snoozes VALUES ('aws', 'i-0abc', ?, 'cli:ann', ?)", (until.isoformat(), made))
        old.execute("INSERT INTO moves VALUES ('aws', 'i-0def', ?, NULL, 'link', ?)", (until.isoformat(), made))
        old.execute("INSERT INTO warned VALUES ('aws', 'i-0def', ?, ?)", (until.isoformat(), made))
        old.execute("INSERT INTO used_tokens VALUES ('spent', ?)", (made,))
        old.execute("INSERT INTO secrets VALUES ('postpone', ?)", ("ab" * 32,))
    store = OverrideStore.in_directory(tmp_path)
    assert [(r.instance, r.kind, r.until or r.boundary, r.actor) for r in store.rows(until - KEEP_AFTER)] == [
        ("i-0abc", "snooze", until, "cli:ann"), ("i-0def", "skip", until, "link")
    ]
    assert store.secret() == bytes.fromhex("ab" * 32)
    assert store.token_used("spent") and not store.use_token("spent")
    assert store.mark_warned_many([("aws", "i-0def", until)]) == set()  # warned before the upgrade
    assert not (tmp_path / "overrides.sqlite3").exists() and (tmp_path / "overrides.sqlite3.imported").exists()
    assert store.clear_snooze("aws", "i-0abc")
    again = OverrideStore.in_directory(tmp_path)  # another process: nothing imported a second time
    assert [r.instance for r in again.rows(until - KEEP_AFTER)] == ["i-0def"]
    if state_backend == "postgresql":  # another machine's old file: the rows already stored win
        other = tmp_path / "other"
        other.mkdir()
        with closing(sqlite3.connect(other / "overrides.sqlite3")) as old, old:
            old.executescript(OLD_OVERRIDES)
            old.execute("INSERT INTO secrets VALUES ('postpone', ?)", ("cd" * 32,))
            old.execute("INSERT INTO moves VALUES ('aws', 'i-0def', ?, ?, 'cli:bob', ?)", (until.isoformat(),) * 3)
        assert OverrideStore.in_directory(other).secret() == bytes.fromhex("ab" * 32)
        [kept] = again.rows(until - KEEP_AFTER)
        assert (kept.kind, kept.actor) == ("skip", "link")
