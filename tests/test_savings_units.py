"""The savings journal, prices and report; the journal in a real state store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from snoozebot import sdk
from snoozebot.config import Config
from snoozebot.errors import UsageError
from snoozebot.results import ActionResult
from snoozebot.savings.journal import Journal
from snoozebot.savings.price_cache import CachedLookup
from snoozebot.savings.prices import Price, PriceBook, read_overrides
from snoozebot.savings.report import Window, build_report
from snoozebot.savings.store import StateJournalStore
from snoozebot.store import Session, Store, open_store

T = TypeVar("T")

DAY = 86400.0
T0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp()  # a Monday, 00:00 UTC


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingSession:
    """A session of the state store that notes every statement it runs."""

    def __init__(self, inner: Session, statements: list[str]) -> None:
        self.inner, self.statements, self.dialect = inner, statements, inner.dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        return self.inner.execute(sql, params)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.statements.extend([sql] * len(rows))
        self.inner.execute_many(sql, rows)

    def transaction(self) -> Any:
        return self.inner.transaction()


class CountingStore:
    """The test's state store, counting the statements the journal runs in it."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.statements: list[str] = []

    @contextmanager
    def session(self, *, consequence: str) -> Iterator[CountingSession]:
        with self.inner.session(consequence=consequence) as db:
            yield CountingSession(db, self.statements)

    def read(self, query: Callable[[Any], T], *, empty: T) -> T:
        return self.inner.read(lambda db: query(CountingSession(db, self.statements)), empty=empty)


def instance(iid: str, state: str = "stopped", provider: str = "acme", **tags: str) -> sdk.Instance:
    return sdk.Instance(
        id=iid, provider=provider, state=sdk.InstanceState(state), raw_state=state,
        instance_type="big", region="r1", tags=tags,
    )


def stopped(*ids: str, provider: str = "acme") -> list[ActionResult]:
    return [ActionResult(i, provider, instance(i, "stopping", provider)) for i in ids]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def counted(tmp_path: Path, state_backend: str) -> CountingStore:
    """The state store of the test's backend (SQLite in ``tmp_path``, or a fresh PostgreSQL database)."""
    return CountingStore(open_store(tmp_path, Config()))


@pytest.fixture
def store(counted: CountingStore) -> StateJournalStore:
    return StateJournalStore(counted)  # type: ignore[arg-type]


def query(store: StateJournalStore, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.store.read(lambda db: db.execute(sql), empty=[])]


def rows(store: StateJournalStore) -> list[tuple[Any, ...]]:
    return query(store, "SELECT instance, started, ended, ended_by FROM savings_intervals ORDER BY id")


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


@pytest.mark.both_backends
def test_a_listing_where_nothing_changed_is_one_query(
    store: StateJournalStore, counted: CountingStore, clock: Clock, tmp_path: Path, state_backend: str
) -> None:
    journal = Journal(store, clock=clock)
    fleet = [instance(f"i-{n}", "running") for n in range(1000)]
    journal.seen(fleet)
    assert len(counted.statements) <= 1 and writes(counted.statements) == []
    if state_backend == "sqlite":  # no store file yet: nothing read or made
        assert counted.statements == [] and not (tmp_path / "audit.sqlite3").exists()
    journal.record("acme", "stop", stopped("i-1", "i-2"), source="schedule")
    fleet[1] = instance("i-1")
    fleet[2] = instance("i-2")
    for _ in range(5):  # a cron every 5 minutes
        counted.statements.clear()
        journal.seen(fleet)
        assert (len(counted.statements), writes(counted.statements)) == (1, [])
    assert len(rows(store)) == 2


