"""Postpone tokens, moved boundaries and the override store, in-process."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from snoozebot.notify.tokens import PostponeToken, TokenRefused
from snoozebot.overrides import InstanceOverrides, OverrideStore
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


def test_the_store_keeps_its_secret_warnings_tokens_and_moves(tmp_path: Path) -> None:
    store = OverrideStore.in_directory(tmp_path)
    secret = store.secret()
    assert len(secret) == 32 and OverrideStore.in_directory(tmp_path).secret() == secret
    assert stat.S_IMODE((tmp_path / "overrides.sqlite3").stat().st_mode) == 0o600
    keys = [("aws", "i-0abc", STOP), ("aws", "i-0def", STOP)]
    assert store.mark_warned_many(keys) == set(keys)
    assert store.mark_warned_many([*keys, ("aws", "i-0abc", at(1))]) == {("aws", "i-0abc", at(1))}
    assert store.use_token("t1") and not store.use_token("t1") and store.token_used("t1")
    store.move("aws", "i-0abc", STOP, at(1), actor="link")
    store.move("aws", "i-0abc", at(1), at(3), actor="link")  # postponed again: the same stop moves on
    assert store.for_instances(STOP)[("aws", "i-0abc")].moves == {STOP: at(3)}
    [row] = store.rows(STOP)
    assert (row.kind, row.boundary, row.until) == ("postpone", STOP, at(3))
    assert store.rows(at(4)) == []  # passed: no longer shown
    assert store.for_instances(at(4))[("aws", "i-0abc")].moves == {STOP: at(3)}  # but still honoured a while
