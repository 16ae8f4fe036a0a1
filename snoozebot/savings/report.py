"""The savings report: snoozed hours and money per row, from the journal and the prices.

:func:`build_report` asks the journal's store for the snoozed seconds inside
the window per instance (the database clips and sums the intervals; an open
one ends now), prices each (provider, type, region) once, and groups the rows
by instance, provider, target, UTC day or a tag's value. The total is summed
from the per-instance rows with :func:`math.fsum` whatever the grouping, so no
``--by`` changes it by a single bit; ``total.amount`` is the sum of the priced rows.
The JSON and CSV shapes are documented in ``docs/json.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from snoozebot.errors import UsageError
from snoozebot.savings.prices import CURRENCY, Price, PriceBook, PriceKey
from snoozebot.savings.store import JournalStore, Snoozed

__all__ = [
    "GROUPINGS",
    "PriceUse",
    "Report",
    "Row",
    "Window",
    "build_report",
    "parse_by",
    "parse_when",
    "summarize",
    "summarize_by",
]

GROUPINGS = ("instance", "provider", "target", "day")
"""The ``--by`` values besides ``tag:KEY``."""

K = TypeVar("K", bound=Hashable)

_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw])\s*$")
_UNITS = {"h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


@dataclass(frozen=True)
class Window:
    """``[since, until)`` in aware UTC datetimes."""

    since: dt.datetime
    until: dt.datetime

    @classmethod
    def parse(cls, since: str | None, until: str | None, *, now: dt.datetime) -> Window:
        """``--since`` (``30d``, ``12h``, ``2w`` before the end, or a DATE; default 30d), ``--until``."""
        end = parse_when(until, now=now, option="--until") if until else now
        start = parse_when(since or "30d", now=end, option="--since")
        if start >= end:
            raise UsageError(f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})")
        return cls(start, end)


def parse_when(text: str, *, now: dt.datetime, option: str) -> dt.datetime:
    """``30d``/``12h``/``2w`` before ``now``, or an ISO date (its 00:00 UTC) or date-time (UTC when bare)."""
    ago = _AGO.match(text)
    if ago:
        return now - dt.timedelta(seconds=float(ago.group(1)) * _UNITS[ago.group(2)])
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} must be like 30d, 12h, 2w, 2026-11-01 or 2026-11-01T08:00:00Z, not {text!r}"
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def parse_by(text: str) -> str:
    """``--by``: one of :data:`GROUPINGS` or ``tag:KEY``."""
    value = text.strip()
    if value in GROUPINGS:
        return value
    if value.startswith("tag:") and value[4:].strip():
        return f"tag:{value[4:].strip()}"
    choices = ", ".join((*GROUPINGS, "tag:KEY"))
    raise UsageError(f"--by must be one of {choices}, not {text!r}")


def _price_key(row: Snoozed) -> PriceKey:
    d = row.details
    return (row.provider, d.instance_type or None, d.region or None) if d else (row.provider, None, None)


def _day(row: Snoozed) -> str | None:
    return None if row.day is None else dt.datetime.fromtimestamp(row.day, dt.UTC).date().isoformat()


def _key_function(by: str) -> Callable[[Snoozed], str | None]:
    if by == "instance":
        return lambda r: r.instance
    if by == "provider":
        return lambda r: r.provider
    if by == "target":
        return lambda r: r.target  # null: stopped without a target (docs/savings.md)
    if by == "day":
        return _day
    tag = by.removeprefix("tag:")
    return lambda r: r.details.tags.get(tag) if r.details else None


@dataclass
class _Sums:
    hours: list[float] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)
    instances: set[tuple[str, str]] = field(default_factory=set)

    def add(self, row: Snoozed, price: Price | None) -> None:
        hours = row.seconds / 3600.0
        self.hours.append(hours)
        if price is not None:
            self.amounts.append(hours * price.usd_per_hour)
        self.instances.add((row.provider, row.instance))

    @property
    def amount(self) -> float | None:
        return math.fsum(self.amounts) if self.amounts else None


@dataclass(frozen=True)
class Row:
    """One group: its key (None for "no value"), hours, amount (None: nothing priced), instances."""

    key: str | None
    hours: float
    amount: float | None
    instances: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "hours": self.hours, "amount": self.amount, "instances": self.instances}


@dataclass(frozen=True)
class PriceUse:
    """A price the report used, and for how many instances."""

    provider: str
    instance_type: str | None
    region: str | None
    price: Price
    instances: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "instance_type": self.instance_type,
            "region": self.region,
            **self.price.to_dict(),
            "instances": self.instances,
        }


@dataclass(frozen=True)
class Report:
    """What ``snoozebot savings`` shows."""

    window: Window
    by: str
    hours: float
    amount: float | None
    rows: list[Row]
    unpriced: list[str]
    prices: list[PriceUse]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (``docs/json.md``)."""
        return {
            "since": self.window.since.isoformat(),
            "until": self.window.until.isoformat(),
            "currency": CURRENCY,
            "total": {"hours": self.hours, "amount": self.amount},
            "rows": [r.to_dict() for r in self.rows],
            "unpriced": self.unpriced,
            "prices": [p.to_dict() for p in self.prices],
        }

    def to_csv(self) -> str:
        """The ``--csv`` text: header ``key,hours,amount,instances``, one line per row, no total."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["key", "hours", "amount", "instances"])
        for r in self.rows:
            writer.writerow(
                ["" if r.key is None else r.key, repr(r.hours), "" if r.amount is None else repr(r.amount),
                 r.instances]
            )
        return out.getvalue()


def _order(by: str) -> Callable[[Row], tuple[Any, ...]]:
    if by == "day":
        return lambda r: (r.key is None, r.key or "")
    return lambda r: (-(r.amount or 0.0), -r.hours, r.key is None, r.key or "")


def summarize(
    rows: Iterable[Snoozed], priced: dict[PriceKey, Price | None], key: Callable[[Snoozed], K]
) -> dict[K, tuple[float, float | None, int]]:
    """(hours, amount, instances) per ``key(row)``."""
    groups: dict[K, _Sums] = {}
    for row in rows:
        groups.setdefault(key(row), _Sums()).add(row, priced.get(_price_key(row)))
    return {k: (math.fsum(s.hours), s.amount, len(s.instances)) for k, s in groups.items()}


def summarize_by(
    store: JournalStore, window: Window, *, prices: PriceBook, now: float, keys: tuple[str, ...]
) -> dict[tuple[str | None, ...], tuple[float, float | None, int]]:
    """(hours, amount, instances) per combination of several groupings, e.g. ``("day", "provider")``."""
    rows = _snoozed(store, window, now=now, by_day="day" in keys)
    priced = prices.resolve({_price_key(r) for r in rows})
    functions = [_key_function(k) for k in keys]
    return summarize(rows, priced, lambda r: tuple(f(r) for f in functions))


def _snoozed(store: JournalStore, window: Window, *, now: float, by_day: bool) -> list[Snoozed]:
    return store.snoozed(window.since.timestamp(), window.until.timestamp(), now=now, by_day=by_day)


def build_report(store: JournalStore, window: Window, *, by: str, prices: PriceBook, now: float) -> Report:
    """The report of the journal in ``store`` over ``window``, grouped ``by``."""
    whole = _snoozed(store, window, now=now, by_day=False)
    priced = prices.resolve({_price_key(r) for r in whole})
    everything = _Sums()
    uses: dict[PriceKey, set[tuple[str, str]]] = {}
    unpriced: set[str] = set()
    for row in whole:
        price = priced.get(_price_key(row))
        everything.add(row, price)
        if price is None:
            unpriced.add(row.instance)
        else:
            uses.setdefault(_price_key(row), set()).add((row.provider, row.instance))
    # The total comes from whole intervals: cutting them into days must not move it by a bit.
    parts = _snoozed(store, window, now=now, by_day=True) if by == "day" else whole
    grouped = summarize(parts, priced, _key_function(by))
    rows = sorted(
        (Row(k if isinstance(k, str) else None, h, a, n) for k, (h, a, n) in grouped.items()), key=_order(by)
    )
    used = [
        PriceUse(k[0], k[1], k[2], price, len(uses[k]))
        for k in sorted(uses, key=lambda k: (k[0], k[1] or "", k[2] or ""))
        if (price := priced[k]) is not None
    ]
    return Report(window, by, math.fsum(everything.hours), everything.amount, rows, sorted(unpriced), used)