@pytest.mark.both_backends
def test_intervals_open_at_stop_and_close_at_start_or_when_seen_awake(store: StateJournalStore, clock: Clock) -> None:
    journal = Journal(store, clock=clock)
    journal.record("acme", "stop", stopped("a", "b", "c"), source="cli")
    clock.now += 3600
    journal.record("acme", "stop", stopped("a"), source="cli")  # still the first snooze
    journal.record("acme", "start", [ActionResult("a", "acme", instance("a", "pending"))], source="cli")
    clock.now += 3600
    journal.seen([instance("b", "running"), instance("c", "stopped"), instance("a", "running")])
    clock.now += 3600
    journal.seen([instance("c", "terminated", provider="acme")])
    failed = ActionResult.failed("d", "acme", sdk.InvalidInstanceState("no"))
    journal.record("acme", "stop", [failed], source="cli")  # a failed stop snoozes nothing
    assert rows(store) == [
        ("a", T0, T0 + 3600, "start"),
        ("b", T0, T0 + 7200, "listing"),
        ("c", T0, T0 + 10800, "listing"),
    ]


@pytest.mark.both_backends
def test_the_same_id_at_two_providers_is_two_instances(store: StateJournalStore, clock: Clock) -> None:
    journal = Journal(store, clock=clock)
    journal.record("acme", "stop", stopped("x"), source="cli")
    journal.record("other", "stop", stopped("x", provider="other"), source="cli")
    journal.seen([instance("x", "running", provider="other")])
    assert [r[2] for r in rows(store)] == [None, T0]


@pytest.mark.both_backends
def test_details_come_from_the_stop_answer_earlier_intervals_or_the_next_listing(
    store: StateJournalStore, clock: Clock
) -> None:
    journal = Journal(store, clock=clock)
    bare = sdk.Instance(id="i", provider="acme", state=sdk.InstanceState.STOPPING, raw_state="stopping")
    journal.record("acme", "stop", [ActionResult("i", "acme", bare)], source="cli")  # EC2-like answer
    journal.seen([instance("i", team="ml")])
    clock.now += 60
    journal.record("acme", "start", [ActionResult("i", "acme", bare)], source="cli")
    journal.record("acme", "stop", [ActionResult("i", "acme", bare)], source="cli")
    journal.seen([instance("i", team="changed")])  # details known: the stop-time tags stay
    clock.now += 60
    details = query(
        store,
        "SELECT d.instance_type, d.region, d.tags FROM savings_intervals s"
        " JOIN savings_details d ON d.id = s.details ORDER BY s.id",
    )
    assert details == [("big", "r1", '{"team":"ml"}')] * 2
    [row] = store.snoozed(0, clock.now, now=clock.now)
    assert (row.details.tags, row.seconds) == ({"team": "ml"}, 120.0)


@pytest.mark.both_backends
def test_report_clips_to_the_window_splits_days_and_sums_exactly(store: StateJournalStore, clock: Clock) -> None:
    journal = Journal(store, clock=clock)
    clock.now = T0 + 20 * 3600  # Monday 20:00
    b = ActionResult("b", "acme", instance("b", "stopping", team="ml"))  # tags as they are at the stop
    journal.record("acme", "stop", [*stopped("a"), b], source="schedule")
    journal.seen([instance("a"), instance("b", team="other")])
    clock.now = T0 + DAY + 8 * 3600  # Tuesday 08:00
    journal.record("acme", "start", stopped("a"), source="schedule")
    window = Window(
        dt.datetime.fromtimestamp(T0 + 21 * 3600, dt.UTC), dt.datetime.fromtimestamp(T0 + 2 * DAY, dt.UTC)
    )
    prices = PriceBook({"acme:big": 0.1})
    now = T0 + DAY + 12 * 3600  # b is still snoozed: it counts until now
    report = build_report(store, window, by="day", prices=prices, now=now)
    assert [(r.key, r.hours, r.instances) for r in report.rows] == [
        ("2026-11-02", 6.0, 2), ("2026-11-03", 20.0, 2),
    ]
    assert report.hours == 26.0 and report.amount == pytest.approx(2.6)
    for by in ("instance", "provider", "target", "tag:team", "tag:nothing"):
        other = build_report(store, window, by=by, prices=prices, now=now)
        assert (other.hours, other.amount) == (report.hours, report.amount), by
    tagged = build_report(store, window, by="tag:team", prices=prices, now=now)
    assert [(r.key, r.hours) for r in tagged.rows] == [("ml", 15.0), (None, 11.0)]


def test_overrides_and_their_order() -> None:
    book = PriceBook(read_overrides({"acme:big": 2, "acme:*": 0.5}))
    got = book.resolve([("acme", "big", "r1"), ("acme", "small", "r1"), ("acme", None, None), ("zed", "big", "r")])
    assert {k: (p.usd_per_hour, p.detail) if p else None for k, p in got.items()} == {
        ("acme", "big", "r1"): (2.0, '[prices] "acme:big"'),
        ("acme", "small", "r1"): (0.5, '[prices] "acme:*"'),
        ("acme", None, None): (0.5, '[prices] "acme:*"'),
        ("zed", "big", "r"): None,
    }
    for bad in ({"big": 1}, {"acme:": 1}, {"acme:big": -1}, {"acme:big": True}, {"acme:big": float("nan")}):
        with pytest.raises(UsageError):
            read_overrides(bad)


def test_a_failing_lookup_leaves_prices_unknown_and_is_cached_briefly(tmp_path: Path) -> None:
    asked: list[tuple[str, list[tuple[str, str]]]] = []
    clock = Clock()

    def lookup(provider: str, pairs):
        asked.append((provider, list(pairs)))
        if provider == "down":
            raise OSError("connection refused")
        return {("big", "r1"): Price(1.5, "lookup", "Acme prices API"), ("small", "r1"): None}

    book = PriceBook({}, CachedLookup(tmp_path, lookup, clock=clock))
    keys = [("acme", "big", "r1"), ("acme", "small", "r1"), ("down", "big", "r1"), ("acme", "big", None)]
    first = book.resolve(keys)
    assert first[("acme", "big", "r1")] == Price(1.5, "lookup", "Acme prices API")
    assert first[("acme", "small", "r1")] is None and first[("down", "big", "r1")] is None
    assert first[("acme", "big", None)] is None  # no region: nothing to ask
    asked.clear()
    clock.now += 1800
    book.resolve(keys)
    assert asked == [("down", [("big", "r1")])]  # a failure is not cached; answers are
    asked.clear()
    clock.now += 3600  # "no price" is kept an hour, a looked-up price a week
    book.resolve(keys)
    assert asked == [("acme", [("small", "r1")]), ("down", [("big", "r1")])]


def test_a_price_reply_is_checked_at_the_boundary() -> None:
    from snoozebot.host.replies import MalformedReply, parse_price

    assert parse_price(None, "acme") is None
    assert parse_price({"usd_per_hour": 1, "source": "table", "detail": "acme table"}, "acme") == sdk.HourlyPrice(
        1.0, "table", "acme table"
    )
    for bad in (
        [],
        {"usd_per_hour": -1, "source": "lookup", "detail": ""},
        {"usd_per_hour": float("inf"), "source": "lookup", "detail": ""},
        {"usd_per_hour": True, "source": "lookup", "detail": ""},
        {"usd_per_hour": "0.1", "source": "lookup", "detail": ""},
        {"usd_per_hour": 0.1, "source": "guess", "detail": ""},
        {"usd_per_hour": 0.1, "source": "lookup", "detail": None},
    ):
        with pytest.raises(MalformedReply, match="acme"):
            parse_price(bad, "acme")


def test_gcp_machine_shapes() -> None:
    from snoozebot_gcp._prices import machine_shape

    assert machine_shape("n2-standard-8") == ("n2", 8, 32.0)
    assert machine_shape("n1-standard-4") == ("n1", 4, 15.0)
    assert machine_shape("e2-highcpu-16") == ("e2", 16, 16.0)
    assert machine_shape("c3-highmem-4") == ("c3", 4, 32.0)
    assert machine_shape("e2-micro") is None and machine_shape("n2-custom-4-8192") is None


# -- the journal's file before it moved into the state store -------------------------------------------------

OLD_JOURNAL = """
CREATE TABLE details (
    id INTEGER PRIMARY KEY, instance_type TEXT NOT NULL, region TEXT NOT NULL, tags TEXT NOT NULL,
    UNIQUE (instance_type, region, tags)
);
CREATE TABLE snoozes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, provider TEXT NOT NULL, instance TEXT NOT NULL,
    details INTEGER REFERENCES details (id), source TEXT NOT NULL, target TEXT,
    started REAL NOT NULL, ended REAL, ended_by TEXT
);
CREATE UNIQUE INDEX snoozes_open ON snoozes (provider, instance) WHERE ended IS NULL;
CREATE INDEX snoozes_started ON snoozes (started);
CREATE INDEX snoozes_instance ON snoozes (provider, instance);
"""
"""``savings.sqlite3`` as the releases before schema version 4 wrote it."""


def old_journal(home: Path) -> bytes:
    """Two snoozes of the memory provider in an old-format ``savings.sqlite3``: one closed, one still open."""
    with closing(sqlite3.connect(home / "savings.sqlite3")) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(OLD_JOURNAL)
        conn.execute("""INSERT INTO details VALUES (7, 'big', 'r1', '{"team":"ml"}')""")
        conn.executemany(
            "INSERT INTO snoozes (id, provider, instance, details, source, target, started, ended, ended_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(3, "memory", "mem-0", 7, "schedule", None, T0, T0 + 2 * 3600, "start"),
             (5, "memory", "mem-1", 7, "cli", "prod", T0 + 3600, None, None)],
        )
        conn.commit()
    return (home / "savings.sqlite3").read_bytes()


def old_report(cli: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The report over 2026-11-02 (UTC): mem-0's two hours, mem-1's 23 (open: it counts to the window's end)."""
    res = cli("savings", "--json", "--since", "2026-11-02", "--until", "2026-11-03", "--by", "tag:team", env=env)
    assert res.returncode == 0, res.stderr
    return res.json()  # type: ignore[no-any-return]


def test_an_old_journal_is_imported_once_and_goes_on(cli: Any, isolated_home: Path) -> None:
    old_journal(isolated_home)
    report = old_report(cli)
    assert [(r["key"], r["hours"], r["instances"]) for r in report["rows"]] == [("ml", 25.0, 2)]
    assert not (isolated_home / "savings.sqlite3").exists() and (isolated_home / "savings.sqlite3.imported").exists()
    assert cli("instance", "stop", "mem-1", "-p", "memory").returncode == 0  # still the imported snooze
    assert cli("instance", "start", "mem-1", "-p", "memory").returncode == 0  # which it ends
    assert cli("instance", "stop", "mem-2", "-p", "memory").returncode == 0  # a new one, numbered after them
    store = StateJournalStore(open_store(isolated_home, Config()))
    got = query(store, "SELECT id, instance, target, started, ended_by FROM savings_intervals ORDER BY id")
    assert got[:2] == [(3, "mem-0", None, T0, "start"), (5, "mem-1", "prod", T0 + 3600, "start")]
    assert got[2][0] > 5 and got[2][1:] == ("mem-2", None, got[2][3], None)
    targets = cli("savings", "--json", "--since", "2026-11-02", "--until", "2026-11-03", "--by", "target").json()
    assert {r["key"]: r["hours"] for r in targets["rows"]} == {"prod": 23.0, None: 2.0}


def test_an_old_journal_in_a_read_only_state_directory_is_read_as_it_is(
    cli: Any, isolated_home: Path, tmp_path: Path
) -> None:
    from test_state_damage import read_only_copy

    before = old_journal(isolated_home)
    with read_only_copy(isolated_home, tmp_path / "ro") as home:
        report = old_report(cli, env={"SNOOZEBOT_HOME": str(home)})
        assert [(r["key"], r["hours"], r["instances"]) for r in report["rows"]] == [("ml", 25.0, 2)]
    assert sorted(p.name for p in isolated_home.iterdir()) == ["savings.sqlite3"]  # nothing made, moved or written
    assert (isolated_home / "savings.sqlite3").read_bytes() == before
